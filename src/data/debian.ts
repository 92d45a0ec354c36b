// Debian plumbing for the dataset builders: fetch and unpack binary packages (apt-get download +
// dpkg-deb -x into a temporary folder), read apt's compressed list files (apt-helper cat-file), parse
// deb822 paragraphs (Packages, Translation-en), and the text helpers every builder shares
// (whitespace normalisation, word counts, chunking of long documents into sections).
//
// This file knows nothing about any one dataset: pkgdesc.ts, faq.ts, wordnet.ts and pretrain.ts use it.
// It needs the Debian tools apt-get, dpkg-deb and /usr/lib/apt/apt-helper (present on any Debian 12).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const APT_LISTS = '/var/lib/apt/lists';
/** The bookworm main-archive index files the builders read (not the -updates / -security overlays). */
export const TRANSLATION_EN = `${APT_LISTS}/deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en.lz4`;
export const PACKAGES_AMD64 = `${APT_LISTS}/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4`;

/** A downloaded and unpacked binary package. */
export interface UnpackedPackage {
  name: string;
  version: string;
  /** The .deb file's name as apt-get saved it. */
  debFile: string;
  /** Root of the unpacked file tree (holds usr/share/...). */
  root: string;
}

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail =
      (e.stderr ?? '')
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('W: '))
        .pop() ?? e.message;
    throw new Error(`${cmd} ${args.join(' ')} failed: ${detail}`);
  }
}

/** A fresh temporary folder; the caller removes it with removeDir (the builders do so in `finally`). */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `retrograd-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Download binary packages with apt-get (the candidate version from the apt lists) into `workDir`
 * and unpack each with dpkg-deb -x into `workDir/<name>/`.
 */
export function downloadAndUnpack(names: string[], workDir: string): Map<string, UnpackedPackage> {
  run('apt-get', ['download', '-q', ...names], workDir);
  const debs = readdirSync(workDir).filter((f) => f.endsWith('.deb'));
  const out = new Map<string, UnpackedPackage>();
  for (const name of names) {
    const debFile = debs.find((f) => f.startsWith(`${name}_`));
    if (debFile === undefined) throw new Error(`apt-get download ${name}: no .deb file appeared in ${workDir}`);
    const deb = join(workDir, debFile);
    const version = run('dpkg-deb', ['-f', deb, 'Version']).trim();
    const root = join(workDir, name);
    run('dpkg-deb', ['-x', deb, root]);
    out.set(name, { name, version, debFile, root });
  }
  return out;
}

/** The text of an apt list file, decompressed by apt-helper (lz4, gz, xz) or read as is. */
export function readAptList(path: string): string {
  if (!existsSync(path)) {
    throw new Error(`${path} does not exist (run: apt-get -o Acquire::Languages=en update)`);
  }
  return run('/usr/lib/apt/apt-helper', ['cat-file', path]);
}

/** One deb822 paragraph: field name -> value (continuation lines kept, joined by "\n"). */
export type Deb822 = Map<string, string>;

/**
 * Parse deb822 text (Packages, Translation-en) into paragraphs. Field names are kept as written.
 * A continuation line before any field, or a line with no colon, is an error naming `label` and line.
 */
export function parseDeb822(text: string, label: string): Deb822[] {
  const paragraphs: Deb822[] = [];
  let current: Deb822 | null = null;
  let lastField: string | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') {
      if (current !== null) paragraphs.push(current);
      current = null;
      lastField = null;
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (current === null || lastField === null)
        throw new Error(`${label} line ${i + 1}: continuation line outside a field`);
      current.set(lastField, `${current.get(lastField)}\n${line}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0)
      throw new Error(`${label} line ${i + 1}: expected "Field: value", got ${JSON.stringify(line.slice(0, 60))}`);
    current ??= new Map();
    lastField = line.slice(0, colon);
    current.set(lastField, line.slice(colon + 1).trim());
  }
  if (current !== null) paragraphs.push(current);
  return paragraphs;
}

/** Collapse every run of whitespace to one space and trim. */
export function normalizeSpace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function countWords(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

/** A block of extracted text: a heading starts a section; code is verbatim text (may be dropped). */
export interface Block {
  kind: 'heading' | 'para' | 'code';
  text: string;
  /** Heading level (1 = top); only for headings. */
  level?: number;
}

export interface ChunkOptions {
  /** A chunk is closed at a heading once it holds at least this many words. */
  minWords: number;
  /** A chunk is closed at a paragraph boundary before it grows past this many words. */
  maxWords: number;
  /** Code blocks longer than this many lines are dropped; shorter ones are kept as text. */
  maxCodeLines: number;
}

export const DEFAULT_CHUNKS: ChunkOptions = { minWords: 300, maxWords: 3000, maxCodeLines: 8 };

/**
 * Pack a document's blocks into sections of a few hundred to a few thousand words: a chunk ends at
 * a heading once it has `minWords`, or at any block before it would pass `maxWords`. Each block is
 * whitespace-normalised; blocks are joined by "\n". Long code blocks are dropped. A final chunk
 * shorter than minWords is merged into the previous one when that stays under maxWords.
 */
export function chunkBlocks(blocks: Block[], opts: ChunkOptions = DEFAULT_CHUNKS): string[] {
  const chunks: string[][] = [];
  const sizes: number[] = [];
  let cur: string[] = [];
  let words = 0;
  const close = (): void => {
    if (cur.length > 0 && words > 0) {
      chunks.push(cur);
      sizes.push(words);
    }
    cur = [];
    words = 0;
  };
  for (const block of blocks) {
    if (block.kind === 'code' && block.text.split('\n').filter((l) => l.trim() !== '').length > opts.maxCodeLines)
      continue;
    const text = normalizeSpace(block.text);
    if (text === '') continue;
    const n = countWords(text);
    if (block.kind === 'heading' && words >= opts.minWords) close();
    else if (words > 0 && words + n > opts.maxWords) close();
    cur.push(text);
    words += n;
  }
  close();
  if (chunks.length >= 2) {
    const last = sizes.length - 1;
    if (sizes[last] < opts.minWords && sizes[last] + sizes[last - 1] <= opts.maxWords) {
      chunks[last - 1].push(...chunks[last]);
      chunks.pop();
    }
  }
  return chunks.map((c) => c.join('\n'));
}
