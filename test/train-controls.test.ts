// Training controls of `retrograd train` (src/train/retrieval.ts, src/cli/train.ts) on the synthetic
// retrieval set: plain SGD's update is exactly p − lr·grad; --dropout overrides the model's dropout;
// clipping is off and the learning rate decays by 0.99999 per step by default, with the gradient
// norm still logged; --epochs (one by default with --max-triples) stops the run and the log counts
// triples and epochs; the new arguments are part of the resume check; internals name batch-total
// gradient norms and write null for an undefined correlation; the median step time leaves out each
// process's warm-up steps.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Biencoder } from '../src/nn/biencoder.js';
import { SGD } from '../src/train/optim.js';
import { sdamLoss } from '../src/train/losses.js';
import { docText, loadBeir, readTriples, writeBeir } from '../src/data/beir.js';
import {
  WARMUP_STEPS,
  median,
  trainBiencoder,
  type LossSpec,
  type TrainBiencoderOptions,
} from '../src/train/retrieval.js';
import { registerTrain } from '../src/cli/train.js';
import { readRun, type BiencoderRun } from '../src/plot/runlog.js';
import { buildCharts } from '../src/plot/charts.js';
import { runCli } from './util/cli.js';
import { assertClose } from './util/close.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-train-controls-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';
beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
});

const SDAM: LossSpec = { kind: 'sdam', options: {} };

