// Vim help files (vim-runtime's doc/*.txt) to plain-text blocks for the pretraining corpus.
//
// Help markup handled: *tag* anchors are removed, |link| and the like become their text, "~" header
// marks are dropped, a line ending in ">" starts an example (code) that runs over indented and blank
// lines until a line starting with "<" or text in column one, "====" / "----" rules end a section
// (the next one-line paragraph becomes its heading), and the file's "*name.txt*" title line and
// "vim:" modeline are dropped. Column layouts (command<TAB>description) keep their text, joined
// with spaces. A pragmatic reader of Vim's help format (:help help-writing), not a renderer.

import type { Block } from './debian.js';

const RULE = /^[=-]{10,}\s*$/;

/** One help line's text: tags removed, links unwrapped, tabs to spaces. */
export function vimHelpInline(line: string): string {
  return line
    .replace(/(^|\s)\*[^*\s]+\*(?=\s|$)/g, '$1')
    .replace(/\|([^|\s]+)\|/g, '$1')
    .replace(/\s~$/, '')
    .replace(/\t+/g, ' ')
    .trim();
}

/** A Vim help file to blocks (headings, paragraphs, code examples). */
export function vimHelpToBlocks(source: string): Block[] {
  const blocks: Block[] = [];
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  let para: string[] = [];
  let code: string[] | null = null;
  let headingNext = false;
  const flush = (): void => {
    const text = para.filter((l) => l !== '').join(' ');
    if (text !== '') {
      const asHeading = headingNext && para.length === 1 && text.split(' ').length <= 12;
      blocks.push(asHeading ? { kind: 'heading', text, level: 1 } : { kind: 'para', text });
      headingNext = false;
    }
    para = [];
  };
  const endCode = (): void => {
    if (code !== null && code.some((l) => l.trim() !== '')) blocks.push({ kind: 'code', text: code.join('\n').trim() });
    code = null;
  };
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (code !== null) {
      if (line.trim() === '' || /^\s/.test(line)) {
        code.push(line.trim());
        continue;
      }
      endCode();
      if (line.startsWith('<')) line = line.slice(1);
    }
    if (i === 0 && /^\*[^*\s]+\.txt\*/.test(line)) continue;
    if (/^\s*vim:/.test(line)) continue;
    if (RULE.test(line)) {
      flush();
      headingNext = true;
      continue;
    }
    if (line.trim() === '') {
      flush();
      continue;
    }
    const example = /(^|\s)>$/.test(line);
    const text = vimHelpInline(example ? line.replace(/\s*>$/, '') : line);
    if (text !== '') para.push(text);
    if (example) {
      flush();
      code = [];
    }
  }
  flush();
  endCode();
  return blocks;
}
