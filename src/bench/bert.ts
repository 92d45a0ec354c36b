// `retrograd bench bert`: BERT training or inference throughput in tokens/s, with a per-primitive
// profile and an optional side-by-side run of the same step in PyTorch (scripts/torch/bench_bert.py).
//
// train: forward (dropout on), InfoNCE on first-token embeddings (first half of the batch against
// the second half, scale 20), backward, AdamW step (lr 1e-4, weight decay 0.01 on every parameter).
// infer: forward under noGrad in eval mode, first-token embeddings.
// mlm: an MLM pretraining step (src/train/mlm.ts): 80/10/10 masking of ~15% of the tokens, the head
// scored at the masked rows only, cross-entropy, backward, AdamW (BertForMaskedLM, no pooler).
// Inputs: random ids in [1000, vocab), full attention mask (still applied), token type 0; the model
// has no pooler. Memory over the timed steps: the peak of live tensor bytes (every storage:
// parameters, optimizer state, gradients, activations; the PyTorch script measures the same from
// its profiler's allocation events) and, on the cpu device, the peak of the heap's top (live bytes
// plus the free gaps between blocks: what must fit in the 4 GiB wasm32 memory). Warm-up steps are excluded; each timed step ends by reading a result back, so
// asynchronous devices are measured to completion.
//
// The profile wraps the device object's kernel methods for one extra step (never during timing),
// so src/tensor stays untouched. It times top-level kernel calls only (a kernel calling another is
// counted once) and reports what is left of the step as host-side framework time (autograd graph,
// views, tidy). On an asynchronous device (webgpu) it measures command recording, not execution.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../tensor/backend.js';
import { getDevice, initDevice } from '../tensor/device.js';
import { Generator } from '../tensor/random.js';
import { type Tensor, fromArray, ones, zeros } from '../tensor/tensor.js';
import { peakLiveBytes, resetPeakLiveBytes, tidy } from '../tensor/memory.js';
import { CpuBackend } from '../tensor/backends/cpu/index.js';
import { noGrad } from '../autograd/engine.js';
import { AdamW } from '../train/optim.js';
import { infoNCE } from '../train/losses.js';
import { BERT_PRESETS, BertForMaskedLM, BertModel, type BertPreset } from '../nn/bert.js';
import { maskTokens, mlmLoss } from '../train/mlm.js';
import { clsPool } from '../nn/pooling.js';

export type BenchBertMode = 'train' | 'infer' | 'mlm';

export interface BenchBertOptions {
  config: BertPreset;
  batch: number;
  seq: number;
  mode: BenchBertMode;
  device: string;
  steps: number;
  warmup: number;
  /** Profile one extra step by primitive. */
  profile: boolean;
  /** Also run scripts/torch/bench_bert.py with /usr/bin/python3 and this many threads (0: don't). */
  torchThreads: number;
  /** Recompute each encoder layer during backward (BertEncoder.checkpointActivations). */
  checkpointActivations?: boolean;
}

export interface OpTime {
  op: string;
  calls: number;
  ms: number;
  pct: number;
}

export interface BenchBertResult {
  framework: string;
  device: string;
  config: BertPreset;
  batch: number;
  seq: number;
  mode: BenchBertMode;
  steps: number;
  msPerStep: number;
  msPerStepMin: number;
  tokensPerSec: number;
  checkpointActivations: boolean;
  /** Peaks over the timed steps, MiB: live tensor bytes, and the cpu heap's top (cpu device only). */
  memory: { peakLiveMiB: number; peakHeapMiB?: number };
  profile?: { stepMs: number; kernelMs: number; frameworkMs: number; top: OpTime[]; matmulShapes: OpTime[] };
  pytorch?: Record<string, unknown>;
  /** retrograd tokens/s divided by PyTorch's. */
  ratioToPytorch?: number;
  /** retrograd's peak live bytes (and peak heap) divided by PyTorch's peak live bytes. */
  peakRatioToPytorch?: { live: number; heap?: number };
}

const KERNELS = [
  'alloc',
  'free',
  'write',
  'read',
  'readSync',
  'fill',
  'copy',
  'unary',
  'binary',
  'where',
  'reduce',
  'matmul',
  'softmax',
  'layernorm',
  'gather',
  'scatterAdd',
  'rand',
  'adamw',
] as const;

/** Timing wrappers on a backend object's own methods; `restore()` puts the originals back. */
class KernelProfiler {
  readonly byOp = new Map<string, { calls: number; ms: number }>();
  readonly byShape = new Map<string, { calls: number; ms: number }>();
  private depth = 0;
  private readonly saved: [string, unknown, boolean][] = [];

