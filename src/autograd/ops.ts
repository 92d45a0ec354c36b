// The primitive table: every differentiable primitive, its forward (a device kernel call) and its
// gradient rule side by side, followed by the composite ops built from primitives.
//
// Reading guide:
//   1. views        reshape, permute, expand, narrow — no data movement; expand's gradient is a sum,
//                   so binary ops never un-broadcast by hand.
//   2. elementwise  unary and binary ops; the rule tables are typed {[op in UnaryOp]: ...}, so a
//                   primitive without a gradient rule is a compile error.
//   3. reductions, matmul, softmax, layernorm, gather/scatterAdd, copy/cast, where, concat.
//   4. composites   mean, variance, logsumexp, cross-entropy, l2 normalisation, cosine matrices —
//                   written with the primitives above, so their gradients come for free; dropout
//                   has a rule of its own (the mask recomputed from its seed, not kept).
// Each rule declares what it saves (`record`'s `saved`): the engine keeps those and nothing else
// of the forward alive for backward, and releases them once the rule has run.
// Each gradient rule has its derivative as a one-line comment above it.

import {
  type BinaryOp, type DType, type ReduceOp, type UnaryOp, contiguousStrides, sizeOf,
} from '../tensor/backend.js';
import { Tensor, type Scalar, type Shape, empty, full, scalar, arange } from '../tensor/tensor.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { consume } from '../tensor/memory.js';
import { record, noGrad } from './engine.js';

export { noGrad, isGradEnabled, grad, backward } from './engine.js';

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

