// HTML documentation pages to plain-text blocks for the pretraining corpus (Sphinx, DocBook,
// rustdoc/mdBook, Erlang, Javadoc-like generators), on htmlparser2's streaming parser.
//
// Kept: the text of p, li, dd, dt, td, th, blockquote and other block containers as paragraphs,
// h1-h6 as headings, pre as code (newlines kept, so callers can drop long listings). Dropped with
// everything inside them: head, script, style, nav, header, footer, aside, forms, svg, and elements
// whose class, id or role marks navigation (sidebars, breadcrumbs, related links, tables of
// contents, Sphinx's "¶" header links). An optional `root` test keeps only the text inside
// matching elements (rustdoc's docblocks); an optional `skip` test drops more elements. This is an extractor of prose, not an HTML renderer:
// inline markup just contributes its text, and tables come out one cell per block.

import { Parser } from 'htmlparser2';
import type { Block } from './debian.js';

export interface HtmlOptions {
  /** Keep only text inside elements accepted here (and their descendants); default: everything. */
  root?: (tag: string, attrs: Record<string, string>) => boolean;
  /** Also drop elements accepted here, with their content (a generator's own navigation markup). */
  skip?: (tag: string, attrs: Record<string, string>) => boolean;
}

const SKIP_TAGS = new Set([
  'head',
  'script',
  'style',
  'nav',
  'header',
  'footer',
  'aside',
  'noscript',
  'template',
  'svg',
  'math',
  'form',
  'button',
  'select',
  'textarea',
  'iframe',
  'object',
]);
/** Class names and ids that mark navigation and page chrome rather than content. */
const SKIP_NAMES = new Set([
  'sphinxsidebar',
  'sphinxsidebarwrapper',
  'related',
  'navheader',
  'navfooter',
  'navbar',
  'navigation',
  'sidebar',
  'breadcrumb',
  'breadcrumbs',
  'headerlink',
  'toc',
  'localtoc',
  'footer',
  'menu-bar',
  'nav-chapters',
  'nav-wrapper',
  'sidebar-elems',
  'search-form',
  'skip-link',
  'linenos',
  'copyright',
  'test-arrow',
  'rustdoc-breadcrumbs',
  'prevnext',
  'navlinks',
  't-navbar',
  'printfooter',
  'catlinks',
  'editsection',
  'memItemLeft',
  'memItemRight',
  'hd',
  'ft',
  'nav',
  'global-nav',
  'topbar',
  'leftnav',
  'bd-toc',
  'prev-next-area',
  'nav-panel',
]);
const SKIP_ROLES = new Set(['navigation', 'banner', 'contentinfo', 'search', 'complementary']);
/** Elements whose start and end delimit a block of text. */
const BLOCK_TAGS = new Set([
  'p',
  'li',
  'dd',
  'dt',
  'td',
  'th',
  'pre',
  'blockquote',
  'div',
  'section',
  'article',
  'main',
  'body',
  'table',
  'tr',
  'ul',
  'ol',
  'dl',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'br',
  'hr',
  'caption',
  'figcaption',
  'details',
  'summary',
  'center',
]);

function skipped(tag: string, attrs: Record<string, string>): boolean {
  if (SKIP_TAGS.has(tag)) return true;
  if (attrs.role !== undefined && SKIP_ROLES.has(attrs.role)) return true;
  if (attrs.hidden !== undefined) return true;
  if (attrs.id !== undefined && SKIP_NAMES.has(attrs.id)) return true;
  return attrs.class !== undefined && attrs.class.split(/\s+/).some((c) => SKIP_NAMES.has(c));
}

/** Is this page only a redirect (a meta refresh)? */
export function isRedirectPage(html: string): boolean {
  return /<meta[^>]+http-equiv=["']?refresh/i.test(html);
}

/** An HTML page to blocks (headings, paragraphs, code) in document order. */
export function htmlToBlocks(html: string, opts: HtmlOptions = {}): Block[] {
  const blocks: Block[] = [];
  // One entry per open element: was it skipped, a root, a heading (level), pre?
  const stack: { skip: boolean; root: boolean; heading: number; pre: boolean }[] = [];
  let skipDepth = 0;
  let rootDepth = opts.root === undefined ? 1 : 0;
  let preDepth = 0;
  let heading = 0;
  let text = '';
  const flush = (): void => {
    const t = preDepth > 0 ? text.replace(/^\n+|\s+$/g, '') : text.replace(/\s+/g, ' ').trim();
    if (t !== '') {
      if (heading > 0) blocks.push({ kind: 'heading', text: t, level: heading });
      else blocks.push({ kind: preDepth > 0 ? 'code' : 'para', text: t });
    }
    text = '';
  };
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        const skip = skipDepth === 0 && (skipped(name, attrs) || (opts.skip?.(name, attrs) ?? false));
        const root = skipDepth === 0 && opts.root !== undefined && opts.root(name, attrs);
        const h = /^h[1-6]$/.test(name) ? Number(name[1]) : 0;
        if (BLOCK_TAGS.has(name)) flush();
        stack.push({ skip, root, heading: h, pre: name === 'pre' });
        if (skip) skipDepth++;
        if (root) rootDepth++;
        if (h > 0) heading = h;
        if (name === 'pre') preDepth++;
      },
      ontext(data) {
        if (skipDepth === 0 && rootDepth > 0) text += data;
      },
      onclosetag(name) {
        if (BLOCK_TAGS.has(name)) flush();
        const top = stack.pop();
        if (top === undefined) return;
        if (top.skip) skipDepth--;
        if (top.root) rootDepth--;
        if (top.heading > 0) heading = 0;
        if (top.pre) preDepth--;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  flush();
  return blocks;
}
