// Cross-encoder training and its use as a teacher, end to end on the small synthetic BEIR set
// (test/util/synthetic-retrieval.ts; a tiny random BERT, so a new head is initialised): the pairwise
// loss falls, a seed repeats the loss trajectory exactly, the saved model reranks BM25's candidates,
// `retrograd score` writes teacher_pos / teacher_neg into the triples (other fields kept), and the
// library reads them back as a Margin-MSE teacher; `retrograd rerank` prints both runs' metrics.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docText, loadBeir, readJsonlArray, readTriples } from '../src/data/beir.js';
import { CrossEncoder } from '../src/nn/cross-encoder.js';
import { trainCrossEncoder, type TrainCrossEncoderOptions } from '../src/train/cross-encoder.js';
import { readScoredTriples, triplesTeacher } from '../src/train/teachers.js';
import { registerCrossEncoder } from '../src/cli/cross-encoder.js';
import { registerScore } from '../src/cli/score.js';
import { runCli } from './util/cli.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-ce-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';

beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
});

function options(out: string, extra: Partial<TrainCrossEncoderOptions> = {}): TrainCrossEncoderOptions {
  // All 24 triples in every step and a high rate: the tiny random model must visibly fit in a few steps.
  return {
    model: modelDir, data: dataDir, out: join(work, out), batchSize: 24, maxLength: 40, lr: 1e-2, warmup: 2,
    weightDecay: 0.01, clip: 1, steps: 20, seed: 1, device: 'cpu', progress: false, ...extra,
  };
}

function trainLosses(out: string): number[] {
  return readFileSync(join(work, out, 'log.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.kind === 'train').map((e) => e.loss as number);
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('trainCrossEncoder', () => {
  it('lowers the pairwise loss from a new head, saves a cross-encoder and reranks BM25\'s candidates', async () => {
    const result = await trainCrossEncoder(options('ce', { evalSet: { name: 'synthetic', dir: dataDir, split: 'test' }, bm25Top: 100 }));
    expect(result.freshHead).toEqual(['bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias']);
    const losses = trainLosses('ce');
    expect(losses).toHaveLength(20);
    expect(losses[0]).toBeCloseTo(Math.log(2), 1); // a new head scores both documents alike
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) - 0.05);
    const final = result.final!;
    expect(final.queries).toBe(12);
    expect(final.rerank['R@100']).toBe(final.bm25['R@100']); // the same candidates, reordered
    expect(final.pairs).toBeGreaterThan(12);
    const metrics = JSON.parse(readFileSync(join(work, 'ce', 'metrics.json'), 'utf8')) as { final: { rerank: Record<string, number> } };
    expect(metrics.final.rerank['nDCG@10']).toBe(final.rerank['nDCG@10']);
    const saved = CrossEncoder.load(result.modelDir);
    expect(saved.report!.fresh).toEqual([]);
    saved.dispose();
  }, 60_000);

  it('a seed repeats the loss trajectory exactly', async () => {
    await trainCrossEncoder(options('short', { steps: 6 }));
    await trainCrossEncoder(options('short-again', { steps: 6 }));
    expect(trainLosses('short-again')).toEqual(trainLosses('short'));
    expect(new Set(trainLosses('short')).size).toBeGreaterThan(1);
  }, 60_000);
});

describe('retrograd score / rerank and the triples teacher', () => {
  it('score writes teacher_pos and teacher_neg into every line; the teacher reads them back', async () => {
    const out = join(work, 'scored.jsonl.gz');
    const printed = await runCli([registerScore], ['score', '--model', join(work, 'ce', 'model'), '--data', dataDir, '--out', out, '--max-length', '40']);
    const summary = JSON.parse(printed) as { lines: number; pairs: number };
    const input = await readTriples(join(dataDir, 'triples', 'train.jsonl.gz'));
    expect(summary.lines).toBe(input.length);
    const rows = await readJsonlArray(out);
    expect(rows.map((r) => [r.qid, r.pos, r.neg])).toEqual(input.map((t) => [t.qid, t.pos, t.neg]));
    const scored = await readScoredTriples(out);

    // The same numbers as the cross-encoder's own scorer.
    const ce = CrossEncoder.load(join(work, 'ce', 'model'));
    const { queries, corpus } = await loadBeir(dataDir, 'train');
    const expected = await ce.scorer(40)(scored.map((t) => queries.get(t.qid)!), scored.map((t) => docText(corpus.get(t.pos)!)));
    ce.dispose();
    expect(scored.map((t) => t.teacherPos)).toEqual([...expected]);

    const teacher = await triplesTeacher(dataDir, 'train', out);
    const t = scored[3];
    expect(await teacher([queries.get(t.qid)!, queries.get(t.qid)!], [t.pos, t.neg])).toEqual([t.teacherPos, t.teacherNeg]);
    expect(() => teacher(['no such query'], [t.pos])).toThrow(/scored\.jsonl\.gz: no teacher score for query "no such query"/);
  }, 30_000);

  it('a triples file without teacher scores is rejected, naming the file and line', async () => {
    await expect(readScoredTriples(join(dataDir, 'triples', 'train.jsonl.gz'))).rejects.toThrow(/^train\.jsonl\.gz line 1: "teacher_pos" must be a finite number \(score the file with `retrograd score`\)$/);
  });

  it('rerank prints BM25\'s and the reranked metrics on the same queries', async () => {
    const printed = await runCli([registerCrossEncoder], ['rerank', '--model', join(work, 'ce', 'model'), '--data', dataDir, '--split', 'test', '--json', '--max-length', '40']);
    const report = JSON.parse(printed) as { queries: number; bm25: Record<string, number>; rerank: Record<string, number>; bm25_top: number };
    expect(report.queries).toBe(12);
    expect(report.bm25_top).toBe(100);
    expect(report.rerank['R@100']).toBe(report.bm25['R@100']);
    for (const m of ['nDCG@10', 'MRR@10']) expect(report.rerank[m]).toBeGreaterThanOrEqual(0);
  }, 30_000);
});
