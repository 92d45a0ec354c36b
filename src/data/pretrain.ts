// The MLM pretraining text corpus: English documentation from Debian packages plus the TRAIN split
// of the package descriptions, one document or section per line of DIR/pretrain.jsonl.gz as
// {"text": ..., "source": "python3.11-doc:library/os.rst"}, and DIR/PROVENANCE.md.
//
// Sources (PRETRAIN_SOURCES, one row per Debian package with its licence): Sphinx reST/Markdown
// sources (python3.11-doc, linux-doc-6.1, llvm-15-doc, cmake-doc, sphinx-doc, python-sklearn-doc,
// python-pandas-doc), AsciiDoc (git-doc's guides), HTML manuals (rust-doc, postgresql-doc-15,
// python-django-doc, python-scipy-doc, python-sqlalchemy-doc, erlang-doc, sqlite3-doc, octave-doc,
// debian-reference-en, debian-handbook's en-US part), Markdown (nodejs-doc), Vim help
// (vim-runtime), dictd dictionaries (dict-gcide, dict-foldoc, dict-jargon), WordNet glosses
// (wordnet-base), and the long descriptions of the pkgdesc documents marked "split": "train".
//
// Kept out (isExcludedFromPretrain), so pretraining never sees evaluation text: every manual page
// (files under man/ or manN/ folders, NAME.N.* and roff NAME.N files, LLVM's CommandGuide, git-doc's
// man-page sources NAME(N) and the files they include, PostgreSQL's SQL command and application
// reference pages, which Debian also ships as man7/man1 pages), all of perl-doc (every pod is
// installed as a perl*(1) man page; the FAQ set is built from perlfaq), the Debian FAQ (debian-faq is
// not a source), Python's faq/, and
// every package description of the dev and test splits (read from the pkgdesc directory's own split
// field). Also left out: non-English trees (linux-doc translations/, other debian-handbook
// languages), source listings (rust-doc src/, Sphinx _modules/), rust-doc's implementors/ and
// core_arch intrinsics, search and index pages.
//
// Markup is stripped by markup.ts, html.ts, markdown.ts, vimhelp.ts and dictd.ts; long documents
// are cut at section headings into chunks of a few hundred to a few thousand words; code blocks are
// kept only when short (DEFAULT_CHUNKS); dictionary entries and WordNet lines are packed a few
// hundred words per line. dedup.ts then drops exact and near-duplicate lines (first copy kept).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { basename, dirname, join, normalize, relative } from 'node:path';
import { findJsonl, readJsonlEntries, writeJsonlAtomic, writeTextAtomic } from './beir.js';
import {
  chunkBlocks,
  countWords,
  DEFAULT_CHUNKS,
  downloadAndUnpack,
  makeTempDir,
  normalizeSpace,
  removeDir,
  type Block,
  type UnpackedPackage,
} from './debian.js';
import { dedup } from './dedup.js';
import { readDictd } from './dictd.js';
import { htmlToBlocks, isRedirectPage, type HtmlOptions } from './html.js';
import { markdownToBlocks } from './markdown.js';
import { asciidocToBlocks, rstToBlocks } from './markup.js';
import { vimHelpToBlocks } from './vimhelp.js';
import { parseWordnetData, synsetLine, WORDNET_FILES } from './wordnet.js';
import { BertTokenizer } from '../nn/tokenizer.js';

export interface PretrainDoc {
  text: string;
  source: string;
}

export const PKGDESC_SOURCE = 'pkgdesc';

const PYTHON_SOURCES = 'usr/share/doc/python3.11/html/_sources';
const GIT_DOCS = 'usr/share/doc/git-doc';
const WORDNET_DIR = 'usr/share/wordnet';

/** WordNet lines and dictionary entries are packed into chunks of this size. */
const PACKED_CHUNKS = { minWords: 300, maxWords: 500, maxCodeLines: 0 };

/**
 * Is this path a manual page (kept out of every training corpus for out-of-domain evaluation)? Any
 * folder named man or manN (man1, man3perl, ...), a roff page NAME.N[.gz], or a rendering or source
 * named NAME.N.EXT (cmake's manual/cmake.1.rst.txt). NAME starts with two letters and N is one
 * digit (plus letters), so version pages (whatsnew/3.11.rst, v1.5.0.rst) are not taken for one.
 */
