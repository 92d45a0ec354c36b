// The MLM pretraining text corpus: documentation from Debian packages plus the TRAIN split of the
// package descriptions, one document or section per line of DIR/pretrain.jsonl.gz as
// {"text": ..., "source": "python3.11-doc:library/os.rst"}, and DIR/PROVENANCE.md.
//
// Sources: python3.11-doc (Sphinx reST sources under html/_sources), perl-doc (pod/*.pod), git-doc
// (AsciiDoc *.txt), wordnet-base (synset lines "word: gloss", packed a few hundred words per line),
// and the long descriptions of the documents marked "split": "train" in the pkgdesc BEIR directory.
//
// Everything used for evaluation is excluded, so pretraining never sees a test document: Perl's
// perlfaq*.pod (incl. the perlfaq.pod index of questions) and perltoc.pod (which lists every perlfaq
// question), Python's faq/ sources, and every package description of the dev and test splits (read
// from the pkgdesc directory's own split field).
//
// Markup is stripped by markup.ts; long documents are cut at section headings into chunks of a few
// hundred to a few thousand words; code blocks are kept only when short (DEFAULT_CHUNKS).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { findJsonl, readJsonlEntries, writeJsonlAtomic, writeTextAtomic } from './beir.js';
import { chunkBlocks, countWords, DEFAULT_CHUNKS, downloadAndUnpack, makeTempDir, normalizeSpace, removeDir, type Block, type UnpackedPackage } from './debian.js';
import { asciidocToBlocks, podToBlocks, rstToBlocks } from './markup.js';
import { parseWordnetData, synsetLine, WORDNET_FILES } from './wordnet.js';

export interface PretrainDoc {
  text: string;
  source: string;
}

export const PRETRAIN_PACKAGES = ['python3.11-doc', 'perl-doc', 'git-doc', 'wordnet-base'] as const;
export const PKGDESC_SOURCE = 'pkgdesc';

const PYTHON_SOURCES = 'usr/share/doc/python3.11/html/_sources';
const PERL_POD_PARENT = 'usr/share/perl';
const GIT_DOCS = 'usr/share/doc/git-doc';
const WORDNET_DIR = 'usr/share/wordnet';

/** WordNet lines are packed into chunks of this size (each synset line is ~15 words). */
const WORDNET_CHUNKS = { minWords: 300, maxWords: 500, maxCodeLines: 0 };

/**
 * Is this file held out of pretraining because an evaluation set is built from it?
 * `path` is relative to the package's documentation root (python: _sources; perl: the pod folder).
 */
export function isExcludedFromPretrain(pkg: string, path: string): boolean {
  // perltoc.pod is the table of contents of every pod, perlfaq questions included.
  if (pkg === 'perl-doc') return /(^|\/)(perlfaq\d*|perltoc)\.pod$/.test(path);
  if (pkg === 'python3.11-doc') return path === 'faq' || path.startsWith('faq/');
  return false;
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
  return files.flatMap((rel) => chunksOf('python3.11-doc', rel.replace(/\.txt$/, ''), rstToBlocks(readFileSync(join(dir, rel), 'utf8'))));
}

export function perlDocs(root: string): PretrainDoc[] {
  const parent = join(root, PERL_POD_PARENT);
  const versions = existsSync(parent) ? readdirSync(parent).filter((v) => existsSync(join(parent, v, 'pod'))).sort() : [];
  if (versions.length !== 1) throw new Error(`perl-doc: expected one ${PERL_POD_PARENT}/<version>/pod folder, found ${versions.length}`);
  const dir = join(parent, versions[0], 'pod');
  const files = listFiles(dir, (rel) => rel.endsWith('.pod') && !isExcludedFromPretrain('perl-doc', rel));
  return files.flatMap((rel) => chunksOf('perl-doc', rel, podToBlocks(readFileSync(join(dir, rel), 'utf8'))));
}

export function gitDocs(root: string): PretrainDoc[] {
  const dir = join(root, GIT_DOCS);
  const files = listFiles(dir, (rel) => rel.endsWith('.txt'));
  return files.flatMap((rel) => chunksOf('git-doc', rel, asciidocToBlocks(readFileSync(join(dir, rel), 'utf8'))));
}

