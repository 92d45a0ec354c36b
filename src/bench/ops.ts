// Benchmark of the cpu backend's non-matmul WebAssembly kernels (softmax, layernorm, gelu,
// gelu_grad, elementwise binary ops and comparisons, reductions, copies, rand, adamw) against
// cpu-ref, at the sizes of a BERT-mini training step (batch 32 x seq 128, hidden 256, 4 heads,
// FFN 1024, 11.2M parameters). A benchmark, not a test: it asserts nothing, prints JSON.
//
// Run: npx tsx src/bench/ops.ts
//
// Method: median of `repeats` calls after one warm-up call, in milliseconds per call; perStep is
// how often a training step (4 layers, forward and backward) runs the op at that size.

import { pathToFileURL } from 'node:url';
import { type Backend, type View, contiguousStrides, sizeOf } from '../tensor/backend.js';
import { CpuBackend } from '../tensor/backends/cpu/index.js';
import { RefBackend } from '../tensor/backends/ref.js';

export interface BenchOpsOptions {
  /** Thread counts to measure the cpu backend with (default [1, 2]). */
  threads?: number[];
  /** Timed calls per measurement, after one warm-up (default 5). */
  repeats?: number;
}

interface OpCase {
  name: string;
  shape: number[];
  perStep: number;
  /** Runs the op once on views of freshly allocated buffers of `be`. */
  make<B>(be: Backend<B>, shape: number[]): () => void;
}

const TOKENS = 32 * 128;
const ATTENTION = [32, 4, 128, 128];
/** Parameters of BERT-mini, as adamw sees them per step: 11 calls of 2^20 stand for 11.2M. */
const ADAMW_CHUNK = 1 << 20;

function stridedView<B>(v: View<B>, shape: number[], strides: number[]): View<B> {
  return { ...v, shape, strides };
}

function contiguous<B>(be: Backend<B>, shape: number[]): View<B> {
  const n = sizeOf(shape);
  const buf = be.alloc('float32', n);
  be.write(
    buf,
    'float32',
    Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3),
  );
  return { buf, dtype: 'float32', shape, strides: contiguousStrides(shape), offset: 0 };
}

