// Ranking metrics with trec_eval's definitions (the ones pytrec_eval, and so BEIR, report):
//
//   nDCG@k  = DCG@k / IDCG@k, DCG@k = sum over ranks i = 1..k of gain_i / log2(i + 1), with the
//             gain the graded qrels score (linear, trec_eval's ndcg_cut; 0 for unjudged or
//             non-relevant documents); IDCG@k is the DCG of the query's judged scores sorted
//             descending (computed from the qrels, not from what was retrieved).
//   MRR@k   = 1 / rank of the first relevant document within the top k, else 0.
//   R@k     = relevant documents in the top k / all relevant documents of the query.
//   MAP@k   = sum over relevant documents at ranks i <= k of (relevant in the top i) / i, divided by
//             all relevant documents of the query (trec_eval's map_cut).
//
// A document is relevant when its qrels score is >= 1. Each query's retrieved list is ranked by the
// shared order of run.ts (score descending, ties by document id descending, as trec_eval does); a
// run's own order or rank column is ignored.
//
// Which queries count: every query of the qrels with at least one relevant document. Queries whose
// judgements are all 0 are skipped (no metric is defined) and counted; judged queries missing from
// the run score 0 on every metric (trec_eval -c) and are counted; run queries absent from the qrels
// are ignored and counted. Means are over the evaluated queries.

import type { Qrels } from '../data/beir.js';
import { rankDocs, type Run } from './run.js';

export interface Cutoffs {
  ndcg: readonly number[];
  mrr: readonly number[];
  recall: readonly number[];
  map: readonly number[];
}

export const DEFAULT_CUTOFFS: Cutoffs = { ndcg: [10], mrr: [10], recall: [10, 100], map: [100] };

/** Metric name -> value, e.g. {"nDCG@10": 0.53, "R@100": 0.9}. */
export type MetricValues = Record<string, number>;

export interface Evaluation {
  /** Mean of each metric over the evaluated queries (0 when none). */
  mean: MetricValues;
  /** Per evaluated query, in qrels order. */
  perQuery: Map<string, MetricValues>;
  /** Number of evaluated queries. */
  queries: number;
  /** Judged queries with no relevant document (skipped). */
  skippedNoRelevant: number;
  /** Evaluated queries the run has no results for (scored 0). */
  missingFromRun: number;
  /** Run queries that have no judgements (ignored). */
  unjudgedInRun: number;
}

export function metricNames(cutoffs: Cutoffs = DEFAULT_CUTOFFS): string[] {
  return [
    ...cutoffs.ndcg.map((k) => `nDCG@${k}`),
    ...cutoffs.mrr.map((k) => `MRR@${k}`),
    ...cutoffs.recall.map((k) => `R@${k}`),
    ...cutoffs.map.map((k) => `MAP@${k}`),
  ];
}

function checkCutoffs(cutoffs: Cutoffs): void {
  for (const [name, ks] of Object.entries(cutoffs)) {
    for (const k of ks as number[]) {
      if (!Number.isSafeInteger(k) || k < 1)
        throw new Error(`metrics: ${name} cutoff must be a positive integer, got ${k}`);
    }
  }
}

/**
 * Metrics of one query: `gains` are the qrels scores of the retrieved documents in rank order
 * (0 for unjudged), `judged` the query's qrels scores. The query must have a relevant document.
 */
export function queryMetrics(
  gains: readonly number[],
  judged: readonly number[],
  cutoffs: Cutoffs = DEFAULT_CUTOFFS,
): MetricValues {
  const numRel = judged.filter((g) => g >= 1).length;
  if (numRel === 0) throw new Error('metrics: a query without relevant documents has no metrics');
  const ideal = judged.filter((g) => g >= 1).sort((a, b) => b - a);
  const out: MetricValues = {};
  for (const k of cutoffs.ndcg) {
    let dcg = 0;
    let idcg = 0;
    for (let i = 0; i < Math.min(k, gains.length); i++) if (gains[i] >= 1) dcg += gains[i] / Math.log2(i + 2);
    for (let i = 0; i < Math.min(k, ideal.length); i++) idcg += ideal[i] / Math.log2(i + 2);
    out[`nDCG@${k}`] = dcg / idcg;
  }
  for (const k of cutoffs.mrr) {
    const first = gains.slice(0, k).findIndex((g) => g >= 1);
    out[`MRR@${k}`] = first < 0 ? 0 : 1 / (first + 1);
  }
  for (const k of cutoffs.recall) {
    out[`R@${k}`] = gains.slice(0, k).filter((g) => g >= 1).length / numRel;
  }
  for (const k of cutoffs.map) {
    let hits = 0;
    let sum = 0;
    for (let i = 0; i < Math.min(k, gains.length); i++) {
      if (gains[i] >= 1) {
        hits++;
        sum += hits / (i + 1);
      }
    }
    out[`MAP@${k}`] = sum / numRel;
  }
  return out;
}

/** Evaluate a run against qrels (see the header for which queries count). */
export function evaluate(qrels: Qrels, run: Run, cutoffs: Cutoffs = DEFAULT_CUTOFFS): Evaluation {
  checkCutoffs(cutoffs);
  const names = metricNames(cutoffs);
  const sums: MetricValues = Object.fromEntries(names.map((n) => [n, 0]));
  const perQuery = new Map<string, MetricValues>();
  let skippedNoRelevant = 0;
  let missingFromRun = 0;
  for (const [qid, judgedDocs] of qrels) {
    const judged = [...judgedDocs.values()];
    if (!judged.some((g) => g >= 1)) {
      skippedNoRelevant++;
      continue;
    }
    const docs = run.get(qid);
    if (docs === undefined) missingFromRun++;
    const ranked = docs === undefined ? [] : rankDocs(docs, qid);
    const gains = ranked.map((d) => judgedDocs.get(d.docid) ?? 0);
    const values = queryMetrics(gains, judged, cutoffs);
    perQuery.set(qid, values);
    for (const n of names) sums[n] += values[n];
  }
  let unjudgedInRun = 0;
  for (const qid of run.keys()) if (!qrels.has(qid)) unjudgedInRun++;
  const queries = perQuery.size;
  const mean: MetricValues = Object.fromEntries(names.map((n) => [n, queries === 0 ? 0 : sums[n] / queries]));
  return { mean, perQuery, queries, skippedNoRelevant, missingFromRun, unjudgedInRun };
}

/** An evaluation as plain JSON: counts, means and per-query values (queries in qrels order). */
export function evaluationJson(e: Evaluation): Record<string, unknown> {
  return {
    queries: e.queries,
    skipped_no_relevant: e.skippedNoRelevant,
    missing_from_run: e.missingFromRun,
    unjudged_in_run: e.unjudgedInRun,
    mean: e.mean,
    per_query: Object.fromEntries(e.perQuery),
  };
}
