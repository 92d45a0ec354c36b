// The primitive table: every differentiable primitive's forward (one device kernel call, or a view)
// and, in one typed table at the end of the file, its gradient rule.
//
// Reading guide:
//   1. views        reshape, permute, expand, narrow — no data movement; expand's gradient is a sum,
//                   so binary ops never un-broadcast by hand.
//   2. elementwise  unary and binary ops, where.
//   3. reductions, matmul, softmax, layernorm, gather/scatterAdd, copy/cast, concat, dropout.
//   4. RULES        `{[P in Primitive]: Rule<P>}`: a primitive without a gradient rule is a compile
//                   error (null marks a primitive whose gradient is zero: comparisons, sign, step).
// A forward calls `node(y, primitive, inputs, saved, ctx)`: `saved` is what the rule reads (the
// engine keeps those and nothing else of the forward alive for backward, and releases them once
// the rule has run), `ctx` the plain values it needs (shapes, axes, which inputs need gradients).
// Each gradient rule has its derivative as a one-line comment above it.
// Composite ops (mean, cross-entropy, cosine similarity, ...) are in composites.ts; ops.ts is the
// public namespace of both and installs them as Tensor methods.

import {
  type BinaryOp,
  type DType,
  type ReduceOp,
  type UnaryOp,
  contiguousStrides,
  sizeOf,
} from '../tensor/backend.js';
import { Tensor, type Scalar, type Shape, empty, full, scalar } from '../tensor/tensor.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { consume } from '../tensor/memory.js';
import { record, noGrad } from './engine.js';

// ---- helpers -----------------------------------------------------------------------------------

function like(x: Tensor, shape: Shape, dtype: DType = x.dtype): Tensor {
  return empty(shape, { dtype, device: x.device });
}

/** Normalise a possibly negative axis. */
export function normAxis(axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= Math.max(ndim, 1)) throw new Error(`axis ${axis} out of range for a ${ndim}-d tensor`);
  return a;
}

/** Sorted, unique, non-negative axes; undefined means all of them. */
export function normAxes(axes: number | readonly number[] | undefined, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(a, ndim)))];
  return out.sort((a, b) => a - b);
}

export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] cannot be broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function asTensor(v: Tensor | Scalar, ref: Tensor): Tensor {
  return v instanceof Tensor ? v : scalar(v, { dtype: ref.dtype, device: ref.device });
}

export function checkPair(a: Tensor, b: Tensor, op: string): void {
  if (a.device !== b.device)
    throw new Error(`${op}: tensors on different devices (${a.device} vs ${b.device}); move one with .to()`);
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtype mismatch (${a.dtype} vs ${b.dtype}); cast one with .cast()`);
}

type Maybe = Tensor | null;
/** Which of two operands need a gradient. */
type Needs = readonly [boolean, boolean];

/**
 * Record primitive P's node on y: during backward the engine calls RULES[P](g, saved, ctx).
 * Returns y. (Unary and binary primitives record through their own helpers below.)
 */
function node<P extends keyof Ctx>(
  y: Tensor,
  op: P,
  inputs: readonly Tensor[],
  saved: readonly Maybe[],
  ctx: Ctx[P],
): Tensor {
  const rule = RULES[op] as (g: Tensor, saved: readonly Maybe[], ctx: Ctx[P]) => readonly Maybe[];
  return record(y, op, inputs, saved, (g, s) => rule(g, s, ctx));
}

// ---- 1. views ---------------------------------------------------------------------------------

function viewOf(x: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  return new Tensor(x.storage, shape, strides, offset);
}

/** Copy into a fresh contiguous tensor (always copies). */
export function clone(x: Tensor): Tensor {
  return node(x.copy(), 'clone', [x], [], {});
}

/** x itself when already contiguous, otherwise a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous() ? x : clone(x);
}

export function reshape(x: Tensor, shape: Shape): Tensor {
  const target = [...shape];
  const inferred = target.indexOf(-1);
  if (inferred >= 0) {
    const known = target.reduce((p, d, i) => (i === inferred ? p : p * d), 1);
    target[inferred] = known === 0 ? 0 : x.size / known;
  }
  if (sizeOf(target) !== x.size || !target.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`reshape: cannot view [${x.shape.join(', ')}] as [${shape.join(', ')}]`);
  }
  const src = contiguous(x);
  const y = viewOf(src, target, contiguousStrides(target), src.offset);
  return node(y, 'reshape', [src], [], { shape: src.shape });
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const d = dims.map((a) => normAxis(a, x.ndim));
  if (d.length !== x.ndim || new Set(d).size !== d.length) {
    throw new Error(`permute: [${dims.join(', ')}] is not a permutation of ${x.ndim} axes`);
  }
  const y = viewOf(
    x,
    d.map((i) => x.shape[i]),
    d.map((i) => x.strides[i]),
    x.offset,
  );
  const inverse = new Array<number>(d.length);
  d.forEach((src, dst) => {
    inverse[src] = dst;
  });
  return node(y, 'permute', [x], [], { inverse });
}

export function transpose(x: Tensor, d0 = -2, d1 = -1): Tensor {
  const dims = Array.from({ length: x.ndim }, (_, i) => i);
  const a = normAxis(d0, x.ndim);
  const b = normAxis(d1, x.ndim);
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}

/** Broadcast to `shape` (numpy rules) as a stride-0 view. */
export function expand(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  if (shape.length < x.ndim) throw new Error(`expand: cannot expand [${x.shape}] to fewer dims [${shape}]`);
  const lead = shape.length - x.ndim;
  const src = lead > 0 ? reshape(x, [...new Array<number>(lead).fill(1), ...x.shape]) : x;
  const strides = src.shape.map((d, i) => {
    if (d === shape[i]) return src.strides[i];
    if (d === 1) return 0;
    throw new Error(`expand: cannot expand [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
  });
  const y = viewOf(src, [...shape], strides, src.offset);
  const axes = src.shape.map((d, i) => (d === 1 && shape[i] !== 1 ? i : -1)).filter((i) => i >= 0);
  return node(y, 'expand', [src], [], { axes });
}

