// The teacher's scale for Margin-MSE against a cosine student (src/train/teachers.ts): k maps the
// teacher's margins linearly onto the root mean square of SDAM's adaptive target under the starting
// encoder; `auto` fits k on a fixed sample (the same for every seed and --max-triples), logs it and
// stores it in the checkpoint; training with k equals training with a teacher whose scores are
// multiplied by k; the CLI parses --teacher-scale auto | raw | k; `retrograd plot` reads the log.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Biencoder } from '../src/nn/biencoder.js';
import { docText, loadBeir, readTriples } from '../src/data/beir.js';
import { trainBiencoder, type Teacher, type TrainBiencoderOptions } from '../src/train/retrieval.js';
import {
  TEACHER_SCALE_TRIPLES,
  bm25Teacher,
  fitTeacherScale,
  teacherScaleFromMargins,
  teacherScaleTriples,
  type TeacherScale,
} from '../src/train/teachers.js';
import { registerTrain } from '../src/cli/train.js';
import { readRun } from '../src/plot/runlog.js';
import { runCli } from './util/cli.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-teacher-scale-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';
let bm25: Teacher;
beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
  bm25 = await bm25Teacher(dataDir);
});

function options(
  out: string,
  teacher: Teacher,
  teacherScale: TeacherScale | undefined,
  extra: Partial<TrainBiencoderOptions> = {},
): TrainBiencoderOptions {
  return {
    model: modelDir,
    data: dataDir,
    out: join(work, out),
    loss: { kind: 'margin-mse', teacher, teacherName: 'bm25', teacherScale },
    pooling: 'mean',
    batchSize: 8,
    queryLength: 8,
    docLength: 24,
    lr: 5e-3,
    gamma: 0.99999,
    weightDecay: 1e-6,
    clip: 0,
    steps: 3,
    seed: 1,
    evalEvery: 0,
    patience: 2,
    evalSets: [],
    internalsEvery: 0,
    device: 'cpu',
    progress: false,
    ...extra,
  };
}

