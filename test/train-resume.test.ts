// `retrograd train` checkpoints and resume: a real process killed with SIGKILL at several moments
// (and once stopped with SIGTERM) and rerun with the same command ends with bit-identical weights and
// the same losses as an uninterrupted run; a reused run directory is refused, never mixed; lengths
// beyond the model, an evaluation set without relevant judgements and a diverging run fail with one
// line before anything is lost.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBeir } from '../src/data/beir.js';
import { trainBiencoder, type TrainBiencoderOptions } from '../src/train/retrieval.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-train-resume-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';
beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
});

const STEPS = 14;

function command(out: string): string[] {
  return [
    'bin/retrograd.mjs',
    'train',
    '--model',
    modelDir,
    '--data',
    dataDir,
    '--out',
    out,
    '--steps',
    String(STEPS),
    '--batch-size',
    '8',
    '--query-length',
    '8',
    '--doc-length',
    '24',
    '--lr',
    '5e-3',
    '--seed',
    '1',
    '--internals-every',
    '4',
    '--save-every',
    '3',
    '--eval',
    `${dataDir}:test`,
    '--threads',
    '1',
  ];
}

interface Child {
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill: (s: NodeJS.Signals) => void;
}

function start(out: string): Child {
  const child = spawn(process.execPath, command(out), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  return {
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr }))),
    kill: (s) => child.kill(s),
  };
}

const trainSteps = (out: string): number =>
  existsSync(join(out, 'log.jsonl'))
    ? readFileSync(join(out, 'log.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"kind":"train"')).length
    : 0;

/** Start the command and signal it once its log holds `steps` training steps. */
async function interruptAt(
  out: string,
  steps: number,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = start(out);
  const deadline = Date.now() + 60_000;
  while (trainSteps(out) < steps) {
    if (Date.now() > deadline) throw new Error(`train did not reach step ${steps} within 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill(signal);
  return child.exited;
}

const losses = (out: string): number[] =>
  readFileSync(join(out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; loss: number })
    .filter((e) => e.kind === 'train')
    .map((e) => e.loss);

describe('retrograd train: checkpoints and resume', () => {
  it('killed at several moments and rerun, ends with the weights and losses of an uninterrupted run', async () => {
    const whole = join(work, 'whole');
    const done = await start(whole).exited;
    expect(done.code, done.stderr).toBe(0);

    const split = join(work, 'split');
    const stopped = await interruptAt(split, 2, 'SIGTERM');
    expect(stopped.code, stopped.stderr).toBe(143); // saves a checkpoint, then reports the interruption
    expect(readFileSync(join(split, 'checkpoints', 'latest'), 'utf8').trim()).toBe(
      `step-${String(trainSteps(split)).padStart(7, '0')}`,
    );
    for (const at of [5, 10]) expect((await interruptAt(split, at, 'SIGKILL')).signal).toBe('SIGKILL');
    const resumed = await start(split).exited;
    expect(resumed.code, resumed.stderr).toBe(0);

    expect(
      readFileSync(join(split, 'model', 'model.safetensors')).equals(
        readFileSync(join(whole, 'model', 'model.safetensors')),
      ),
    ).toBe(true);
    expect(losses(split)).toEqual(losses(whole));
    const steps = (out: string): number[] =>
      readFileSync(join(out, 'internals.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { step: number }).step);
    expect(steps(split)).toEqual(steps(whole));
    const metrics = (out: string): unknown =>
      (JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { final: { metrics: unknown }[] }).final[0]
        .metrics;
    expect(metrics(split)).toEqual(metrics(whole));
    expect(readdirSync(join(split, 'checkpoints')).filter((e) => e.startsWith('.'))).toEqual([]);

    // A finished run is refused, and left as it was.
    const again = await start(split).exited;
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/split: the run is finished \(metrics\.json\); train into a new --out/);
    expect(losses(split)).toEqual(losses(whole));
  }, 300_000);

  const options = (out: string, extra: Partial<TrainBiencoderOptions> = {}): TrainBiencoderOptions => ({
    model: modelDir,
    data: dataDir,
    out: join(work, out),
    loss: { kind: 'sdam', options: {} },
    pooling: 'mean',
    batchSize: 8,
    queryLength: 8,
    docLength: 24,
    lr: 5e-3,
    gamma: 0.999,
    weightDecay: 1e-6,
    clip: 1,
    steps: 4,
    seed: 1,
    evalEvery: 0,
    patience: 2,
    evalSets: [{ name: 'synthetic', dir: dataDir, split: 'test' }],
    internalsEvery: 4,
    device: 'cpu',
    progress: false,
    ...extra,
  });

  it('refuses a directory holding another run without checkpoints, or a resume with other arguments', async () => {
    const old = join(work, 'old-run');
    mkdirSync(join(old, 'model'), { recursive: true });
    writeFileSync(join(old, 'log.jsonl'), '{"kind":"train","step":1,"loss":1}\n');
    writeFileSync(join(old, 'metrics.json'), '{}\n');
    await expect(trainBiencoder(options('old-run'))).rejects.toThrow(
      /old-run: holds log\.jsonl, metrics\.json, model but no checkpoint; train into a new --out$/,
    );
    expect(readFileSync(join(old, 'log.jsonl'), 'utf8')).toBe('{"kind":"train","step":1,"loss":1}\n');

    await trainBiencoder(options('changed', { steps: 2 }));
    rmSync(join(work, 'changed', 'metrics.json'));
    await expect(trainBiencoder(options('changed', { steps: 4, lr: 1e-3 }))).rejects.toThrow(
      /step-0000002: resuming needs lr=0\.005, got 0\.001$/,
    );
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    await expect(trainBiencoder(options('a-file'))).rejects.toThrow(/a-file: exists and is not a directory$/);
  }, 60_000);

  it('fails up front on a length beyond the model and on an evaluation set without relevant judgements', async () => {
    await expect(trainBiencoder(options('long', { docLength: 100000 }))).rejects.toThrow(
      /model\/config\.json: max_position_embeddings is 64, less than the document length 100000$/,
    );
    expect(readdirSync(join(work, 'long'))).toEqual([]);
    const zeros = join(work, 'zeros');
    await writeBeir(zeros, {
      corpus: new Map([
        ['a', { title: '', text: 'x' }],
        ['b', { title: '', text: 'y' }],
      ]),
      queries: new Map([['q', 'x']]),
      qrels: {
        test: new Map([
          [
            'q',
            new Map([
              ['a', 0],
              ['b', 0],
            ]),
          ],
        ]),
      },
    });
    await expect(
      trainBiencoder(options('zeros-run', { evalSets: [{ name: 'zeros', dir: zeros, split: 'test' }] })),
    ).rejects.toThrow(/zeros\/qrels\/test\.tsv: no query has a relevant document/);
  }, 60_000);

  it('stops at a non-finite update, naming the step and the tensor, with the last finite checkpoint kept', async () => {
    await expect(trainBiencoder(options('diverge', { lr: 1e39 }))).rejects.toThrow(
      /^step 1: the update made a weight non-finite \(first: [\w.]+\[\d+\] = (-?Infinity|NaN)\); stopped, .*step-0000000 is the last finite checkpoint$/,
    );
    expect(readFileSync(join(work, 'diverge', 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-0000000');
    expect(existsSync(join(work, 'diverge', 'model'))).toBe(false);
  }, 60_000);
});
