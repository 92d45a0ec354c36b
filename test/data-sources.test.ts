// The pretraining corpus's newer text sources and its de-duplication: the HTML extractor
// (src/data/html.ts), Markdown (markdown.ts), Vim help (vimhelp.ts), dictd dictionaries (dictd.ts),
// the exclusion rules for manual pages and non-English or generated trees (pretrain.ts), the
// per-source readers over package trees laid out in a temp folder, dedup.ts, and a byte-identical
// rebuild of the assembled corpus. Inputs are inline samples or real excerpts in test/fixtures/data.

import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { htmlToBlocks, isRedirectPage } from '../src/data/html.js';
import { markdownToBlocks } from '../src/data/markdown.js';
import { vimHelpInline, vimHelpToBlocks } from '../src/data/vimhelp.js';
import { decodeDictNumber, dictEntryText, parseDictIndex, readDictd } from '../src/data/dictd.js';
import { dedup, NEAR_MIN_WORDS, shingleHashes } from '../src/data/dedup.js';
import {
  assemblePretrain,
  dictdDocs,
  htmlDocs,
  isExcludedFromPretrain,
  isManPagePath,
  MIN_LINE_WORDS,
  nodejsDocs,
  sphinxSourceDocs,
  tokenEstimates,
  TOKENIZER_DIR,
  vimDocs,
  type PretrainDoc,
  type PretrainSource,
} from '../src/data/pretrain.js';
import { writeJsonlAtomic } from '../src/data/beir.js';
import { BertTokenizer } from '../src/nn/tokenizer.js';
import type { UnpackedPackage } from '../src/data/debian.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'data');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'retrograd-data-sources-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function put(path: string, text: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** n distinct letter-only words ("wordba wordbb ..."): digits would be masked by the shingler. */
const words = (n: number, w = 'word'): string =>
  Array.from(
    { length: n },
    (_, i) => `${w}${String.fromCharCode(97 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`,
  ).join(' ');

describe('htmlToBlocks', () => {
  const page = `<!DOCTYPE html><html><head><title>T</title><style>p { color: red }</style><script>var x = "<p>no</p>";</script></head>
<body><header>Site header</header><nav class="navbar"><ul><li>Home</li><li>Next</li></ul></nav>
<div class="sphinxsidebar" role="navigation"><p>Quick search</p></div>
<div class="body" role="main"><h1>Shell tokens<a class="headerlink" href="#x">¶</a></h1>
<p>The <code>shlex</code> class makes it easy to write   lexical analyzers &amp; parsers.</p>
<ul><li>first item</li><li>second <em>item</em></li></ul>
<dl><dt>posix</dt><dd>Use POSIX rules.</dd></dl>
<pre>a = 1
  b = 2</pre>
<table><tr><th>name</th><td>value cell</td></tr></table>
</div><footer>© 2023</footer><aside>related links</aside></body></html>`;

  it('keeps headings, paragraphs, list items, definitions, cells and pre; drops chrome', () => {
    expect(htmlToBlocks(page)).toEqual([
      { kind: 'heading', text: 'Shell tokens', level: 1 },
      { kind: 'para', text: 'The shlex class makes it easy to write lexical analyzers & parsers.' },
      { kind: 'para', text: 'first item' },
      { kind: 'para', text: 'second item' },
      { kind: 'para', text: 'posix' },
      { kind: 'para', text: 'Use POSIX rules.' },
      { kind: 'code', text: 'a = 1\n  b = 2' },
      { kind: 'para', text: 'name' },
      { kind: 'para', text: 'value cell' },
    ]);
  });

  it('skip drops more elements: texinfo navigation (div.header) but not mdBook heading anchors (a.header)', () => {
    const html =
      '<div class="header"><p>Next: Strings, Previous: Data Types [Contents]</p></div><h2><a class="header" href="#x">Numeric Data Types</a></h2><p>A numeric constant.</p>';
    const texinfoHeader = (tag: string, attrs: Record<string, string>): boolean =>
      tag === 'div' && attrs.class === 'header';
    expect(htmlToBlocks(html, { skip: texinfoHeader })).toEqual([
      { kind: 'heading', text: 'Numeric Data Types', level: 2 },
      { kind: 'para', text: 'A numeric constant.' },
    ]);
    expect(htmlToBlocks(html)[0]).toEqual({ kind: 'para', text: 'Next: Strings, Previous: Data Types [Contents]' });
  });

  it("an unclosed page-chrome div (Qt's div.header) does not swallow the page", () => {
    const html =
      '<body><div class="header" id="qtdocheader"><div class="main"><div class="navigationbar"><ul><li>Qt 5.15</li></ul></div></div>\n<div class="content"><h1>QString Class</h1><p>The QString class provides a Unicode character string.</p></div></body>';
    expect(htmlToBlocks(html).map((b) => b.text)).toEqual([
      'Qt 5.15',
      'QString Class',
      'The QString class provides a Unicode character string.',
    ]);
  });

  it('root keeps only the text inside matching elements', () => {
    const html =
      '<div class="code-header">pub fn len(&amp;self) -&gt; usize</div><div class="docblock"><p>Returns the number of elements.</p></div><p>outside</p>';
    const blocks = htmlToBlocks(html, { root: (_t, a) => a.class === 'docblock' });
    expect(blocks).toEqual([{ kind: 'para', text: 'Returns the number of elements.' }]);
  });

  it('recognises redirect pages', () => {
    expect(isRedirectPage('<html><head><meta http-equiv="refresh" content="0;URL=../x.html"></head></html>')).toBe(
      true,
    );
    expect(isRedirectPage(page)).toBe(false);
  });
});

describe('markdownToBlocks', () => {
  it('Node.js API page: headings, paragraphs, quote, fenced code; HTML comments vanish', () => {
    const blocks = markdownToBlocks(fixture('nodejs-fs.excerpt.md'));
    expect(blocks.slice(0, 4)).toEqual([
      { kind: 'heading', text: 'File system', level: 1 },
      { kind: 'para', text: 'Stability: 2 - Stable' },
      {
        kind: 'para',
        text: 'The node:fs module enables interacting with the file system in a way modeled on standard POSIX functions.',
      },
      { kind: 'para', text: 'To use the promise-based APIs:' },
    ]);
    expect(blocks).toContainEqual({ kind: 'code', text: "import * as fs from 'node:fs/promises';" });
    expect(blocks).toContainEqual({ kind: 'heading', text: 'Promise example', level: 2 });
    expect(blocks.map((b) => b.text).join('\n')).not.toMatch(/introduced_in|source_link|```/);
  });
});

describe('vimHelpToBlocks', () => {
  it('inline markup: tags removed, links unwrapped, header marks dropped', () => {
    expect(vimHelpInline('*05.1*\tThe vimrc file\t\t\t\t\t*vimrc-intro*')).toBe('The vimrc file');
    expect(vimHelpInline('see |vimrc| to find out where')).toBe('see vimrc to find out where');
    expect(vimHelpInline('\t$HOME/_vimrc ~')).toBe('$HOME/_vimrc');
  });

  it('user manual excerpt: title line dropped, section heading, examples as code', () => {
    const blocks = vimHelpToBlocks(fixture('vim-usr_05.excerpt.txt'));
    const text = blocks.map((b) => b.text).join('\n');
    expect(text).not.toContain('For Vim version 9.0');
    expect(blocks[0]).toEqual({ kind: 'para', text: 'VIM USER MANUAL - by Bram Moolenaar' });
    expect(blocks).toContainEqual({ kind: 'heading', text: 'The vimrc file', level: 1 });
    expect(blocks).toContainEqual({
      kind: 'para',
      text: 'If you already have a vimrc file (e.g., when your sysadmin has one setup for you), you can edit it this way:',
    });
    expect(blocks).toContainEqual({ kind: 'code', text: ':edit $MYVIMRC' });
    expect(blocks).toContainEqual({ kind: 'code', text: 'source $VIMRUNTIME/defaults.vim' });
    expect(text).not.toMatch(/\*vimrc-intro\*|\|vimrc\|/);
  });

  it('an example ends at "<" and the text after it is prose again', () => {
    const blocks = vimHelpToBlocks('Type this: >\n\t:set ts=8\n<\tThen press Enter.\n\nvim:tw=78:ts=8:ft=help:norl:\n');
    expect(blocks).toEqual([
      { kind: 'para', text: 'Type this:' },
      { kind: 'code', text: ':set ts=8' },
      { kind: 'para', text: 'Then press Enter.' },
    ]);
  });
});

describe('dictd', () => {
  it('decodes base-64 numbers and parses the index', () => {
    expect(decodeDictNumber('A')).toBe(0);
    expect(decodeDictNumber('BM')).toBe(76);
    expect(decodeDictNumber('YSZ')).toBe(24 * 4096 + 18 * 64 + 25);
    expect(parseDictIndex('Abjure\tYdL\tBR\n', 'gcide.index')).toEqual([
      { headword: 'Abjure', offset: decodeDictNumber('YdL'), length: 81 },
    ]);
    expect(() => parseDictIndex('Abjure YdL BR\n', 'gcide.index')).toThrow(
      'gcide.index line 1: expected "headword<TAB>offset<TAB>length"',
    );
  });

  it('entry markup: pronunciation, source tags and cross-reference braces removed', () => {
    expect(dictEntryText('Abjurement \\Ab*jure"ment\\ (-ment), n.\n   Renunciation. [R.]\n   [1913 Webster]\n')).toBe(
      'Abjurement (-ment), n. Renunciation. [R.]',
    );
    expect(
      dictEntryText('Acknowledgement \\Ac*knowl"edge*ment\\ ([a^]k*n[o^]l"[e^]j*ment), n.\n   Gapesing (? or ?).'),
    ).toBe('Acknowledgement, n. Gapesing.');
    expect(dictEntryText('aliasing bug\n\n   <programming> A class of {bugs}, see {GC}.\n')).toBe(
      'aliasing bug programming A class of bugs, see GC.',
    );
  });

  it('reads a gzip-compressed excerpt of GCIDE: each entry once, in file order, header skipped', () => {
    const entries = readDictd(
      gzipSync(Buffer.from(fixture('gcide.excerpt.dict'))),
      fixture('gcide.excerpt.index'),
      'gcide',
    );
    expect(entries.map((e) => e.split(/[ ,]/)[0])).toEqual(['Abjuratory', 'Abjure', 'Abjure', 'Abjurement', 'Abjurer']);
    expect(entries[0]).toBe('Abjuratory, a. Containing abjuration.');
    expect(entries[1]).toContain('[imp. & p. p. Abjured; p. pr. & vb. n. Abjuring.]');
    expect(entries.join(' ')).not.toMatch(/ftp\.gnu\.org|1913 Webster|\\/);
    expect(() => readDictd(Buffer.from('short'), 'x\tA\tBM\n', 'gcide')).toThrow(
      'gcide.index: entry "x" ends at byte 76, past the data (5 bytes)',
    );
  });
});

describe('exclusion rules', () => {
  it('manual pages of any package are recognised by folder or name', () => {
    expect(isManPagePath('usr/share/postgresql/15/man/man3/SPI_connect.3.gz')).toBe(true);
    expect(isManPagePath('man/sphinx-build.rst.txt')).toBe(true);
    expect(isManPagePath('manual/cmake.1.rst.txt')).toBe(true);
    expect(isManPagePath('manual/cmake-buildsystem.7.rst.txt')).toBe(true);
    expect(isManPagePath('specs/man/java.html')).toBe(true);
    expect(isManPagePath('perlfunc.3perl')).toBe(true);
    expect(isManPagePath('whatsnew/3.11.rst.txt')).toBe(false);
    expect(isManPagePath('whatsnew/v1.5.0.rst.txt')).toBe(false);
    expect(isManPagePath('whatsnew/v0.25.rst.txt')).toBe(false);
    expect(isManPagePath('manual/cmake-buildsystem.html')).toBe(false);
    expect(isManPagePath('book/ch04-01-what-is-ownership.html')).toBe(false);
    expect(isManPagePath('filesystems/ext4.rst.txt')).toBe(false);
  });

  it('per-package rules: translations, CommandGuide, rust sources, other languages, javadoc indexes', () => {
    expect(isExcludedFromPretrain('linux-doc-6.1', 'translations/zh_CN/index.rst.txt')).toBe(true);
    expect(isExcludedFromPretrain('linux-doc-6.1', 'admin-guide/README.rst.txt')).toBe(false);
    expect(isExcludedFromPretrain('llvm-15-doc', 'CommandGuide/llc.rst.txt')).toBe(true);
    expect(isExcludedFromPretrain('rust-doc', 'src/core/option.rs.html')).toBe(true);
    expect(isExcludedFromPretrain('rust-doc', 'implementors/core/clone/trait.Clone.js')).toBe(true);
    expect(isExcludedFromPretrain('rust-doc', 'core/core_arch/x86/fn._mm_add_ps.html')).toBe(true);
    expect(isExcludedFromPretrain('rust-doc', 'std/vec/struct.Vec.html')).toBe(false);
    expect(isExcludedFromPretrain('debian-handbook', 'fr-FR/apt.html')).toBe(true);
    expect(isExcludedFromPretrain('debian-handbook', 'en-US/apt.html')).toBe(false);
    expect(isExcludedFromPretrain('openjdk-17-doc', 'api/java.base/java/lang/class-use/String.html')).toBe(true);
    expect(isExcludedFromPretrain('openjdk-17-doc', 'api/java.base/java/lang/String.html')).toBe(false);
    expect(isExcludedFromPretrain('python-django-doc', '_modules/django/db/models.html')).toBe(true);
    expect(isExcludedFromPretrain('python-scipy-doc', 'genindex.html')).toBe(true);
    // SQL command and application references are also Debian man pages (man7 SELECT, man1 psql).
    expect(isExcludedFromPretrain('postgresql-doc-15', 'sql-select.html')).toBe(true);
    expect(isExcludedFromPretrain('postgresql-doc-15', 'app-psql.html')).toBe(true);
    expect(isExcludedFromPretrain('postgresql-doc-15', 'queries-table-expressions.html')).toBe(false);
  });
});

describe('package readers', () => {
  it('sphinx sources: reST and Markdown read, man pages and translations left out', () => {
    const root = join(tmp, 'linux-doc-6.1');
    const dir = join(root, 'usr/share/doc/linux-doc-6.1/html/_sources');
    put(join(dir, 'process/howto.rst.txt'), 'HOWTO\n=====\n\nThis is the document for becoming a kernel developer.\n');
    put(join(dir, 'process/notes.md.txt'), '# Notes\n\nA *Markdown* page.\n');
    put(join(dir, 'translations/it_IT/process/howto.rst.txt'), 'HOWTO\n=====\n\nQuesto documento.\n');
    put(join(dir, 'man/kernel-doc.1.rst.txt'), 'kernel-doc\n==========\n\nA manual page.\n');
    expect(sphinxSourceDocs('linux-doc-6.1', root, 'usr/share/doc/linux-doc-6.1/html/_sources')).toEqual([
      {
        source: 'linux-doc-6.1:process/howto.rst',
        text: 'HOWTO\nThis is the document for becoming a kernel developer.',
      },
      { source: 'linux-doc-6.1:process/notes.md', text: 'Notes\nA Markdown page.' },
    ]);
  });

  it('HTML manuals: redirect pages and man pages skipped, roots applied per file', () => {
    const root = join(tmp, 'postgresql-doc-15');
    const dir = join(root, 'usr/share/doc/postgresql-doc-15/html');
    put(
      join(dir, 'queries-select-lists.html'),
      '<html><body><div class="navheader">Prev Next</div><h2>Select Lists</h2><p>The select list determines the output columns.</p></body></html>',
    );
    put(join(dir, 'sql-select.html'), '<html><body><h2>SELECT</h2><p>SELECT retrieves rows.</p></body></html>');
    put(
      join(dir, 'old.html'),
      '<html><head><meta http-equiv="Refresh" content="0; url=queries-select-lists.html"></head><body><p>moved</p></body></html>',
    );
    put(join(dir, 'man7/select.7.html'), '<p>SELECT(7) manual page</p>');
    expect(htmlDocs('postgresql-doc-15', root, 'usr/share/doc/postgresql-doc-15/html')).toEqual([
      {
        source: 'postgresql-doc-15:queries-select-lists.html',
        text: 'Select Lists\nThe select list determines the output columns.',
      },
    ]);
  });

  it('dictd, vim help and Node.js Markdown trees', () => {
    const dict = join(tmp, 'dict-gcide');
    put(join(dict, 'usr/share/dictd/gcide.dict.dz'), gzipSync(Buffer.from(fixture('gcide.excerpt.dict'))));
    put(join(dict, 'usr/share/dictd/gcide.index'), fixture('gcide.excerpt.index'));
    const gcide = dictdDocs('dict-gcide', dict, 'gcide');
    expect(gcide).toHaveLength(1);
    expect(gcide[0].source).toBe('dict-gcide:gcide');
    expect(gcide[0].text.split('\n')).toHaveLength(5);

    const vim = join(tmp, 'vim-runtime');
    put(join(vim, 'usr/share/vim/vim90/doc/usr_05.txt'), fixture('vim-usr_05.excerpt.txt'));
    put(join(vim, 'usr/share/vim/vim90/doc/tags'), 'vimrc\tstarting.txt\t/*vimrc*\n');
    expect(vimDocs(vim).map((d) => d.source)).toEqual(['vim-runtime:usr_05.txt']);

    const node = join(tmp, 'nodejs-doc');
    put(join(node, 'usr/share/doc/nodejs/api/fs.md.gz'), gzipSync(Buffer.from(fixture('nodejs-fs.excerpt.md'))));
    put(join(node, 'usr/share/doc/nodejs/api/fs.html'), '<p>not read</p>');
    const docs = nodejsDocs(node);
    expect(docs.map((d) => d.source)).toEqual(['nodejs-doc:fs.md']);
    expect(docs[0].text.startsWith('File system\nStability: 2 - Stable\n')).toBe(true);
  });
});

describe('dedup', () => {
  it('drops exact repeats (case and spacing ignored) and near copies, keeping the first', () => {
    const base = words(80);
    const near = `${words(78)} changed words`;
    const items = [base, 'Short  LINE', base.toUpperCase(), 'short line', near, words(80, 'other')];
    const { kept, removed } = dedup(items, (t) => t);
    expect(kept).toEqual([base, 'Short  LINE', words(80, 'other')]);
    expect(removed).toEqual([
      { item: base.toUpperCase(), reason: 'exact' },
      { item: 'short line', reason: 'exact' },
      { item: near, reason: 'near' },
    ]);
  });

  it('short lines are only compared exactly; digits are masked in shingles', () => {
    const short = words(NEAR_MIN_WORDS - 10);
    const { kept } = dedup([short, `${short} extra`], (t) => t);
    expect(kept).toHaveLength(2);
    expect(shingleHashes('version 1.2 of the tool')).toEqual(shingleHashes('version 3.4 of the tool'));
    expect(shingleHashes('a b')).toHaveLength(1);
  });
});

describe('assemblePretrain', () => {
  const fake = (pkg: string, docs: PretrainDoc[]): PretrainSource => ({
    pkg,
    licence: `${pkg} licence`,
    read: () => docs,
  });
  const pkgs = new Map<string, UnpackedPackage>([
    ['a-doc', { name: 'a-doc', version: '1.0', debFile: '', root: '/nowhere' }],
    ['b-doc', { name: 'b-doc', version: '2.0', debFile: '', root: '/nowhere' }],
  ]);
  const page = `The quick brown fox jumps over the lazy dog while the ${words(60)} tokenizer counts pieces.`;
  const sources = [
    fake('a-doc', [
      { source: 'a-doc:one', text: page },
      { source: 'a-doc:stub', text: 'pandas.DataFrame.sum' },
    ]),
    fake('b-doc', [
      { source: 'b-doc:copy', text: page },
      { source: 'b-doc:own', text: words(20, 'own') },
    ]),
  ];
  const tokenizer = BertTokenizer.fromDir(TOKENIZER_DIR);

  it('drops short package lines, de-duplicates across sources and counts what was removed', () => {
    const { docs, counts } = assemblePretrain(sources, pkgs, [{ source: 'pkgdesc:x', text: 'tiny' }], tokenizer);
    expect(docs.map((d) => d.source)).toEqual(['a-doc:one', 'b-doc:own', 'pkgdesc:x']);
    expect(MIN_LINE_WORDS).toBeGreaterThan(3);
    const b = counts.find((c) => c.source === 'b-doc')!;
    expect(b).toMatchObject({
      version: '2.0',
      licence: 'b-doc licence',
      docs: 1,
      words: 20,
      exactDups: 1,
      nearDups: 0,
      dupWords: page.split(' ').length,
    });
    const a = counts.find((c) => c.source === 'a-doc')!;
    expect(a.tokens).toBe(tokenizer.tokenize(page).length);
  });

  it('a source that yields no text is an error naming it', () => {
    const empty = [fake('a-doc', [{ source: 'a-doc:stub', text: 'pandas.DataFrame.sum' }])];
    expect(() => assemblePretrain(empty, pkgs, [], tokenizer)).toThrow(
      'a-doc: no text extracted from /nowhere (has the package layout or markup changed?)',
    );
  });

  it('token estimates scale the sampled lines to all words of a source', () => {
    const docs = Array.from({ length: 20 }, (_, i) => ({ source: 's:x', text: i % 10 === 0 ? 'unbelievably' : 'a b' }));
    // Lines 0 and 10 are sampled: 1 word -> k tokens each; the source has 2 + 18*2 = 38 words.
    const k = tokenizer.tokenize('unbelievably').length;
    expect(tokenEstimates(docs, tokenizer).get('s')).toBe(38 * k);
  });

  it('rebuilds byte-identically', async () => {
    const write = async (name: string): Promise<Buffer> => {
      const { docs } = assemblePretrain(sources, pkgs, [{ source: 'pkgdesc:x', text: 'tiny' }], tokenizer);
      await writeJsonlAtomic(join(tmp, name), docs);
      return readFileSync(join(tmp, name));
    };
    expect((await write('a.jsonl.gz')).equals(await write('b.jsonl.gz'))).toBe(true);
  });
});
