// examples/train_sdam.ts writes the SDAM training loop out for readers; this checks that its loop
// (trainSdam) is step for step the trainer's (trainBiencoder, src/train/retrieval.ts) with the main
// job's options: the same loss at every step and the same final weights, bit for bit, so the numbers
// the README reports from the example stay those of `retrograd train`.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainSdam } from '../examples/train_sdam.js';
import { trainBiencoder } from '../src/train/retrieval.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-sdam-example-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';

beforeAll(async () => {
  // Documents are truncated to 128 tokens, so the position table needs 128 rows.
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work, { maxPositions: 128 }));
});

function trainLosses(out: string): number[] {
  return readFileSync(join(out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { kind: string; loss?: number })
    .filter((e) => e.kind === 'train')
    .map((e) => e.loss!);
}

describe('examples/train_sdam.ts trainSdam', () => {
  it('repeats trainBiencoder with the main job options: the same loss at every step and the same weights', async () => {
    // 24 triples in batches of 10: two batches an epoch, so the third step starts the second epoch's shuffle.
    const common = { model: modelDir, data: dataDir, steps: 3, batchSize: 10, lr: 1e-4, seed: 0 };
    const evalSets = [{ name: 'synthetic', dir: dataDir, split: 'test' }];
    const example = await trainSdam({
      ...common,
      out: join(work, 'example'),
      pooling: 'mean',
      target: 'adaptive',
      evalSets,
      progress: false,
    });
    const trainer = await trainBiencoder({
      ...common,
      out: join(work, 'trainer'),
      loss: { kind: 'sdam', options: { target: 'adaptive' } },
      pooling: 'mean',
      queryLength: 32,
      docLength: 128,
      gamma: 0.99999,
      weightDecay: 1e-6,
      clip: 0,
      evalEvery: 0,
      patience: 1,
      evalSets,
      evalInitial: true,
      internalsEvery: 10,
      device: 'cpu',
      progress: false,
    });

    const losses = trainLosses(join(work, 'example'));
    expect(losses).toHaveLength(3);
    expect(losses).toEqual(trainLosses(join(work, 'trainer')));
    const weights = (dir: string): Buffer => readFileSync(join(dir, 'model.safetensors'));
    expect(weights(example.modelDir).equals(weights(trainer.modelDir))).toBe(true);
    expect(weights(example.modelDir).equals(weights(modelDir))).toBe(false); // the steps did change the weights
    expect(example.initial).toEqual(trainer.initial!.map((m) => ({ ...m, seconds: expect.any(Number) })));
    expect(example.final).toEqual(trainer.final.map((m) => ({ ...m, seconds: expect.any(Number) })));
    expect({ steps: example.steps, triplesSeen: example.triplesSeen, epochs: example.epochs }).toEqual({
      steps: trainer.steps,
      triplesSeen: trainer.triplesSeen,
      epochs: trainer.epochs,
    });
  });
});
