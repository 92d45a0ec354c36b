// gpujs LayerNorm over the last axis, in three kernels: the row means, the row rstd
// 1/sqrt(var + eps) with the two-pass variance (blocked float32 sums, reduce.ts), and the output
// (x - mean)·rstd·w + b per element.

import { type Out, blockedSum, loopConstants } from './reduce.js';
import { J, type KernelSpec, type NativeFn, params, passThrough } from './spec.js';

/** LayerNorm mean of each row, written through the mean view (row = logical output index). */
export function layernormMeanKernel(out: Out, cols: number, xAt: NativeFn): KernelSpec {
  return {
    family: 'layernorm.mean',
    source: `function (${params(['x'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  ${blockedSum((k) => `x[xAt(${J}, ${k})]`)}
  return acc / this.constants.R;
}`,
    natives: [out.outIdx, xAt],
    output: [out.size],
    constants: loopConstants(cols),
  };
}

/** LayerNorm 1/sqrt(var + eps), var the mean squared deviation from the row mean. */
export function layernormRstdKernel(out: Out, cols: number, xAt: NativeFn, meanAt: NativeFn): KernelSpec {
  const dev = (k: string): string => `(x[xAt(${J}, ${k})] - mean[meanAt(${J})])`;
  return {
    family: 'layernorm.rstd',
    source: `function (${params(['x', 'mean', 'eps'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  ${blockedSum((k) => `${dev(k)} * ${dev(k)}`)}
  return 1 / Math.sqrt(acc / this.constants.R + eps);
}`,
    natives: [out.outIdx, xAt, meanAt],
    output: [out.size],
    constants: loopConstants(cols),
  };
}

/** LayerNorm output (x - mean) * rstd * w + b for each element of out. */
export function layernormOutKernel(
  out: Out,
  xAt: NativeFn,
  rowOf: NativeFn,
  colOf: NativeFn,
  meanAt: NativeFn,
  rstdAt: NativeFn,
  wAt: NativeFn,
  bAt: NativeFn,
): KernelSpec {
  const row = `rowOf(${J})`;
  const col = `colOf(${J})`;
  return {
    family: 'layernorm',
    source: `function (${params(['x', 'mean', 'rstd', 'w', 'b'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return (x[xAt(${row}, ${col})] - mean[meanAt(${row})]) * rstd[rstdAt(${row})] * w[wAt(${col})] + b[bAt(${col})];
}`,
    natives: [out.outIdx, xAt, rowOf, colOf, meanAt, rstdAt, wAt, bAt],
    output: [out.size],
  };
}