export function isManPagePath(path: string): boolean {
  if (
    path
      .split('/')
      .slice(0, -1)
      .some((dir) => /^man(\d\w*)?$/.test(dir))
  )
    return true;
  const name = basename(path);
  return (
    /^[A-Za-z][A-Za-z_+-][\w.+-]*\.\d[a-z]*(\.gz|\.(rst|md|txt|html?)(\.txt)?)?$/.test(name) && !/\.\d+\.\d/.test(name)
  );
}

/**
 * Is this file held out of pretraining? Manual pages of every package, the files evaluation sets
 * are built from, non-English trees, source listings and generated indexes. `path` is relative to
 * the source's documentation root (python: _sources; perl: the pod folder; HTML: its html folder).
 */
export function isExcludedFromPretrain(pkg: string, path: string): boolean {
  if (isManPagePath(path)) return true;
  if (pkg === 'postgresql-doc-15') return /^(sql|app)-[\w-]+\.html$/.test(path);
  if (pkg === 'python3.11-doc') return path === 'faq' || path.startsWith('faq/');
  if (pkg === 'linux-doc-6.1') return path.startsWith('translations/');
  if (pkg === 'llvm-15-doc') return path.startsWith('CommandGuide/');
  if (pkg === 'rust-doc')
    return (
      /^(src|implementors)\//.test(path) ||
      /^(core|std)\/(arch|core_arch)\//.test(path) ||
      /(^|\/)(all|search|settings|not_found|help)\.html$/.test(path)
    );
  if (pkg === 'debian-handbook') return !path.startsWith('en-US/');
  if (pkg === 'openjdk-17-doc') {
    return (
      /(^|\/)(class-use|index-files|legal)\//.test(path) ||
      /(^|\/)(package-use|package-tree|overview-tree|allclasses-index|allpackages-index|serialized-form|constant-values|deprecated-list|new-list|help-doc|search|index-all)\.html$/.test(
        path,
      )
    );
  }
  return (
    /(^|\/)(_modules|_sources|_static|_images)\//.test(path) ||
    /(^|\/)(genindex|search|py-modindex|np-modindex|modindex)(-[\w-]+)?\.html$/.test(path)
  );
}

/** Files under dir (recursive), as sorted paths relative to dir. */
function listFiles(dir: string, keep: (rel: string) => boolean): string[] {
  if (!existsSync(dir)) throw new Error(`${dir} does not exist (unexpected package layout)`);
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .filter(keep)
    .sort();
}

function chunksOf(pkg: string, label: string, blocks: Block[]): PretrainDoc[] {
  return chunkBlocks(blocks, DEFAULT_CHUNKS).map((text) => ({ text, source: `${pkg}:${label}` }));
}

export function pythonDocs(root: string): PretrainDoc[] {
  const dir = join(root, PYTHON_SOURCES);
  const files = listFiles(dir, (rel) => rel.endsWith('.rst.txt') && !isExcludedFromPretrain('python3.11-doc', rel));
  return files.flatMap((rel) =>
    chunksOf('python3.11-doc', rel.replace(/\.txt$/, ''), rstToBlocks(readFileSync(join(dir, rel), 'utf8'))),
  );
}

/** A git AsciiDoc file is a man-page source when its title line is NAME(N), as in `git-add(1)`. */
const GIT_MAN_TITLE = /^[\w.+{}-]+\(\d\)\s*$/; // {litdd} stands for "--" in names

/**
 * git-doc's guides (user manual, howtos, technical notes): every man-page source (title NAME(N)) and
 * every file a man page includes (`include::config/add.txt[]`, followed transitively) is left out.
 */
export function gitDocs(root: string): PretrainDoc[] {
  const dir = join(root, GIT_DOCS);
  const texts = new Map(
    listFiles(dir, (rel) => rel.endsWith('.txt')).map((rel) => [rel, readFileSync(join(dir, rel), 'utf8')]),
  );
  const manPages = [...texts]
    .filter(([, text]) => GIT_MAN_TITLE.test(text.trimStart().split('\n', 1)[0]))
    .map(([rel]) => rel);
  const excluded = new Set<string>();
  const stack = [...manPages];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    if (excluded.has(rel)) continue;
    excluded.add(rel);
    for (const m of (texts.get(rel) ?? '').matchAll(/^include::([^[\]]+)\[\]/gm))
      stack.push(normalize(join(dirname(rel), m[1])));
  }
  return [...texts]
    .filter(([rel]) => !excluded.has(rel))
    .flatMap(([rel, text]) => chunksOf('git-doc', rel, asciidocToBlocks(text)));
}

