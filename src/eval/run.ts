// Retrieval runs: the ranking order every part of src/eval shares, and TREC run files.
//
// A run maps each query id to its retrieved documents with scores (docid -> score), like pytrec_eval.
// Ranking order is trec_eval's: score descending, ties broken by document id in *descending* order
// (trec_eval's comp_sim_docno: strcmp(docno2, docno1)). Ids compare by Unicode code point, which is
// the byte order of their UTF-8 encoding, so the order is strcmp's and Python's. BM25 and dense top-k
// cut their lists with this same order, so a cut never disagrees with how the metrics rank.
//
// TREC run file: one line per retrieved document, `qid Q0 docid rank score tag`, whitespace
// separated, queries in the run's order, documents in rank order (rank from 1). Scores are written as
// JavaScript's shortest round-trip decimal, so reading a file back gives the same doubles.
//
// This file is not the metrics (metrics.ts) nor a ranker (bm25.ts, dense.ts).

import { basename } from 'node:path';
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { writeAtomic } from '../data/beir.js';

/** qid -> (docid -> score). */
export type Run = Map<string, Map<string, number>>;

export interface ScoredDoc {
  docid: string;
  score: number;
}

/** Compare two ids by Unicode code point (= UTF-8 byte order = C strcmp on UTF-8). */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Below a surrogate both are whole BMP code points; otherwise compare the full code points.
    if (x < 0xd800 && y < 0xd800) return x - y;
    return (a.codePointAt(i) ?? 0) - (b.codePointAt(i) ?? 0);
  }
  return a.length - b.length;
}

/** trec_eval's order: score descending, then docid descending. Negative when `a` ranks first. */
export function compareRanked(aDoc: string, aScore: number, bDoc: string, bScore: number): number {
  if (aScore !== bScore) return aScore > bScore ? -1 : 1;
  return compareIds(bDoc, aDoc);
}

/** A query's retrieved documents in rank order. Throws on a non-finite score. */
export function rankDocs(docs: Map<string, number>, qid = '?'): ScoredDoc[] {
  const list: ScoredDoc[] = [];
  for (const [docid, score] of docs) {
    if (!Number.isFinite(score)) throw new Error(`run: query "${qid}" doc "${docid}" has score ${score}`);
    list.push({ docid, score });
  }
  return list.sort((a, b) => compareRanked(a.docid, a.score, b.docid, b.score));
}

/** A run built from ranked lists (the Maps keep the given order, which should already be rank order). */
export function runFromLists(lists: Iterable<[string, ScoredDoc[]]>): Run {
  const run: Run = new Map();
  for (const [qid, docs] of lists) run.set(qid, new Map(docs.map((d) => [d.docid, d.score])));
  return run;
}

function checkField(value: string, what: string): void {
  if (value === '' || /\s/.test(value))
    throw new Error(`run file: ${what} ${JSON.stringify(value)} is empty or contains whitespace`);
}

async function* trecLines(run: Run, tag: string): AsyncGenerator<string> {
  checkField(tag, 'tag');
  let buffer = '';
  for (const [qid, docs] of run) {
    checkField(qid, 'query id');
    rankDocs(docs, qid).forEach((d, i) => {
      checkField(d.docid, 'doc id');
      buffer += `${qid} Q0 ${d.docid} ${i + 1} ${d.score} ${tag}\n`;
    });
    if (buffer.length >= 1 << 16) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') yield buffer;
}

/** Write a run as a TREC run file, atomically (gzip when the path ends in ".gz"). */
export async function writeTrecRun(path: string, run: Run, tag = 'retrograd'): Promise<void> {
  await writeAtomic(path, trecLines(run, tag));
}

/**
 * Read a TREC run file (plain or .gz). The rank column is checked to be a positive integer but, as in
 * trec_eval, ranking uses the scores. A document listed twice for a query is an error.
 */
export async function readTrecRun(path: string): Promise<Run> {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const name = basename(path);
  const raw = createReadStream(path);
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (err) => input.destroy(err));
  const run: Run = new Map();
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    n++;
    if (line.trim() === '') continue;
    const where = `${name} line ${n}`;
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 6)
      throw new Error(`${where}: expected 6 fields "qid Q0 docid rank score tag", got ${fields.length}`);
    const [qid, , docid, rank, scoreText] = fields;
    if (!/^\d+$/.test(rank) || Number(rank) < 1)
      throw new Error(`${where}: rank must be a positive integer, got ${JSON.stringify(rank)}`);
    const score = Number(scoreText);
    if (scoreText === '' || !Number.isFinite(score))
      throw new Error(`${where}: score must be a finite number, got ${JSON.stringify(scoreText)}`);
    let docs = run.get(qid);
    if (docs === undefined) {
      docs = new Map();
      run.set(qid, docs);
    }
    if (docs.has(docid)) throw new Error(`${where}: doc "${docid}" listed twice for query "${qid}"`);
    docs.set(docid, score);
  }
  return run;
}
