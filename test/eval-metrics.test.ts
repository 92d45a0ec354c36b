// src/eval/metrics.ts and src/eval/run.ts: metrics against values worked out by hand, against an
// independent Python implementation of trec_eval's formulas (scripts/eval/ref_metrics.py, whose output
// on a synthetic run with many score ties is committed as test/fixtures/eval/metrics-ref.json), the
// tie-break and query-counting conventions, and TREC run files (round trip, errors).

import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readQrels, type Qrels } from '../src/data/beir.js';
import { evaluate, queryMetrics, type Cutoffs } from '../src/eval/metrics.js';
import { compareIds, rankDocs, readTrecRun, writeTrecRun, type Run } from '../src/eval/run.js';
import { assertClose, TOL } from './util/close.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'eval');
const work = mkdtempSync(join(tmpdir(), 'retrograd-metrics-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function qrelsOf(obj: Record<string, Record<string, number>>): Qrels {
  return new Map(Object.entries(obj).map(([q, docs]) => [q, new Map(Object.entries(docs))]));
}
function runOf(obj: Record<string, Record<string, number>>): Run {
  return qrelsOf(obj);
}

describe('metrics by hand', () => {
  // Ranked: x (unjudged), b (2), y (judged 0), a (3), c (1); z (1) is relevant but not retrieved.
  const qrels = qrelsOf({ q: { a: 3, b: 2, c: 1, z: 1, y: 0 } });
  const run = runOf({ q: { c: 1, a: 2, y: 3, b: 4, x: 5 } });
  const cutoffs: Cutoffs = { ndcg: [3, 5], mrr: [1, 3], recall: [3, 5], map: [5] };
  const m = evaluate(qrels, run, cutoffs).perQuery.get('q')!;

  it('nDCG: linear gains, log2(rank + 1) discount, ideal from all judged scores', () => {
    // DCG@3 = 2/log2(3); IDCG@3 = 3/1 + 2/log2(3) + 1/2 (ideal order 3, 2, 1, 1)
    assertClose(m['nDCG@3'], 2 / Math.log2(3) / (3 + 2 / Math.log2(3) + 1 / 2), TOL.f64, 'nDCG@3'); // ≈ 0.26499
    assertClose(m['nDCG@3'], 0.26499, { atol: 1e-5, rtol: 0 }, 'nDCG@3 value');
    const dcg5 = 2 / Math.log2(3) + 3 / Math.log2(5) + 1 / Math.log2(6);
    const idcg5 = 3 + 2 / Math.log2(3) + 1 / 2 + 1 / Math.log2(5);
    assertClose(m['nDCG@5'], dcg5 / idcg5, TOL.f64, 'nDCG@5');
  });

  it('MRR, recall and MAP (MAP divides by all 4 relevant documents)', () => {
    expect(m['MRR@1']).toBe(0);
    expect(m['MRR@3']).toBe(1 / 2);
    expect(m['R@3']).toBe(1 / 4);
    expect(m['R@5']).toBe(3 / 4);
    assertClose(m['MAP@5'], (1 / 2 + 2 / 4 + 3 / 5) / 4, TOL.f64, 'MAP@5'); // 0.4
  });

  it('a perfect ranking scores 1 everywhere', () => {
    const perfect = queryMetrics([3, 2, 1, 1], [3, 2, 1, 1, 0], {
      ndcg: [1, 3, 10],
      mrr: [10],
      recall: [4],
      map: [10],
    });
    expect(Object.values(perfect)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('ties are broken by document id, descending by code point (trec_eval)', () => {
    // "d9" > "d10" as strings, so d9 ranks first of the tie
    const tie = evaluate(qrelsOf({ q: { d9: 1 } }), runOf({ q: { d10: 0.5, d9: 0.5, d1: 0.1 } }), {
      ndcg: [],
      mrr: [1],
      recall: [],
      map: [],
    });
    expect(tie.mean['MRR@1']).toBe(1);
    const other = evaluate(qrelsOf({ q: { d10: 1 } }), runOf({ q: { d10: 0.5, d9: 0.5 } }), {
      ndcg: [],
      mrr: [1, 2],
      recall: [],
      map: [],
    });
    expect(other.mean['MRR@1']).toBe(0);
    expect(other.mean['MRR@2']).toBe(0.5);
    expect(
      rankDocs(
        new Map([
          ['b', 1],
          ['a', 1],
          ['c', 2],
          ['ab', 1],
        ]),
      ).map((d) => d.docid),
    ).toEqual(['c', 'b', 'ab', 'a']);
    // code point order: U+1F600 (astral) sorts after U+FFFD, unlike UTF-16 code units
    expect(compareIds('\u{1F600}', '\uFFFD')).toBeGreaterThan(0);
    expect(compareIds('a', 'ab')).toBeLessThan(0);
  });

  it('counts skipped, missing and unjudged queries; the mean is over evaluated queries', () => {
    const e = evaluate(
      qrelsOf({ hit: { a: 1 }, miss: { b: 1 }, nothing: { c: 0 } }),
      runOf({ hit: { a: 1 }, extra: { a: 1 } }),
    );
    expect([e.queries, e.skippedNoRelevant, e.missingFromRun, e.unjudgedInRun]).toEqual([2, 1, 1, 1]);
    expect(e.mean['MRR@10']).toBe(0.5);
    expect(e.perQuery.get('miss')).toEqual({ 'nDCG@10': 0, 'MRR@10': 0, 'R@10': 0, 'R@100': 0, 'MAP@100': 0 });
  });

  it('rejects non-finite scores and bad cutoffs', () => {
    expect(() => evaluate(qrelsOf({ q: { a: 1 } }), runOf({ q: { a: Number.NaN } }))).toThrow(
      'run: query "q" doc "a" has score NaN',
    );
    expect(() => evaluate(qrelsOf({ q: { a: 1 } }), runOf({}), { ndcg: [0], mrr: [], recall: [], map: [] })).toThrow(
      'ndcg cutoff must be a positive integer, got 0',
    );
  });
});

describe('metrics vs the Python trec_eval reference (scripts/eval/ref_metrics.py)', () => {
  const ref = JSON.parse(readFileSync(join(FIXTURES, 'metrics-ref.json'), 'utf8')) as {
    cutoffs: Cutoffs;
    queries: number;
    skipped_no_relevant: number;
    missing_from_run: number;
    unjudged_in_run: number;
    mean: Record<string, number>;
    per_query: Record<string, Record<string, number>>;
  };

  it('matches every metric of every query, and the means and counts', async () => {
    const qrels = await readQrels(join(FIXTURES, 'metrics-qrels.tsv'));
    const run = await readTrecRun(join(FIXTURES, 'metrics-run.trec'));
    const e = evaluate(qrels, run, ref.cutoffs);
    expect([e.queries, e.skippedNoRelevant, e.missingFromRun, e.unjudgedInRun]).toEqual([
      ref.queries,
      ref.skipped_no_relevant,
      ref.missing_from_run,
      ref.unjudged_in_run,
    ]);
    expect([...e.perQuery.keys()]).toEqual(Object.keys(ref.per_query));
    const names = Object.keys(ref.mean);
    expect(names.length).toBe(18);
    for (const [qid, values] of Object.entries(ref.per_query)) {
      const ours = e.perQuery.get(qid)!;
      assertClose(
        names.map((n) => ours[n]),
        names.map((n) => values[n]),
        TOL.f64,
        `query ${qid}`,
      );
    }
    assertClose(
      names.map((n) => e.mean[n]),
      names.map((n) => ref.mean[n]),
      TOL.f64,
      'means',
    );
    // the fixture is not degenerate: metrics spread between 0 and 1
    expect(ref.mean['nDCG@10']).toBeGreaterThan(0.1);
    expect(ref.mean['R@100']).toBeLessThan(1);
  });
});

describe('TREC run files', () => {
  it('round-trip: same scores (bit for bit), rank order, tag', async () => {
    const run: Run = new Map([
      [
        'q1',
        new Map([
          ['d1', 0.1 + 0.2],
          ['d2', 1 / 3],
          ['d3', -2.5e-8],
          ['d4', 1 / 3],
        ]),
      ],
      ['q2', new Map([['x', Math.fround(0.7)]])],
    ]);
    const path = join(work, 'run.trec');
    await writeTrecRun(path, run, 'mytag');
    expect(readFileSync(path, 'utf8')).toBe(
      [
        `q1 Q0 d4 1 ${1 / 3} mytag`,
        `q1 Q0 d2 2 ${1 / 3} mytag`,
        'q1 Q0 d1 3 0.30000000000000004 mytag',
        'q1 Q0 d3 4 -2.5e-8 mytag',
        `q2 Q0 x 1 ${Math.fround(0.7)} mytag`,
        '',
      ].join('\n'),
    );
    expect(await readTrecRun(path)).toEqual(run);
    const gz = join(work, 'run.trec.gz');
    await writeTrecRun(gz, run);
    expect(await readTrecRun(gz)).toEqual(run);
  });

  it('bad lines fail naming file and line; ids with spaces cannot be written', async () => {
    const bad = (text: string) => {
      const path = join(work, 'bad.trec');
      writeFileSync(path, text);
      return readTrecRun(path);
    };
    await expect(bad('q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.4\n')).rejects.toThrow(
      'bad.trec line 2: expected 6 fields "qid Q0 docid rank score tag", got 5',
    );
    await expect(bad('q1 Q0 d1 1 high t\n')).rejects.toThrow(
      'bad.trec line 1: score must be a finite number, got "high"',
    );
    await expect(bad('q1 Q0 d1 0 0.5 t\n')).rejects.toThrow(
      'bad.trec line 1: rank must be a positive integer, got "0"',
    );
    await expect(bad('q1 Q0 d1 1 0.5 t\nq1 Q0 d1 2 0.4 t\n')).rejects.toThrow(
      'bad.trec line 2: doc "d1" listed twice for query "q1"',
    );
    await expect(writeTrecRun(join(work, 'x.trec'), new Map([['q 1', new Map([['d', 1]])]]))).rejects.toThrow(
      'query id "q 1" is empty or contains whitespace',
    );
  });
});
