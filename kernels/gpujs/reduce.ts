// gpujs reduce kernels: sum/max over any set of axes, and the blocked loops that softmax.ts and
// layernorm.ts build their row kernels on.
//
// One thread per output element loops over its R reduced elements. Sums are blocked: 64 terms
// into a partial sum, partial sums into the total, which keeps float32 rounding error growing
// with R/64 + 64 rather than R (deterministic: the order is fixed). Max propagates NaN.
//
// Loop budget. Mesa's llvmpipe, the software GL this backend runs on, stops every loop of a
// shader invocation once 65,535 iterations have run in all (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS:
// one counter shared by every loop; a nested loop's exit test counts too). Past it a loop just
// ends, so results come out short, silently: a plain loop of 100,000 `acc += 1` returns 65,535,
// and the old form of these loops (64 iterations inside each block iteration, 66 counted per
// block) summed 64,000 ones to 63,551. So the 64 terms of a block are written out in the source
// (one loop iteration per block, not 65) and the R mod 64 tail has a loop of its own: a reduction
// of R costs floor(R / 64) + R mod 64 + 1 iterations. GLSL ES 1.00 needs constant loop bounds, so
// R and the block count are compile-time constants. MAX_THREAD_R caps what one thread sums;
// src/tensor/backends/gpujs/index.ts splits longer reductions into chunks (chunkReduceKernel, then
// reduceKernel over the chunk results) and refuses softmax/layernorm rows past MAX_ROW.

import { MAX_NAN } from './math.js';
import { J, type KernelSpec, type NativeFn, glsl, params, passThrough } from './spec.js';

const BLOCK = 64;

/** llvmpipe's budget of loop iterations per shader invocation, all loops together. */
export const LOOP_LIMIT = 65_535;

/** The longest reduction one reduce thread does (4,096 blocks); longer ones are chunked. */
export const MAX_THREAD_R = 1 << 18;

/**
 * The longest softmax/layernorm row the row kernels take: 65,000 full blocks (plus a tail of at
 * most 63), inside LOOP_LIMIT with room to spare.
 */
export const MAX_ROW = 65_000 * BLOCK;

export interface Out {
  size: number;
  outIdx: NativeFn;
  hasPrev: boolean;
}

/**
 * Where a thread's terms lie, as GLSL int expressions: k runs over start + [0, 64·full + tail).
 * Without one, k runs over [0, R) with R = this.constants.R (loopConstants).
 */
interface Range {
  start: string;
  full: string;
  tail: string;
}

/** Loop headers and term index of the full blocks and of the tail, for a range or for [0, R). */
function loops(range?: Range): { blocks: string; tail: string; at: (i: number) => string; tailAt: string } {
  if (range === undefined) {
    return {
      blocks: 'for (let blk = 0; blk < this.constants.NB; blk++) {',
      tail: 'for (let t = 0; t < this.constants.TAIL; t++) {',
      at: (i) => `blk * ${BLOCK} + ${i}`,
      tailAt: `this.constants.NB * ${BLOCK} + t`,
    };
  }
  // the bounds vary per thread: constant loop bounds, and a break at the thread's own count
  return {
    blocks: `for (let blk = 0; blk < this.constants.NB; blk++) {
    if (blk >= ${range.full}) { break; }`,
    tail: `for (let t = 0; t < ${BLOCK}; t++) {
    if (t >= ${range.tail}) { break; }`,
    at: (i) => `${range.start} + blk * ${BLOCK} + ${i}`,
    tailAt: `${range.start} + ${range.full} * ${BLOCK} + t`,
  };
}

/** The 64 statements of one block, written out: `stmt(index of term i)` for i = 0..63. */
function unrolled(stmt: (k: string) => string, at: (i: number) => string): string {
  return Array.from({ length: BLOCK }, (_, i) => `    ${stmt(at(i))}`).join('\n');
}