  constructor(private readonly backend: Backend) {
    const target = backend as unknown as Record<string, unknown>;
    for (const name of KERNELS) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      this.saved.push([name, original, Object.prototype.hasOwnProperty.call(target, name)]);
      const fn = original as (...args: unknown[]) => unknown;
      target[name] = (...args: unknown[]): unknown => this.time(name, args, () => fn.apply(backend, args));
    }
  }

  private key(name: string, args: unknown[]): string {
    if (name === 'unary' || name === 'binary' || name === 'reduce') return `${name}.${String(args[0])}`;
    if (name === 'softmax') return args[2] ? 'logsoftmax' : 'softmax';
    return name;
  }

  /** matmul [batch]·[M, K]·[K, N] with T marking a transposed (column-major) operand. */
  private shapeKey(args: unknown[]): string {
    const [a, b] = args as { shape: readonly number[]; strides: readonly number[] }[];
    const r = a.shape.length;
    const batch = a.shape.slice(0, r - 2).reduce((p, d) => p * d, 1);
    const [M, K] = a.shape.slice(r - 2);
    const N = b.shape[r - 1];
    const ta = a.strides[r - 1] !== 1 ? 'T' : '';
    const tb = b.strides[r - 1] !== 1 ? 'T' : '';
    return `${batch}x[${M}x${K}${ta}]·[${K}x${N}${tb}]`;
  }

  private time(name: string, args: unknown[], run: () => unknown): unknown {
    if (this.depth > 0) return run();
    this.depth++;
    const t0 = performance.now();
    try {
      return run();
    } finally {
      const ms = performance.now() - t0;
      this.depth--;
      const add = (map: Map<string, { calls: number; ms: number }>, key: string): void => {
        const e = map.get(key) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += ms;
        map.set(key, e);
      };
      add(this.byOp, this.key(name, args));
      if (name === 'matmul') add(this.byShape, this.shapeKey(args));
    }
  }

  restore(): void {
    const target = this.backend as unknown as Record<string, unknown>;
    for (const [name, original, own] of this.saved) {
      if (own) target[name] = original;
      else delete target[name];
    }
  }

  static table(map: Map<string, { calls: number; ms: number }>, stepMs: number, limit: number): OpTime[] {
    return [...map.entries()]
      .map(([op, e]) => ({ op, calls: e.calls, ms: round(e.ms), pct: round((100 * e.ms) / stepMs) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, limit);
  }
}

function mib(bytes: number): number {
  return round(bytes / 2 ** 20);
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Debian's python3-torch calls whichever libblas.so.3 the alternatives system selects. With only
 * the reference implementation (libblas3) installed, PyTorch's matmuls run ~40x slower than with
 * OpenBLAS (measured 2026-12-07: 60 s per BERT-mini MLM step against 1.75 s for retrograd), and a
 * ratio against it means nothing.
 */
export function checkTorchBlas(libraries: readonly string[] | undefined): void {
  const reference = (libraries ?? []).find((p) => /\/blas\/libblas\.so/.test(p));
  if (reference)
    throw new Error(
      `--compare-torch: PyTorch uses the reference BLAS (${reference}), ~40x slower than OpenBLAS; install libopenblas0-pthread (apt) and rerun`,
    );
}

function runTorch(opts: BenchBertOptions): Record<string, unknown> {
  const python = '/usr/bin/python3';
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'torch', 'bench_bert.py');
  if (!existsSync(python)) throw new Error('--compare-torch: /usr/bin/python3 not found (install python3-torch)');
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0)
    throw new Error('--compare-torch: /usr/bin/python3 cannot import torch (install python3-torch)');
  const args = [
    script,
    '--config',
    opts.config,
    '--batch',
    String(opts.batch),
    '--seq',
    String(opts.seq),
    '--mode',
    opts.mode,
    '--steps',
    String(opts.steps),
    '--warmup',
    String(opts.warmup),
    '--threads',
    String(opts.torchThreads),
  ];
  const r = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`--compare-torch: bench_bert.py failed: ${r.stderr.trim().split('\n').pop()}`);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  checkTorchBlas(result.blas as string[] | undefined);
  return result;
}

