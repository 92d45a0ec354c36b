// The ops a model calls: the primitives (primitives.ts, each with its gradient rule) and the
// composites written with them (composites.ts), under one namespace, and installed here as Tensor
// methods — src/tensor knows nothing of autograd, so `a.matmul(b)` exists once this module has
// loaded (src/index.ts and every model file import it). `a.matmul(b)` is `ops.matmul(a, b)`.

import type { DType } from '../tensor/backend.js';
import { Tensor, type Scalar, type Shape } from '../tensor/tensor.js';
import * as p from './primitives.js';
import * as c from './composites.js';
import { backward } from './engine.js';

export * from './primitives.js';
export * from './composites.js';
export { noGrad, isGradEnabled, grad, backward } from './engine.js';

type Operand = Tensor | Scalar;
type Axes = number | number[];

/** The differentiable methods of a Tensor. */
export interface TensorOps {
  add(b: Operand): Tensor;
  sub(b: Operand): Tensor;
  mul(b: Operand): Tensor;
  div(b: Operand): Tensor;
  pow(b: Operand): Tensor;
  maximum(b: Operand): Tensor;
  minimum(b: Operand): Tensor;
  eq(b: Operand): Tensor;
  ne(b: Operand): Tensor;
  lt(b: Operand): Tensor;
  le(b: Operand): Tensor;
  gt(b: Operand): Tensor;
  ge(b: Operand): Tensor;

  neg(): Tensor;
  exp(): Tensor;
  log(): Tensor;
  sqrt(): Tensor;
  rsqrt(): Tensor;
  tanh(): Tensor;
  erf(): Tensor;
  gelu(): Tensor;
  relu(): Tensor;
  sigmoid(): Tensor;
  abs(): Tensor;
  softplus(): Tensor;
  square(): Tensor;
  recip(): Tensor;

  sum(axes?: Axes, keepdim?: boolean): Tensor;
  mean(axes?: Axes, keepdim?: boolean): Tensor;
  max(axes?: Axes, keepdim?: boolean): Tensor;
  logsumexp(axes?: Axes, keepdim?: boolean): Tensor;
  var(axes?: Axes, keepdim?: boolean, correction?: number): Tensor;

  matmul(b: Tensor): Tensor;
  softmax(axis?: number): Tensor;
  logSoftmax(axis?: number): Tensor;

  reshape(shape: Shape): Tensor;
  permute(dims: readonly number[]): Tensor;
  transpose(d0?: number, d1?: number): Tensor;
  /** The last two axes swapped. */
  readonly T: Tensor;
  expand(shape: Shape): Tensor;
  narrow(axis: number, start: number, length: number): Tensor;
  unsqueeze(axis: number): Tensor;
  squeeze(axis?: number): Tensor;
  contiguous(): Tensor;
  clone(): Tensor;
  cast(dtype: DType): Tensor;
  /** Backpropagate from this tensor (see src/autograd/engine.ts). */
  backward(grad?: Tensor): void;
}

declare module '../tensor/tensor.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Tensor extends TensorOps {}
}

const methods: Omit<TensorOps, 'T'> & ThisType<Tensor> = {
  add(b) {
    return p.add(this, b);
  },
  sub(b) {
    return p.sub(this, b);
  },
  mul(b) {
    return p.mul(this, b);
  },
  div(b) {
    return p.div(this, b);
  },
  pow(b) {
    return p.pow(this, b);
  },
  maximum(b) {
    return p.maximum(this, b);
  },
  minimum(b) {
    return p.minimum(this, b);
  },
  eq(b) {
    return p.eq(this, b);
  },
  ne(b) {
    return p.ne(this, b);
  },
  lt(b) {
    return p.lt(this, b);
  },
  le(b) {
    return p.le(this, b);
  },
  gt(b) {
    return p.gt(this, b);
  },
  ge(b) {
    return p.ge(this, b);
  },

  neg() {
    return p.neg(this);
  },
  exp() {
    return p.exp(this);
  },
  log() {
    return p.log(this);
  },
  sqrt() {
    return p.sqrt(this);
  },
  rsqrt() {
    return p.rsqrt(this);
  },
  tanh() {
    return p.tanh(this);
  },
  erf() {
    return p.erf(this);
  },
  gelu() {
    return p.gelu(this);
  },
  relu() {
    return p.relu(this);
  },
  sigmoid() {
    return p.sigmoid(this);
  },
  abs() {
    return p.abs(this);
  },
  softplus() {
    return p.softplus(this);
  },
  square() {
    return p.square(this);
  },
  recip() {
    return p.recip(this);
  },

  sum(axes, keepdim = false) {
    return p.sum(this, axes, keepdim);
  },
  mean(axes, keepdim = false) {
    return c.mean(this, axes, keepdim);
  },
  max(axes, keepdim = false) {
    return p.max(this, axes, keepdim);
  },
  logsumexp(axes, keepdim = false) {
    return c.logsumexp(this, axes, keepdim);
  },
  var(axes, keepdim = false, correction = 0) {
    return c.variance(this, axes, keepdim, correction);
  },

  matmul(b) {
    return p.matmul(this, b);
  },
  softmax(axis = -1) {
    return p.softmax(this, axis);
  },
  logSoftmax(axis = -1) {
    return p.logSoftmax(this, axis);
  },

  reshape(shape) {
    return p.reshape(this, shape);
  },
  permute(dims) {
    return p.permute(this, dims);
  },
  transpose(d0 = -2, d1 = -1) {
    return p.transpose(this, d0, d1);
  },
  expand(shape) {
    return p.expand(this, shape);
  },
  narrow(axis, start, length) {
    return p.narrow(this, axis, start, length);
  },
  unsqueeze(axis) {
    return c.unsqueeze(this, axis);
  },
  squeeze(axis) {
    return c.squeeze(this, axis);
  },
  contiguous() {
    return p.contiguous(this);
  },
  clone() {
    return p.clone(this);
  },
  cast(dtype) {
    return p.cast(this, dtype);
  },
  backward(grad) {
    backward(this, grad);
  },
};

Object.assign(Tensor.prototype, methods);
Object.defineProperty(Tensor.prototype, 'T', {
  get(this: Tensor): Tensor {
    return p.transpose(this, -2, -1);
  },
  configurable: true,
});
