// Element-by-element evaluation for the cpu-ref oracles of test/kernels/*.test.ts: read a view's
// elements straight from its float64 buffer through offset + Σ index·stride, no kernel involved,
// over a variety of views (contiguous, permuted, narrowed, broadcast, transposed and narrowed).

import { Generator } from '../../src/tensor/random.js';
import { type Tensor, randn } from '../../src/tensor/tensor.js';
import '../../src/autograd/ops.js';

/** Every index of a shape, row-major. */
export function indices(shape: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const d of shape) out = out.flatMap((prefix) => Array.from({ length: d }, (_, i) => [...prefix, i]));
  return out;
}

/** Read element `idx` straight from the buffer: no kernel involved. */
export function rawGet(t: Tensor, idx: number[]): number {
  const data = (t.storage.buf as { data: Float64Array }).data;
  return data[t.offset + idx.reduce((s, i, k) => s + i * t.strides[k], 0)];
}

/** Float64 cpu-ref views with logical shape [2, 3, 4], made from a seeded generator. */
export function oracleViews(seed = 5): Array<[string, Tensor]> {
  const gen = new Generator(seed);
  const r = (shape: number[]): Tensor => randn(shape, { dtype: 'float64', device: 'cpu-ref', generator: gen });
  return [
    ['contiguous', r([2, 3, 4])],
    ['permuted', r([4, 2, 3]).permute([1, 2, 0])],
    ['narrowed', r([2, 5, 4]).narrow(1, 1, 3)],
    ['broadcast', r([3, 1]).expand([2, 3, 4])],
    ['transposed+narrowed', r([4, 3, 3]).transpose(0, 2).narrow(0, 1, 2)],
  ];
}
