// matmul benchmark: GFLOP/s of the cpu-ref and cpu backends (per thread count), of
// @tensorflow/tfjs-backend-wasm when it is installed (the best JS peer), and optionally of a GPU
// device, on (512x768)·(768x768) and on the matmul shapes of a BERT-mini training step.
// A benchmark, not a test: it asserts nothing and prints JSON.
//
// Run: npx tsx src/bench/matmul.ts            (or `retrograd bench matmul --json`)
//
// Method: operands are filled with uniform [-1, 1) values and stored row-major or transposed as
// the model stores them; each measurement is the median of `repeats` runs after one warm-up run,
// reported with the fastest run (on a shared machine, the least disturbed one) and the load
// average. GFLOP/s = 2·batch·M·N·K / seconds. cpu-ref (plain JS, float64 accumulation) is measured on the
// first shape only unless `refAllShapes` is set: the BERT shapes take it minutes.

import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { type Backend, type View, contiguousStrides } from '../tensor/backend.js';
import { CpuBackend } from '../tensor/backends/cpu/index.js';
import { RefBackend } from '../tensor/backends/ref.js';

export interface BenchMatmulOptions {
  /** Thread counts to measure the cpu backend with (default [1, 2]). */
  threads?: number[];
  /** A registered GPU device to measure too (webgpu | gpujs), started with initDevice. */
  device?: string;
  /** Timed runs per measurement, after one warm-up (default 5). */
  repeats?: number;
  /** Also measure cpu-ref on the BERT shapes (slow). */
  refAllShapes?: boolean;
  /** Only the shapes whose name contains one of these strings (case-insensitive; default all). */
  shapes?: string[];
}

/** One matmul: C[batch, M, N] = op(A)·op(B), with A or B stored transposed where the model does. */
interface Shape {
  name: string;
  batch: number;
  M: number;
  K: number;
  N: number;
  /** A stored as [K, M] (the matmul reads Aᵀ), B stored as [N, K] (reads Bᵀ). */
  transA: boolean;
  transB: boolean;
  /** How many times a BERT-mini training step runs it (all 4 layers), 0 if not part of the step. */
  perStep: number;
}

// BERT-mini step: batch 32 x seq 128 = 4096 tokens, hidden 256, 4 heads of 64, FFN 1024, 4 layers.
// Linear is y = x·Wᵀ with W [out, in]; its backward is dX = dY·W and dWᵀ = Xᵀ·dY.
// Attention: scores = Q·Kᵀ, context = P·V; backward dP = dC·Vᵀ, dV = Pᵀ·dC, dQ = dS·K, dKᵀ = Qᵀ·dS.
const T = 4096;
const H = 256;
const F = 1024;
const S = 128;
const HEADS = 32 * 4;
const HD = 64;
const LAYERS = 4;
const VOCAB = 30522;
const MASKED = 599;

export const SHAPES: readonly Shape[] = [
  { name: 'square 512x768x768', batch: 1, M: 512, K: 768, N: 768, transA: false, transB: false, perStep: 0 },
  { name: 'q/k/v/out projection x·Wᵀ', batch: 1, M: T, K: H, N: H, transA: false, transB: true, perStep: 4 * LAYERS },
  { name: 'FFN up x·Wᵀ', batch: 1, M: T, K: H, N: F, transA: false, transB: true, perStep: LAYERS },
  { name: 'FFN down x·Wᵀ', batch: 1, M: T, K: F, N: H, transA: false, transB: true, perStep: LAYERS },
  { name: 'attention scores Q·Kᵀ', batch: HEADS, M: S, K: HD, N: S, transA: false, transB: true, perStep: LAYERS },
  { name: 'attention context P·V', batch: HEADS, M: S, K: S, N: HD, transA: false, transB: false, perStep: LAYERS },
  { name: 'projection dX = dY·W', batch: 1, M: T, K: H, N: H, transA: false, transB: false, perStep: 4 * LAYERS },
  { name: 'FFN up dX = dY·W', batch: 1, M: T, K: F, N: H, transA: false, transB: false, perStep: LAYERS },
  { name: 'FFN down dX = dY·W', batch: 1, M: T, K: H, N: F, transA: false, transB: false, perStep: LAYERS },
  { name: 'projection dWᵀ = Xᵀ·dY', batch: 1, M: H, K: T, N: H, transA: true, transB: false, perStep: 4 * LAYERS },
  { name: 'FFN up dWᵀ = Xᵀ·dY', batch: 1, M: H, K: T, N: F, transA: true, transB: false, perStep: LAYERS },
  { name: 'FFN down dWᵀ = Xᵀ·dY', batch: 1, M: F, K: T, N: H, transA: true, transB: false, perStep: LAYERS },
  { name: 'attention dP = dC·Vᵀ', batch: HEADS, M: S, K: HD, N: S, transA: false, transB: true, perStep: LAYERS },
  { name: 'attention dV = Pᵀ·dC', batch: HEADS, M: S, K: S, N: HD, transA: true, transB: false, perStep: LAYERS },
  { name: 'attention dQ = dS·K', batch: HEADS, M: S, K: S, N: HD, transA: false, transB: false, perStep: LAYERS },
  { name: 'attention dKᵀ = Qᵀ·dS', batch: HEADS, M: HD, K: S, N: S, transA: true, transB: false, perStep: LAYERS },
  // MLM pretraining step only (not in perStep): the decoder tied to the word embeddings E [V, H],
  // applied to the ~15% masked rows (599 of 4096 in `bench bert --mode mlm`).
  { name: 'MLM head logits x·Eᵀ', batch: 1, M: MASKED, K: H, N: VOCAB, transA: false, transB: true, perStep: 0 },
  { name: 'MLM head dX = dY·E', batch: 1, M: MASKED, K: VOCAB, N: H, transA: false, transB: false, perStep: 0 },
  { name: 'MLM head dEᵀ = Xᵀ·dY', batch: 1, M: H, K: MASKED, N: VOCAB, transA: true, transB: false, perStep: 0 },
];