export function wordnetDocs(root: string): PretrainDoc[] {
  const docs: PretrainDoc[] = [];
  for (const file of WORDNET_FILES) {
    const path = join(root, WORDNET_DIR, file);
    if (!existsSync(path)) throw new Error(`wordnet-base: ${path} does not exist`);
    const blocks: Block[] = parseWordnetData(readFileSync(path, 'utf8'), file).map((s) => ({
      kind: 'para',
      text: synsetLine(s),
    }));
    for (const text of chunkBlocks(blocks, PACKED_CHUNKS)) docs.push({ text, source: `wordnet-base:${file}` });
  }
  return docs;
}

/** Sphinx sources (html/_sources): reST (*.rst.txt, *.txt) and Markdown (*.md.txt). */
export function sphinxSourceDocs(pkg: string, root: string, dirInPackage: string): PretrainDoc[] {
  const dir = join(root, dirInPackage);
  const files = listFiles(dir, (rel) => rel.endsWith('.txt') && !isExcludedFromPretrain(pkg, rel));
  return files.flatMap((rel) => {
    const source = readFileSync(join(dir, rel), 'utf8');
    const blocks = rel.endsWith('.md.txt') ? markdownToBlocks(source) : rstToBlocks(source);
    return chunksOf(pkg, rel.replace(/\.txt$/, ''), blocks);
  });
}

export interface HtmlSourceOptions {
  /** Which HTML files to read beyond the exclusion rules (default: all *.html / *.htm). */
  keep?: (rel: string) => boolean;
  /** Per file: keep only the text inside matching elements (see html.ts). */
  root?: (rel: string) => HtmlOptions['root'];
  /** Per file: drop matching elements as well (see html.ts). */
  skip?: (rel: string) => HtmlOptions['skip'];
}

/** HTML manuals: every *.html under the folder that the exclusion rules and `keep` let through, redirect pages skipped. */
export function htmlDocs(pkg: string, root: string, dirInPackage: string, opts: HtmlSourceOptions = {}): PretrainDoc[] {
  const dir = join(root, dirInPackage);
  const keep = opts.keep ?? (() => true);
  const files = listFiles(dir, (rel) => /\.html?$/.test(rel) && keep(rel) && !isExcludedFromPretrain(pkg, rel));
  return files.flatMap((rel) => {
    const html = readFileSync(join(dir, rel), 'utf8');
    return isRedirectPage(html)
      ? []
      : chunksOf(pkg, rel, htmlToBlocks(html, { root: opts.root?.(rel), skip: opts.skip?.(rel) }));
  });
}

/** A dictd dictionary (usr/share/dictd/NAME.index + NAME.dict.dz): entries packed a few hundred words per line. */
export function dictdDocs(pkg: string, root: string, name: string): PretrainDoc[] {
  const base = join(root, 'usr/share/dictd', name);
  if (!existsSync(`${base}.index`)) throw new Error(`${pkg}: ${base}.index does not exist`);
  const entries = readDictd(readFileSync(`${base}.dict.dz`), readFileSync(`${base}.index`, 'utf8'), base);
  const blocks: Block[] = entries.map((text) => ({ kind: 'para', text }));
  return chunkBlocks(blocks, PACKED_CHUNKS).map((text) => ({ text, source: `${pkg}:${name}` }));
}

/** Vim's help files (vim-runtime usr/share/vim/vimNN/doc/*.txt). */
export function vimDocs(root: string): PretrainDoc[] {
  const parent = join(root, 'usr/share/vim');
  const versions = existsSync(parent)
    ? readdirSync(parent)
        .filter((v) => /^vim\d+$/.test(v))
        .sort()
    : [];
  if (versions.length !== 1)
    throw new Error(`vim-runtime: expected one usr/share/vim/vimNN folder, found ${versions.length}`);
  const dir = join(parent, versions[0], 'doc');
  const files = listFiles(dir, (rel) => rel.endsWith('.txt') && !isExcludedFromPretrain('vim-runtime', rel));
  return files.flatMap((rel) => chunksOf('vim-runtime', rel, vimHelpToBlocks(readFileSync(join(dir, rel), 'utf8'))));
}