/** Elements [start, start+length) along one axis, as a view. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis(axis, x.ndim);
  if (start < 0 || length < 0 || start + length > x.shape[a]) {
    throw new Error(`narrow: [${start}, ${start + length}) out of range for axis ${a} of size ${x.shape[a]}`);
  }
  const shape = [...x.shape];
  shape[a] = length;
  const y = viewOf(x, shape, x.strides, x.offset + start * x.strides[a]);
  return node(y, 'narrow', [x], [], { shape: x.shape, axis: a, start, length });
}

/** A tensor sharing data with x but cut from the graph. */
export function detach(x: Tensor): Tensor {
  return x.detach();
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const y = like(x, x.shape, dtype);
  x.backend.copy(x.view(), y.view());
  if (dtype === 'int32' || x.dtype === 'int32') return y;
  return node(y, 'cast', [x], [], { dtype: x.dtype });
}

// ---- 2. elementwise ----------------------------------------------------------------------------

function unaryPrim(op: UnaryOp, x: Tensor): Tensor {
  const y = like(x, x.shape);
  x.backend.unary(op, x.view(), y.view());
  const rule = RULES[op];
  if (rule === null) return y;
  const saved = rule.save === 'x' ? x : rule.save === 'y' ? y : null;
  return record(y, op, [x], [saved], (g, [s]) => [rule.grad(s ?? g, g)]);
}