function flopsOf(s: Shape): number {
  return 2 * s.batch * s.M * s.N * s.K;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Timing {
  /** median seconds */
  median: number;
  /** fastest run in seconds: on a shared machine, the run least disturbed by other processes */
  best: number;
}

/** Seconds of `repeats` calls of `run` after one warm-up call; `settle` ends a timed call. */
async function timeIt(run: () => void, repeats: number, settle?: () => Promise<void>): Promise<Timing> {
  run();
  if (settle) await settle();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    run();
    if (settle) await settle();
    times.push((performance.now() - t0) / 1e3);
  }
  return { median: median(times), best: Math.min(...times) };
}

function uniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** The views of one shape on a Backend: stored operands and a contiguous output. */
function setUp<B>(
  be: Backend<B>,
  s: Shape,
  a: Float32Array,
  b: Float32Array,
): { run: () => void; out: B; free: () => void } {
  const ab = be.alloc('float32', a.length);
  const bb = be.alloc('float32', b.length);
  const ob = be.alloc('float32', s.batch * s.M * s.N);
  be.write(ab, 'float32', a);
  be.write(bb, 'float32', b);
  // A: logical [batch, M, K]; stored [batch, K, M] when transposed
  const aView: View<B> = s.transA
    ? { buf: ab, dtype: 'float32', shape: [s.batch, s.M, s.K], strides: [s.M * s.K, 1, s.M], offset: 0 }
    : {
        buf: ab,
        dtype: 'float32',
        shape: [s.batch, s.M, s.K],
        strides: contiguousStrides([s.batch, s.M, s.K]),
        offset: 0,
      };
  // B: logical [batch, K, N]; stored [batch, N, K] when transposed
  const bView: View<B> = s.transB
    ? { buf: bb, dtype: 'float32', shape: [s.batch, s.K, s.N], strides: [s.K * s.N, 1, s.K], offset: 0 }
    : {
        buf: bb,
        dtype: 'float32',
        shape: [s.batch, s.K, s.N],
        strides: contiguousStrides([s.batch, s.K, s.N]),
        offset: 0,
      };
  const oView: View<B> = {
    buf: ob,
    dtype: 'float32',
    shape: [s.batch, s.M, s.N],
    strides: contiguousStrides([s.batch, s.M, s.N]),
    offset: 0,
  };
  return {
    run: () => be.matmul(aView, bView, oView),
    out: ob,
    free: () => {
      be.free(ab);
      be.free(bb);
      be.free(ob);
    },
  };
}

interface TfjsPeer {
  name: string;
  info: Record<string, unknown>;
  measure(s: Shape, a: Float32Array, b: Float32Array, repeats: number): Promise<{ seconds: Timing; out: Float32Array }>;
}