/** Node.js API documentation (nodejs-doc usr/share/doc/nodejs/api/*.md.gz). */
export function nodejsDocs(root: string): PretrainDoc[] {
  const dir = join(root, 'usr/share/doc/nodejs/api');
  const files = listFiles(dir, (rel) => rel.endsWith('.md.gz') && !isExcludedFromPretrain('nodejs-doc', rel));
  return files.flatMap((rel) =>
    chunksOf(
      'nodejs-doc',
      rel.replace(/\.gz$/, ''),
      markdownToBlocks(gunzipSync(readFileSync(join(dir, rel))).toString('utf8')),
    ),
  );
}

/** rustdoc API pages (std/, core/, alloc/, ...): only the docblocks' prose; the books are read whole. */
const RUST_API = /^(std|core|alloc|proc_macro|test)\//;
const rustDocblock: HtmlOptions['root'] = (_tag, attrs) => (attrs.class ?? '').split(/\s+/).includes('docblock');
/** Javadoc API pages: the description blocks (class, method and field comments). */
const javadocBlock: HtmlOptions['root'] = (_tag, attrs) => (attrs.class ?? '').split(/\s+/).includes('block');
/** Sphinx themes that mark the article (pydata, SQLAlchemy's): the element with role="main". */
const sphinxMain: HtmlOptions['root'] = (_tag, attrs) => attrs.role === 'main';
/**
 * Texinfo HTML (octave-doc): the "Next: ... Previous: ... [Contents][Index]" bar is a div.header.
 * Only for texinfo: Qt's div.header is left unclosed and would swallow the whole page.
 */
const texinfoHeader: HtmlOptions['skip'] = (tag, attrs) => tag === 'div' && attrs.class === 'header';
/** MediaWiki exports (cppreference): the article body. */
const mediawikiContent: HtmlOptions['root'] = (_tag, attrs) => attrs.id === 'mw-content-text';

/**
 * The long descriptions of the pkgdesc collection's TRAIN documents. Every corpus line must carry
 * "split" (train | dev | test): the split decides what pretraining may see, so a missing field is an error.
 */
export async function pkgdescTrainDocs(dir: string): Promise<PretrainDoc[]> {
  const path = findJsonl(dir, 'corpus');
  const docs: PretrainDoc[] = [];
  for await (const { line, value } of readJsonlEntries(path)) {
    const where = `${path} line ${line}`;
    const split = value.split;
    if (split !== 'train' && split !== 'dev' && split !== 'test')
      throw new Error(`${where}: "split" must be train, dev or test (got ${JSON.stringify(split)})`);
    if (typeof value._id !== 'string' || typeof value.text !== 'string')
      throw new Error(`${where}: "_id" and "text" must be strings`);
    if (split === 'train') docs.push({ text: normalizeSpace(value.text), source: `${PKGDESC_SOURCE}:${value._id}` });
  }
  return docs;
}

/** A pretraining source: one Debian package, its licence, and how its text is read. */
export interface PretrainSource {
  pkg: string;
  licence: string;
  read: (root: string) => PretrainDoc[];
}

const copyright = (pkg: string): string => `/usr/share/doc/${pkg}/copyright`;