const CASES: OpCase[] = [
  {
    name: 'softmax (attention probs)',
    shape: ATTENTION,
    perStep: 4,
    make: (be, shape) => {
      const x = contiguous(be, shape);
      const out = contiguous(be, shape);
      return () => be.softmax(x, out, false);
    },
  },
  {
    name: 'layernorm',
    shape: [TOKENS, 256],
    perStep: 9,
    make: (be, shape) => {
      const x = contiguous(be, shape);
      const w = contiguous(be, [256]);
      const b = contiguous(be, [256]);
      const out = contiguous(be, shape);
      const mean = contiguous(be, [TOKENS]);
      const rstd = contiguous(be, [TOKENS]);
      return () => be.layernorm(x, w, b, 1e-12, out, mean, rstd);
    },
  },
  {
    name: 'gelu (FFN)',
    shape: [TOKENS, 1024],
    perStep: 4,
    make: (be, shape) => {
      const x = contiguous(be, shape);
      const out = contiguous(be, shape);
      return () => be.unary('gelu', x, out);
    },
  },
  {
    name: 'gelu_grad (FFN backward)',
    shape: [TOKENS, 1024],
    perStep: 4,
    make: (be, shape) => {
      const x = contiguous(be, shape);
      const out = contiguous(be, shape);
      return () => be.unary('gelu_grad', x, out);
    },
  },
  {
    name: 'add (residual)',
    shape: [TOKENS, 256],
    perStep: 16,
    make: (be, shape) => {
      const a = contiguous(be, shape);
      const b = contiguous(be, shape);
      const out = contiguous(be, shape);
      return () => be.binary('add', a, b, out);
    },
  },
  {
    name: 'add (bias row broadcast)',
    shape: [TOKENS, 1024],
    perStep: 4,
    make: (be, shape) => {
      const a = contiguous(be, shape);
      const bias = contiguous(be, [1024]);
      const b = { ...bias, shape, strides: [0, 1] };
      const out = contiguous(be, shape);
      return () => be.binary('add', a, b, out);
    },
  },
  {
    name: "mul (gelu backward g·gelu')",
    shape: [TOKENS, 1024],
    perStep: 4,
    make: (be, shape) => {
      const a = contiguous(be, shape);
      const b = contiguous(be, shape);
      const out = contiguous(be, shape);
      return () => be.binary('mul', a, b, out);
    },
  },
  {
    name: 'mul by a scalar (attention scale)',
    shape: ATTENTION,
    perStep: 8,
    make: (be, shape) => {
      const a = contiguous(be, shape);
      const s = contiguous(be, [1]);
      const b = { ...s, shape, strides: [0, 0, 0, 0] };
      const out = contiguous(be, shape);
      return () => be.binary('mul', a, b, out);
    },
  },
  {
    name: 'ge (dropout mask, hidden)',
    shape: [TOKENS, 256],
    perStep: 9,
    make: (be, shape) => {
      const a = contiguous(be, shape);
      const p = stridedView(contiguous(be, [1]), shape, [0, 0]);
      const out = contiguous(be, shape);
      return () => be.binary('ge', a, p, out);
    },
  },
  {
    name: 'add (attention mask [B, 1, 1, S])',
    shape: ATTENTION,
    perStep: 4,
    make: (be, shape) => {
      const a = contiguous(be, shape);
      const mask = stridedView(contiguous(be, [32 * 128]), shape, [128, 0, 0, 1]);
      const out = contiguous(be, shape);
      return () => be.binary('add', a, mask, out);
    },
  },
  {
    name: 'sum over tokens (bias gradient, FFN)',
    shape: [TOKENS, 1024],
    perStep: 4,
    make: (be, shape) => {
      const x = contiguous(be, shape);
      const out = contiguous(be, [1, 1024]);
      return () => be.reduce('sum', x, [0], out);
    },
  },
  {
    name: 'sum over tokens (bias/LayerNorm gradients, hidden)',
    shape: [TOKENS, 256],
    perStep: 38,
    make: (be, shape) => {
      const x = contiguous(be, shape);
      const out = contiguous(be, [1, 256]);
      return () => be.reduce('sum', x, [0], out);
    },
  },
  {
    name: 'sum over the last axis (LayerNorm backward)',
    shape: [TOKENS, 256],
    perStep: 18,
    make: (be, shape) => {
      const x = contiguous(be, shape);
      const out = contiguous(be, [TOKENS, 1]);
      return () => be.reduce('sum', x, [1], out);
    },
  },
  {
    name: 'copy (attention heads [B, T, h, d] -> [B, h, T, d])',
    shape: [32, 4, 128, 64],
    perStep: 16,
    make: (be, shape) => {
      const src = stridedView(contiguous(be, shape), shape, [32768, 64, 256, 1]);
      const dst = contiguous(be, shape);
      return () => be.copy(src, dst);
    },
  },
  {
    name: 'rand (dropout noise, attention)',
    shape: ATTENTION,
    perStep: 4,
    make: (be, shape) => {
      const out = contiguous(be, shape);
      return () => be.rand(1234, out);
    },
  },
  {
    name: 'adamw (2^20 parameters)',
    shape: [ADAMW_CHUNK],
    perStep: 11,
    make: (be, shape) => {
      const [p, g, m] = [contiguous(be, shape), contiguous(be, shape), contiguous(be, shape)];
      const v = contiguous(be, shape);
      be.unary('abs', v, v);
      let step = 0;
      return () =>
        be.adamw(p, g, m, v, { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: ++step });
    },
  },
];

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function msPerCall(run: () => void, repeats: number): number {
  run();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  return Math.round(median(times) * 1000) / 1000;
}

export async function benchOps(opts: BenchOpsOptions = {}): Promise<object> {
  const threads = opts.threads ?? [1, 2];
  const repeats = opts.repeats ?? 5;
  const ref = new RefBackend();
  const cpu = await new CpuBackend({ threads: Math.max(...threads) }).init();
  const rows: object[] = [];
  const stepMs: Record<string, number> = {};
  for (const c of CASES) {
    const ms: Record<string, number> = { 'cpu-ref': msPerCall(c.make(ref, c.shape), repeats) };
    for (const t of threads) {
      cpu.setThreads(t);
      const run = c.make(cpu, c.shape);
      ms[`cpu-${t}t`] = msPerCall(run, repeats);
      if (!cpu.lastKernel.startsWith('wasm.'))
        throw new Error(`bench ops: ${c.name} ran ${cpu.lastKernel}, not a wasm kernel`);
    }
    for (const [k, v] of Object.entries(ms)) stepMs[k] = (stepMs[k] ?? 0) + c.perStep * v;
    const speedup: Record<string, number> = {};
    for (const t of threads) speedup[`cpu-${t}t`] = Math.round((ms['cpu-ref'] / ms[`cpu-${t}t`]) * 10) / 10;
    rows.push({ name: c.name, shape: c.shape, perStep: c.perStep, msPerCall: ms, speedupVsRef: speedup });
  }
  await cpu.dispose();
  for (const k of Object.keys(stepMs)) stepMs[k] = Math.round(stepMs[k]);
  return {
    method: `median of ${repeats} calls after 1 warm-up, ms per call`,
    ops: rows,
    perStepMs: stepMs,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchOps(), null, 2));
}