/** @tensorflow/tfjs-backend-wasm, if installed; null (with the reason) if not. */
async function loadTfjsWasm(): Promise<TfjsPeer | string> {
  let tf: typeof import('@tensorflow/tfjs-core');
  try {
    tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return `not installed: ${(err as Error).message.split('\n')[0]}`;
  }
  if (!(await tf.setBackend('wasm'))) return 'tf.setBackend("wasm") failed';
  await tf.ready();
  return {
    name: 'tfjs-wasm',
    info: {
      version: tf.version_core,
      simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    },
    async measure(s, a, b, repeats) {
      // tfjs-wasm runs its kernels synchronously inside tf.matMul; the output copy is not timed
      const at = s.transA ? tf.tensor3d(a, [s.batch, s.K, s.M]) : tf.tensor3d(a, [s.batch, s.M, s.K]);
      const bt = s.transB ? tf.tensor3d(b, [s.batch, s.N, s.K]) : tf.tensor3d(b, [s.batch, s.K, s.N]);
      const last: { c: ReturnType<typeof tf.matMul> | null } = { c: null };
      const seconds = await timeIt(() => {
        last.c?.dispose();
        last.c = tf.matMul(at, bt, s.transA, s.transB);
      }, repeats);
      const out = last.c!.dataSync() as Float32Array;
      last.c!.dispose();
      at.dispose();
      bt.dispose();
      return { seconds, out };
    },
  };
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export async function benchMatmul(opts: BenchMatmulOptions = {}): Promise<object> {
  const threads = opts.threads ?? [1, 2];
  const repeats = opts.repeats ?? 5;
  const cpu = new CpuBackend({ threads: Math.max(...threads) });
  await cpu.init();
  const ref = new RefBackend();
  const tfjs = await loadTfjsWasm();
  let device: Backend | string | null = null;
  if (opts.device) {
    try {
      const { initDevice } = await import('../tensor/device.js');
      device = await initDevice(opts.device);
    } catch (err) {
      device = `unavailable: ${(err as Error).message}`;
    }
  }

  const rows: object[] = [];
  const stepSeconds: Record<string, number> = {};
  let stepFlops = 0;
  const wanted = opts.shapes?.map((w) => w.toLowerCase());
  const shapes = SHAPES.filter((s) => !wanted || wanted.some((w) => s.name.toLowerCase().includes(w)));
  if (shapes.length === 0)
    throw new Error(`--shapes matches no shape (names: ${SHAPES.map((s) => `'${s.name}'`).join(', ')})`);
  for (const [i, s] of shapes.entries()) {
    const a = uniform(s.batch * s.M * s.K, 2 * i + 1);
    const b = uniform(s.batch * s.K * s.N, 2 * i + 2);
    const flops = flopsOf(s);
    const seconds: Record<string, Timing> = {};

    if (s === SHAPES[0] || opts.refAllShapes) {
      const r = setUp(ref, s, a, b);
      seconds['cpu-ref'] = await timeIt(r.run, Math.min(repeats, 3));
      r.free();
    }
    let cpuOut: Float32Array | null = null;
    for (const t of threads) {
      cpu.setThreads(t);
      const c = setUp(cpu, s, a, b);
      seconds[`cpu-${t}t`] = await timeIt(c.run, repeats);
      cpuOut ??= cpu.readSync(c.out, 'float32', 0, s.batch * s.M * s.N) as Float32Array;
      c.free();
    }
    let diffVsTfjs: number | null = null;
    if (typeof tfjs !== 'string') {
      const r = await tfjs.measure(s, a, b, repeats);
      seconds[tfjs.name] = r.seconds;
      if (cpuOut) diffVsTfjs = maxAbsDiff(cpuOut, r.out);
    }
    if (device !== null && typeof device !== 'string') {
      const be = device;
      const g = setUp(be, s, a, b);
      seconds[be.name] = await timeIt(g.run, repeats, async () => {
        await be.read(g.out, 'float32', 0, 1);
      });
      g.free();
    }

    const gflops: Record<string, number> = {};
    const gflopsBest: Record<string, number> = {};
    for (const [k, sec] of Object.entries(seconds)) {
      gflops[k] = round(flops / sec.median / 1e9);
      gflopsBest[k] = round(flops / sec.best / 1e9);
    }
    const ratios: Record<string, number> = {};
    if (typeof tfjs !== 'string') {
      for (const t of threads) ratios[`cpu-${t}t`] = round(seconds[tfjs.name].median / seconds[`cpu-${t}t`].median);
    }
    if (s.perStep > 0) {
      stepFlops += s.perStep * flops;
      for (const [k, sec] of Object.entries(seconds)) stepSeconds[k] = (stepSeconds[k] ?? 0) + s.perStep * sec.median;
    }
    rows.push({
      name: s.name,
      batch: s.batch,
      M: s.M,
      K: s.K,
      N: s.N,
      layout: `${s.transA ? 'Aᵀ' : 'A'}·${s.transB ? 'Bᵀ' : 'B'}`,
      perStep: s.perStep,
      gflops,
      gflopsBest,
      speedupVsTfjsWasm: ratios,
      maxAbsDiffVsTfjsWasm: diffVsTfjs,
    });
  }
  await cpu.dispose();

  const step: Record<string, unknown> = { matmulGflop: round(stepFlops / 1e9, 1) };
  for (const [k, sec] of Object.entries(stepSeconds)) {
    // cpu-ref is not measured on these shapes by default
    if (k === 'cpu-ref' && !opts.refAllShapes) continue;
    step[k] = { seconds: round(sec, 3), gflops: round(stepFlops / sec / 1e9) };
  }
  return {
    machine: {
      cpus: os.availableParallelism(),
      model: os.cpus()[0]?.model ?? 'unknown',
      node: process.versions.node,
      v8: process.versions.v8,
    },
    method:
      `median (gflops) and fastest (gflopsBest) of ${repeats} runs after 1 warm-up (cpu-ref: ${Math.min(repeats, 3)}); ` +
      'GFLOP/s = 2·batch·M·N·K / s; speedups and the step estimate use medians',
    loadAverage: os.loadavg().map((x) => round(x)),
    peers: {
      'tfjs-wasm': typeof tfjs === 'string' ? { unavailable: tfjs } : tfjs.info,
      ...(opts.device
        ? { [opts.device]: typeof device === 'string' ? { unavailable: device } : { name: device?.name } }
        : {}),
    },
    shapes: rows,
    bertMiniStepMatmuls: step,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchMatmul(), null, 2));
}
