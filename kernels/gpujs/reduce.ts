// gpujs reduce kernels: sum/max over any set of axes, and the blocked loops that softmax.ts and
// layernorm.ts build their row kernels on.
//
// One thread per output element loops over its R reduced elements. Sums are blocked: 64 terms
// into a partial sum, partial sums into the total, which keeps float32 rounding error growing
// with R/64 + 64 rather than R (deterministic: the order is fixed). GLSL ES 1.00 needs constant
// loop bounds, so R and the block count are compile-time constants. Max propagates NaN.

import { MAX_NAN } from './math.js';
import { J, type KernelSpec, type NativeFn, params, passThrough } from './spec.js';

const BLOCK = 64;

export interface Out {
  size: number;
  outIdx: NativeFn;
  hasPrev: boolean;
}

/** Blocked float32 sum of `term(k)` for k = 0..R-1, into `acc` (source lines of a kernel body). */
export function blockedSum(term: (k: string) => string): string {
  const k = `blk * ${BLOCK} + t`;
  return `let acc = 0;
  for (let blk = 0; blk < this.constants.NB; blk++) {
    let part = 0;
    for (let t = 0; t < ${BLOCK}; t++) {
      if (${k} >= this.constants.R) { break; }
      part += ${term(k)};
    }
    acc += part;
  }`;
}

/** Running NaN-propagating max of `term(k)` for k = 0..R-1 (R >= 1), into `acc`. */
export function runningMax(term: (k: string) => string): string {
  const k = `blk * ${BLOCK} + t`;
  return `let acc = ${term('0')};
  for (let blk = 0; blk < this.constants.NB; blk++) {
    for (let t = 0; t < ${BLOCK}; t++) {
      if (${k} >= this.constants.R) { break; }
      acc = maxNan(acc, ${term(k)});
    }
  }`;
}

export function loopConstants(r: number): Record<string, number> {
  return { R: r, NB: Math.ceil(r / BLOCK) };
}

/**
 * Reduce x over R elements per output: the element of output j, reduction step k lives at
 * xKept(j) + xRed(k) (xKept includes the view offset, xRed is relative).
 */
export function reduceKernel(op: 'sum' | 'max', out: Out, xKept: NativeFn, xRed: NativeFn, r: number): KernelSpec {
  const term = (k: string): string => `x[xKept(${J}) + xRed(${k})]`;
  return {
    family: `reduce.${op}`,
    source: `function (${params(['x'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  ${op === 'sum' ? blockedSum(term) : runningMax(term)}
  return acc;
}`,
    natives: op === 'max' ? [out.outIdx, xKept, xRed, MAX_NAN] : [out.outIdx, xKept, xRed],
    output: [out.size],
    constants: loopConstants(r),
  };
}