export async function benchBert(opts: BenchBertOptions): Promise<BenchBertResult> {
  if (!(opts.config in BERT_PRESETS))
    throw new Error(`--config must be one of ${Object.keys(BERT_PRESETS).join(', ')}`);
  if (opts.mode === 'train' && (opts.batch < 2 || opts.batch % 2 !== 0))
    throw new Error('--batch must be even (queries against documents) for train');
  const device = opts.device;
  await initDevice(device);
  const config = BERT_PRESETS[opts.config];
  if (opts.seq > config.max_position_embeddings)
    throw new Error(`--seq ${opts.seq} exceeds max_position_embeddings ${config.max_position_embeddings}`);
  const gen = new Generator(0);
  const init = { device, addPoolingLayer: false, generator: gen, dropoutGenerator: new Generator(1) };
  const mlm = opts.mode === 'mlm' ? new BertForMaskedLM(config, init) : null;
  const model = mlm ? mlm.bert : new BertModel(config, init);
  model.encoder.checkpointActivations = opts.checkpointActivations === true;
  const backend = getDevice(device);
  const heap = backend instanceof CpuBackend ? backend.heap : null;
  const optimizer = new AdamW((mlm ?? model).parameters(), { lr: 1e-4, weightDecay: 0.01 });
  const shape = [opts.batch, opts.seq];
  const idsHost = Int32Array.from(
    { length: opts.batch * opts.seq },
    () => 1000 + Math.floor(gen.uniform() * (config.vocab_size - 1000)),
  );
  const inputIds = fromArray(idsHost, shape, { dtype: 'int32', device });
  const attentionMask = ones(shape, { dtype: 'int32', device });
  const tokenTypeIds = zeros(shape, { dtype: 'int32', device });
  const half = opts.batch / 2;
  const masked = maskTokens(
    idsHost,
    opts.batch,
    opts.seq,
    { maskTokenId: 103, vocabSize: config.vocab_size, specialIds: [] },
    new Generator(2),
  );

  const step = async (): Promise<number> => {
    if (opts.mode === 'infer') {
      model.eval();
      const e = noGrad(() =>
        tidy(() => clsPool(model.forward({ inputIds, attentionMask, tokenTypeIds }).lastHiddenState)),
      );
      const data = await e.data();
      e.dispose();
      return data[0];
    }
    model.train();
    const objective = (): Tensor => {
      if (mlm) return mlmLoss(mlm, masked).loss;
      const e = clsPool(model.forward({ inputIds, attentionMask, tokenTypeIds }).lastHiddenState); // [B, H]
      return infoNCE(e.narrow(0, 0, half), e.narrow(0, half, half));
    };
    const loss = tidy(() => {
      const l = objective();
      optimizer.zeroGrad();
      l.backward();
      return l.detach();
    });
    optimizer.step();
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };

  for (let i = 0; i < opts.warmup; i++) await step();
  resetPeakLiveBytes();
  heap?.resetPeak();
  const times: number[] = [];
  for (let i = 0; i < opts.steps; i++) {
    const t0 = performance.now();
    const value = await step();
    times.push(performance.now() - t0);
    if (!Number.isFinite(value)) throw new Error(`step ${i} produced ${value}`);
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const result: BenchBertResult = {
    framework: 'retrograd',
    device,
    config: opts.config,
    batch: opts.batch,
    seq: opts.seq,
    mode: opts.mode,
    steps: opts.steps,
    msPerStep: round(mean),
    msPerStepMin: round(Math.min(...times)),
    tokensPerSec: round((opts.batch * opts.seq * 1000) / mean),
    checkpointActivations: model.encoder.checkpointActivations,
    memory: { peakLiveMiB: mib(peakLiveBytes()), ...(heap ? { peakHeapMiB: mib(heap.peakBytes()) } : {}) },
  };

  if (opts.profile) {
    const profiler = new KernelProfiler(getDevice(device));
    const t0 = performance.now();
    try {
      await step();
    } finally {
      profiler.restore();
    }
    const stepMs = performance.now() - t0;
    const kernelMs = [...profiler.byOp.values()].reduce((s, e) => s + e.ms, 0);
    result.profile = {
      stepMs: round(stepMs),
      kernelMs: round(kernelMs),
      frameworkMs: round(stepMs - kernelMs),
      top: KernelProfiler.table(profiler.byOp, stepMs, 15),
      matmulShapes: KernelProfiler.table(profiler.byShape, stepMs, 12),
    };
  }
  optimizer.dispose();
  (mlm ?? model).dispose();
  for (const t of [inputIds, attentionMask, tokenTypeIds]) t.dispose();

  if (opts.torchThreads > 0) {
    result.pytorch = runTorch(opts);
    result.ratioToPytorch = round(result.tokensPerSec / (result.pytorch.tokensPerSec as number), 3);
    const torchPeak = result.pytorch.peakLiveMiB as number;
    result.peakRatioToPytorch = {
      live: round(result.memory.peakLiveMiB / torchPeak, 3),
      ...(result.memory.peakHeapMiB !== undefined ? { heap: round(result.memory.peakHeapMiB / torchPeak, 3) } : {}),
    };
  }
  return result;
}
