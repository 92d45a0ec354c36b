// Helpers of the cpu backend's own checks (test/cpu-backend.test.ts and the cpu-only parts of
// test/kernels/*.test.ts): two CpuBackends, on 1 and 2 threads, forced onto their worker pools for
// every call size, so results can be checked bit for bit across thread counts; float64 RefBackend
// buffers for the expected values; and the tolerances of float32 kernels against them.
// `useCpuThreads()` starts the two backends for the calling test file (beforeAll / afterAll).

import { afterAll, beforeAll, expect } from 'vitest';
import { type DType, type View, contiguousStrides } from '../../src/tensor/backend.js';
import { CpuBackend, type CpuBuffer } from '../../src/tensor/backends/cpu/index.js';
import { RefBackend, type RefBuffer } from '../../src/tensor/backends/ref.js';
import { uniform } from './random.js';
import { TOL, type Tolerance } from './close.js';

/**
 * matmul: float32 accumulation over K products of magnitude <= 1. The error grows about like
 * u*K in bad cases (u = 2^-24; typical is far smaller), while a wrong or missing term is off by
 * ~0.1 or more, so atol = 1e-6*K separates the two for every K tested (1 to 4097).
 */
export const matmulTol = (K: number): Tolerance => ({ atol: 1e-6 * Math.max(K, 1), rtol: 0 });
/** softmax, layernorm: float32 sums of up to 4097 terms and a ~1 ulp exp. */
export const rowTol = TOL.f32;
/** gelu / gelu_grad: exp (~1 ulp) and an erfc fit (1.2e-7 relative) stay relative in the tails. */
export const geluTol: Tolerance = { atol: 1e-7, rtol: 1e-5 };

// ---- helpers ------------------------------------------------------------------------------

/** Seeded uniform [-1, 1) stream, so every run tests the same numbers. */
export function random(seed: number): () => number {
  return uniform(-1, 1, seed);
}

export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: n }, () => next() * scale);
}

export function view<B>(
  buf: B,
  dtype: DType,
  shape: number[],
  strides = contiguousStrides(shape),
  offset = 0,
): View<B> {
  return { buf, dtype, shape, strides, offset };
}

export const ref = new RefBackend();

/** A float64 RefBackend buffer holding `data`. */
export function refBuffer(data: ArrayLike<number>): RefBuffer {
  const buf = ref.alloc('float64', data.length);
  ref.write(buf, 'float64', data);
  return buf;
}

export function cpuBuffer(cpu: CpuBackend, data: ArrayLike<number>, dtype: DType = 'float32'): CpuBuffer {
  const buf = cpu.alloc(dtype, data.length);
  cpu.write(buf, dtype, data);
  return buf;
}

export function readCpu(
  cpu: CpuBackend,
  buf: CpuBuffer,
  n: number,
  dtype: DType = 'float32',
): Float32Array | Float64Array | Int32Array {
  return cpu.readSync(buf, dtype, 0, n);
}

export function readRef(buf: RefBuffer, n: number): Float64Array {
  return ref.readSync(buf, 'float64', 0, n) as Float64Array;
}

/** The float64 result rounded to float32, element by element. */
export function fround(x: ArrayLike<number>): Float32Array {
  return Float32Array.from(x);
}

export function expectBitIdentical(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  expect(a.length, label).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) throw new Error(`${label}: differs at [${i}]: ${a[i]} vs ${b[i]}`);
  }
}

// Backends: one per thread count, each forced to use its pool for every call size, with chunks
// of 64 elements (or one row, if longer) so that small shapes still split across threads.
export const FORCE_POOL = { minFlops: 0, minElements: 0, chunkElements: 64 };

/** Threads a chunked kernel wakes: no more than there are chunks of `chunkElements` (or rows). */
export function chunkedThreads(cpu: CpuBackend, rows: number, rowLength: number): number {
  const rowsPerChunk = Math.max(1, Math.floor(FORCE_POOL.chunkElements / rowLength));
  return Math.min(cpu.getThreads(), Math.ceil(rows / rowsPerChunk));
}
export let cpu1: CpuBackend;
export let cpu2: CpuBackend;

/** Start cpu1 and cpu2 for the calling test file, and stop them after it. */
export function useCpuThreads(): void {
  beforeAll(async () => {
    cpu1 = await new CpuBackend({ threads: 1, parallel: FORCE_POOL }).init();
    cpu2 = await new CpuBackend({ threads: 2, parallel: FORCE_POOL }).init();
  });
  afterAll(async () => {
    await cpu1.dispose();
    await cpu2.dispose();
  });
}

/** a [M, K] · b [K, N] on float64 copies: the reference for float32 matmul kernels. */
export function refMatmul(a: Float32Array, b: Float32Array, M: number, K: number, N: number): Float64Array {
  const out = ref.alloc('float64', M * N);
  ref.matmul(
    view(refBuffer(a), 'float64', [M, K]),
    view(refBuffer(b), 'float64', [K, N]),
    view(out, 'float64', [M, N]),
  );
  return readRef(out, M * N);
}

/**
 * An output buffer of a reused heap block poisoned with NaN: alloc does not clear blocks, so a
 * kernel that skips an element of its output shows up as a NaN (or a stale value) in the result.
 */
export function poisoned(cpu: CpuBackend, n: number, dtype: DType = 'float32'): CpuBuffer {
  const old = cpu.alloc(dtype, n);
  old.data.fill(dtype === 'int32' ? -7 : NaN);
  cpu.free(old);
  const buf = cpu.alloc(dtype, n);
  expect(buf.ptr, 'poisoned: the freed block comes back').toBe(old.ptr);
  return buf;
}

/** The same values in a float32 RefBackend buffer: the reference result for float32 tensors. */
export function refF32(data: ArrayLike<number>, dtype: DType = 'float32'): RefBuffer {
  const buf = ref.alloc(dtype, data.length);
  ref.write(buf, dtype, data);
  return buf;
}

/** Values that make comparisons, maximum and minimum interesting: ties, signed zeros, NaN, inf. */
export function edgyF32(n: number, seed: number): Float32Array {
  const pool = [-2, -1, -0, 0, 0.5, 1, 3, NaN, Infinity, -Infinity];
  const next = random(seed);
  return Float32Array.from({ length: n }, () => {
    const u = next();
    return u < 0 ? pool[Math.floor(-u * pool.length)] : Math.fround(u * 4 - 2);
  });
}

/** Storage size a strided view needs: 1 + the largest element offset. */
export function span(shape: readonly number[], strides: readonly number[], offset = 0): number {
  return shape.reduce((s, d, i) => s + (d - 1) * strides[i], offset) + 1;
}