export const neg = (x: Tensor): Tensor => unaryPrim('neg', x);
export const exp = (x: Tensor): Tensor => unaryPrim('exp', x);
export const log = (x: Tensor): Tensor => unaryPrim('log', x);
export const sqrt = (x: Tensor): Tensor => unaryPrim('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unaryPrim('rsqrt', x);
export const tanh = (x: Tensor): Tensor => unaryPrim('tanh', x);
export const erf = (x: Tensor): Tensor => unaryPrim('erf', x);
export const gelu = (x: Tensor): Tensor => unaryPrim('gelu', x);
export const geluGrad = (x: Tensor): Tensor => unaryPrim('gelu_grad', x);
export const relu = (x: Tensor): Tensor => unaryPrim('relu', x);
export const sigmoid = (x: Tensor): Tensor => unaryPrim('sigmoid', x);
export const abs = (x: Tensor): Tensor => unaryPrim('abs', x);
export const sign = (x: Tensor): Tensor => unaryPrim('sign', x);
export const softplus = (x: Tensor): Tensor => unaryPrim('softplus', x);
export const recip = (x: Tensor): Tensor => unaryPrim('recip', x);
export const square = (x: Tensor): Tensor => unaryPrim('square', x);
export const step = (x: Tensor): Tensor => unaryPrim('step', x);

function binaryPrim(op: BinaryOp, a0: Tensor | Scalar, b0: Tensor | Scalar): Tensor {
  if (!(a0 instanceof Tensor) && !(b0 instanceof Tensor)) throw new Error(`${op}: needs at least one tensor`);
  const ref = a0 instanceof Tensor ? a0 : (b0 as Tensor);
  const a1 = asTensor(a0, ref);
  const b1 = asTensor(b0, ref);
  checkPair(a1, b1, op);
  const shape = broadcastShapes(a1.shape, b1.shape);
  const a = expand(a1, shape);
  const b = expand(b1, shape);
  const y = like(a, shape);
  a.backend.binary(op, a.view(), b.view(), y.view());
  const rule = RULES[op];
  if (rule === null) return y;
  const needs: Needs = [a.requiresGrad, b.requiresGrad];
  const [sa, sb, sy] = rule.saves(needs);
  return record(y, op, [a, b], [sa ? a : null, sb ? b : null, sy ? y : null], (g, [ga, gb, gy]) =>
    rule.grad(ga, gb, gy, g, needs),
  );
}

export const add = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('add', a, b);
export const sub = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('sub', a, b);
export const mul = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('mul', a, b);
export const div = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('div', a, b);
export const pow = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('pow', a, b);
export const maximum = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('maximum', a, b);
export const minimum = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('minimum', a, b);
export const eq = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('eq', a, b);
export const ne = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('ne', a, b);
export const lt = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('lt', a, b);
export const le = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('le', a, b);
export const gt = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('gt', a, b);
export const ge = (a: Tensor | Scalar, b: Tensor | Scalar): Tensor => binaryPrim('ge', a, b);

/** cond ? a : b elementwise, with broadcasting; cond is any dtype (nonzero = true). */
export function where(cond: Tensor, a0: Tensor | Scalar, b0: Tensor | Scalar): Tensor {
  const ref = a0 instanceof Tensor ? a0 : b0 instanceof Tensor ? b0 : cond;
  const a1 = asTensor(a0, ref);
  const b1 = asTensor(b0, ref);
  checkPair(a1, b1, 'where');
  if (cond.device !== a1.device) throw new Error(`where: condition on ${cond.device}, values on ${a1.device}`);
  const shape = broadcastShapes(cond.shape, broadcastShapes(a1.shape, b1.shape));
  const c = expand(cond, shape);
  const a = expand(a1, shape);
  const b = expand(b1, shape);
  const y = like(a, shape);
  a.backend.where(c.view(), a.view(), b.view(), y.view());
  return node(y, 'where', [a, b], [c], { needs: [a.requiresGrad, b.requiresGrad] });
}

// ---- 3. reductions, matmul, softmax, layernorm, gather, concat, dropout --------------------------

/** Reduction primitive over sorted axes, keeping dims. */
function reducePrim(op: ReduceOp, x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length === 0) return x;
  const shape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const y = like(x, shape);
  x.backend.reduce(op, x.view(), axes, y.view());
  if (op === 'sum') return node(y, 'sum', [x], [], { shape: x.shape });
  return node(y, 'max', [x], [x, y], { axes });
}

function dropAxes(y: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
  if (keepdim) return y;
  return reshape(
    y,
    y.shape.filter((_, i) => !axes.includes(i)),
  );
}

export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.ndim);
  return dropAxes(reducePrim('sum', x, ax), ax, keepdim);
}

export function max(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.ndim);
  return dropAxes(reducePrim('max', x, ax), ax, keepdim);
}

/**
 * Batched matmul with numpy broadcasting of the batch dims: [..., M, K] · [..., K, N] -> [..., M, N].
 * Transposed operands (x.T) are strided views; the kernel reads them without a copy.
 */