function options(out: string, extra: Partial<TrainBiencoderOptions> = {}): TrainBiencoderOptions {
  return {
    model: modelDir,
    data: dataDir,
    out: join(work, out),
    loss: SDAM,
    pooling: 'mean',
    batchSize: 8,
    queryLength: 8,
    docLength: 24,
    lr: 5e-3,
    gamma: 0.99999,
    weightDecay: 1e-6,
    clip: 0,
    steps: 2,
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

function entries(out: string, file: string): Record<string, unknown>[] {
  return readFileSync(join(work, out, file), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
const trainEntries = (out: string): Record<string, unknown>[] =>
  entries(out, 'log.jsonl').filter((e) => e.kind === 'train');

/** The SDAM loss of every training triple in one batch, with the encoder in eval mode (no dropout). */
async function evalModeLoss(bi: Biencoder): Promise<{ loss: number; backward: () => void }> {
  const data = await loadBeir(dataDir, 'train');
  const triples = await readTriples(join(dataDir, 'triples', 'train.jsonl.gz'));
  bi.model.eval();
  const q = bi.embed(
    triples.map((t) => data.queries.get(t.qid)!),
    8,
  );
  const d = bi.embed(
    [...triples.map((t) => docText(data.corpus.get(t.pos)!)), ...triples.map((t) => docText(data.corpus.get(t.neg)!))],
    24,
  );
  const B = triples.length;
  const { loss } = sdamLoss(q, d.narrow(0, 0, B), d.narrow(0, B, B));
  return { loss: (await loss.data())[0], backward: () => loss.backward() };
}

describe('optimizer and dropout', () => {
  it('SGD: each parameter becomes p − lr·grad exactly (float32 arithmetic)', async () => {
    const bi = Biencoder.load(modelDir, { pooling: { mode: 'mean', normalize: false } });
    const { backward } = await evalModeLoss(bi);
    backward();
    const lr = 3e-3;
    const params = bi.model.parameters();
    const before = await Promise.all(params.map(async (p) => Float32Array.from(await p.data())));
    const grads = await Promise.all(params.map(async (p) => Float32Array.from(await p.grad!.data())));
    expect(grads.some((g) => g.some((x) => x !== 0))).toBe(true);
    const sgd = new SGD(params, lr);
    sgd.step();
    let compared = 0;
    const mismatches: string[] = [];
    for (const [i, p] of params.entries()) {
      const after = await p.data();
      for (let k = 0; k < after.length; k++, compared++) {
        const expected = Math.fround(before[i][k] - Math.fround(Math.fround(lr) * grads[i][k]));
        if (after[k] !== expected && mismatches.length < 3)
          mismatches.push(`${p.name ?? i}[${k}]: ${after[k]} != ${expected}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBe(params.reduce((n, p) => n + p.size, 0));
    sgd.zeroGrad();
    bi.dispose();
  }, 60_000);

  it("trainBiencoder with SGD and dropout 0 takes the step −lr·grad of the eval-mode loss, unclipped; the config's dropout changes the loss", async () => {
    // One batch holds all 24 triples, so the step's gradient is the eval-mode gradient up to summation order.
    const lr = 0.05;
    const result = await trainBiencoder(options('sgd', { optimizer: 'sgd', dropout: 0, batchSize: 24, steps: 1, lr }));
    const start = Biencoder.load(modelDir, { pooling: { mode: 'mean', normalize: false } });
    const { loss, backward } = await evalModeLoss(start);
    const logged = trainEntries('sgd')[0];
    // float32 sums in another row order
    assertClose(logged.loss as number, loss, { atol: 1e-6, rtol: 1e-5 }, 'loss');
    backward();
    const trained = Biencoder.load(result.modelDir);
    const after = new Map(trained.model.namedParameters());
    const moved: number[] = [];
    const expected: number[] = [];
    let gradNormSq = 0;
    for (const [name, p] of start.model.namedParameters()) {
      const [before, g, now] = await Promise.all([p.data(), p.grad!.data(), after.get(name)!.data()]);
      for (let k = 0; k < g.length; k++) {
        moved.push(now[k] - before[k]);
        expected.push(-lr * g[k]);
        gradNormSq += g[k] * g[k];
      }
    }
    start.dispose();
    trained.dispose();
    // atol: the difference of two float32 weights near 1 (LayerNorm) carries about one ulp (1.2e-7) of
    // rounding; rtol: the gradient summed over the batch in another order.
    assertClose(moved, expected, { atol: 3e-7, rtol: 1e-4 }, 'update');
    assertClose(logged.gradNorm as number, Math.sqrt(gradNormSq), { atol: 1e-6, rtol: 1e-4 }, 'gradient norm');
    expect(logged.gradNorm as number).toBeGreaterThan(1); // so clipping at 1 (the old default) would have changed the step

    await trainBiencoder(options('config-dropout', { optimizer: 'sgd', batchSize: 24, steps: 1, lr }));
    expect(Math.abs((trainEntries('config-dropout')[0].loss as number) - loss)).toBeGreaterThan(1e-4);
  }, 60_000);
});

describe('defaults, epochs and the resume check', () => {
  it('retrograd train: no clipping and a decay of 0.99999 per step by default, the gradient norm logged every step; one-line flag errors', async () => {
    const out = join(work, 'cli-defaults');
    const args = [
      'train',
      '--model',
      modelDir,
      '--data',
      dataDir,
      '--out',
      out,
      '--steps',
      '2',
      '--batch-size',
      '8',
      '--query-length',
      '8',
      '--doc-length',
      '24',
      '--internals-every',
      '0',
    ];
    await runCli([registerTrain], args);
    const state = JSON.parse(readFileSync(join(out, 'checkpoints', 'step-0000002', 'trainer_state.json'), 'utf8')) as {
      args: Record<string, unknown>;
    };
    expect(state.args).toMatchObject({ clip: 0, gamma: 0.99999, optimizer: 'adamw', dropout: null, epochs: null });
    const train = trainEntries('cli-defaults');
    expect(train.map((e) => e.lr)).toEqual([5e-5, 5e-5 * 0.99999]);
    for (const e of train) expect(e.gradNorm).toBeGreaterThan(0);

    const fails = (extra: string[], message: RegExp): Promise<void> =>
      expect(
        runCli([registerTrain], [...args.slice(0, 6), join(work, 'never'), ...args.slice(7), ...extra]),
      ).rejects.toThrow(message);
    await fails(
      ['--optimizer', 'adam'],
      /^error: option '--optimizer <name>' argument 'adam' is invalid\. Allowed choices are adamw, sgd\.$/,
    );
    await fails(['--dropout'], /^--dropout: expected a probability in \[0, 1\) for --model-type biencoder$/);
    await fails(
      ['--dropout', '1'],
      /^error: option '--dropout \[p\]' argument '1' is invalid\. expected a number in \[0, 1\)$/,
    );
    await fails(
      ['--epochs', '0'],
      /^error: option '--epochs <n>' argument '0' is invalid\. expected a positive integer$/,
    );
    await fails(
      ['--model-type', 'contextual', '--loss', 'infonce', '--optimizer', 'sgd'],
      /^--optimizer applies to --model-type biencoder only$/,
    );
  }, 60_000);

  it('--epochs stops the run; --max-triples caps it at one epoch; the log counts triples and epochs', async () => {
    // 24 triples in batches of 8: three steps an epoch.
    const two = await trainBiencoder(options('epochs', { steps: 100, epochs: 2 }));
    expect(two).toMatchObject({ steps: 6, triplesSeen: 48, epochs: 2, trainTriples: 24 });
    const train = trainEntries('epochs');
    expect(train.map((e) => e.triples)).toEqual([8, 16, 24, 32, 40, 48]);
    expect(train.map((e) => e.epochs)).toEqual([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2]);

    const subset = await trainBiencoder(options('max-triples', { steps: 100, maxTriples: 16 }));
    expect(subset).toMatchObject({ steps: 2, triplesSeen: 16, epochs: 1, trainTriples: 16 });
    const again = await trainBiencoder(options('max-triples-2', { steps: 100, maxTriples: 16, epochs: 2 }));
    expect(again).toMatchObject({ steps: 4, triplesSeen: 32, epochs: 2 });
    await expect(trainBiencoder(options('bad-epochs', { epochs: 0.5 }))).rejects.toThrow(
      /^epochs must be an integer >= 1, got 0\.5$/,
    );
  }, 60_000);

  it('a resume with another optimizer, dropout or epoch cap is refused', async () => {
    await trainBiencoder(options('resume-args', { steps: 1 }));
    rmSync(join(work, 'resume-args', 'metrics.json'));
    const resume = (extra: Partial<TrainBiencoderOptions>): Promise<unknown> =>
      trainBiencoder(options('resume-args', { steps: 2, ...extra }));
    await expect(resume({ optimizer: 'sgd' })).rejects.toThrow(
      /step-0000001: resuming needs optimizer="adamw", got "sgd"$/,
    );
    await expect(resume({ dropout: 0 })).rejects.toThrow(/resuming needs dropout=null, got 0$/);
    await expect(resume({ epochs: 1 })).rejects.toThrow(/resuming needs epochs=null, got 1$/);
    await expect(resume({ clip: 1 })).rejects.toThrow(/resuming needs clip=0, got 1$/);
    expect((await resume({})) as { steps: number }).toMatchObject({ steps: 2 });
  }, 60_000);
});

describe('loss internals and step time', () => {
  const internals = async (
    out: string,
    loss: LossSpec,
    extra: Partial<TrainBiencoderOptions> = {},
  ): Promise<Record<string, unknown>> => {
    await trainBiencoder(options(out, { loss, steps: 1, internalsEvery: 1, ...extra }));
    return entries(out, 'internals.jsonl')[0];
  };

  it('per-example gradient norms are gradNorms; where triples share loss terms they are totalGradNorms; a distributed target is flagged and plotted by its column means', async () => {
    const perTriple = await internals('int-triple', SDAM);
    expect((perTriple.gradNorms as number[]).length).toBe(8);
    expect(perTriple).not.toHaveProperty('totalGradNorms');
    expect(perTriple).not.toHaveProperty('distributedTarget');
    for (const [out, loss] of [
      ['int-inbatch', { kind: 'sdam', options: { inBatch: true } }],
      ['int-infonce', { kind: 'infonce', scale: 20, ownNegatives: true }],
    ] as const) {
      const r = await internals(out, loss);
      expect(r, out).not.toHaveProperty('gradNorms');
      expect((r.totalGradNorms as number[]).length, out).toBe(8);
    }
    const distributed = await internals('int-distributed', { kind: 'sdam', options: { target: 'distributed' } });
    expect(distributed).not.toHaveProperty('gradNorms');
    expect(distributed.distributedTarget).toBe(true);
    const T = distributed.target as number[];
    expect(T.length).toBe(64);
    const run = readRun(join(work, 'int-distributed')) as BiencoderRun;
    const r = run.internals[0];
    expect(r.gradNormKind).toBe('total');
    expect(r.gradNorms).toEqual(distributed.totalGradNorms);
    expect(r.target!.layout).toBe('distributed mean');
    assertClose(
      r.target!.values,
      Array.from(
        { length: 8 },
        (_, j) => Array.from({ length: 8 }, (__, i) => T[i * 8 + j]).reduce((a, b) => a + b) / 8,
      ),
      { atol: 1e-15, rtol: 1e-14 },
      'column means',
    ); // float64, other summation order
    expect((readRun(join(work, 'int-triple')) as BiencoderRun).internals[0].gradNormKind).toBe('per-example');
    const chart = buildCharts(run).charts.find((c) => c.name === 'hardness-vs-gradient')!;
    expect(JSON.stringify(chart.spec)).toContain('total gradient norm');
  }, 60_000);

  it('an undefined correlation (a batch of identical triples) is written as null, not 0', async () => {
    const same = join(work, 'same-triples');
    await writeBeir(same, {
      corpus: new Map([
        ['a', { title: '', text: 'python tool library' }],
        ['b', { title: '', text: 'music player files' }],
      ]),
      queries: new Map([['q', 'python tool']]),
      qrels: { train: new Map([['q', new Map([['a', 1]])]]) },
      triples: { train: Array.from({ length: 8 }, () => ({ qid: 'q', pos: 'a', neg: 'b' })) },
    });
    const r = await internals('int-same', SDAM, { data: same, dropout: 0 });
    expect(new Set(r.pairSimilarity as number[]).size).toBe(1);
    expect(r).toHaveProperty('hardnessGradCorrelation', null);
  }, 60_000);

  it('medianStepMs is the median step time without the first WARMUP_STEPS steps of each process', async () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const first = await trainBiencoder(options('timing', { steps: WARMUP_STEPS + 2 }));
    const ms = (): number[] => trainEntries('timing').map((e) => e.ms as number);
    expect(ms()).toHaveLength(WARMUP_STEPS + 2);
    expect(first.medianStepMs).toBe(median(ms().slice(WARMUP_STEPS)));
    // Resumed: the second process's first WARMUP_STEPS steps are warm-up too.
    rmSync(join(work, 'timing', 'metrics.json'));
    const second = await trainBiencoder(options('timing', { steps: 2 * WARMUP_STEPS + 3 }));
    const all = ms();
    expect(all).toHaveLength(2 * WARMUP_STEPS + 3);
    expect(second.medianStepMs).toBe(
      median([...all.slice(WARMUP_STEPS, WARMUP_STEPS + 2), ...all.slice(2 * WARMUP_STEPS + 2)]),
    );
    expect((await trainBiencoder(options('timing-short', { steps: WARMUP_STEPS }))).medianStepMs).toBeNull();
  }, 60_000);
});
