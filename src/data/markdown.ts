// Markdown documentation (nodejs-doc's api/*.md, LLVM's *.md sources) to plain-text blocks: the
// `marked` library renders CommonMark/GFM to HTML and html.ts extracts headings, paragraphs, list
// items, table cells and code blocks from it. HTML comments (Node's <!-- YAML --> metadata) vanish
// in the extraction.

import { Marked } from 'marked';
import type { Block } from './debian.js';
import { htmlToBlocks } from './html.js';

const marked = new Marked({ gfm: true, async: false });

/** A Markdown document to blocks (headings, paragraphs, code). */
export function markdownToBlocks(source: string): Block[] {
  return htmlToBlocks(marked.parse(source, { async: false }));
}
