// Biencoder training end to end on a small synthetic BEIR set (test/util/synthetic-retrieval.ts): every loss trains and lowers its
// loss, a seed repeats the loss trajectory exactly, the loss internals are recorded, early stopping
// keeps the best validation model, and the result evaluates with the retrieval metrics.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Biencoder } from '../src/nn/biencoder.js';
import { writeBeir } from '../src/data/beir.js';
import {
  loadEvalSet,
  subsampleQueries,
  trainBiencoder,
  type LossSpec,
  type TrainBiencoderOptions,
} from '../src/train/retrieval.js';
import { evaluate } from '../src/eval/metrics.js';
import { runFromLists } from '../src/eval/run.js';
import { bm25Teacher } from '../src/train/teachers.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';

beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
});

function options(out: string, loss: LossSpec, extra: Partial<TrainBiencoderOptions> = {}): TrainBiencoderOptions {
  return {
    model: modelDir,
    data: dataDir,
    out: join(work, out),
    loss,
    pooling: 'mean',
    batchSize: 8,
    queryLength: 8,
    docLength: 24,
    lr: 5e-3,
    gamma: 0.999,
    weightDecay: 1e-6,
    clip: 1,
    steps: 12,
    seed: 1,
    evalEvery: 0,
    patience: 2,
    evalSets: [{ name: 'synthetic', dir: dataDir, split: 'test' }],
    internalsEvery: 4,
    device: 'cpu',
    progress: false,
    ...extra,
  };
}

function entries(out: string, file: string): Record<string, unknown>[] {
  return readFileSync(join(work, out, file), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const trainLosses = (out: string): number[] =>
  entries(out, 'log.jsonl')
    .filter((e) => e.kind === 'train')
    .map((e) => e.loss as number);
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('trainBiencoder', () => {
  it('SDAM lowers its loss, records internals and evaluates the final model', async () => {
    const result = await trainBiencoder(options('sdam', { kind: 'sdam', options: {} }, { steps: 24 }));
    const losses = trainLosses('sdam');
    expect(losses).toHaveLength(24);
    expect(mean(losses.slice(-6))).toBeLessThan(mean(losses.slice(0, 6)));
    const internals = entries('sdam', 'internals.jsonl');
    expect(internals.map((e) => e.step)).toEqual([1, 4, 8, 12, 16, 20, 24]);
    for (const key of ['gradNorms', 'target', 'margin', 'pairSimilarity'])
      expect((internals[0][key] as number[]).length).toBe(8);
    expect(result.final[0].queries).toBe(12);
    expect(result.final[0].metrics['nDCG@10']).toBeGreaterThan(0);
    const saved = Biencoder.load(result.modelDir);
    expect(saved.pooling).toEqual({ mode: 'mean', normalize: false });
    saved.dispose();
  }, 120_000);

  it('a seed repeats the loss trajectory exactly', async () => {
    await trainBiencoder(options('sdam-again', { kind: 'sdam', options: {} }, { steps: 24 }));
    expect(trainLosses('sdam-again')).toEqual(trainLosses('sdam'));
  }, 120_000);

  it('Margin-MSE with the BM25 teacher and InfoNCE also train', async () => {
    const teacher = await bm25Teacher(dataDir);
    const scores = teacher(['python tool', 'python tool'], ['python-0', 'music-1']);
    expect(scores[0]).toBeGreaterThan(scores[1]);
    expect(Math.max(...scores)).toBeLessThanOrEqual(1);
    await trainBiencoder(options('mmse', { kind: 'margin-mse', teacher, teacherName: 'bm25' }, { steps: 24 }));
    await trainBiencoder(options('nce', { kind: 'infonce', scale: 20, ownNegatives: true }, { steps: 24 }));
    for (const run of ['mmse', 'nce']) {
      const losses = trainLosses(run);
      expect(mean(losses.slice(-6)), run).toBeLessThan(mean(losses.slice(0, 6)));
    }
  }, 240_000);

  it('validates, keeps the best model and stops after `patience` validations without improvement', async () => {
    const result = await trainBiencoder(
      options(
        'early',
        { kind: 'sdam', options: { target: 0.1 } },
        {
          steps: 60,
          evalEvery: 2,
          patience: 2,
          lr: 3e-2,
          validation: { name: 'synthetic', dir: dataDir, split: 'test' },
        },
      ),
    );
    const validations = entries('early', 'log.jsonl').filter((e) => e.kind === 'validation');
    const scores = validations.map((v) => (v.metrics as Record<string, number>)['nDCG@10']);
    const best = Math.max(...scores);
    expect(result.bestStep).toBe(validations[scores.indexOf(best)].step);
    if (result.stoppedEarly) expect(scores.slice(-2).every((s) => s <= best)).toBe(true);
    expect(result.final[0].metrics['nDCG@10']).toBeCloseTo(best, 6);
  }, 240_000);

  it("an evaluation subsample keeps exactly its queries' judgements", async () => {
    const full = await loadEvalSet({ name: 'synthetic', dir: dataDir, split: 'train' });
    const sub = subsampleQueries(full, 5);
    expect(sub.queries.size).toBe(5);
    expect([...sub.qrels.keys()].sort()).toEqual([...sub.queries.keys()].sort());
    expect(sub.corpus.size).toBe(full.corpus.size);
    expect(subsampleQueries(full, 5)).toEqual(sub);
    // a perfect run over the subsample scores 1, not 5/24
    const perfect = runFromLists(
      [...sub.qrels].map(([qid, judged]) => [qid, [...judged.keys()].map((docid) => ({ docid, score: 1 }))]),
    );
    expect(evaluate(sub.qrels, perfect).mean['nDCG@10']).toBe(1);
  });

  it('rejects triples that name unknown documents', async () => {
    const bad = join(work, 'bad');
    await writeBeir(bad, {
      corpus: new Map([['a', { title: '', text: 'x' }]]),
      queries: new Map([['q', 'x']]),
      qrels: { train: new Map([['q', new Map([['a', 1]])]]) },
      triples: { train: [{ qid: 'q', pos: 'a', neg: 'zzz' }] },
    });
    await expect(trainBiencoder({ ...options('bad-run', { kind: 'sdam', options: {} }), data: bad })).rejects.toThrow(
      /line 1: unknown document "zzz"/,
    );
  });
});
