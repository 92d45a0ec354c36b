// Checkpoints, resume and validation of contextual training (src/train/contextual.ts): a run that
// dies after a checkpoint (here: an exception thrown from its log callback, with dropout on) and is
// rerun ends with the weights, losses, loss internals and validations of an uninterrupted run, bit
// for bit (the internals readable by `retrograd plot`); a
// finished run, other arguments and a directory of something else are refused with one line;
// validation with early stopping keeps the best model; the train CLI passes --validation and
// --save-every through.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainContextual, type TrainContextualOptions } from '../src/train/contextual.js';
import { registerTrain } from '../src/cli/train.js';
import { runCli } from './util/cli.js';
import { readRun } from '../src/plot/runlog.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-contextual-resume-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dataDir = '';
let modelDir = '';
beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(join(work, 'synthetic')));
}, 60_000);

const options = (out: string, extra: Partial<TrainContextualOptions> = {}): TrainContextualOptions => ({
  model: modelDir,
  data: dataDir,
  out: join(work, out),
  batchSize: 6,
  queryLength: 12,
  docLength: 24,
  lr: 2e-3,
  gamma: 0.99,
  weightDecay: 0.01,
  clip: 1,
  steps: 5,
  seed: 3,
  chunkSize: 4,
  config: { context_size: 4, prompt_length: 2 },
  dropout: true,
  saveEvery: 2,
  negatives: true,
  internalsEvery: 2,
  validation: { name: 'val', dir: dataDir, split: 'test' },
  evalEvery: 2,
  patience: 5,
  evalSets: [{ name: 'test', dir: dataDir, split: 'test' }],
  device: 'cpu',
  progress: false,
  ...extra,
});

const log = (out: string): Record<string, unknown>[] =>
  readFileSync(join(work, out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const strip = (entries: Record<string, unknown>[]) =>
  entries.filter((e) => e.kind !== 'final').map(({ ms, msPerStep, seconds, ...rest }) => rest);
const bytes = (out: string, file: string): Buffer => readFileSync(join(work, out, 'model', file));
const FILES = ['heads.safetensors', 'first_stage/model.safetensors', 'second_stage/model.safetensors'];

describe('contextual training: checkpoints and resume', () => {
  it('a run that dies after a checkpoint and is rerun ends as an uninterrupted one, bit for bit', async () => {
    const whole = await trainContextual(options('whole'));
    expect(whole.steps).toBe(5);
    expect(whole.medianStepMs).not.toBeNull();
    expect(
      log('whole')
        .filter((e) => e.kind === 'validation')
        .map((e) => e.step),
    ).toEqual([2, 4, 5]);

    const crash =
      (at: number) =>
      (e: Record<string, unknown>): void => {
        if (e.kind === 'train' && e.step === at) throw new Error('simulated crash');
      };
    await expect(trainContextual(options('split', { onLog: crash(3) }))).rejects.toThrow(/^simulated crash$/);
    expect(readFileSync(join(work, 'split', 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-0000002');
    const resumed = await trainContextual(options('split'));
    expect(strip(log('split'))).toEqual(strip(log('whole')));
    const internals = (out: string) => readFileSync(join(work, out, 'internals.jsonl'), 'utf8');
    expect(internals('split')).toBe(internals('whole'));
    const records = internals('whole')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; totalGradNorms: number[]; pairSimilarity: number[] });
    expect(records.map((r) => r.step)).toEqual([1, 2, 4]);
    for (const r of records) expect([r.totalGradNorms.length, r.pairSimilarity.length]).toEqual([6, 6]);
    const plot = readRun(join(work, 'whole'));
    expect(plot.kind === 'biencoder' && plot.internals.length).toBe(3); // `retrograd plot` reads it as a training run with internals
    for (const f of FILES) expect(bytes('split', f).equals(bytes('whole', f)), f).toBe(true);
    expect(resumed.final[0].metrics).toEqual(whole.final[0].metrics);
    expect(resumed.bestStep).toBe(whole.bestStep);

    await expect(trainContextual(options('split'))).rejects.toThrow(
      /split: the run is finished \(metrics\.json\); train into a new --out$/,
    );
    rmSync(join(work, 'split', 'metrics.json'));
    await expect(trainContextual(options('split', { lr: 1e-3 }))).rejects.toThrow(
      /step-0000005: resuming needs lr=0\.002, got 0\.001$/,
    );
    const other = join(work, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'x');
    await expect(trainContextual(options('other'))).rejects.toThrow(
      /other: holds notes\.txt but no checkpoint; train into a new --out$/,
    );
  }, 300_000);

  it('stops early when validation stops improving and keeps the best model', async () => {
    // A learning rate this large makes validation worse after the first check.
    const r = await trainContextual(
      options('early', {
        lr: 0.5,
        clip: 0,
        steps: 12,
        evalEvery: 1,
        patience: 1,
        dropout: false,
        validation: { name: 'val', dir: dataDir, split: 'train' },
      }),
    );
    const v = log('early').filter((e) => e.kind === 'validation');
    expect(r.stoppedEarly).toBe(true);
    expect(r.steps).toBeLessThan(12);
    const scores = v.map((e) => (e.metrics as Record<string, number>)['nDCG@10']);
    expect(r.bestStep).toBe(v[scores.indexOf(Math.max(...scores))].step);
  }, 300_000);

  it('retrograd train --model-type contextual takes --validation and --save-every', async () => {
    const out = join(work, 'cli');
    await runCli(
      [registerTrain],
      [
        'train',
        '--model-type',
        'contextual',
        '--loss',
        'infonce',
        '--model',
        modelDir,
        '--data',
        dataDir,
        '--out',
        out,
        '--steps',
        '3',
        '--batch-size',
        '6',
        '--context-size',
        '4',
        '--chunk-size',
        '4',
        '--query-length',
        '12',
        '--doc-length',
        '24',
        '--save-every',
        '1',
        '--validation',
        `${dataDir}:test`,
        '--eval-every',
        '2',
      ],
    );
    expect(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-0000003');
    expect(
      log('cli')
        .filter((e) => e.kind === 'validation')
        .map((e) => e.step),
    ).toEqual([2, 3]);
    expect(existsSync(join(out, 'model', 'heads.safetensors'))).toBe(true);
  }, 300_000);
});
