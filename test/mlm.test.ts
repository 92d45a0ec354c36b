// MLM pretraining: masking statistics, packing, data order, the masked-rows head, schedules,
// gradient clipping, and exact resume from a checkpoint.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Generator, fromArray, tidy } from '../src/index.js';
import { BERT_PRESETS, BertForMaskedLM, type BertConfig } from '../src/nn/bert.js';
import { BertTokenizer } from '../src/nn/tokenizer.js';
import { loadModelDir } from '../src/nn/model-dir.js';
import { setDropout } from '../src/nn/module.js';
import * as ops from '../src/autograd/ops.js';
import { countCorrect, maskTokens, mixSeed, PackedCorpus, SequenceOrder } from '../src/train/mlm.js';
import { makeSchedule } from '../src/train/schedule.js';
import { clipGradNorm } from '../src/train/optim.js';
import { pretrain, type LogEntry, type PretrainOptions } from '../src/train/pretrain.js';
import { latestCheckpoint, readTrainerState, type TrainerState } from '../src/train/checkpoint.js';
import { assertClose } from './util/close.js';

const VOCAB = new URL('../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname;
const tokenizer = BertTokenizer.fromVocabFile(VOCAB);
const work = mkdtempSync(join(tmpdir(), 'retrograd-mlm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const MASKING = { maskTokenId: 103, vocabSize: 30522, specialIds: [101, 102, 0] };

describe('maskTokens', () => {
  const seq = 128;
  const batch = 64;
  const ids = new Int32Array(batch * seq);
  const gen = new Generator(1);
  for (let b = 0; b < batch; b++) {
    ids[b * seq] = 101;
    ids[b * seq + seq - 1] = 102;
    for (let s = 1; s < seq - 1; s++) ids[b * seq + s] = 1000 + gen.int(20000);
  }
  const out = maskTokens(ids, batch, seq, MASKING, new Generator(42));

  it('selects ~15% of non-special tokens, never a special one, and labels the originals', () => {
    const eligible = batch * (seq - 2);
    const rate = out.labels.length / eligible;
    // Binomial(8064, 0.15): sd 0.004, so 0.15 ± 0.02 is five sd.
    expect(Math.abs(rate - 0.15)).toBeLessThan(0.02);
    for (let k = 0; k < out.positions.length; k++) {
      const p = out.positions[k];
      expect([101, 102]).not.toContain(ids[p]);
      expect(out.labels[k]).toBe(ids[p]);
      if (k > 0) expect(p).toBeGreaterThan(out.positions[k - 1]);
    }
  });

  it('replaces 80% with [MASK], 10% with random ids, keeps 10%, and leaves the rest untouched', () => {
    let masked = 0;
    let kept = 0;
    const selected = new Set(out.positions);
    for (const p of out.positions) {
      if (out.inputIds[p] === 103) masked++;
      else if (out.inputIds[p] === ids[p]) kept++;
    }
    const n = out.positions.length;
    expect(Math.abs(masked / n - 0.8)).toBeLessThan(0.04);
    expect(Math.abs(kept / n - 0.1)).toBeLessThan(0.03);
    for (let i = 0; i < ids.length; i++) if (!selected.has(i)) expect(out.inputIds[i]).toBe(ids[i]);
  });

  it('is a function of the generator state', () => {
    const again = maskTokens(ids, batch, seq, MASKING, new Generator(42));
    expect(again.inputIds).toEqual(out.inputIds);
    expect(again.positions).toEqual(out.positions);
    const other = maskTokens(ids, batch, seq, MASKING, new Generator(43));
    expect(other.positions).not.toEqual(out.positions);
  });

  it('always selects at least one token, and refuses a batch of special tokens', () => {
    const short = Int32Array.from([101, 2000, 102]);
    for (let seed = 0; seed < 20; seed++)
      expect(maskTokens(short, 1, 3, MASKING, new Generator(seed)).positions.length).toBeGreaterThan(0);
    expect(() => maskTokens(Int32Array.from([101, 102]), 1, 2, MASKING, new Generator(0))).toThrow(
      /only special tokens/,
    );
  });
});

describe('PackedCorpus and SequenceOrder', () => {
  const docs = [
    'the quick brown fox jumps over the lazy dog',
    'a second document about tensors and gradients',
    'short',
  ];
  const path = join(work, 'docs.jsonl.gz');
  writeFileSync(path, gzipSync(docs.map((text) => JSON.stringify({ text })).join('\n') + '\n'));

  it('packs documents separated by [SEP] into [CLS] chunk [SEP] sequences, and caches the stream', async () => {
    const cache = join(work, 'pack');
    const packed = await PackedCorpus.load(path, tokenizer, 8, cache);
    const stream = docs.flatMap((d) => [...tokenizer.textToIds(d), 102]);
    expect(packed.info.tokens).toBe(stream.length);
    expect(packed.info.documents).toBe(3);
    expect(packed.sequences).toBe(Math.floor(stream.length / 6));
    const all = packed.batch([...Array(packed.sequences).keys()]);
    for (let i = 0; i < packed.sequences; i++) {
      expect(all[i * 8]).toBe(101);
      expect(all[i * 8 + 7]).toBe(102);
      expect([...all.slice(i * 8 + 1, i * 8 + 7)]).toEqual(stream.slice(i * 6, i * 6 + 6));
    }
    expect(existsSync(join(cache, 'tokens.u16'))).toBe(true);
    const cached = await PackedCorpus.load(path, tokenizer, 8, cache);
    expect(cached.batch([0, 1])).toEqual(packed.batch([0, 1]));
  });

  it('fails with the file and line of a row without text', async () => {
    const bad = join(work, 'bad.jsonl');
    writeFileSync(bad, '{"text": "fine"}\n{"body": "no text"}\n');
    await expect(PackedCorpus.load(bad, tokenizer, 8, join(work, 'bad'))).rejects.toThrow(
      /bad\.jsonl line 2: missing string field "text"/,
    );
  });

  it('holds out a fixed validation set and visits every training sequence once per epoch', () => {
    const order = new SequenceOrder(100, 10, 5);
    expect(new Set([...order.val, ...order.train]).size).toBe(100);
    expect(order.val.length).toBe(10);
    let pos = { epoch: 0, cursor: 0 };
    const seen: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t = order.take(10, pos);
      seen.push(...t.indices);
      pos = t.next;
    }
    expect(pos).toEqual({ epoch: 1, cursor: 0 });
    expect([...seen].sort((a, b) => a - b)).toEqual(order.train);
    expect(new SequenceOrder(100, 10, 5).order(3)).toEqual(order.order(3));
    expect(order.order(1)).not.toEqual(order.order(0));
  });
});

describe('MLM head at masked rows', () => {
  it('logitsAt equals the matching rows of the full logits', () => {
    const config: BertConfig = {
      ...BERT_PRESETS.tiny,
      vocab_size: 50,
      hidden_size: 16,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 16,
    };
    const model = new BertForMaskedLM(config, {
      device: 'cpu-ref',
      dtype: 'float64',
      generator: new Generator(3),
    }).eval();
    const ids = fromArray([1, 5, 7, 9, 2, 1, 8, 8, 4, 2], [2, 5], { dtype: 'int32', device: 'cpu-ref' });
    const positions = [1, 3, 6, 8];
    tidy(() => {
      const full = model.forward({ inputIds: ids }).logits.toArray(); // [2, 5, 50], flat
      const pos = fromArray(positions, [4], { dtype: 'int32', device: 'cpu-ref' });
      const picked = model.logitsAt({ inputIds: ids }, pos).logits.toArray(); // [4, 50], flat
      expect(picked.length).toBe(4 * 50);
      positions.forEach((p, k) =>
        assertClose(
          picked.slice(k * 50, k * 50 + 50),
          full.slice(p * 50, p * 50 + 50),
          { atol: 1e-12, rtol: 1e-12 },
          `row ${p}`,
        ),
      );
    });
    model.dispose();
  });

  it('countCorrect takes the first maximum', () => {
    expect(countCorrect(Float32Array.from([0, 2, 2, 1, 0, 0]), Int32Array.from([1, 0]))).toBe(2);
  });
});

describe('schedules and clipping', () => {
  it('linear warm-up and decay, inverse-sqrt, exponential', () => {
    const lin = makeSchedule('linear', { peak: 1, warmup: 10, total: 110 });
    expect([lin(1), lin(10), lin(60), lin(110), lin(200)]).toEqual([0.1, 1, 0.5, 0, 0]);
    const inv = makeSchedule('inverse-sqrt', { peak: 2, warmup: 4 });
    expect([inv(2), inv(4), inv(16)]).toEqual([1, 2, 1]);
    const exp = makeSchedule('exponential', { peak: 1, gamma: 0.5 });
    expect([exp(1), exp(3)]).toEqual([1, 0.25]);
    expect(() => makeSchedule('linear', { peak: 1, warmup: 10, total: 5 })).toThrow(/must exceed warmup/);
  });

  it('clipGradNorm matches the global norm and scales to maxNorm', async () => {
    const a = fromArray([3, 0], [2], { device: 'cpu-ref', dtype: 'float64' });
    const b = fromArray([0, 4, 0], [3], { device: 'cpu-ref', dtype: 'float64' });
    a.grad = fromArray([3, 0], [2], { device: 'cpu-ref', dtype: 'float64' });
    b.grad = fromArray([0, 4, 0], [3], { device: 'cpu-ref', dtype: 'float64' });
    expect(await clipGradNorm([a, b], 10)).toBeCloseTo(5, 12);
    expect([...a.grad.toArray()]).toEqual([3, 0]);
    expect(await clipGradNorm([a, b], 1)).toBeCloseTo(5, 12);
    assertClose([...b.grad.toArray()], [0, 4 / (5 + 1e-6), 0], { atol: 1e-15, rtol: 1e-12 }, 'clipped');
    const norm = Math.sqrt(ops.sum(ops.square(b.grad)).item() + ops.sum(ops.square(a.grad)).item());
    expect(norm).toBeCloseTo(1, 5);
  });

  it('mixSeed separates its inputs', () => {
    const seeds = new Set<number>();
    for (let s = 0; s < 50; s++)
      seeds
        .add(mixSeed(0, 1, s))
        .add(mixSeed(0, 2, s))
        .add(mixSeed(1, 1, s));
    expect(seeds.size).toBe(150);
  });
});

describe('pretrain loop', () => {
  const corpus = join(work, 'corpus.jsonl.gz');
  const gen = new Generator(9);
  const words = [
    'tensor',
    'gradient',
    'matrix',
    'vector',
    'kernel',
    'layer',
    'token',
    'query',
    'document',
    'index',
    'search',
    'model',
  ];
  const lines = Array.from({ length: 60 }, () =>
    JSON.stringify({ text: Array.from({ length: 40 }, () => words[gen.int(words.length)]).join(' ') }),
  );
  writeFileSync(corpus, gzipSync(`${lines.join('\n')}\n`));
  const config: BertConfig = {
    ...BERT_PRESETS.tiny,
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 64,
    max_position_embeddings: 32,
  };
  const base = (out: string, steps: number): PretrainOptions => ({
    corpus,
    out,
    config,
    tokenizer,
    steps,
    batchSize: 4,
    seqLen: 24,
    lr: 3e-3,
    warmup: 2,
    schedule: 'inverse-sqrt',
    weightDecay: 0.01,
    clip: 1,
    seed: 4,
    valSequences: 8,
    evalEvery: 3,
    saveEvery: 3,
    logEvery: 1,
    device: 'cpu',
    progress: false,
  });
  const losses = (out: string): number[] =>
    readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LogEntry)
      .filter((e) => e.kind === 'train')
      .map((e) => e.loss);

  it('lowers the loss, writes checkpoints and a Hugging Face model directory', async () => {
    const out = join(work, 'run-a');
    const result = await pretrain({ ...base(out, 30), evalEvery: 30, saveEvery: 10 });
    const l = losses(out);
    expect(l).toHaveLength(30);
    expect(l.slice(-5).reduce((s, x) => s + x, 0) / 5).toBeLessThan(l.slice(0, 5).reduce((s, x) => s + x, 0) / 5 - 1);
    expect(result.finalEval?.accuracy).toBeGreaterThan(0);
    const loaded = loadModelDir(result.modelDir, { head: 'mlm' });
    expect(loaded.mlm).not.toBeNull();
    expect(loaded.config.hidden_size).toBe(32);
    loaded.mlm!.dispose();
  }, 120_000);

  it('resumes from a checkpoint with exactly the uninterrupted losses', async () => {
    const whole = join(work, 'run-whole');
    await pretrain(base(whole, 6));
    const split = join(work, 'run-split');
    await pretrain(base(split, 3));
    await pretrain(base(split, 6));
    expect(losses(split)).toEqual(losses(whole));
    expect(readFileSync(join(split, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-0000006');
  }, 120_000);

  it('stops at a non-finite update naming the step and the tensor, and keeps the last finite checkpoint as latest', async () => {
    const out = join(work, 'run-diverge');
    await pretrain({ ...base(out, 2), saveEvery: 1 });
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    try {
      await expect(pretrain({ ...base(out, 4), saveEvery: 1, lr: 1e39 })).rejects.toThrow(
        /^step 3: the update made a weight non-finite \(first: [\w.]+\[\d+\] = (-?Infinity|NaN)\); stopped, .*step-0000002 is the last finite checkpoint$/,
      );
    } finally {
      spy.mockRestore();
    }
    expect(errors).toEqual([
      expect.stringMatching(/resuming .*step-0000002 with lr=1e\+39; it was trained with lr=0.003$/),
    ]);
    expect(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-0000002');
    expect(existsSync(join(out, 'checkpoints', 'step-0000003'))).toBe(false);
    const saved = loadModelDir(join(out, 'checkpoints', 'step-0000002'), { head: 'mlm' }).mlm!;
    for (const [, p] of saved.namedParameters()) expect((await p.data()).every(Number.isFinite)).toBe(true);
    saved.dispose();
    // Diverging on the very first step of a fresh run: nothing saved, and the error says so.
    await expect(pretrain({ ...base(join(work, 'run-diverge-fresh'), 1), lr: 1e39 })).rejects.toThrow(
      /^step 1: .*; stopped, no checkpoint was saved$/,
    );
    expect(existsSync(join(work, 'run-diverge-fresh', 'model'))).toBe(false);
  }, 120_000);

  it('names a truncated token cache, a truncated trainer state, and an output path that is a file', async () => {
    const out = join(work, 'run-damaged');
    await pretrain(base(out, 2));
    const bin = join(out, 'tokens.u16');
    const bytes = readFileSync(bin);
    writeFileSync(bin, bytes.subarray(0, bytes.length - 100));
    await expect(pretrain(base(out, 3))).rejects.toThrow(
      /tokens\.u16: \d+ bytes, but .*tokens\.json records \d+ tokens/,
    );
    writeFileSync(bin, bytes);
    const statePath = join(out, 'checkpoints', 'step-0000002', 'trainer_state.json');
    writeFileSync(statePath, readFileSync(statePath, 'utf8').slice(0, 40));
    await expect(pretrain(base(out, 3))).rejects.toThrow(
      /step-0000002\/trainer_state\.json: not a valid trainer state/,
    );
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    await expect(pretrain(base(file, 1))).rejects.toThrow(/a-file: exists and is not a directory$/);
    await expect(pretrain(base(join(file, 'run'), 1))).rejects.toThrow(
      /a-file\/run: cannot create the directory, .*a-file is a file$/,
    );
  }, 120_000);

  it('the budget recipe: no dropout, another training mask rate, evaluation still at 15%, and a start entry', async () => {
    const entries = (out: string): LogEntry[] =>
      readFileSync(join(out, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as LogEntry);
    const plain = join(work, 'run-recipe-plain');
    const recipe = join(work, 'run-recipe');
    await pretrain({ ...base(plain, 3), evalEvery: 3 });
    await pretrain({ ...base(recipe, 3), evalEvery: 3, dropout: 0, maskRate: 0.4 });
    expect(entries(recipe)[0]).toEqual({ kind: 'start', step: 0, from: 'scratch', source: 'random', warmup: 2 });
    const evalOf = (out: string) => entries(out).find((e) => e.kind === 'eval') as Extract<LogEntry, { kind: 'eval' }>;
    // The held-out masks do not depend on the training rate: the same positions are scored.
    expect(evalOf(recipe).maskedTokens).toBe(evalOf(plain).maskedTokens);
    // Training batches do: 40% of the tokens are predicted, so the loss differs from the 15% run.
    expect(losses(recipe)[0]).not.toBe(losses(plain)[0]);
    // Resuming with another rate would change the data stream: refused.
    await expect(pretrain({ ...base(recipe, 4), dropout: 0, maskRate: 0.15 })).rejects.toThrow(
      /resuming needs maskRate=0.4, got 0.15/,
    );
    const resumed = entries(recipe);
    await pretrain({ ...base(recipe, 4), dropout: 0, maskRate: 0.4 });
    expect(entries(recipe).slice(resumed.length)[0]).toMatchObject({ kind: 'start', step: 3, from: 'checkpoint' });
    // A segment started from other weights evaluates them first, on its own held-out set.
    const segment = join(work, 'run-recipe-segment');
    await pretrain({ ...base(segment, 2), init: join(plain, 'model'), evalEvery: 2 });
    const kinds = entries(segment).map((e) => `${e.kind}@${e.step}`);
    expect(kinds).toEqual(['start@0', 'eval@0', 'train@1', 'train@2', 'eval@2']);
  }, 120_000);

  it('setDropout sets every dropout of a model, so training-mode forward equals eval-mode forward', () => {
    const model = new BertForMaskedLM(config, { device: 'cpu-ref', dtype: 'float64', generator: new Generator(1) });
    expect(setDropout(model, 0)).toBe(1 + 3 * config.num_hidden_layers); // embeddings + (attention probs, attention output, output) per layer
    const ids = fromArray([2, 5, 7, 9, 3, 4], [1, 6], { dtype: 'int32', device: 'cpu-ref' });
    const train = tidy(() => model.train().bert.forward({ inputIds: ids }).lastHiddenState.toArray());
    const evaluated = tidy(() => model.eval().bert.forward({ inputIds: ids }).lastHiddenState.toArray());
    expect([...train]).toEqual([...evaluated]);
    expect(() => setDropout(model, 1)).toThrow(/must be in \[0, 1\)/);
    model.dispose();
  });

  it("a new segment with dataFrom reads on where the other run stopped: its stream is the uninterrupted run's", async () => {
    const whole = join(work, 'run-whole'); // 6 steps (the resume test above)
    const first = join(work, 'run-split'); // the same stream, 6 steps
    const next = join(work, 'run-read-on');
    const state = (out: string): TrainerState => readTrainerState(latestCheckpoint(out)!);
    await pretrain({ ...base(next, 3), init: join(first, 'model'), dataFrom: first });
    const start = JSON.parse(readFileSync(join(next, 'log.jsonl'), 'utf8').split('\n')[0]) as LogEntry;
    expect(start).toMatchObject({
      kind: 'start',
      from: 'init',
      dataFrom: { run: first, epoch: state(first).epoch, cursor: state(first).cursor },
    });
    // 6 steps, then 3 more read on: the position 9 steps of one run reach
    const nine = join(work, 'run-nine');
    await pretrain(base(nine, 9));
    expect([state(next).epoch, state(next).cursor]).toEqual([state(nine).epoch, state(nine).cursor]);
    expect([state(next).epoch, state(next).cursor]).not.toEqual([state(whole).epoch, state(whole).cursor]);
    await expect(pretrain({ ...base(join(work, 'run-read-on-bad'), 3), seed: 5, dataFrom: first })).rejects.toThrow(
      /continuing its data stream needs seed=4, got 5/,
    );
  }, 120_000);

  it('refuses to resume with a different data stream', async () => {
    const out = join(work, 'run-whole');
    await expect(pretrain({ ...base(out, 8), seqLen: 16 })).rejects.toThrow(/resuming needs seqLen=24, got 16/);
  });

  it('`retrograd pretrain` stops on SIGTERM between steps with a checkpoint, and the rerun resumes', async () => {
    const out = join(work, 'run-signal');
    const configPath = join(work, 'tiny-config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const args = [
      'bin/retrograd.mjs',
      'pretrain',
      '--corpus',
      corpus,
      '--out',
      out,
      '--config',
      configPath,
      '--steps',
      '100000',
      '--batch-size',
      '4',
      '--seq-len',
      '24',
      '--warmup',
      '2',
      '--schedule',
      'inverse-sqrt',
      '--val-sequences',
      '8',
      '--eval-every',
      '1000',
      '--save-every',
      '1000',
      '--log-every',
      '1',
      '--threads',
      '1',
      '--seed',
      '4',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const logPath = join(out, 'log.jsonl');
    const deadline = Date.now() + 60_000;
    while (!(existsSync(logPath) && readFileSync(logPath, 'utf8').split('\n').length > 3)) {
      if (Date.now() > deadline) throw new Error('pretrain did not start logging within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(143); // interrupted is a failure for a chained pipeline, reported after the checkpoint is saved
    const stopped = losses(out).length;
    expect(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim()).toBe(
      `step-${String(stopped).padStart(7, '0')}`,
    );
    const resumed = await pretrain({ ...base(out, stopped + 2), evalEvery: 1000, saveEvery: 1000, warmup: 2 });
    expect(resumed.step).toBe(stopped + 2);
  }, 120_000);

  it('`retrograd pretrain` redraws the run charts after each evaluation (and not with --no-plots)', async () => {
    const configPath = join(work, 'tiny-config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const run = (out: string, ...extra: string[]) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            'bin/retrograd.mjs',
            'pretrain',
            ...['--corpus', corpus, '--out', out, '--config', configPath, '--steps', '4', '--batch-size', '4'],
            ...['--seq-len', '24', '--val-sequences', '8', '--eval-every', '2', '--log-every', '1', '--warmup', '2'],
            ...['--threads', '1'],
            ...extra,
          ],
          { stdio: 'ignore' },
        );
        child.on('exit', (code) => resolve(code));
      });
    const out = join(work, 'run-plots');
    expect(await run(out)).toBe(0);
    const charts = readdirSync(join(out, 'plots')).sort();
    expect(charts).toEqual(expect.arrayContaining(['loss.svg', 'loss.png', 'accuracy.svg', 'accuracy.png']));
    expect(readFileSync(join(out, 'plots', 'accuracy.svg'), 'utf8')).toMatch(/^<svg/);
    const none = join(work, 'run-no-plots');
    expect(await run(none, '--no-plots')).toBe(0);
    expect(existsSync(join(none, 'plots'))).toBe(false);
  }, 120_000);
});