/** The package sources in corpus order (the pkgdesc train descriptions come last). */
export const PRETRAIN_SOURCES: readonly PretrainSource[] = [
  {
    pkg: 'python3.11-doc',
    licence: `PSF License Agreement (Python documentation); ${copyright('python3.11-doc')}`,
    read: pythonDocs,
  },
  { pkg: 'git-doc', licence: `GPL-2 (git); ${copyright('git-doc')}`, read: gitDocs },
  {
    pkg: 'linux-doc-6.1',
    licence: `GPL-2 (Linux kernel documentation); ${copyright('linux-doc-6.1')}`,
    read: (r) => sphinxSourceDocs('linux-doc-6.1', r, 'usr/share/doc/linux-doc-6.1/html/_sources'),
  },
  {
    pkg: 'llvm-15-doc',
    licence: `Apache-2.0 with LLVM exceptions; ${copyright('llvm-15-doc')}`,
    read: (r) => sphinxSourceDocs('llvm-15-doc', r, 'usr/share/doc/llvm-15-doc/html/_sources'),
  },
  {
    pkg: 'cmake-doc',
    licence: 'BSD-3-clause (CMake); /usr/share/doc/cmake-data/copyright',
    read: (r) => sphinxSourceDocs('cmake-doc', r, 'usr/share/doc/cmake-data/html/_sources'),
  },
  {
    pkg: 'sphinx-doc',
    licence: `BSD-2-clause (Sphinx); ${copyright('sphinx-doc')}`,
    read: (r) => sphinxSourceDocs('sphinx-doc', r, 'usr/share/doc/sphinx-doc/html/_sources'),
  },
  {
    pkg: 'python-sklearn-doc',
    licence: `BSD-3-clause (scikit-learn); ${copyright('python-sklearn-doc')}`,
    read: (r) => sphinxSourceDocs('python-sklearn-doc', r, 'usr/share/doc/python-sklearn-doc/html/_sources'),
  },
  {
    pkg: 'python-pandas-doc',
    licence: `BSD-3 (pandas); ${copyright('python-pandas-doc')}`,
    read: (r) => sphinxSourceDocs('python-pandas-doc', r, 'usr/share/doc/python-pandas-doc/html/_sources'),
  },
  {
    pkg: 'python-astropy-doc',
    licence: `BSD-3-clause (Astropy); ${copyright('python-astropy-doc')}`,
    read: (r) => sphinxSourceDocs('python-astropy-doc', r, 'usr/share/doc/python-astropy-doc/html/_sources'),
  },
  {
    pkg: 'python-sympy-doc',
    licence: `BSD-3-clause (SymPy); ${copyright('python-sympy-doc')}`,
    read: (r) => sphinxSourceDocs('python-sympy-doc', r, 'usr/share/doc/python-sympy-doc/html/_sources'),
  },
  {
    pkg: 'ghc-doc',
    licence: `BSD-3-clause (GHC User's Guide); ${copyright('ghc-doc')}`,
    read: (r) => sphinxSourceDocs('ghc-doc', r, 'usr/share/doc/ghc-doc/html/users_guide/_sources'),
  },
  {
    pkg: 'rust-doc',
    licence: `MIT or Apache-2.0 (Rust); ${copyright('rust-doc')}`,
    read: (r) =>
      htmlDocs('rust-doc', r, 'usr/share/doc/rust-doc/html', {
        keep: (rel) => rel.includes('/'),
        root: (rel) => (RUST_API.test(rel) ? rustDocblock : undefined),
      }),
  },
  {
    pkg: 'openjdk-17-doc',
    licence: `GPL-2 with the Classpath exception (OpenJDK); ${copyright('openjdk-17-doc')}`,
    read: (r) =>
      htmlDocs('openjdk-17-doc', r, 'usr/share/doc/openjdk-17-jre-headless', {
        root: (rel) => (rel.startsWith('api/') ? javadocBlock : undefined),
      }),
  },
  {
    pkg: 'cppreference-doc-en-html',
    licence: `CC-BY-SA-3.0 or GFDL (no invariant sections) (cppreference.com); ${copyright('cppreference-doc-en-html')}`,
    read: (r) =>
      htmlDocs('cppreference-doc-en-html', r, 'usr/share/cppreference/doc/html', { root: () => mediawikiContent }),
  },
  {
    pkg: 'qtbase5-doc-html',
    licence: `GFDL-1.3, no invariant sections (Qt 5 documentation); ${copyright('qtbase5-doc-html')}`,
    read: (r) => htmlDocs('qtbase5-doc-html', r, 'usr/share/qt5/doc'),
  },
  {
    pkg: 'postgresql-doc-15',
    licence: `PostgreSQL licence; ${copyright('postgresql-doc-15')}`,
    read: (r) => htmlDocs('postgresql-doc-15', r, 'usr/share/doc/postgresql-doc-15/html'),
  },
  {
    pkg: 'python-django-doc',
    licence: `BSD-3-clause (Django); ${copyright('python-django-doc')}`,
    read: (r) => htmlDocs('python-django-doc', r, 'usr/share/doc/python-django-doc/html'),
  },
  {
    pkg: 'python-scipy-doc',
    licence: `BSD-3-clause (SciPy); ${copyright('python-scipy-doc')}`,
    read: (r) => htmlDocs('python-scipy-doc', r, 'usr/share/doc/python-scipy-doc/html', { root: () => sphinxMain }),
  },
  {
    pkg: 'python-sqlalchemy-doc',
    licence: `Expat (MIT; SQLAlchemy); ${copyright('python-sqlalchemy-doc')}`,
    read: (r) =>
      htmlDocs('python-sqlalchemy-doc', r, 'usr/share/doc/python-sqlalchemy-doc/html', { root: () => sphinxMain }),
  },
  {
    pkg: 'erlang-doc',
    licence: `Apache-2.0 (Erlang/OTP); ${copyright('erlang-doc')}`,
    read: (r) => htmlDocs('erlang-doc', r, 'usr/share/doc/erlang-doc'),
  },
  {
    pkg: 'sqlite3-doc',
    licence: `public domain (SQLite); ${copyright('sqlite3-doc')}`,
    read: (r) => htmlDocs('sqlite3-doc', r, 'usr/share/doc/sqlite3'),
  },
  {
    pkg: 'octave-doc',
    licence: `GPL-3+ (GNU Octave manual); ${copyright('octave-doc')}`,
    read: (r) => htmlDocs('octave-doc', r, 'usr/share/doc/octave', { skip: () => texinfoHeader }),
  },
  {
    pkg: 'debian-reference-en',
    licence: `GPL-2+ (Debian Reference); ${copyright('debian-reference-en')}`,
    read: (r) =>
      htmlDocs('debian-reference-en', r, 'usr/share/debian-reference', { keep: (rel) => rel.endsWith('.en.html') }),
  },
  {
    pkg: 'debian-handbook',
    licence: `GPL-2+ or CC-BY-SA-3.0 (The Debian Administrator's Handbook; en-US only); ${copyright('debian-handbook')}`,
    read: (r) => htmlDocs('debian-handbook', r, 'usr/share/doc/debian-handbook/html'),
  },
  { pkg: 'nodejs-doc', licence: `Expat (MIT; Node.js documentation); ${copyright('nodejs-doc')}`, read: nodejsDocs },
  {
    pkg: 'vim-runtime',
    licence: `Vim licence (GPL-compatible; Vim help files); ${copyright('vim-runtime')}`,
    read: vimDocs,
  },
  {
    pkg: 'dict-gcide',
    licence: `GPL-2+ (GNU Collaborative International Dictionary of English 0.48); ${copyright('dict-gcide')}`,
    read: (r) => dictdDocs('dict-gcide', r, 'gcide'),
  },
  {
    pkg: 'dict-foldoc',
    licence: `GFDL-1.1+, no invariant sections (Free On-line Dictionary of Computing); ${copyright('dict-foldoc')}`,
    read: (r) => dictdDocs('dict-foldoc', r, 'foldoc'),
  },
  {
    pkg: 'dict-jargon',
    licence: `public domain (The Jargon File 4.4.7); ${copyright('dict-jargon')}`,
    read: (r) => dictdDocs('dict-jargon', r, 'jargon'),
  },
  {
    pkg: 'wordnet-base',
    licence: `WordNet 3.0 licence (permissive, Princeton University); ${copyright('wordnet-base')}`,
    read: wordnetDocs,
  },
];