export function wordnetDocs(root: string): PretrainDoc[] {
  const docs: PretrainDoc[] = [];
  for (const file of WORDNET_FILES) {
    const path = join(root, WORDNET_DIR, file);
    if (!existsSync(path)) throw new Error(`wordnet-base: ${path} does not exist`);
    const blocks: Block[] = parseWordnetData(readFileSync(path, 'utf8'), file).map((s) => ({ kind: 'para', text: synsetLine(s) }));
    for (const text of chunkBlocks(blocks, WORDNET_CHUNKS)) docs.push({ text, source: `wordnet-base:${file}` });
  }
  return docs;
}

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
    if (split !== 'train' && split !== 'dev' && split !== 'test') throw new Error(`${where}: "split" must be train, dev or test (got ${JSON.stringify(split)})`);
    if (typeof value._id !== 'string' || typeof value.text !== 'string') throw new Error(`${where}: "_id" and "text" must be strings`);
    if (split === 'train') docs.push({ text: normalizeSpace(value.text), source: `${PKGDESC_SOURCE}:${value._id}` });
  }
  return docs;
}

export interface SourceCount {
  source: string;
  version: string;
  licence: string;
  docs: number;
  words: number;
}

const LICENCES: Record<string, string> = {
  'python3.11-doc': 'PSF License Agreement (Python documentation); see /usr/share/doc/python3.11-doc/copyright',
  'perl-doc': 'GPL-1+ or Artistic (Perl); see /usr/share/doc/perl-doc/copyright',
  'git-doc': 'GPL-2 (git); see /usr/share/doc/git-doc/copyright',
  'wordnet-base': 'WordNet 3.0 licence (permissive, Princeton University); see /usr/share/doc/wordnet-base/copyright',
  [PKGDESC_SOURCE]: "each package's own (Debian main, DFSG-free); train split of the pkgdesc set",
};

export function countBySource(docs: PretrainDoc[], versions: Map<string, string>): SourceCount[] {
  const counts = new Map<string, SourceCount>();
  for (const d of docs) {
    const pkg = d.source.slice(0, d.source.indexOf(':'));
    let c = counts.get(pkg);
    if (c === undefined) {
      c = { source: pkg, version: versions.get(pkg) ?? '', licence: LICENCES[pkg] ?? '', docs: 0, words: 0 };
      counts.set(pkg, c);
    }
    c.docs++;
    c.words += countWords(d.text);
  }
  return [...counts.values()];
}

function provenance(counts: SourceCount[], command: string, pkgdescDir: string): string {
  const rows = counts.map((c) => `| ${c.source} | ${c.version} | ${c.docs} | ${c.words} | ${c.licence} |`);
  const total = counts.reduce((a, c) => ({ docs: a.docs + c.docs, words: a.words + c.words }), { docs: 0, words: 0 });
  return `# Pretraining text corpus

\`pretrain.jsonl.gz\`: one document or section per line, {"text", "source"}; markup stripped,
whitespace normalised (blocks joined by newlines), code blocks kept only when at most
${DEFAULT_CHUNKS.maxCodeLines} lines; sections of ${DEFAULT_CHUNKS.minWords}-${DEFAULT_CHUNKS.maxWords} words where a document is long.

Built with: \`${command}\` (packages fetched with apt-get download, unpacked with dpkg-deb -x).

Excluded because evaluation sets are built from them: perl-doc perlfaq*.pod (perlfaq.pod and
perlfaq1-9) and perltoc.pod (it lists every perlfaq question), python3.11-doc faq/*, and every
pkgdesc document of the dev and test splits (the package descriptions come from the train
documents of \`${pkgdescDir}\` only).

| source | version | lines | words | licence |
|---|---|---|---|---|
${rows.join('\n')}
| total | | ${total.docs} | ${total.words} | |
`;
}

export interface PretrainOptions {
  out: string;
  pkgdesc: string;
  command: string;
}

/** Download the packages, extract and write DIR/pretrain.jsonl.gz and DIR/PROVENANCE.md. */
export async function buildPretrain(opts: PretrainOptions): Promise<SourceCount[]> {
  const pkgdesc = await pkgdescTrainDocs(opts.pkgdesc);
  const work = makeTempDir('pretrain');
  let docs: PretrainDoc[];
  let unpacked: Map<string, UnpackedPackage>;
  try {
    unpacked = downloadAndUnpack([...PRETRAIN_PACKAGES], work);
    const root = (pkg: string): string => unpacked.get(pkg)!.root;
    docs = [
      ...pythonDocs(root('python3.11-doc')),
      ...perlDocs(root('perl-doc')),
      ...gitDocs(root('git-doc')),
      ...wordnetDocs(root('wordnet-base')),
      ...pkgdesc,
    ];
  } finally {
    removeDir(work);
  }
  const versions = new Map([...unpacked.values()].map((p) => [p.name, p.version]));
  const counts = countBySource(docs, versions);
  await writeJsonlAtomic(join(opts.out, 'pretrain.jsonl.gz'), docs);
  await writeTextAtomic(join(opts.out, 'PROVENANCE.md'), provenance(counts, opts.command, opts.pkgdesc));
  return counts;
}
