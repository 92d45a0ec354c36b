// WordNet 3.0 (Debian's wordnet-base) synsets: the words and gloss of each line of the data.noun,
// data.verb, data.adj and data.adv files, as text lines "word, other word: gloss" for the
// pretraining corpus (pretrain.ts) and as a word -> gloss training set in BEIR layout
// (`retrograd data build wordnet`, all pairs in the train split).
//
// Record format (wndb(5WN)): offset lex_filenum ss_type w_cnt(hex) [word lex_id(hex)]... p_cnt
// [pointer...] [frames...] | gloss. Lines starting with two spaces are the licence header.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBeir, type DocRow } from './beir.js';
import { downloadAndUnpack, makeTempDir, removeDir } from './debian.js';

export const WORDNET_FILES = ['data.noun', 'data.verb', 'data.adj', 'data.adv'] as const;

export interface Synset {
  offset: string;
  /** n, v, a, s (adjective satellite) or r. */
  pos: string;
  /** Lemmas with underscores as spaces and adjective position markers ("(a)", "(p)", "(ip)") removed. */
  words: string[];
  gloss: string;
}

/** Parse one data.* file; a malformed record is an error naming the file and line. */
export function parseWordnetData(text: string, label: string): Synset[] {
  const synsets: Synset[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '' || line.startsWith('  ')) continue;
    const bar = line.indexOf(' | ');
    if (bar < 0) throw new Error(`${label} line ${i + 1}: no " | " before the gloss`);
    const fields = line.slice(0, bar).split(' ');
    const count = parseInt(fields[3], 16);
    if (!/^\d{8}$/.test(fields[0]) || !Number.isFinite(count) || fields.length < 4 + 2 * count) {
      throw new Error(`${label} line ${i + 1}: malformed synset header ${JSON.stringify(line.slice(0, 40))}`);
    }
    const words: string[] = [];
    for (let w = 0; w < count; w++) {
      words.push(fields[4 + 2 * w].replace(/\((a|p|ip)\)$/, '').replace(/_/g, ' '));
    }
    synsets.push({ offset: fields[0], pos: fields[2], words, gloss: line.slice(bar + 3).trim() });
  }
  return synsets;
}

/** "word, other word: gloss" */
export function synsetLine(s: Synset): string {
  return `${s.words.join(', ')}: ${s.gloss}`;
}

/**
 * Word -> gloss retrieval pairs (a training set): one document per synset (its gloss, id
 * "wn:<pos><offset>"), one query per distinct lemma list ("word, other word"); a query judged
 * relevant to every synset that has exactly that lemma list (polysemous single words get several).
 */
export function wordnetPairs(synsets: Synset[]): {
  docs: Map<string, string>;
  queries: Map<string, string>;
  qrels: Map<string, Map<string, number>>;
} {
  const docs = new Map<string, string>();
  const queries = new Map<string, string>();
  const qrels = new Map<string, Map<string, number>>();
  const queryOfText = new Map<string, string>();
  for (const s of synsets) {
    const docId = `wn:${s.pos}${s.offset}`;
    docs.set(docId, s.gloss);
    const text = s.words.join(', ');
    let qid = queryOfText.get(text);
    if (qid === undefined) {
      qid = `q:${docId}`;
      queryOfText.set(text, qid);
      queries.set(qid, text);
      qrels.set(qid, new Map());
    }
    qrels.get(qid)!.set(docId, 1);
  }
  return { docs, queries, qrels };
}

/** Synsets of the four data files of an unpacked wordnet-base tree, in file order. */
export function readWordnet(root: string): Synset[] {
  return WORDNET_FILES.flatMap((f) => parseWordnetData(readFileSync(join(root, 'usr/share/wordnet', f), 'utf8'), f));
}

/** Download wordnet-base and write the word -> gloss pairs as a BEIR directory (split "train"). */
export async function buildWordnet(out: string, command: string): Promise<{ docs: number; queries: number }> {
  const work = makeTempDir('wordnet');
  let synsets: Synset[];
  let version: string;
  try {
    const pkg = downloadAndUnpack(['wordnet-base'], work).get('wordnet-base')!;
    version = pkg.version;
    synsets = readWordnet(pkg.root);
  } finally {
    removeDir(work);
  }
  const { docs, queries, qrels } = wordnetPairs(synsets);
  const corpus = new Map<string, DocRow>([...docs].map(([id, gloss]) => [id, { title: '', text: gloss }]));
  const provenance = `# WordNet word -> gloss pairs (training set)

- wordnet-base ${version} (WordNet 3.0; licence: WordNet 3.0, permissive, Princeton University;
  /usr/share/doc/wordnet-base/copyright): data.noun, data.verb, data.adj, data.adv.
- Documents: one per synset, its gloss (definition and quoted examples): ${corpus.size}.
- Queries: one per distinct lemma list ("word, other word", underscores as spaces, adjective
  markers removed): ${queries.size}; relevant: every synset with exactly that lemma list (score 1).
- All pairs are in qrels/train.tsv. The glosses are also in the pretraining corpus.
- Built with: \`${command}\` (apt-get download + dpkg-deb -x).
`;
  await writeBeir(out, { corpus, queries, qrels: { train: qrels }, provenance });
  return { docs: corpus.size, queries: queries.size };
}
