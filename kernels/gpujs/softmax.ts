// gpujs softmax / log-softmax over the last axis, in three kernels: the row maxima, the row sums
// of exp(x - max) (blocked float32 sums, reduce.ts), and the output per element.

import { MAX_NAN } from './math.js';
import { type Out, blockedSum, loopConstants, runningMax } from './reduce.js';
import { J, type KernelSpec, type NativeFn, params, passThrough } from './spec.js';

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