export const PRETRAIN_PACKAGES: readonly string[] = PRETRAIN_SOURCES.map((s) => s.pkg);

const LICENCES: Record<string, string> = {
  ...Object.fromEntries(PRETRAIN_SOURCES.map((s) => [s.pkg, s.licence])),
  [PKGDESC_SOURCE]: "each package's own (Debian main, DFSG-free); train split of the pkgdesc set",
};

export interface SourceCount {
  source: string;
  version: string;
  licence: string;
  /** Lines (documents or sections) kept, and their words. */
  docs: number;
  words: number;
  /** WordPiece tokens of the kept lines (estimated from a sample, see tokenEstimates). */
  tokens: number;
  /** Lines and words dropped as exact or near duplicates of earlier lines. */
  exactDups: number;
  nearDups: number;
  dupWords: number;
}

function packageOf(doc: PretrainDoc): string {
  return doc.source.slice(0, doc.source.indexOf(':'));
}

/** Per-source line and word counts (tokens and duplicates zero; buildPretrain fills them in). */
export function countBySource(
  docs: PretrainDoc[],
  versions: Map<string, string>,
  licences: Record<string, string> = LICENCES,
): SourceCount[] {
  const counts = new Map<string, SourceCount>();
  for (const d of docs) {
    const pkg = packageOf(d);
    let c = counts.get(pkg);
    if (c === undefined) {
      c = {
        source: pkg,
        version: versions.get(pkg) ?? '',
        licence: licences[pkg] ?? '',
        docs: 0,
        words: 0,
        tokens: 0,
        exactDups: 0,
        nearDups: 0,
        dupWords: 0,
      };
      counts.set(pkg, c);
    }
    c.docs++;
    c.words += countWords(d.text);
  }
  return [...counts.values()];
}

