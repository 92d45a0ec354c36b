// Paired buffers for checking a device backend against the cpu-ref backend: every buffer is
// allocated on both with the same data, a test runs the same call on both, and `expectSame`
// compares the whole buffers (so stray writes are caught too). Used by the webgpu and gpujs
// backend tests; it runs nothing by itself and knows nothing of either device.

import { expect } from 'vitest';
import { type Backend, type View, contiguousStrides, sizeOf } from '../../src/tensor/backend.js';
import type { RefBackend, RefBuffer } from '../../src/tensor/backends/ref.js';
import { type Tolerance, assertClose } from './close.js';

/** The dtypes both GPU backends store. */
export type PairDType = 'float32' | 'int32';

/** One buffer on the device under test (g) and its twin on the reference (r). */
export interface Pair<B> {
  g: B;
  r: RefBuffer;
  dtype: PairDType;
  size: number;
}

/** The same view over both buffers of a pair. */
export interface Views<B> {
  g: View<B>;
  r: View<RefBuffer>;
}

/** The backend under test: the device interface plus its count of launches per kernel name. */
export type CountingBackend<B> = Backend<B> & { readonly kernelCounts: ReadonlyMap<string, number> };

export interface PairedBuffers<B> {
  /** Buffers holding `data` on both backends (freed by `freeAll`). */
  pair(dtype: PairDType, data: ArrayLike<number>): Pair<B>;
  zeros(dtype: PairDType, size: number): Pair<B>;
  view(p: Pair<B>, shape: readonly number[], strides?: readonly number[], offset?: number): Views<B>;
  /** A contiguous view of shape `shape` over fresh data drawn from `rnd`. */
  randomView(shape: readonly number[], rnd: () => number, dtype?: PairDType): Views<B>;
  /** A fresh zero contiguous output of `shape`, and its pair for `expectSame`. */
  output(shape: readonly number[], dtype?: PairDType): [Views<B>, Pair<B>];
  /** Compare the whole buffers of `p` on both backends. */
  expectSame(p: Pair<B>, tol: Tolerance, label: string): Promise<void>;
  /** Free every pair made since the last call, on both backends. */
  freeAll(): void;
  /** Run fn and assert that the kernel `key` was launched by it. */
  ran(key: string, fn: () => void): void;
}

/**
 * Helpers over `device()` (called each time, so the backend may be created after this call) and
 * `ref`. `kernelWord` names what `key` counts in `ran`'s failure message ('pipeline', 'kernel').
 */
export function pairedBuffers<B>(
  device: () => CountingBackend<B>,
  ref: RefBackend,
  kernelWord: string,
): PairedBuffers<B> {
  const allocated: Pair<B>[] = [];

  const pair = (dtype: PairDType, data: ArrayLike<number>): Pair<B> => {
    const gpu = device();
    const p: Pair<B> = { g: gpu.alloc(dtype, data.length), r: ref.alloc(dtype, data.length), dtype, size: data.length };
    gpu.write(p.g, dtype, data);
    ref.write(p.r, dtype, data);
    allocated.push(p);
    return p;
  };

  const zeros = (dtype: PairDType, size: number): Pair<B> => pair(dtype, new Array<number>(size).fill(0));

  const view = (p: Pair<B>, shape: readonly number[], strides = contiguousStrides(shape), offset = 0): Views<B> => ({
    g: { buf: p.g, dtype: p.dtype, shape, strides, offset },
    r: { buf: p.r, dtype: p.dtype, shape, strides, offset },
  });

  return {
    pair,
    zeros,
    view,
    randomView: (shape, rnd, dtype = 'float32') => view(pair(dtype, Array.from({ length: sizeOf(shape) }, rnd)), shape),
    output: (shape, dtype = 'float32') => {
      const p = zeros(dtype, sizeOf(shape));
      return [view(p, shape), p];
    },
    expectSame: async (p, tol, label) => {
      const actual = await device().read(p.g, p.dtype, 0, p.size);
      const expected = ref.readSync(p.r, p.dtype, 0, p.size);
      assertClose(actual, expected, tol, label);
    },
    freeAll: () => {
      const gpu = device();
      for (const p of allocated.splice(0)) {
        gpu.free(p.g);
        ref.free(p.r);
      }
    },
    ran: (key, fn) => {
      const counts = device().kernelCounts;
      const before = counts.get(key) ?? 0;
      fn();
      expect(device().kernelCounts.get(key) ?? 0, `${kernelWord} ${key} ran`).toBeGreaterThan(before);
    },
  };
}