function log(out: string): Record<string, unknown>[] {
  return readFileSync(join(work, out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
const losses = (out: string): number[] =>
  log(out)
    .filter((e) => e.kind === 'train')
    .map((e) => e.loss as number);

const cos = (a: Float32Array, b: Float32Array): number => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) [ab, aa, bb] = [ab + a[i] * b[i], aa + a[i] * a[i], bb + b[i] * b[i]];
  return ab / Math.sqrt(aa * bb);
};

describe('teacher scale', () => {
  it('k gives the teacher margins the root mean square of the targets; all-zero margins are an error', () => {
    const targets = [0.6, 0.8, 0.7, 0.9];
    const margins = [12, -4, 7, 20];
    const fit = teacherScaleFromMargins(targets, margins);
    const rms = (xs: number[]): number => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);
    expect(fit.scale * rms(margins)).toBeCloseTo(rms(targets), 12);
    expect(fit).toMatchObject({ triples: 4, rmsTarget: rms(targets), rmsTeacherMargin: rms(margins) });
    // linear: a teacher on another scale gets the reciprocal k, the scaled margins are the same
    expect(
      teacherScaleFromMargins(
        targets,
        margins.map((m) => m * 50),
      ).scale,
    ).toBeCloseTo(fit.scale / 50, 12);
    expect(() => teacherScaleFromMargins(targets, [0, 0, 0, 0])).toThrow(
      /root mean square 0 on 4 triples; give a fixed --teacher-scale/,
    );
    expect(() => teacherScaleFromMargins([], [])).toThrow(/0 targets for 0 teacher margins/);
  });

  it("auto: k is fitted on the starting encoder's adaptive targets, logged, in metrics.json, and equals training with the fixed k", async () => {
    const data = await loadBeir(dataDir, 'train');
    const triples = await readTriples(join(dataDir, 'triples', 'train.jsonl.gz'));
    const sample = teacherScaleTriples(triples);
    expect(sample.length).toBe(Math.min(TEACHER_SCALE_TRIPLES, triples.length));
    expect(new Set(sample.map((t) => `${t.qid} ${t.pos} ${t.neg}`)).size).toBe(sample.length);
    // independent computation: eval-mode embeddings, cosine per triple, RMS ratio
    const bi = Biencoder.load(modelDir, { pooling: { mode: 'mean', normalize: false } });
    const enc = bi.encoder(24);
    const p = await enc(sample.map((t) => docText(data.corpus.get(t.pos)!)));
    const n = await enc(sample.map((t) => docText(data.corpus.get(t.neg)!)));
    const q = sample.map((t) => data.queries.get(t.qid)!);
    const tp = await bm25(
      q,
      sample.map((t) => t.pos),
    );
    const tn = await bm25(
      q,
      sample.map((t) => t.neg),
    );
    const expected = teacherScaleFromMargins(
      sample.map((_, i) => (1 + cos(p[i], n[i])) / 2),
      sample.map((_, i) => tp[i] - tn[i]),
    );
    expect((await fitTeacherScale(bi, data, triples, bm25, { docLength: 24 })).scale).toBeCloseTo(expected.scale, 6);
    bi.dispose();

    const auto = await trainBiencoder(options('auto', bm25, 'auto'));
    expect(auto.teacherScale!.scale).toBeCloseTo(expected.scale, 6);
    const line = log('auto').find((e) => e.kind === 'teacher-scale')!;
    expect(line).toMatchObject({ step: 0, scale: auto.teacherScale!.scale, triples: sample.length });
    const metrics = JSON.parse(readFileSync(join(work, 'auto', 'metrics.json'), 'utf8')) as {
      teacherScale: { scale: number };
    };
    expect(metrics.teacherScale.scale).toBe(auto.teacherScale!.scale);
    expect(readRun(join(work, 'auto')).kind).toBe('biencoder'); // `retrograd plot` reads the new log line

    await trainBiencoder(options('fixed', bm25, auto.teacherScale!.scale));
    expect(losses('fixed')).toEqual(losses('auto'));
    // k is a property of (model, teacher, data): another seed or a subset fits the same k
    const other = await trainBiencoder(options('auto-seed2', bm25, 'auto', { seed: 2, maxTriples: 10, steps: 1 }));
    expect(other.teacherScale!.scale).toBe(auto.teacherScale!.scale);
  }, 120_000);

  it('a fixed k equals a teacher whose scores are multiplied by k; raw (k = 1) is the library default', async () => {
    const k = 0.37;
    const scaled: Teacher = async (qs, ds) => (await bm25(qs, ds)).map((t) => t * k);
    await trainBiencoder(options('k', bm25, k));
    await trainBiencoder(options('teacher-times-k', scaled, 1));
    expect(losses('k')).toEqual(losses('teacher-times-k'));
    await trainBiencoder(options('default', bm25, undefined));
    await trainBiencoder(options('raw', bm25, 1));
    expect(losses('default')).toEqual(losses('raw'));
    expect(losses('k')).not.toEqual(losses('raw'));
  }, 120_000);

  it('the scale is part of the resume check', async () => {
    await trainBiencoder(options('resume', bm25, 0.5, { steps: 2, saveEvery: 1 }));
    rmSync(join(work, 'resume', 'metrics.json'));
    await expect(trainBiencoder(options('resume', bm25, 'auto', { steps: 3 }))).rejects.toThrow(
      /resuming needs loss=.*"teacherScale":0\.5/,
    );
  }, 120_000);

  it('CLI: --teacher-scale auto (default) | raw | k; 0 is refused', async () => {
    const base = [
      'train',
      '--model',
      modelDir,
      '--data',
      dataDir,
      '--loss',
      'margin-mse',
      '--batch-size',
      '8',
      '--query-length',
      '8',
      '--doc-length',
      '24',
      '--steps',
      '1',
      '--internals-every',
      '0',
    ];
    const run = async (
      out: string,
      extra: string[],
    ): Promise<{ teacherScale: { scale: number; triples?: number } }> => {
      await runCli([registerTrain], [...base, '--out', join(work, out), ...extra]);
      return JSON.parse(readFileSync(join(work, out, 'metrics.json'), 'utf8')) as {
        teacherScale: { scale: number; triples?: number };
      };
    };
    expect((await run('cli-auto', [])).teacherScale.triples).toBeGreaterThan(0);
    expect((await run('cli-raw', ['--teacher-scale', 'raw'])).teacherScale).toEqual({ scale: 1 });
    expect((await run('cli-k', ['--teacher-scale', '2.5'])).teacherScale).toEqual({ scale: 2.5 });
    await expect(run('cli-zero', ['--teacher-scale', '0'])).rejects.toThrow(
      /option '--teacher-scale <k>' argument '0' is invalid\. expected auto, raw or a positive number/,
    );
  }, 120_000);
});
