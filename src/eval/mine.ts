// BM25 hard-negative mining, the MS MARCO recipe: for each query of a split, rank the whole corpus
// with BM25, keep the top N, drop the query's judged positives (qrels score >= 1) and any document
// the caller excludes (near-duplicates of a positive), and for every
// (query, positive) pair draw one negative uniformly from what is left, with the project's seeded
// Generator. Queries are taken in queries-file order and positives in qrels order, so a seed gives
// the same triples every time. A pair whose query has no candidate left gets no triple (counted).
//
// Documents are indexed as docText (title + " " + text). This file builds triples; writing them is
// the caller's (src/cli/mine.ts).

import { docText, type BeirDataset, type Triple } from '../data/beir.js';
import { Generator } from '../tensor/random.js';
import { Bm25Index, type Bm25Options } from './bm25.js';

export interface MineOptions extends Bm25Options {
  /** BM25 depth N: negatives are drawn from ranks 1..N. */
  negatives: number;
  seed: number;
  /** Called after each query (progress). */
  onQuery?: (done: number) => void;
  /**
   * Documents that must not become a query's negative besides its judged positives, e.g.
   * near-duplicates of a positive (they would be false negatives).
   */
  exclude?: (qid: string, docid: string) => boolean;
}

export interface MineResult {
  triples: Triple[];
  /** Queries mined. */
  queries: number;
  /** (query, positive) pairs with no negative left in the top N. */
  pairsWithoutNegative: number;
  /** Mean number of candidates (top N minus positives) per query. */
  meanCandidates: number;
}

export function mineNegatives(data: BeirDataset, opts: MineOptions): MineResult {
  if (!Number.isSafeInteger(opts.negatives) || opts.negatives < 1)
    throw new Error(`mine: negatives must be a positive integer, got ${opts.negatives}`);
  if (!Number.isSafeInteger(opts.seed)) throw new Error(`mine: seed must be an integer, got ${opts.seed}`);
  const index = new Bm25Index(
    [...data.corpus].map(([id, doc]) => [id, docText(doc)] as const),
    opts,
  );
  const rng = new Generator(opts.seed);
  const triples: Triple[] = [];
  let pairsWithoutNegative = 0;
  let candidateTotal = 0;
  let done = 0;
  for (const [qid, text] of data.queries) {
    const judged = data.qrels.get(qid) ?? new Map<string, number>();
    const positives = [...judged].filter(([, score]) => score >= 1).map(([docid]) => docid);
    const candidates = index
      .search(text, opts.negatives)
      .filter((d) => !((judged.get(d.docid) ?? 0) >= 1) && !(opts.exclude?.(qid, d.docid) ?? false));
    candidateTotal += candidates.length;
    for (const pos of positives) {
      if (candidates.length === 0) {
        pairsWithoutNegative++;
        continue;
      }
      triples.push({ qid, pos, neg: candidates[rng.int(candidates.length)].docid });
    }
    done++;
    opts.onQuery?.(done);
  }
  return { triples, queries: done, pairsWithoutNegative, meanCandidates: done === 0 ? 0 : candidateTotal / done };
}
