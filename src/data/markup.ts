// Documentation markup to plain-text blocks, for the pretraining corpus and the FAQ set:
// reStructuredText (Python's Sphinx sources), POD (Perl) and AsciiDoc (git's manual pages).
//
// Each converter returns a list of blocks (heading / paragraph / code) with the markup removed:
// inline roles, formatting codes and links become their readable text; directives and comments that
// carry no prose (toctree, index, module, label targets, options) are dropped; literal blocks come
// back as `code` so callers can keep only short ones. These are pragmatic strippers for the files
// in Debian's python3.11-doc, perl-doc and git-doc, not full parsers of the three formats (no npm
// package parses reST or POD; asciidoctor renders HTML, which would then need stripping again).

import type { Block } from './debian.js';

// ---------------------------------------------------------------------------------------------
// reStructuredText

const RST_ADORNMENT = /^([!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~])\1{2,}\s*$/;
const RST_DIRECTIVE = /^(\s*)\.\.\s+([A-Za-z][\w:.-]*)::(?:\s+(.*))?$/;
/** Directives whose content is code or machine text. */
const RST_CODE_DIRECTIVES = new Set([
  'code-block',
  'sourcecode',
  'code',
  'doctest',
  'testcode',
  'testoutput',
  'productionlist',
  'parsed-literal',
  'highlight-block',
]);
/** Directives dropped with their content. */
const RST_SKIP_DIRECTIVES = new Set([
  'toctree',
  'index',
  'module',
  'currentmodule',
  'highlight',
  'literalinclude',
  'include',
  'raw',
  'image',
  'figure',
  'sectionauthor',
  'moduleauthor',
  'codeauthor',
  'testsetup',
  'testcleanup',
  'tabularcolumns',
  'miscnews',
  'include-file',
  'program',
  'c:namespace',
  'c:namespace-push',
  'c:namespace-pop',
  'cpp:namespace',
  'default-role',
  'role',
  'csv-table',
  'audit-event-table',
  'limited-api-list',
  'contents',
  'sidebar',
  'only',
]);
/** Directives whose argument is a version number, optionally followed by text. */
const RST_VERSION_DIRECTIVES = new Set(['versionadded', 'versionchanged', 'deprecated', 'deprecated-removed']);
/** Directives whose argument is prose to keep as text (titles, signatures). */
const RST_TITLE_DIRECTIVES = new Set(['rubric', 'admonition', 'topic']);

