// gpujs reduction kernels: sum/max over any set of axes, and the row kernels built on the same
// loop (softmax / log-softmax over the last axis, LayerNorm with its mean and rstd outputs).
//
// One thread per output element loops over its R reduced elements. Sums are blocked: 64 terms
// into a partial sum, partial sums into the total, which keeps float32 rounding error growing
// with R/64 + 64 rather than R (deterministic: the order is fixed). GLSL ES 1.00 needs constant
// loop bounds, so R and the block count are compile-time constants. Max propagates NaN.

import { MAX_NAN } from './math.js';
import { J, type KernelSpec, type NativeFn, params, passThrough } from './spec.js';

const BLOCK = 64;

interface Out {
  size: number;
  outIdx: NativeFn;
  hasPrev: boolean;
}

/** Blocked float32 sum of `term(k)` for k = 0..R-1, into `acc` (source lines of a kernel body). */
function blockedSum(term: (k: string) => string): string {
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
function runningMax(term: (k: string) => string): string {
  const k = `blk * ${BLOCK} + t`;
  return `let acc = ${term('0')};
  for (let blk = 0; blk < this.constants.NB; blk++) {
    for (let t = 0; t < ${BLOCK}; t++) {
      if (${k} >= this.constants.R) { break; }
      acc = maxNan(acc, ${term(k)});
    }
  }`;
}

function loopConstants(r: number): Record<string, number> {
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

/** Row maxima of x [rows, C] into a fresh [rows] texture; xAt(row, c) addresses x. */
export function rowMaxKernel(rows: number, cols: number, xAt: NativeFn): KernelSpec {
  return {
    family: 'softmax.max',
    source: `function (x) {
  ${runningMax((k) => `x[xAt(this.thread.x, ${k})]`)}
  return acc;
}`,
    natives: [xAt, MAX_NAN],
    output: [rows],
    constants: loopConstants(cols),
  };
}

/** Row sums of exp(x - rowMax) into a fresh [rows] texture. */
export function rowSumExpKernel(rows: number, cols: number, xAt: NativeFn): KernelSpec {
  return {
    family: 'softmax.sumexp',
    source: `function (x, m) {
  ${blockedSum((k) => `Math.exp(x[xAt(this.thread.x, ${k})] - m[this.thread.x])`)}
  return acc;
}`,
    natives: [xAt],
    output: [rows],
    constants: loopConstants(cols),
  };
}

/** softmax = exp(x - max) / sum, or log-softmax = x - max - log(sum), per element of out. */
export function softmaxOutKernel(out: Out, xAt: NativeFn, rowOf: NativeFn, colOf: NativeFn, log: boolean): KernelSpec {
  const x = `x[xAt(rowOf(${J}), colOf(${J}))]`;
  const m = `m[rowOf(${J})]`;
  const s = `s[rowOf(${J})]`;
  return {
    family: log ? 'logsoftmax' : 'softmax',
    source: `function (${params(['x', 'm', 's'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return ${log ? `${x} - ${m} - Math.log(${s})` : `Math.exp(${x} - ${m}) / ${s}`};
}`,
    natives: [out.outIdx, xAt, rowOf, colOf],
    output: [out.size],
  };
}

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
  out: Out, xAt: NativeFn, rowOf: NativeFn, colOf: NativeFn,
  meanAt: NativeFn, rstdAt: NativeFn, wAt: NativeFn, bAt: NativeFn,
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