export function matmul(a0: Tensor, b0: Tensor): Tensor {
  checkPair(a0, b0, 'matmul');
  if (a0.ndim < 2 || b0.ndim < 2)
    throw new Error(`matmul: operands must be at least 2-d, got [${a0.shape}] and [${b0.shape}]`);
  const [M, K] = a0.shape.slice(-2);
  const [K2, N] = b0.shape.slice(-2);
  if (K !== K2) throw new Error(`matmul: inner dims differ: [${a0.shape.join(', ')}] · [${b0.shape.join(', ')}]`);
  const batch = broadcastShapes(a0.shape.slice(0, -2), b0.shape.slice(0, -2));
  const a = expand(a0, [...batch, M, K]);
  const b = expand(b0, [...batch, K, N]);
  const y = like(a, [...batch, M, N]);
  a.backend.matmul(a.view(), b.view(), y.view());
  const needs: Needs = [a.requiresGrad, b.requiresGrad];
  return node(y, 'matmul', [a, b], [needs[1] ? a : null, needs[0] ? b : null], { needs });
}

function lastAxisOp(x: Tensor, axis: number, fn: (t: Tensor) => Tensor): Tensor {
  const a = normAxis(axis, x.ndim);
  if (a === x.ndim - 1) return fn(x);
  return transpose(fn(transpose(x, a, -1)), a, -1);
}

function softmaxPrim(x: Tensor, isLog: boolean): Tensor {
  const y = like(x, x.shape);
  x.backend.softmax(x.view(), y.view(), isLog);
  return isLog ? node(y, 'logsoftmax', [x], [x], {}) : node(y, 'softmax', [x], [y], {});
}

/** Softmax along an axis (the kernel works on the last axis; others are transposed there). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return lastAxisOp(x, axis, (t) => softmaxPrim(t, false));
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return lastAxisOp(x, axis, (t) => softmaxPrim(t, true));
}

/** LayerNorm over the last axis: (x - mean)/sqrt(var + eps)·w + b, w and b of shape [H]. */
export function layerNorm(x: Tensor, w: Tensor, b: Tensor, eps = 1e-5): Tensor {
  const H = x.shape[x.ndim - 1];
  if (w.ndim !== 1 || w.shape[0] !== H || b.ndim !== 1 || b.shape[0] !== H) {
    throw new Error(`layerNorm: weight [${w.shape}] and bias [${b.shape}] must be [${H}]`);
  }
  checkPair(x, w, 'layerNorm');
  checkPair(x, b, 'layerNorm');
  const statShape = [...x.shape.slice(0, -1), 1];
  const y = like(x, x.shape);
  const mu = like(x, statShape);
  const rstd = like(x, statShape);
  x.backend.layernorm(x.view(), w.view(), b.view(), eps, y.view(), mu.view(), rstd.view());
  const needs = [x.requiresGrad, w.requiresGrad, b.requiresGrad] as const;
  return node(y, 'layernorm', [x, w, b], [x, w, mu, rstd], { needs });
}

function checkIndex(idx: Tensor, op: string): void {
  if (idx.dtype !== 'int32') throw new Error(`${op}: indices must be int32, got ${idx.dtype}`);
  if (idx.ndim !== 1) throw new Error(`${op}: indices must be 1-d, got [${idx.shape}]`);
}

/**
 * Rows of table [V, H] picked by int32 idx [N] -> [N, H] (embedding lookup). An index outside
 * [0, V) gives a row of zeros, on every device (see Backend.gather).
 */
export function gather(table: Tensor, idx: Tensor): Tensor {
  checkIndex(idx, 'gather');
  if (table.ndim !== 2) throw new Error(`gather: table must be 2-d, got [${table.shape}]`);
  const y = like(table, [idx.shape[0], table.shape[1]]);
  table.backend.gather(table.view(), idx.view(), y.view());
  return node(y, 'gather', [table], [idx], { rows: table.shape[0] });
}

/** out [rows, H] with out[idx[n]] += src[n], in order n = 0..N-1; indices outside [0, rows) are dropped. */
export function scatterAdd(src: Tensor, idx: Tensor, rows: number): Tensor {
  checkIndex(idx, 'scatterAdd');
  if (src.ndim !== 2 || src.shape[0] !== idx.shape[0]) {
    throw new Error(`scatterAdd: src [${src.shape}] must be [N, H] with N = ${idx.shape[0]}`);
  }
  const y = like(src, [rows, src.shape[1]]);
  src.backend.scatterAdd(src.view(), idx.view(), y.view());
  return node(y, 'scatterAdd', [src], [idx], {});
}

