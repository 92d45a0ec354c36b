// Tensor: a strided view (shape, strides, offset, dtype) of a reference-counted device storage.
//
// This file holds the data structure, creation functions and host transfer, and knows nothing of
// autograd: it imports only the device layer below it. The differentiable operations live in
// src/autograd (primitives.ts: each primitive's forward and gradient rule side by side;
// composites.ts: ops written with primitives), and src/autograd/ops.ts installs them as Tensor
// methods, so `a.matmul(b)` and `ops.matmul(a, b)` are the same call.

import {
  type Backend,
  type DType,
  type TypedArray,
  type View,
  contiguousStrides,
  isContiguous,
  sizeOf,
} from './backend.js';
import { getDefaultDevice, getDevice } from './device.js';
import { Storage, finalizer, track } from './memory.js';
import { Generator, defaultGenerator } from './random.js';

export type Shape = readonly number[];
export type NestedArray = number | NestedArray[];
export type Scalar = number;

export interface TensorOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

/**
 * The graph node a differentiable op attaches to its output: here only what a graph walk needs.
 * src/autograd/engine.ts extends this interface (declaration merging) with the saved tensors and
 * the gradient rule.
 */
export interface GradNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
}

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  /** Set by autograd for tensors produced by a differentiable op while grad mode is on. */
  node: GradNode | null = null;
  requiresGrad = false;
  /** Accumulated gradient (leaves, and non-leaves that called retainGrad()). */
  grad: Tensor | null = null;
  retainsGrad = false;
  kept = false;
  disposed = false;
  /** Optional label, used in error messages and graph dumps. */
  name?: string;

  constructor(
    private _storage: Storage,
    readonly shape: Shape,
    readonly strides: Shape,
    readonly offset: number,
  ) {
    const storage = _storage;
    storage.retain();
    finalizer.register(this, storage, this);
    track(this);
  }

  get storage(): Storage {
    return this._storage;
  }

  /**
   * Replace this tensor's contents with src's, in place: same object, new storage. Used to load
   * checkpoints into parameters and to move modules between devices without breaking references.
   * src must have the same shape and dtype; it is cloned (contiguous) if it is a view.
   */
  assign(src: Tensor): this {
    if (src.shape.length !== this.shape.length || src.shape.some((d, i) => d !== this.shape[i])) {
      throw new Error(`assign: shape [${src.shape}] does not match [${this.shape}]`);
    }
    if (src.dtype !== this.dtype) throw new Error(`assign: dtype ${src.dtype} does not match ${this.dtype}`);
    if (!this.isContiguous() || this.offset !== 0)
      throw new Error('assign: target must be a contiguous tensor that owns its storage');
    const own = src.isContiguous() && src.offset === 0 && src.storage.size === src.size ? src : src.copy();
    own.storage.retain();
    finalizer.unregister(this);
    this._storage.release();
    this._storage = own.storage;
    finalizer.register(this, own.storage, this);
    if (own !== src) own.dispose();
    return this;
  }

  get dtype(): DType {
    return this.storage.dtype;
  }

  get backend(): Backend {
    return this.storage.backend;
  }

  get device(): string {
    return this.storage.backend.name;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get isLeaf(): boolean {
    return this.node === null;
  }

  isContiguous(): boolean {
    return isContiguous(this);
  }

  /** The backend-level view of this tensor. Throws if the tensor was disposed. */
  view(): View {
    if (this.disposed) throw new Error(`use of a disposed tensor${this.name ? ` '${this.name}'` : ''} (id ${this.id})`);
    return { buf: this.storage.buf, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    this._storage.release();
  }

  /** Ask backward() to store this non-leaf tensor's gradient in `.grad`. */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /** A tensor sharing this one's data, cut from the autograd graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.strides, this.offset);
  }

  /** A fresh contiguous copy made by the device's copy kernel (no autograd graph). */
  copy(): Tensor {
    const out = empty(this.shape, { dtype: this.dtype, device: this.device });
    this.backend.copy(this.view(), out.view());
    return out;
  }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- host transfer ------------------------------------------------------------------------

  /** Contiguous copy of the data on the host (async: the only way to read a GPU tensor). */
  async data(): Promise<TypedArray> {
    const c = this.isContiguous() ? this : this.copy();
    const out = await c.backend.read(c.storage.buf, c.dtype, c.offset, c.size);
    if (c !== this) c.dispose();
    return out;
  }

  /** Synchronous host copy; CPU backends only. */
  toArray(): TypedArray {
    const be = this.backend;
    if (!be.readSync) throw new Error(`toArray(): device '${be.name}' has no synchronous read; use \`await t.data()\``);
    const c = this.isContiguous() ? this : this.copy();
    const out = be.readSync(c.storage.buf, c.dtype, c.offset, c.size);
    if (c !== this) c.dispose();
    return out;
  }

  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements, expected 1`);
    return this.toArray()[0];
  }

  tolist(): NestedArray {
    const flat = Array.from(this.toArray());
    return nest(flat, this.shape);
  }

  /** Copy to another device (or return this tensor when already there). */
  to(device: string): Tensor {
    if (device === this.device) return this;
    return fromArray(this.toArray(), this.shape, { dtype: this.dtype, device });
  }

  async toAsync(device: string): Promise<Tensor> {
    if (device === this.device) return this;
    return fromArray(await this.data(), this.shape, { dtype: this.dtype, device });
  }
}

// ---- creation ---------------------------------------------------------------------------------

function nest(flat: number[], shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0];
  const [d, ...rest] = shape;
  const step = sizeOf(rest);
  return Array.from({ length: d }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), rest));
}

/** Allocate an uninitialised contiguous tensor. Kernels write it; users should not need this. */
export function empty(shape: Shape, opts: TensorOptions = {}): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
  }
  const dtype = opts.dtype ?? 'float32';
  const be = getDevice(opts.device ?? getDefaultDevice());
  if (!be.dtypes.includes(dtype)) throw new Error(`device '${be.name}' does not support dtype ${dtype}`);
  const size = sizeOf(shape);
  const storage = new Storage(be, be.alloc(dtype, size), dtype, size);
  const t = new Tensor(storage, [...shape], contiguousStrides(shape), 0);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

export function fromArray(data: ArrayLike<number>, shape: Shape, opts: TensorOptions = {}): Tensor {
  if (data.length !== sizeOf(shape)) {
    throw new Error(`fromArray: ${data.length} values do not fill shape [${shape.join(', ')}]`);
  }
  const t = empty(shape, opts);
  t.backend.write(t.storage.buf, t.dtype, data, 0);
  return t;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

/** Tensor from nested arrays or a number (a 0-d tensor). Ragged input is an error. */
export function tensor(data: NestedArray | TypedArray, opts: TensorOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const dtype =
      opts.dtype ?? (data instanceof Float64Array ? 'float64' : data instanceof Int32Array ? 'int32' : 'float32');
    return fromArray(data, opts.shape ?? [data.length], { ...opts, dtype });
  }
  const shape = opts.shape ?? inferShape(data);
  const flat = (Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data]) as number[];
  if (flat.length !== sizeOf(shape)) throw new Error(`tensor(): ragged nested array for shape [${shape.join(', ')}]`);
  return fromArray(flat, shape, opts);
}

export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  const t = empty(shape, opts);
  t.backend.fill(t.view(), value);
  return t;
}

export const zeros = (shape: Shape, opts: TensorOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: Shape, opts: TensorOptions = {}): Tensor => full(shape, 1, opts);

export function scalar(value: number, opts: TensorOptions = {}): Tensor {
  return full([], value, opts);
}

/** [start, start+step, ...) up to but excluding end. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const n = Math.max(0, Math.ceil((end - start) / step));
  return fromArray(
    Array.from({ length: n }, (_, i) => start + i * step),
    [n],
    opts,
  );
}

/** Uniform [0, 1) from a seeded host generator (reproducible across backends). */
export function rand(shape: Shape, opts: TensorOptions & { generator?: Generator } = {}): Tensor {
  const g = opts.generator ?? defaultGenerator();
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = g.uniform();
  return fromArray(data, shape, opts);
}

/** Standard normal from a seeded host generator. */
export function randn(
  shape: Shape,
  opts: TensorOptions & { generator?: Generator; std?: number; mean?: number } = {},
): Tensor {
  const g = opts.generator ?? defaultGenerator();
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  const std = opts.std ?? 1;
  const mean = opts.mean ?? 0;
  for (let i = 0; i < n; i++) data[i] = mean + std * g.normal();
  return fromArray(data, shape, opts);
}

/** Integers uniform in [low, high), int32 unless a dtype is given. */
export function randint(
  low: number,
  high: number,
  shape: Shape,
  opts: TensorOptions & { generator?: Generator } = {},
): Tensor {
  const g = opts.generator ?? defaultGenerator();
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = low + Math.floor(g.uniform() * (high - low));
  return fromArray(data, shape, { dtype: 'int32', ...opts });
}