/** Every TOKEN_SAMPLE-th line of each source is tokenized; its tokens per word scale the source's words. */
export const TOKEN_SAMPLE = 10;
/** The tokenizer of the shipped checkpoint (bert-base-uncased's WordPiece vocabulary). */
export const TOKENIZER_DIR = join(import.meta.dirname, '..', '..', 'models', 'bert-mini-retrograd');

/**
 * WordPiece tokens per source, estimated: the lines numbered 0, TOKEN_SAMPLE, 2·TOKEN_SAMPLE, ...
 * within each source are tokenized (no [CLS]/[SEP]) and their tokens-per-word ratio is applied to
 * all of the source's words. Deterministic; tokenizing everything would take minutes on 2 cores.
 */
export function tokenEstimates(docs: PretrainDoc[], tokenizer: BertTokenizer): Map<string, number> {
  const seen = new Map<string, number>();
  const sample = new Map<string, { words: number; tokens: number; allWords: number }>();
  for (const d of docs) {
    const pkg = packageOf(d);
    const i = seen.get(pkg) ?? 0;
    seen.set(pkg, i + 1);
    const s = sample.get(pkg) ?? { words: 0, tokens: 0, allWords: 0 };
    const words = countWords(d.text);
    s.allWords += words;
    if (i % TOKEN_SAMPLE === 0) {
      s.words += words;
      s.tokens += tokenizer.tokenize(d.text).length;
    }
    sample.set(pkg, s);
  }
  return new Map(
    [...sample].map(([pkg, s]) => [pkg, s.words === 0 ? 0 : Math.round((s.allWords * s.tokens) / s.words)]),
  );
}

function provenance(counts: SourceCount[], command: string, pkgdescDir: string): string {
  const rows = counts.map(
    (c) =>
      `| ${c.source} | ${c.version} | ${c.docs} | ${c.words} | ${c.tokens} | ${c.exactDups} | ${c.nearDups} | ${c.dupWords} | ${c.licence} |`,
  );
  const total = counts.reduce(
    (a, c) => ({
      docs: a.docs + c.docs,
      words: a.words + c.words,
      tokens: a.tokens + c.tokens,
      exact: a.exact + c.exactDups,
      near: a.near + c.nearDups,
      dupWords: a.dupWords + c.dupWords,
    }),
    { docs: 0, words: 0, tokens: 0, exact: 0, near: 0, dupWords: 0 },
  );
  return `# Pretraining text corpus

\`pretrain.jsonl.gz\`: one document or section per line, {"text", "source"}; markup stripped,
whitespace normalised (blocks joined by newlines), code blocks kept only when at most
${DEFAULT_CHUNKS.maxCodeLines} lines; sections of ${DEFAULT_CHUNKS.minWords}-${DEFAULT_CHUNKS.maxWords} words where a document is long; dictionary
entries and WordNet glosses packed ${PACKED_CHUNKS.minWords}-${PACKED_CHUNKS.maxWords} words per line.

Built with: \`${command}\` (packages fetched with apt-get download from Debian 12 main, unpacked
with dpkg-deb -x; the licence column names each package's copyright file).

Kept out for evaluation: every manual page (files under man/ or manN/ folders, NAME.N[.gz] roff
pages and NAME.N.* renderings or sources, LLVM's CommandGuide, git-doc's man-page sources and the
files they include, PostgreSQL's sql-*/app-* reference pages, which Debian also ships as man pages),
all of perl-doc (every pod is a perl*(1) man page; the FAQ set comes from perlfaq), the Debian FAQ
(debian-faq is not a source), python3.11-doc faq/*, and every pkgdesc document of the dev and test splits (the package
descriptions come from the train documents of \`${pkgdescDir}\` only). Also left out: non-English
trees (linux-doc translations/, debian-handbook languages other than en-US), source listings
(rust-doc src/, Sphinx _modules/), rust-doc implementors/ and core_arch intrinsics, index and search
pages.

De-duplicated in corpus order, first copy kept: "exact" lines repeat an earlier line's text
(lower-cased, whitespace collapsed); "near" lines of at least 50 words share >= 80% of their word
3-shingles (Jaccard) with an earlier kept line (MinHash LSH candidates, verified exactly). Counts
below are of the kept lines; the duplicate columns are what was removed.

Lines of documentation packages under ${MIN_LINE_WORDS} words (API stubs, redirect and index pages) are
dropped; HTML pages that only redirect (meta refresh) are skipped.

Tokens: bert-base-uncased WordPiece (the shipped checkpoint's vocab.txt), estimated per source from
every ${TOKEN_SAMPLE}th line (tokens per word of the sample times the source's words).

| source | version | lines | words | tokens (est.) | exact dups | near dups | dup words | licence |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}
| total | | ${total.docs} | ${total.words} | ${total.tokens} | ${total.exact} | ${total.near} | ${total.dupWords} | |
`;
}

