// Cross-encoder training end to end on the small synthetic BEIR set (test/util/synthetic-retrieval.ts;
// a tiny random BERT, so a new head is initialised): the pairwise loss falls, a seed repeats the loss
// trajectory exactly, and the saved model reranks BM25's candidates; random negatives widen the
// softmax and never draw a relevant document. Its use as a teacher is in
// test/cross-encoder-teacher.test.ts.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder } from '../src/nn/cross-encoder.js';
import { sampleRandomNegatives, trainCrossEncoder, type TrainCrossEncoderOptions } from '../src/train/cross-encoder.js';
import { Generator } from '../src/tensor/random.js';
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
    model: modelDir,
    data: dataDir,
    out: join(work, out),
    batchSize: 24,
    maxLength: 40,
    lr: 1e-2,
    warmup: 2,
    weightDecay: 0.01,
    clip: 1,
    steps: 20,
    seed: 1,
    device: 'cpu',
    progress: false,
    ...extra,
  };
}

function trainLosses(out: string): number[] {
  return readFileSync(join(work, out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.kind === 'train')
    .map((e) => e.loss as number);
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('trainCrossEncoder', () => {
  it("lowers the pairwise loss from a new head, saves a cross-encoder and reranks BM25's candidates", async () => {
    const result = await trainCrossEncoder(
      options('ce', { evalSet: { name: 'synthetic', dir: dataDir, split: 'test' }, bm25Top: 100 }),
    );
    expect(result.freshHead).toEqual([
      'bert.pooler.dense.weight',
      'bert.pooler.dense.bias',
      'classifier.weight',
      'classifier.bias',
    ]);
    const losses = trainLosses('ce');
    expect(losses).toHaveLength(20);
    expect(losses[0]).toBeCloseTo(Math.log(2), 1); // a new head scores both documents alike
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) - 0.05);
    const final = result.final!;
    expect(final.queries).toBe(12);
    expect(final.rerank['R@100']).toBe(final.bm25['R@100']); // the same candidates, reordered
    expect(final.pairs).toBeGreaterThan(12);
    const metrics = JSON.parse(readFileSync(join(work, 'ce', 'metrics.json'), 'utf8')) as {
      final: { rerank: Record<string, number> };
    };
    expect(metrics.final.rerank['nDCG@10']).toBe(final.rerank['nDCG@10']);
    const saved = CrossEncoder.load(result.modelDir);
    expect(saved.report!.fresh).toEqual([]);
    saved.dispose();
  }, 60_000);

  it('random negatives: drawn uniformly, never an excluded document; the softmax runs over n + 2 scores, seeded', async () => {
    const gen = new Generator(5);
    const drawn = sampleRandomNegatives(gen, ['a', 'b', 'c', 'd'], new Set(['a', 'c']), 200);
    expect(new Set(drawn)).toEqual(new Set(['b', 'd']));
    expect(drawn.filter((d) => d === 'b').length).toBeGreaterThan(60); // uniform over the two allowed
    expect(sampleRandomNegatives(gen, ['a'], new Set(['a']), 0)).toEqual([]);
    expect(() => sampleRandomNegatives(gen, ['a', 'b'], new Set(['a', 'b']), 1)).toThrow(
      /every one of the 2 corpus documents is excluded/,
    );
    await trainCrossEncoder(options('random', { randomNegatives: 2, steps: 3 }));
    const losses = trainLosses('random');
    expect(losses[0]).toBeCloseTo(Math.log(4), 1); // a new head scores the four candidates alike
    await trainCrossEncoder(options('random-again', { randomNegatives: 2, steps: 3 }));
    expect(trainLosses('random-again')).toEqual(losses);
    const start = JSON.parse(readFileSync(join(work, 'random', 'log.jsonl'), 'utf8').split('\n')[0]) as {
      randomNegatives: number;
    };
    expect(start.randomNegatives).toBe(2);
  }, 60_000);

  it('continuing from a cross-encoder keeps and trains its head', async () => {
    const result = await trainCrossEncoder(
      options('continue', { model: join(import.meta.dirname, 'fixtures', 'cross-encoder', 'tiny'), steps: 2 }),
    );
    expect(result.freshHead).toEqual([]);
    expect(trainLosses('continue')).toHaveLength(2);
  }, 30_000);

  it('a run that dies resumes from its last checkpoint to the same losses and weights; a finished one is refused', async () => {
    // 24 triples in batches of 10: two steps an epoch, so the crash and the resume fall mid-epoch
    const run = { batchSize: 10, steps: 7, randomNegatives: 1, saveEvery: 2 };
    await trainCrossEncoder(options('straight', run));
    const crash = new Error('simulated crash after step 5');
    await expect(
      trainCrossEncoder(
        options('crashed', {
          ...run,
          onLog: (e) => {
            if (e.kind === 'train' && e.step === 5) throw crash;
          },
        }),
      ),
    ).rejects.toBe(crash);
    expect(trainLosses('crashed')).toHaveLength(5); // step 5 was logged after the step-4 checkpoint
    const resumed = await trainCrossEncoder(options('crashed', run));
    expect(resumed.freshHead).toHaveLength(4); // the run's, from its first checkpoint
    const log = readFileSync(join(work, 'crashed', 'log.jsonl'), 'utf8');
    expect(log).toContain('"kind":"resume"');
    expect(trainLosses('crashed')).toEqual(trainLosses('straight'));
    const weights = (out: string): Buffer => readFileSync(join(work, out, 'model', 'model.safetensors'));
    expect(weights('crashed').equals(weights('straight'))).toBe(true);
    await expect(trainCrossEncoder(options('crashed', run))).rejects.toThrow(/the run is finished/);
    await expect(trainCrossEncoder(options('straight', { ...run, seed: 2 }))).rejects.toThrow(/finished/);
  }, 120_000);

  it('a seed repeats the loss trajectory exactly', async () => {
    await trainCrossEncoder(options('short', { steps: 6 }));
    await trainCrossEncoder(options('short-again', { steps: 6 }));
    expect(trainLosses('short-again')).toEqual(trainLosses('short'));
    expect(new Set(trainLosses('short')).size).toBeGreaterThan(1);
  }, 60_000);
});