/** Inline reST markup to text: roles, literals, emphasis, links, substitutions, footnote refs. */
export function rstInline(text: string): string {
  return text
    .replace(/:[\w:.+-]+:`([^`]*)`/g, (_m, body: string) => {
      const target = body.match(/^(.*?)\s*<[^<>]*>$/);
      if (target !== null && target[1] !== '') return target[1];
      let t = body.replace(/^[!~]/, '');
      if (body.startsWith('~')) t = t.slice(t.lastIndexOf('.') + 1);
      return t;
    })
    .replace(/``(.+?)``/g, '$1')
    .replace(/`([^`]+?)\s*<[^`<>]*>`__?/g, '$1')
    .replace(/`([^`]+)`__?/g, '$1')
    .replace(/`([^`]+)`/g, '$1')
    .replace(/\*\*(\S(?:.*?\S)?)\*\*/g, '$1')
    .replace(/(^|[\s("'/])\*(\S(?:[^*]*?\S)?)\*(?=$|[\s)"'.,;:!?/-])/g, '$1$2')
    .replace(/\s*\[(?:#[\w-]*|\d+|\*)\]_/g, '')
    .replace(/\|([\w -]+)\|(?:__?)?/g, '$1')
    .replace(/\\ /g, '')
    .replace(/\\(.)/g, '$1');
}

interface Line {
  indent: number;
  text: string;
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** Paragraphs: runs of non-blank lines (tabs expanded to 8 columns). */
function paragraphs(source: string): Line[][] {
  const out: Line[][] = [];
  let cur: Line[] = [];
  for (const raw of source.replace(/\r\n?/g, '\n').split('\n')) {
    const line = raw.replace(/\t/g, '        ').trimEnd();
    if (line === '') {
      if (cur.length > 0) out.push(cur);
      cur = [];
    } else cur.push({ indent: indentOf(line), text: line.trim() });
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function isRstTitle(p: Line[]): string | null {
  if (
    p.length === 2 &&
    RST_ADORNMENT.test(p[1].text) &&
    p[1].text.length >= p[0].text.length - 1 &&
    !RST_ADORNMENT.test(p[0].text)
  )
    return p[0].text;
  if (
    p.length === 3 &&
    RST_ADORNMENT.test(p[0].text) &&
    RST_ADORNMENT.test(p[2].text) &&
    !RST_ADORNMENT.test(p[1].text)
  )
    return p[1].text;
  return null;
}

function isTableRule(text: string): boolean {
  return /^\+[-=+]+\+$/.test(text) || /^=+( +=+)+$/.test(text) || /^-+( +-+)+$/.test(text);
}

/** Join a paragraph's lines as prose: table rules dropped, grid-table bars turned into spaces. */
function rstProse(lines: Line[]): string {
  return lines
    .filter((l) => !isTableRule(l.text))
    .map((l) => (l.text.startsWith('|') && l.text.endsWith('|') ? l.text.replace(/\|/g, ' ') : l.text))
    .join(' ');
}

/**
 * reST source to blocks. Section titles become headings (level by order of first appearance of
 * each adornment style); literal blocks (after "::"), doctest blocks and code directives become code.
 */
export function rstToBlocks(source: string): Block[] {
  const paras = paragraphs(source);
  const blocks: Block[] = [];
  const levels: string[] = [];
  // Content indented deeper than `skipIndent` belongs to a dropped construct; deeper than
  // `codeIndent` to a literal block.
  let skipIndent = -1;
  let codeIndent = -1;
  let code: string[] = [];
  const flushCode = (): void => {
    if (code.length > 0) blocks.push({ kind: 'code', text: code.join('\n') });
    code = [];
  };
  for (const p of paras) {
    const indent = p[0].indent;
    if (skipIndent >= 0) {
      if (indent > skipIndent) continue;
      skipIndent = -1;
    }
    if (codeIndent >= 0) {
      if (indent > codeIndent) {
        code.push(p.map((l) => l.text).join('\n'));
        continue;
      }
      codeIndent = -1;
      flushCode();
    }
    const first = p[0].text;
    const directive = (' '.repeat(indent) + first).match(RST_DIRECTIVE);
    if (directive !== null) {
      const name = directive[2].replace(/^(py|c|cpp|std|rst):/, '');
      const arg = directive[3] ?? '';
      // The directive's own paragraph may continue with options (":opt: value") and then body lines.
      const rest = p.slice(1).filter((l) => !/^:[\w-]+:/.test(l.text));
      if (RST_SKIP_DIRECTIVES.has(name)) {
        skipIndent = indent;
        continue;
      }
      if (RST_CODE_DIRECTIVES.has(name)) {
        codeIndent = indent;
        if (rest.length > 0) code.push(rest.map((l) => l.text).join('\n'));
        continue;
      }
      let head = arg;
      if (RST_VERSION_DIRECTIVES.has(name)) head = arg.replace(/^\S+\s*/, '');
      if (RST_TITLE_DIRECTIVES.has(name)) {
        if (head !== '') blocks.push({ kind: 'heading', text: rstInline(head), level: 9 });
        head = '';
      }
      const body = [head, ...rest.map((l) => l.text)].filter((t) => t !== '').join(' ');
      if (body !== '') blocks.push({ kind: 'para', text: rstInline(body) });
      continue;
    }
    if (/^\.\.(\s|$)/.test(first)) {
      // Comment, label target (".. _x:") or substitution definition: dropped with its body.
      skipIndent = indent;
      continue;
    }
    const title = isRstTitle(p);
    if (title !== null) {
      const style = p.length === 3 ? `o${p[0].text[0]}` : p[1].text[0];
      if (!levels.includes(style)) levels.push(style);
      blocks.push({ kind: 'heading', text: rstInline(title), level: levels.indexOf(style) + 1 });
      continue;
    }
    if (p.length === 1 && RST_ADORNMENT.test(first) && first.length >= 4) continue;
    if (first.startsWith('>>>')) {
      blocks.push({ kind: 'code', text: p.map((l) => l.text).join('\n') });
      continue;
    }
    let prose = rstProse(p);
    if (prose.endsWith('::')) {
      codeIndent = indent;
      prose = prose.replace(/\s*::$/, (m) => (m.startsWith(' ') || (m === '::' && prose === '::') ? '' : ':'));
    }
    if (prose.trim() !== '') blocks.push({ kind: 'para', text: rstInline(prose) });
  }
  flushCode();
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// POD

const POD_ENTITIES: Record<string, string> = {
  lt: '<',
  gt: '>',
  verbar: '|',
  sol: '/',
  quot: '"',
  amp: '&',
  apos: "'",
  nbsp: ' ',
  copy: '©',
  eacute: 'é',
  egrave: 'è',
  aacute: 'á',
  agrave: 'à',
  uuml: 'ü',
  ouml: 'ö',
  auml: 'ä',
  szlig: 'ß',
  ntilde: 'ñ',
  ccedil: 'ç',
};

function podEntity(name: string): string {
  const n = name.trim();
  if (/^0x[0-9a-f]+$/i.test(n)) return String.fromCodePoint(parseInt(n, 16));
  if (/^0[0-7]*$/.test(n)) return String.fromCodePoint(parseInt(n, 8));
  if (/^\d+$/.test(n)) return String.fromCodePoint(Number(n));
  return POD_ENTITIES[n] ?? '';
}

/** The readable text of L<...>: "text|target" -> text; "page/"section"" -> "section in page". */
function podLink(inner: string): string {
  const bar = inner.indexOf('|');
  if (bar >= 0) return inner.slice(0, bar);
  if (/^\w+:[^:\s]\S*$/.test(inner)) return inner;
  const slash = inner.indexOf('/');
  if (slash < 0) return inner;
  const page = inner.slice(0, slash);
  const section = inner.slice(slash + 1).replace(/^"(.*)"$/, '$1');
  return page === '' ? section : `${section} in ${page}`;
}

/** Parse formatting codes from s[i] until `close` (or the end); returns the text and the index after. */
function podParse(s: string, i: number, close: string): [string, number] {
  let out = '';
  while (i < s.length) {
    if (close !== '' && s.startsWith(close, i)) return [out, i + close.length];
    const c = s[i];
    if (/[A-Z]/.test(c) && s[i + 1] === '<') {
      let k = 1;
      while (s[i + 1 + k] === '<') k++;
      let inner: string;
      let next: number;
      if (k >= 2 && /\s/.test(s[i + 1 + k] ?? '')) {
        // X<< text >>: closed by whitespace and k '>' (inner codes still parsed); unclosed = literal.
        const start = i + 1 + k;
        const end = s.slice(start).search(new RegExp(`\\s${'>'.repeat(k)}`));
        if (end < 0) {
          out += s.slice(i, start);
          i = start;
          continue;
        }
        inner = podParse(s.slice(start, start + end), 0, '')[0].trim();
        next = start + end + 1 + k;
      } else {
        [inner, next] = podParse(s, i + 2, '>');
      }
      if (c === 'E') out += podEntity(inner);
      else if (c === 'L') out += podLink(inner);
      else if (c !== 'X' && c !== 'Z') out += inner;
      i = next;
      continue;
    }
    out += c;
    i++;
  }
  return [out, i];
}

/** POD inline formatting codes (I B C F S L E X Z, nested, with <<  >> delimiters) to text. */
export function podInline(text: string): string {
  return podParse(text, 0, '')[0];
}

/**
 * POD source to blocks: =headN -> heading (level N), =item -> paragraph (bullet marks dropped),
 * verbatim paragraphs -> code, ordinary paragraphs -> prose. =begin/=end regions for formatters
 * other than text, =for paragraphs and everything after =cut until the next command are dropped.
 */
export function podToBlocks(source: string): Block[] {
  const blocks: Block[] = [];
  let inPod = false;
  let skipUntilEnd: string | null = null;
  for (const para of source.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
    const text = para.replace(/^\n+/, '').trimEnd();
    if (text.trim() === '') continue;
    if (text.startsWith('=')) {
      const m = text.match(/^=(\w+)\s*([\s\S]*)$/);
      const command = m === null ? '' : m[1];
      const arg = m === null ? '' : m[2].trim();
      inPod = command !== 'cut';
      if (skipUntilEnd !== null) {
        if (command === 'end' && arg.split(/\s/)[0] === skipUntilEnd) skipUntilEnd = null;
        continue;
      }
      if (command === 'begin') {
        const format = arg.split(/\s/)[0];
        if (!/^:?text$/.test(format)) skipUntilEnd = format;
        continue;
      }
      const head = command.match(/^head(\d)$/);
      if (head !== null) {
        blocks.push({ kind: 'heading', text: podInline(arg), level: Number(head[1]) });
      } else if (command === 'item') {
        const item = arg.replace(/^(\*|\d+\.?)\s*/, '');
        if (item !== '') blocks.push({ kind: 'para', text: podInline(item) });
      }
      continue;
    }
    if (!inPod || skipUntilEnd !== null) continue;
    if (/^[ \t]/.test(text)) blocks.push({ kind: 'code', text: text.replace(/^[ \t]+/gm, '') });
    else blocks.push({ kind: 'para', text: podInline(text) });
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// AsciiDoc (git's manual pages)

const ADOC_UNDERLINE = /^([=\-~^+])\1+$/;
const ADOC_DELIMITER = /^(-{4,}|\.{4,}|={4,}|\*{4,}|_{4,}|\+{4,}|\/{4,}|--|\|===+)$/;
const ADOC_ATTRIBUTES: Record<string, string> = {
  litdd: '--',
  caret: '^',
  tilde: '~',
  startsb: '[',
  endsb: ']',
  vbar: '|',
  plus: '+',
  empty: '',
  sp: ' ',
  nbsp: ' ',
  apostrophe: "'",
  amp: '&',
  lt: '<',
  gt: '>',
};

/** Inline AsciiDoc markup to text: git's linkgit macro, links, cross references, quotes, attributes. */
export function asciidocInline(text: string): string {
  return text
    .replace(/linkgit:([\w.-]+)\[\d+\]/g, '$1')
    .replace(/(?:link:|(?:https?|ftp|mailto):)(\S*?)\[([^\]]*)\]/g, (_m, url: string, label: string) =>
      label === '' ? url : label,
    )
    .replace(/<<([^,>]+),\s*([^>]+)>>/g, '$2')
    .replace(/<<([^>]+)>>/g, '$1')
    .replace(/\{(\w+)\}/g, (m, name: string) => ADOC_ATTRIBUTES[name] ?? m)
    .replace(/(^|[\s(["])(['`_*+])(\S(?:.*?\S)?)\2(?=$|[\s).,;:!?"\]-])/g, '$1$3')
    .replace(/(^|[\s(["])(['`_*+])(\S(?:.*?\S)?)\2(?=$|[\s).,;:!?"\]-])/g, '$1$3')
    .replace(/\s+\+$/, '');
}

/**
 * AsciiDoc source to blocks. Two-line and "== " titles -> headings; listing (----) and literal
 * (....) blocks and indented literal paragraphs -> code; comment and passthrough blocks dropped;
 * attribute entries, block attributes ([verse], [[id]]) and preprocessor lines dropped; labeled
 * list terms ("--option::") kept as text with their indented description.
 */
export function asciidocToBlocks(source: string): Block[] {
  const blocks: Block[] = [];
  const lines = source
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.replace(/\t/g, '        ').trimEnd());
  let para: string[] = [];
  let paraIsCode = false;
  let delimiter: string | null = null;
  let delimitedCode: string[] = [];
  let verse = false;
  const flush = (): void => {
    if (para.length > 0) {
      if (paraIsCode) blocks.push({ kind: 'code', text: para.join('\n') });
      else blocks.push({ kind: 'para', text: asciidocInline(para.map((l) => l.trim()).join(' ')) });
    }
    para = [];
    paraIsCode = false;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (delimiter !== null) {
      if (trimmed === delimiter) {
        if (delimiter.startsWith('-') || delimiter.startsWith('.'))
          blocks.push({ kind: 'code', text: delimitedCode.join('\n') });
        delimiter = null;
        delimitedCode = [];
      } else delimitedCode.push(line);
      continue;
    }
    if (trimmed === '') {
      flush();
      continue;
    }
    const next = lines[i + 1] ?? '';
    if (
      para.length === 0 &&
      ADOC_UNDERLINE.test(next.trim()) &&
      !ADOC_DELIMITER.test(trimmed) &&
      Math.abs(next.trim().length - trimmed.length) <= 2 &&
      trimmed.length >= 2
    ) {
      const level = '=-~^+'.indexOf(next.trim()[0]) + 1;
      blocks.push({ kind: 'heading', text: asciidocInline(trimmed), level });
      i++;
      continue;
    }
    if (ADOC_DELIMITER.test(trimmed) && line === trimmed) {
      flush();
      // Open (--), example, sidebar, quote and table delimiters only wrap prose: drop the line.
      if (/^(-{4,}|\.{4,}|\/{4,}|\+{4,})$/.test(trimmed)) delimiter = trimmed;
      continue;
    }
    if (line.startsWith('//')) continue;
    if (/^:[\w-]+:/.test(line) || /^(include|ifdef|ifndef|endif|ifeval)::/.test(line)) continue;
    if (/^\[.*\]$/.test(trimmed) && line === trimmed) {
      flush();
      verse = /^\[verse\]$/.test(trimmed);
      continue;
    }
    const title = line.match(/^(={1,5})\s+(.+?)(\s+=+)?$/);
    if (title !== null) {
      flush();
      blocks.push({ kind: 'heading', text: asciidocInline(title[2]), level: title[1].length });
      continue;
    }
    if (trimmed === '+') {
      flush();
      continue;
    }
    if (para.length === 0 && /^\.[^.\s]/.test(line)) {
      blocks.push({ kind: 'para', text: asciidocInline(line.slice(1)) });
      continue;
    }
    if (para.length === 0) {
      paraIsCode = verse || line !== trimmed;
      verse = false;
    }
    para.push(paraIsCode ? line : line.replace(/(::|;;)$/, ':'));
  }
  flush();
  if (delimiter !== null && delimitedCode.length > 0) blocks.push({ kind: 'code', text: delimitedCode.join('\n') });
  return blocks;
}