export interface PretrainOptions {
  out: string;
  pkgdesc: string;
  command: string;
}

/** Package lines shorter than this (API stubs, index pages) are dropped; pkgdesc lines are all kept. */
export const MIN_LINE_WORDS = 10;

export interface PretrainCorpus {
  docs: PretrainDoc[];
  counts: SourceCount[];
}

/**
 * Read `sources` from their unpacked package roots, append the pkgdesc train descriptions,
 * de-duplicate, and count per source (words of kept lines, estimated tokens, what dedup removed).
 * A source that yields no line is an error: an extractor silently emptied by a layout change.
 */
export function assemblePretrain(
  sources: readonly PretrainSource[],
  packages: Map<string, UnpackedPackage>,
  pkgdesc: PretrainDoc[],
  tokenizer: BertTokenizer,
): PretrainCorpus {
  const all: PretrainDoc[] = [];
  for (const source of sources) {
    const pkg = packages.get(source.pkg);
    if (pkg === undefined) throw new Error(`${source.pkg}: package not unpacked`);
    const before = all.length;
    for (const doc of source.read(pkg.root)) if (countWords(doc.text) >= MIN_LINE_WORDS) all.push(doc);
    if (all.length === before)
      throw new Error(`${source.pkg}: no text extracted from ${pkg.root} (has the package layout or markup changed?)`);
  }
  for (const doc of pkgdesc) all.push(doc);
  const { kept, removed } = dedup(all, (d) => d.text);
  const versions = new Map([...packages.values()].map((p) => [p.name, p.version]));
  const licences: Record<string, string> = {
    ...Object.fromEntries(sources.map((s) => [s.pkg, s.licence])),
    [PKGDESC_SOURCE]: LICENCES[PKGDESC_SOURCE],
  };
  const counts = countBySource(kept, versions, licences);
  const tokens = tokenEstimates(kept, tokenizer);
  const byPkg = new Map(counts.map((c) => [c.source, c]));
  for (const c of counts) c.tokens = tokens.get(c.source) ?? 0;
  for (const { item, reason } of removed) {
    const pkg = packageOf(item);
    let c = byPkg.get(pkg);
    if (c === undefined) {
      c = {
        source: pkg,
        version: versions.get(pkg) ?? '',
        licence: licences[pkg] ?? '',
        docs: 0,
        words: 0,
        tokens: 0,
        exactDups: 0,
        nearDups: 0,
        dupWords: 0,
      };
      byPkg.set(pkg, c);
      counts.push(c);
    }
    if (reason === 'exact') c.exactDups++;
    else c.nearDups++;
    c.dupWords += countWords(item.text);
  }
  return { docs: kept, counts };
}

/** Download the packages, extract, de-duplicate and write DIR/pretrain.jsonl.gz and DIR/PROVENANCE.md. */
export async function buildPretrain(opts: PretrainOptions): Promise<SourceCount[]> {
  const pkgdesc = await pkgdescTrainDocs(opts.pkgdesc);
  const tokenizer = BertTokenizer.fromDir(TOKENIZER_DIR);
  const work = makeTempDir('pretrain');
  let corpus: PretrainCorpus;
  try {
    corpus = assemblePretrain(PRETRAIN_SOURCES, downloadAndUnpack([...PRETRAIN_PACKAGES], work), pkgdesc, tokenizer);
  } finally {
    removeDir(work);
  }
  await writeJsonlAtomic(join(opts.out, 'pretrain.jsonl.gz'), corpus.docs);
  await writeTextAtomic(join(opts.out, 'PROVENANCE.md'), provenance(corpus.counts, opts.command, opts.pkgdesc));
  return corpus.counts;
}