function normAxes(axes: number | readonly number[] | undefined, ndim: number): number[] {
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

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function asTensor(v: Tensor | Scalar, ref: Tensor): Tensor {
  return v instanceof Tensor ? v : scalar(v, { dtype: ref.dtype, device: ref.device });
}

function checkPair(a: Tensor, b: Tensor, op: string): void {
  if (a.device !== b.device) throw new Error(`${op}: tensors on different devices (${a.device} vs ${b.device}); move one with .to()`);
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtype mismatch (${a.dtype} vs ${b.dtype}); cast one with .cast()`);
}

// ---- 1. views ---------------------------------------------------------------------------------

function viewOf(x: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  return new Tensor(x.storage, shape, strides, offset);
}

/** Copy into a fresh contiguous tensor (always copies). */
export function clone(x: Tensor): Tensor {
  const y = like(x, x.shape);
  x.backend.copy(x.view(), y.view());
  // d clone(x) = identity
  return record(y, 'clone', [x], [], (g) => [g]);
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
  // d reshape(x) = reshape(g) back to x's shape
  return record(y, 'reshape', [src], [], (g) => [reshape(g, src.shape)]);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const d = dims.map((a) => normAxis(a, x.ndim));
  if (d.length !== x.ndim || new Set(d).size !== d.length) {
    throw new Error(`permute: [${dims.join(', ')}] is not a permutation of ${x.ndim} axes`);
  }
  const y = viewOf(x, d.map((i) => x.shape[i]), d.map((i) => x.strides[i]), x.offset);
  const inverse = new Array<number>(d.length);
  d.forEach((src, dst) => { inverse[src] = dst; });
  // d permute(x, p) = permute(g, p⁻¹)
  return record(y, 'permute', [x], [], (g) => [permute(g, inverse)]);
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
  const summed = src.shape.map((d, i) => (d === 1 && shape[i] !== 1 ? i : -1)).filter((i) => i >= 0);
  // d expand(x) = sum of g over the broadcast axes
  return record(y, 'expand', [src], [], (g) => [reducePrim('sum', g, summed)]);
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
  // d narrow(x) = g written into zeros at the narrowed positions
  return record(y, 'narrow', [x], [], (g) => {
    const gx = full(x.shape, 0, { dtype: g.dtype, device: g.device });
    const target = narrow(gx, a, start, length);
    g.backend.copy(g.view(), target.view());
    target.dispose();
    return [gx];
  });
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis(axis, x.ndim);
  if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${a} has size ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

/** A tensor sharing data with x but cut from the graph. */
export function detach(x: Tensor): Tensor {
  return viewOf(x, x.shape, x.strides, x.offset);
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const y = like(x, x.shape, dtype);
  x.backend.copy(x.view(), y.view());
  if (dtype === 'int32' || x.dtype === 'int32') return y;
  // d cast(x) = g cast back
  return record(y, 'cast', [x], [], (g) => [cast(g, x.dtype)]);
}

// ---- 2. elementwise ----------------------------------------------------------------------------

/** A unary gradient rule: which of x (input) and y (output) it reads, and the rule given that one. */
interface UnaryRule {
  save: 'x' | 'y' | null;
  grad: (s: Tensor, g: Tensor) => Tensor;
}

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_2PI = 0.3989422804014327;

/** Gradient rules of the unary primitives; null marks a piecewise-constant op (zero gradient). */
const UNARY_RULES: { [K in UnaryOp]: UnaryRule | null } = {
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
  gelu: { save: 'x', grad: (x, g) => mul(g, unaryPrim('gelu_grad', x)) },
  // d (Φ(x) + x·φ(x)) = φ(x)·(2 - x²)
  gelu_grad: { save: 'x', grad: (x, g) => mul(g, mul(exp(mul(square(x), -0.5)), mul(sub(2, square(x)), INV_SQRT_2PI))) },
  // d relu x = [x > 0]
  relu: { save: 'x', grad: (x, g) => mul(g, unaryPrim('step', x)) },
  // d σ(x) = σ(x)·(1 - σ(x))
  sigmoid: { save: 'y', grad: (y, g) => mul(g, mul(y, sub(1, y))) },
  // d |x| = sign x
  abs: { save: 'x', grad: (x, g) => mul(g, unaryPrim('sign', x)) },
  sign: null,
  // d log(1 + eˣ) = σ(x)
  softplus: { save: 'x', grad: (x, g) => mul(g, sigmoid(x)) },
  // d 1/x = -1/x² = -y²
  recip: { save: 'y', grad: (y, g) => neg(mul(g, square(y))) },
  // d x² = 2x
  square: { save: 'x', grad: (x, g) => mul(g, mul(x, 2)) },
  step: null,
};

function unaryPrim(op: UnaryOp, x: Tensor): Tensor {
  const y = like(x, x.shape);
  x.backend.unary(op, x.view(), y.view());
  const rule = UNARY_RULES[op];
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

type Needs = readonly [boolean, boolean];
type Maybe = Tensor | null;

/**
 * A binary gradient rule (operands already broadcast): which of a, b and y it reads given which
 * operands need a gradient, and the rule, which gets null for what was not saved.
 */
interface BinaryRule {
  saves: (n: Needs) => readonly [boolean, boolean, boolean];
  grad: (a: Maybe, b: Maybe, y: Maybe, g: Tensor, n: Needs) => [Maybe, Maybe];
}

const NOTHING = (): readonly [boolean, boolean, boolean] => [false, false, false];
const BOTH_OPERANDS = (): readonly [boolean, boolean, boolean] => [true, true, false];

/** Gradient rules of the binary primitives; null: comparison (zero gradient). */
const BINARY_RULES: { [K in BinaryOp]: BinaryRule | null } = {
  // d(a + b) = (1, 1)
  add: { saves: NOTHING, grad: (_a, _b, _y, g) => [g, g] },
  // d(a - b) = (1, -1)
  sub: { saves: NOTHING, grad: (_a, _b, _y, g, n) => [g, n[1] ? neg(g) : null] },
  // d(a·b) = (b, a)
  mul: { saves: (n) => [n[1], n[0], false], grad: (a, b, _y, g, n) => [n[0] ? mul(g, b!) : null, n[1] ? mul(g, a!) : null] },
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
  maximum: { saves: BOTH_OPERANDS, grad: (a, b, _y, g, n) => [n[0] ? mul(g, ge(a!, b!)) : null, n[1] ? mul(g, lt(a!, b!)) : null] },
  // d min(a, b) = ([a ≤ b], [a > b])   (ties go to a)
  minimum: { saves: BOTH_OPERANDS, grad: (a, b, _y, g, n) => [n[0] ? mul(g, le(a!, b!)) : null, n[1] ? mul(g, gt(a!, b!)) : null] },
  eq: null,
  ne: null,
  lt: null,
  le: null,
  gt: null,
  ge: null,
};

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
  const rule = BINARY_RULES[op];
  if (rule === null) return y;
  const n: Needs = [a.requiresGrad, b.requiresGrad];
  const [sa, sb, sy] = rule.saves(n);
  return record(y, op, [a, b], [sa ? a : null, sb ? b : null, sy ? y : null], (g, [ga, gb, gy]) => rule.grad(ga, gb, gy, g, n));
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
  // d where(c, a, b) = (g where c, g where not c)
  return record(y, 'where', [a, b], [c], (g, [sc]) => [
    a.requiresGrad ? where(sc!, g, 0) : null,
    b.requiresGrad ? where(sc!, 0, g) : null,
  ]);
}

export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}

// ---- 3. reductions, matmul, softmax, layernorm, gather ------------------------------------------

/** Reduction primitive over sorted axes, keeping dims. */
function reducePrim(op: ReduceOp, x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length === 0) return x;
  const shape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const y = like(x, shape);
  x.backend.reduce(op, x.view(), axes, y.view());
  if (op === 'sum') {
    // d Σx = 1, broadcast back over the reduced axes
    return record(y, 'sum', [x], [], (g) => [expand(g, x.shape)]);
  }
  // d max x = [x = max] / (number of ties), broadcast back
  return record(y, 'max', [x], [x, y], (g, [sx, sy]) => {
    const hits = eq(sx!, expand(sy!, x.shape));
    const count = reducePrim('sum', hits, axes);
    return [mul(hits, expand(div(g, count), x.shape))];
  });
}

function dropAxes(y: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
  if (keepdim) return y;
  return reshape(y, y.shape.filter((_, i) => !axes.includes(i)));
}

export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.ndim);
  return dropAxes(reducePrim('sum', x, ax), ax, keepdim);
}

export function max(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.ndim);
  return dropAxes(reducePrim('max', x, ax), ax, keepdim);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.ndim);
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  return div(sum(x, ax, keepdim), n);
}

/** Variance with `correction` (0: population, 1: Bessel). */
export function variance(x: Tensor, axes?: number | readonly number[], keepdim = false, correction = 0): Tensor {
  const ax = normAxes(axes, x.ndim);
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  const centered = sub(x, mean(x, ax, true));
  return div(sum(square(centered), ax, keepdim), n - correction);
}

/** log Σ exp(x), stable: the max is subtracted first (and treated as a constant). */
export function logsumexp(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.ndim);
  const m = noGrad(() => {
    const raw = reducePrim('max', x, ax);
    return where(lt(abs(raw), Infinity), raw, 0); // rows of -inf stay finite
  });
  const lse = add(log(reducePrim('sum', exp(sub(x, m)), ax)), m);
  return dropAxes(lse, ax, keepdim);
}

/**
 * Batched matmul with numpy broadcasting of the batch dims: [..., M, K] · [..., K, N] -> [..., M, N].
 * Transposed operands (x.T) are strided views; the kernel reads them without a copy.
 */
export function matmul(a0: Tensor, b0: Tensor): Tensor {
  checkPair(a0, b0, 'matmul');
  if (a0.ndim < 2 || b0.ndim < 2) throw new Error(`matmul: operands must be at least 2-d, got [${a0.shape}] and [${b0.shape}]`);
  const [M, K] = a0.shape.slice(-2);
  const [K2, N] = b0.shape.slice(-2);
  if (K !== K2) throw new Error(`matmul: inner dims differ: [${a0.shape.join(', ')}] · [${b0.shape.join(', ')}]`);
  const batch = broadcastShapes(a0.shape.slice(0, -2), b0.shape.slice(0, -2));
  const a = expand(a0, [...batch, M, K]);
  const b = expand(b0, [...batch, K, N]);
  const y = like(a, [...batch, M, N]);
  a.backend.matmul(a.view(), b.view(), y.view());
  // d(A·B) = (G·Bᵀ, Aᵀ·G)
  return record(y, 'matmul', [a, b], [b.requiresGrad ? a : null, a.requiresGrad ? b : null], (g, [sa, sb]) => [
    a.requiresGrad ? matmul(g, transpose(sb!)) : null,
    b.requiresGrad ? matmul(transpose(sa!), g) : null,
  ]);
}

function lastAxisOp(x: Tensor, axis: number, fn: (t: Tensor) => Tensor): Tensor {
  const a = normAxis(axis, x.ndim);
  if (a === x.ndim - 1) return fn(x);
  return transpose(fn(transpose(x, a, -1)), a, -1);
}

function softmaxPrim(x: Tensor, isLog: boolean): Tensor {
  const y = like(x, x.shape);
  x.backend.softmax(x.view(), y.view(), isLog);
  if (isLog) {
    // d log_softmax: g - softmax(x)·Σg (softmax recomputed by the device's softmax kernel, not exp(y))
    return record(y, 'logsoftmax', [x], [x], (g, [sx]) => [sub(g, mul(softmaxPrim(sx!, false), sum(g, -1, true)))]);
  }
  // d softmax: y·(g - Σ(g·y))
  return record(y, 'softmax', [x], [y], (g, [sy]) => [mul(sy!, sub(g, sum(mul(g, sy!), -1, true)))]);
}

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
  // with x̂ = (x - μ)·r and ĝ = g·w:
  // dx = r·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)),  dw = Σ g·x̂,  db = Σ g   (sums over all rows)
  return record(y, 'layernorm', [x, w, b], [x, w, mu, rstd], (g, saved) => {
    const [sx, sw, smu, srstd] = saved as Tensor[];
    const rows = Array.from({ length: x.ndim - 1 }, (_, i) => i);
    const xhat = mul(sub(sx, smu), srstd);
    const gh = mul(g, sw);
    const dx = x.requiresGrad
      ? mul(srstd, sub(sub(gh, mean(gh, -1, true)), mul(xhat, mean(mul(gh, xhat), -1, true))))
      : null;
    const dw = w.requiresGrad ? sum(mul(g, xhat), rows) : null;
    const db = b.requiresGrad ? sum(g, rows) : null;
    return [dx, dw, db];
  });
}

function checkIndex(idx: Tensor, op: string): void {
  if (idx.dtype !== 'int32') throw new Error(`${op}: indices must be int32, got ${idx.dtype}`);
  if (idx.ndim !== 1) throw new Error(`${op}: indices must be 1-d, got [${idx.shape}]`);
}

/** Rows of table [V, H] picked by int32 idx [N] -> [N, H] (embedding lookup). */
export function indexSelect(table: Tensor, idx: Tensor): Tensor {
  checkIndex(idx, 'indexSelect');
  if (table.ndim !== 2) throw new Error(`indexSelect: table must be 2-d, got [${table.shape}]`);
  const y = like(table, [idx.shape[0], table.shape[1]]);
  table.backend.gather(table.view(), idx.view(), y.view());
  // d table = scatter-add of g into the picked rows (deterministic order)
  return record(y, 'gather', [table], [idx], (g, [si]) => [scatterAdd(g, si!, table.shape[0])]);
}

/** out [V, H] with out[idx[n]] += src[n], in order n = 0..N-1. */
export function scatterAdd(src: Tensor, idx: Tensor, rows: number): Tensor {
  checkIndex(idx, 'scatterAdd');
  if (src.ndim !== 2 || src.shape[0] !== idx.shape[0]) {
    throw new Error(`scatterAdd: src [${src.shape}] must be [N, H] with N = ${idx.shape[0]}`);
  }
  const y = like(src, [rows, src.shape[1]]);
  src.backend.scatterAdd(src.view(), idx.view(), y.view());
  // d scatterAdd = gather of g at the same rows
  return record(y, 'scatterAdd', [src], [idx], (g, [si]) => [indexSelect(g, si!)]);
}

/** Embedding lookup for int32 ids of any shape: [...ids] -> [...ids, H]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const flat = reshape(ids, [ids.size]); // [...ids] -> [N]
  const rows = indexSelect(table, flat); // [N, H]
  return reshape(rows, [...ids.shape, table.shape[1]]); // [N, H] -> [...ids, H]
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
  // d concat = the matching slices of g
  return record(y, 'concat', xs, [], (g) => xs.map((x, i) => narrow(g, a, starts[i], x.shape[a])));
}

export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  const a = normAxis(axis, xs[0].ndim + 1);
  return concat(xs.map((x) => unsqueeze(x, a)), a);
}

// ---- 4. composites -----------------------------------------------------------------------------

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
  // [noise >= p] / (1 - p), with each temporary freed at once
  const scaledMask = (ref: Tensor): Tensor => noGrad(() => {
    const noise = like(ref, ref.shape);
    ref.backend.rand(seed, noise.view());
    const keepMask = consume(noise, (n) => ge(n, p));
    return consume(keepMask, (k) => mul(k, 1 / (1 - p)));
  });
  const y = consume(scaledMask(x), (m) => noGrad(() => mul(x, m)));
  // d dropout(x) = the same scaled mask
  return record(y, 'dropout', [x], [], (g) => [consume(scaledMask(g), (m) => mul(g, m))]);
}

export interface CrossEntropyOptions {
  reduction?: 'mean' | 'sum' | 'none';
  /** Hard labels equal to this are excluded (and the mean is over the rest). */
  ignoreIndex?: number;
}

/**
 * Softmax cross-entropy for logits [N, C]. target: int32 class ids [N] (hard labels) or a float
 * distribution [N, C] (soft labels).
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  if (logits.ndim !== 2) throw new Error(`crossEntropy: logits must be [N, C], got [${logits.shape}]`);
  const [N, C] = logits.shape;
  const logp = logSoftmax(logits, -1);
  let perRow: Tensor; // [N]
  let count: Tensor | number = N;
  if (target.dtype === 'int32') {
    if (target.ndim !== 1 || target.shape[0] !== N) throw new Error(`crossEntropy: labels must be [${N}], got [${target.shape}]`);
    let labels = target;
    let valid: Tensor | null = null;
    if (opts.ignoreIndex !== undefined) {
      valid = ne(target, opts.ignoreIndex); // int32 0/1
      labels = mul(target, valid); // ignored rows point at class 0, then get weight 0
    }
    const rowStart = mul(arange(0, N, 1, { dtype: 'int32', device: logits.device }), C);
    const flatIdx = add(rowStart, labels); // row n -> n·C + label
    const picked = reshape(indexSelect(reshape(logp, [N * C, 1]), flatIdx), [N]); // [N, C] -> [N·C, 1] -> [N, 1] -> [N]
    perRow = neg(picked);
    if (valid) {
      const weight = cast(valid, logits.dtype);
      perRow = mul(perRow, weight);
      count = maximum(sum(weight), 1);
    }
  } else {
    if (!sameShape(target.shape, logits.shape)) throw new Error(`crossEntropy: soft targets must be [${N}, ${C}], got [${target.shape}]`);
    perRow = neg(sum(mul(target, logp), -1));
  }
  if (reduction === 'none') return perRow;
  if (reduction === 'sum') return sum(perRow);
  return div(sum(perRow), count);
}

/** x / max(‖x‖₂, eps) along an axis (as torch.nn.functional.normalize). */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  const sq = sum(square(x), axis, true);
  return mul(x, rsqrt(maximum(sq, eps * eps)));
}

/** Cosine similarity of every row of a [N, H] with every row of b [M, H] -> [N, M]. */
export function cosineSimilarityMatrix(a: Tensor, b: Tensor, eps = 1e-12): Tensor {
  return matmul(l2Normalize(a, -1, eps), transpose(l2Normalize(b, -1, eps)));
}

/** Row-wise cosine similarity of two [N, H] tensors -> [N]. */
export function cosineSimilarity(a: Tensor, b: Tensor, eps = 1e-12): Tensor {
  return sum(mul(l2Normalize(a, -1, eps), l2Normalize(b, -1, eps)), -1);
}


/**
 * Every differentiable primitive, by the name its graph node carries. The gradcheck suite walks the
 * graphs of its cases and fails if one of these was never exercised.
 */
export const DIFFERENTIABLE_PRIMITIVES: readonly string[] = [
  ...Object.entries(UNARY_RULES).filter(([, rule]) => rule !== null).map(([op]) => op),
  ...Object.entries(BINARY_RULES).filter(([, rule]) => rule !== null).map(([op]) => op),
  'where', 'sum', 'max', 'matmul', 'softmax', 'logsoftmax', 'layernorm', 'gather', 'scatterAdd',
  'reshape', 'permute', 'expand', 'narrow', 'clone', 'cast', 'concat', 'dropout',
];