/** Concatenate along an axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const first = xs[0];
  const a = normAxis(axis, first.ndim);
  for (const x of xs) {
    checkPair(first, x, 'concat');
    if (x.ndim !== first.ndim || x.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: shapes [${first.shape}] and [${x.shape}] differ outside axis ${a}`);
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((p, x) => p + x.shape[a], 0);
  const y = like(first, shape);
  const starts: number[] = [];
  let start = 0;
  noGrad(() => {
    for (const x of xs) {
      const target = narrow(y, a, start, x.shape[a]);
      x.backend.copy(x.view(), target.view());
      target.dispose();
      starts.push(start);
      start += x.shape[a];
    }
  });
  return node(y, 'concat', xs, [], { axis: a, starts, lengths: xs.map((x) => x.shape[a]) });
}

/** [noise >= p] / (1 - p) for dropout, noise from the device's counter-based hash at `seed`. */
function dropoutMask(ref: Tensor, seed: number, p: number): Tensor {
  return noGrad(() => {
    const noise = like(ref, ref.shape);
    ref.backend.rand(seed, noise.view());
    const keepMask = consume(noise, (n) => ge(n, p));
    return consume(keepMask, (k) => mul(k, 1 / (1 - p)));
  });
}

/**
 * Inverted dropout: zero each element with probability p and scale survivors by 1/(1-p).
 * The mask comes from the device's counter-based hash with one seed drawn from `generator`,
 * so the same seed gives the same mask on every backend. Backward recomputes the mask from the
 * seed instead of keeping it.
 */
export function dropout(x: Tensor, p: number, training: boolean, generator: Generator = defaultGenerator()): Tensor {
  if (!training || p === 0) return x;
  if (p < 0 || p >= 1) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  const seed = generator.nextU32();
  const y = consume(dropoutMask(x, seed, p), (m) => noGrad(() => mul(x, m)));
  return node(y, 'dropout', [x], [], { seed, p });
}

// ---- 4. the gradient rules ---------------------------------------------------------------------

/** What each rule needs from its forward besides the saved tensors. */
interface Ctx {
  reshape: { shape: Shape };
  permute: { inverse: readonly number[] };
  expand: { axes: readonly number[] };
  narrow: { shape: Shape; axis: number; start: number; length: number };
  clone: Record<string, never>;
  cast: { dtype: DType };
  where: { needs: Needs };
  sum: { shape: Shape };
  max: { axes: readonly number[] };
  matmul: { needs: Needs };
  softmax: Record<string, never>;
  logsoftmax: Record<string, never>;
  layernorm: { needs: readonly [boolean, boolean, boolean] };
  gather: { rows: number };
  scatterAdd: Record<string, never>;
  concat: { axis: number; starts: readonly number[]; lengths: readonly number[] };
  dropout: { seed: number; p: number };
}

/** Every primitive, by the name its graph node carries. */
export type Primitive = UnaryOp | BinaryOp | keyof Ctx;

/** A unary rule: which of x (input) and y (output) it reads, and the gradient given that one. */
interface UnaryRule {
  save: 'x' | 'y' | null;
  grad: (s: Tensor, g: Tensor) => Tensor;
}

/**
 * A binary rule (operands already broadcast): which of a, b and y it reads given which operands
 * need a gradient, and the gradient, which gets null for what was not saved.
 */
interface BinaryRule {
  saves: (n: Needs) => readonly [boolean, boolean, boolean];
  grad: (a: Maybe, b: Maybe, y: Maybe, g: Tensor, n: Needs) => [Maybe, Maybe];
}

type Rule<P extends Primitive> = P extends UnaryOp
  ? UnaryRule | null
  : P extends BinaryOp
    ? BinaryRule | null
    : P extends keyof Ctx
      ? (g: Tensor, saved: readonly Maybe[], ctx: Ctx[P]) => readonly Maybe[]
      : never;

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_2PI = 0.3989422804014327;
const NOTHING = (): readonly [boolean, boolean, boolean] => [false, false, false];
const BOTH_OPERANDS = (): readonly [boolean, boolean, boolean] => [true, true, false];

/** mean over the last axis, keeping it (layernorm's rule). */
function rowMean(x: Tensor): Tensor {
  return div(reducePrim('sum', x, [x.ndim - 1]), x.shape[x.ndim - 1]);
}