/** Blocked float32 sum of `term(k)` for k = 0..R-1 (or over `range`), into `acc` (kernel body lines). */
export function blockedSum(term: (k: string) => string, range?: Range): string {
  const l = loops(range);
  return `let acc = 0;
  ${l.blocks}
    let part = 0;
${unrolled((k) => `part += ${term(k)};`, l.at)}
    acc += part;
  }
  let rest = 0;
  ${l.tail}
    rest += ${term(l.tailAt)};
  }
  acc += rest;`;
}

/** Running NaN-propagating max of `term(k)` for k = 0..R-1 (R >= 1; or over `range`), into `acc`. */
export function runningMax(term: (k: string) => string, range?: Range): string {
  const l = loops(range);
  return `let acc = ${term(range === undefined ? '0' : range.start)};
  ${l.blocks}
${unrolled((k) => `acc = maxNan(acc, ${term(k)});`, l.at)}
  }
  ${l.tail}
    acc = maxNan(acc, ${term(l.tailAt)});
  }`;
}

/** The constants blockedSum and runningMax read for a reduction of r elements per thread. */
export function loopConstants(r: number): Record<string, number> {
  return { R: r, NB: Math.floor(r / BLOCK), TAIL: r % BLOCK };
}

/**
 * Reduce x over R elements per output: the element of output j, reduction step k lives at
 * xKept(j) + xRed(k) (xKept includes the view offset, xRed is relative). R <= MAX_THREAD_R.
 */
export function reduceKernel(op: 'sum' | 'max', out: Out, xKept: NativeFn, xRed: NativeFn, r: number): KernelSpec {
  if (r > MAX_THREAD_R) throw new Error(`gpujs: reduceKernel over ${r} > ${MAX_THREAD_R} elements: chunk it`);
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

/** How a reduction of r elements per output splits into chunks of at most MAX_THREAD_R. */
export function chunking(r: number): { chunks: number; chunk: number } {
  const chunks = Math.ceil(r / MAX_THREAD_R);
  // equal chunks, rounded up to whole blocks: only the last one is shorter
  const chunk = Math.ceil(r / chunks / BLOCK) * BLOCK;
  return { chunks: Math.ceil(r / chunk), chunk };
}

/**
 * The first pass of a long reduction: a fresh [outputs · chunks] texture whose element j·chunks + c
 * reduces chunk c (elements c·chunk .. min(R, (c+1)·chunk) - 1) of output j. reduceKernel over the
 * chunks finishes it.
 */
export function chunkReduceKernel(
  op: 'sum' | 'max',
  outputs: number,
  xKept: NativeFn,
  xRed: NativeFn,
  r: number,
): KernelSpec {
  const { chunks, chunk } = chunking(r);
  const int = (name: string, body: string[]): NativeFn => glsl('int', name, [['int', 'i']], body);
  // gpu.js turns `/` in kernel source into float division: the integer parts are GLSL natives
  const len = `(${r} - (i - (i / ${chunks}) * ${chunks}) * ${chunk})`;
  const natives = [
    int('outOf', [`return i / ${chunks};`]),
    int('chunkStart', [`return (i - (i / ${chunks}) * ${chunks}) * ${chunk};`]),
    int('chunkFull', [`int n = ${len};`, `return (n < ${chunk} ? n : ${chunk}) / ${BLOCK};`]),
    int('chunkTail', [
      `int n = ${len};`,
      `return (n < ${chunk} ? n : ${chunk}) - ((n < ${chunk} ? n : ${chunk}) / ${BLOCK}) * ${BLOCK};`,
    ]),
    xKept,
    xRed,
  ];
  const range: Range = {
    start: 'chunkStart(this.thread.x)',
    full: 'chunkFull(this.thread.x)',
    tail: 'chunkTail(this.thread.x)',
  };
  const term = (k: string): string => `x[xKept(outOf(this.thread.x)) + xRed(${k})]`;
  return {
    family: `reduce.${op}.chunks`,
    source: `function (x) {
  ${op === 'sum' ? blockedSum(term, range) : runningMax(term, range)}
  return acc;
}`,
    natives: op === 'max' ? [...natives, MAX_NAN] : natives,
    output: [outputs * chunks],
    constants: { NB: chunk / BLOCK },
  };
}
