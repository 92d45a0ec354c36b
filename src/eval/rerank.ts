// Reranking BM25's top k with a pair scorer (a cross-encoder): BM25 (src/eval/bm25.ts, k1 0.9,
// b 0.4) retrieves k documents per judged query from the whole corpus, the scorer rescores each
// (query, document) pair, and both runs are evaluated with the same metrics on the same queries, so
// the reranker's gain over its candidate generator is read off directly. R@k is the same for both
// by construction (the same k documents, reordered).
// Not here: the scorer itself (src/nn/cross-encoder.ts).

import { startProgress } from '../cli/progress.js';
import { docText, type BeirDataset } from '../data/beir.js';
import { Bm25Index } from './bm25.js';
import { evaluate, type Evaluation } from './metrics.js';
import { runFromLists, type Run } from './run.js';

/** Scores of (query text, document text) pairs, one per pair. */
export type PairScorer = (queries: readonly string[], docs: readonly string[]) => Promise<ArrayLike<number>>;

export interface RerankOptions {
  /** BM25 candidates per query (default 100). */
  top?: number;
  /** Queries whose candidates are scored in one scorer call (default 16). */
  queriesPerCall?: number;
  /** Progress on stderr (default true): a bar on a terminal, else a line every few seconds. */
  progress?: boolean;
}

export interface RerankResult {
  bm25: { run: Run; evaluation: Evaluation };
  rerank: { run: Run; evaluation: Evaluation };
  /** Pairs scored. */
  pairs: number;
  seconds: { bm25: number; rerank: number };
}

/** BM25's top `top` documents per judged query, rescored by `scorer`; both runs evaluated. */
export async function rerankBm25(data: BeirDataset, scorer: PairScorer, o: RerankOptions = {}): Promise<RerankResult> {
  const top = o.top ?? 100;
  if (!Number.isSafeInteger(top) || top < 1) throw new Error(`rerank: top must be a positive integer, got ${top}`);
  const perCall = o.queriesPerCall ?? 16;
  let t = performance.now();
  const index = new Bm25Index([...data.corpus].map(([id, doc]) => [id, docText(doc)] as const));
  const candidates = index.searchAll(data.queries, top);
  const bm25Seconds = (performance.now() - t) / 1000;

  t = performance.now();
  const qids = [...candidates.keys()];
  const total = qids.reduce((s, q) => s + candidates.get(q)!.length, 0);
  const bar = startProgress({ label: 'rerank', total, unit: 'pair', enabled: o.progress });
  const lists: [string, { docid: string; score: number }[]][] = [];
  let done = 0;
  try {
    for (let start = 0; start < qids.length; start += perCall) {
      const group = qids.slice(start, start + perCall);
      const queries: string[] = [];
      const docs: string[] = [];
      const ids: string[] = [];
      for (const qid of group) {
        for (const d of candidates.get(qid)!) {
          queries.push(data.queries.get(qid)!);
          docs.push(docText(data.corpus.get(d.docid)!));
          ids.push(d.docid);
        }
      }
      const scores = await scorer(queries, docs);
      let k = 0;
      for (const qid of group) {
        const n = candidates.get(qid)!.length;
        lists.push([qid, ids.slice(k, k + n).map((docid, j) => ({ docid, score: scores[k + j] }))]);
        k += n;
      }
      done += ids.length;
      bar.update(done);
    }
  } finally {
    bar.finish();
  }
  const bm25Run = runFromLists(candidates);
  const rerankRun = runFromLists(lists);
  return {
    bm25: { run: bm25Run, evaluation: evaluate(data.qrels, bm25Run) },
    rerank: { run: rerankRun, evaluation: evaluate(data.qrels, rerankRun) },
    pairs: total,
    seconds: { bm25: bm25Seconds, rerank: (performance.now() - t) / 1000 },
  };
}