/** The gradient rule of every primitive; null: the gradient is zero (piecewise constant). */
const RULES: { [P in Primitive]: Rule<P> } = {
  // -- unary --
  // d(-x) = -1
  neg: { save: null, grad: (_s, g) => neg(g) },
  // d eˣ = eˣ
  exp: { save: 'y', grad: (y, g) => mul(g, y) },
  // d log x = 1/x
  log: { save: 'x', grad: (x, g) => div(g, x) },
  // d √x = 1/(2√x)
  sqrt: { save: 'y', grad: (y, g) => div(g, mul(y, 2)) },
  // d x^(-1/2) = -½·x^(-3/2) = -½·y³
  rsqrt: { save: 'y', grad: (y, g) => mul(g, mul(pow(y, 3), -0.5)) },
  // d tanh x = 1 - tanh²x
  tanh: { save: 'y', grad: (y, g) => mul(g, sub(1, square(y))) },
  // d erf x = 2/√π · e^(-x²)
  erf: { save: 'x', grad: (x, g) => mul(g, mul(exp(neg(square(x))), TWO_OVER_SQRT_PI)) },
  // d gelu x = Φ(x) + x·φ(x)   (the gelu_grad primitive, from the saved input)
  gelu: { save: 'x', grad: (x, g) => mul(g, geluGrad(x)) },
  // d (Φ(x) + x·φ(x)) = φ(x)·(2 - x²)
  gelu_grad: {
    save: 'x',
    grad: (x, g) => mul(g, mul(exp(mul(square(x), -0.5)), mul(sub(2, square(x)), INV_SQRT_2PI))),
  },
  // d relu x = [x > 0]
  relu: { save: 'x', grad: (x, g) => mul(g, step(x)) },
  // d σ(x) = σ(x)·(1 - σ(x))
  sigmoid: { save: 'y', grad: (y, g) => mul(g, mul(y, sub(1, y))) },
  // d |x| = sign x
  abs: { save: 'x', grad: (x, g) => mul(g, sign(x)) },
  sign: null,
  // d log(1 + eˣ) = σ(x)
  softplus: { save: 'x', grad: (x, g) => mul(g, sigmoid(x)) },
  // d 1/x = -1/x² = -y²
  recip: { save: 'y', grad: (y, g) => neg(mul(g, square(y))) },
  // d x² = 2x
  square: { save: 'x', grad: (x, g) => mul(g, mul(x, 2)) },
  step: null,

  // -- binary --
  // d(a + b) = (1, 1)
  add: { saves: NOTHING, grad: (_a, _b, _y, g) => [g, g] },
  // d(a - b) = (1, -1)
  sub: { saves: NOTHING, grad: (_a, _b, _y, g, n) => [g, n[1] ? neg(g) : null] },
  // d(a·b) = (b, a)
  mul: {
    saves: (n) => [n[1], n[0], false],
    grad: (a, b, _y, g, n) => [n[0] ? mul(g, b!) : null, n[1] ? mul(g, a!) : null],
  },
  // d(a/b) = (1/b, -a/b²) = (1/b, -y/b)
  div: {
    saves: (n) => [false, true, n[1]],
    grad: (_a, b, y, g, n) => [n[0] ? div(g, b!) : null, n[1] ? neg(div(mul(g, y!), b!)) : null],
  },
  // d(aᵇ) = (b·aᵇ⁻¹, aᵇ·log a)
  pow: {
    saves: (n) => [true, n[0], n[1]],
    grad: (a, b, y, g, n) => [
      n[0] ? mul(g, mul(b!, pow(a!, sub(b!, 1)))) : null,
      n[1] ? mul(g, mul(y!, log(a!))) : null,
    ],
  },
  // d max(a, b) = ([a ≥ b], [a < b])   (ties go to a)
  maximum: {
    saves: BOTH_OPERANDS,
    grad: (a, b, _y, g, n) => [n[0] ? mul(g, ge(a!, b!)) : null, n[1] ? mul(g, lt(a!, b!)) : null],
  },
  // d min(a, b) = ([a ≤ b], [a > b])   (ties go to a)
  minimum: {
    saves: BOTH_OPERANDS,
    grad: (a, b, _y, g, n) => [n[0] ? mul(g, le(a!, b!)) : null, n[1] ? mul(g, gt(a!, b!)) : null],
  },
  eq: null,
  ne: null,
  lt: null,
  le: null,
  gt: null,
  ge: null,

  // -- views and copies --
  // d reshape(x) = reshape(g) back to x's shape
  reshape: (g, _s, { shape }) => [reshape(g, shape)],
  // d permute(x, p) = permute(g, p⁻¹)
  permute: (g, _s, { inverse }) => [permute(g, inverse)],
  // d expand(x) = sum of g over the broadcast axes
  expand: (g, _s, { axes }) => [reducePrim('sum', g, axes)],
  // d narrow(x) = g written into zeros at the narrowed positions
  narrow: (g, _s, { shape, axis, start, length }) => {
    const gx = full(shape, 0, { dtype: g.dtype, device: g.device });
    const target = narrow(gx, axis, start, length);
    g.backend.copy(g.view(), target.view());
    target.dispose();
    return [gx];
  },
  // d clone(x) = identity
  clone: (g) => [g],
  // d cast(x) = g cast back
  cast: (g, _s, { dtype }) => [cast(g, dtype)],
  // d concat = the matching slices of g
  concat: (g, _s, { axis, starts, lengths }) => starts.map((s, i) => narrow(g, axis, s, lengths[i])),

  // -- the rest --
  // d where(c, a, b) = (g where c, g where not c)
  where: (g, [c], { needs }) => [needs[0] ? where(c!, g, 0) : null, needs[1] ? where(c!, 0, g) : null],
  // d Σx = 1, broadcast back over the reduced axes
  sum: (g, _s, { shape }) => [expand(g, shape)],
  // d max x = [x = max] / (number of ties), broadcast back
  max: (g, [x, y], { axes }) => {
    const hits = eq(x!, expand(y!, x!.shape));
    const count = reducePrim('sum', hits, axes);
    return [mul(hits, expand(div(g, count), x!.shape))];
  },
  // d(A·B) = (G·Bᵀ, Aᵀ·G)
  matmul: (g, [a, b], { needs }) => [
    needs[0] ? matmul(g, transpose(b!)) : null,
    needs[1] ? matmul(transpose(a!), g) : null,
  ],
  // d softmax: y·(g - Σ(g·y))
  softmax: (g, [y]) => [mul(y!, sub(g, sum(mul(g, y!), -1, true)))],
  // d log_softmax: g - softmax(x)·Σg (softmax recomputed by the device's softmax kernel, not exp(y))
  logsoftmax: (g, [x]) => [sub(g, mul(softmaxPrim(x!, false), sum(g, -1, true)))],
  // with x̂ = (x - μ)·r and ĝ = g·w:
  // dx = r·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)),  dw = Σ g·x̂,  db = Σ g   (sums over all rows)
  layernorm: (g, [x, w, mu, rstd], { needs }) => {
    const rows = Array.from({ length: x!.ndim - 1 }, (_, i) => i);
    const xhat = mul(sub(x!, mu!), rstd!);
    const gh = mul(g, w!);
    const dx = needs[0] ? mul(rstd!, sub(sub(gh, rowMean(gh)), mul(xhat, rowMean(mul(gh, xhat))))) : null;
    const dw = needs[1] ? sum(mul(g, xhat), rows) : null;
    const db = needs[2] ? sum(g, rows) : null;
    return [dx, dw, db];
  },
  // d table = scatter-add of g into the picked rows (deterministic order)
  gather: (g, [idx], { rows }) => [scatterAdd(g, idx!, rows)],
  // d scatterAdd = gather of g at the same rows
  scatterAdd: (g, [idx]) => [gather(g, idx!)],
  // d dropout(x) = the same scaled mask (recomputed from the seed)
  dropout: (g, _s, { seed, p }) => [consume(dropoutMask(g, seed, p), (m) => mul(g, m))],
};

/**
 * Every differentiable primitive (a non-null rule), by the name its graph node carries. The
 * gradcheck suite walks the graphs of its cases and fails if one of these was never exercised.
 */
export const DIFFERENTIABLE_PRIMITIVES: readonly Primitive[] = (Object.keys(RULES) as Primitive[]).filter(
  (p) => RULES[p] !== null,
);
