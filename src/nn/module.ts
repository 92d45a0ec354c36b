// Module: a tree of named parameters and child modules, named exactly like checkpoint keys.
//
// `namedParameters()` yields dot-joined names (`encoder.layer.0.attention.self.query.weight`), so
// loading a Hugging Face checkpoint is a walk over these names with shape checks. Parameters are
// plain tensors with requiresGrad set and `keep`-marked, so `tidy` scopes never free them.
// The layers here (Linear, LayerNorm, Embedding, Dropout) are the building blocks of src/nn/bert.ts.

import { Tensor, type Shape, randn, zeros, ones } from '../tensor/tensor.js';
import { consume, keep } from '../tensor/memory.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import type { DType } from '../tensor/backend.js';
import * as ops from '../autograd/ops.js';
import { noGrad } from '../autograd/engine.js';

export interface InitOptions {
  device?: string;
  dtype?: DType;
  generator?: Generator;
}

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Register a parameter under `name` (marked requiresGrad and kept alive). */
  protected param(name: string, t: Tensor): Tensor {
    keep(t);
    t.requiresGrad = true;
    t.name = name;
    this.params.set(name, t);
    return t;
  }

  /** Register a child module under `name` (a numeric name for list items: `layer.0`). */
  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  *namedParameters(prefix = ''): IterableIterator<[string, Tensor]> {
    for (const [n, p] of this.params) yield [prefix + n, p];
    for (const [n, c] of this.children) yield* c.namedParameters(`${prefix}${n}.`);
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix.replace(/\.$/, ''), this];
    for (const [n, c] of this.children) yield* c.namedModules(`${prefix}${n}.`);
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /**
   * Move every parameter to a device in place (references held elsewhere stay valid). Reading a
   * GPU tensor back is asynchronous: use `await toAsync(device)` to move off webgpu.
   */
  to(device: string): this {
    for (const p of this.parameters()) {
      if (p.device === device) continue;
      const moved = p.to(device);
      p.assign(moved);
      moved.dispose();
    }
    return this;
  }

  /** As `to`, for moves off devices that read back asynchronously (webgpu -> cpu). */
  async toAsync(device: string): Promise<this> {
    for (const p of this.parameters()) {
      if (p.device === device) continue;
      const moved = await p.toAsync(device);
      p.assign(moved);
      moved.dispose();
    }
    return this;
  }

  /** Free every parameter's buffer; the module is unusable afterwards. */
  dispose(): void {
    this.zeroGrad();
    for (const p of this.parameters()) p.dispose();
  }
}

function normalInit(shape: Shape, std: number, o: InitOptions): Tensor {
  return randn(shape, { std, dtype: o.dtype, device: o.device, generator: o.generator ?? defaultGenerator() });
}

/** y = x·Wᵀ + b with W [out, in] (PyTorch / Hugging Face layout). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: InitOptions & { bias?: boolean; std?: number } = {},
  ) {
    super();
    this.weight = this.param('weight', normalInit([outFeatures, inFeatures], opts.std ?? 0.02, opts));
    this.bias = opts.bias === false ? null : this.param('bias', zeros([outFeatures], opts));
  }

  forward(x: Tensor): Tensor {
    const lead = x.shape.slice(0, -1);
    const flat = x.reshape([-1, this.inFeatures]); // [..., in] -> [N, in]
    let y = flat.matmul(this.weight.T); // [N, out]
    if (this.bias) y = consume(y, (t) => t.add(this.bias!)); // the product is freed once the bias is added
    return y.reshape([...lead, this.outFeatures]); // [N, out] -> [..., out]
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    readonly size: number,
    readonly eps = 1e-12,
    opts: InitOptions = {},
  ) {
    super();
    this.weight = this.param('weight', ones([size], opts));
    this.bias = this.param('bias', zeros([size], opts));
  }

  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly num: number,
    readonly dim: number,
    opts: InitOptions & { std?: number } = {},
  ) {
    super();
    this.weight = this.param('weight', normalInit([num, dim], opts.std ?? 0.02, opts));
  }

  /** int32 ids of any shape -> [...ids, dim]. */
  forward(ids: Tensor): Tensor {
    return ops.embedding(this.weight, ids);
  }
}

export class Dropout extends Module {
  constructor(
    public p: number,
    readonly generator: Generator = defaultGenerator(),
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return ops.dropout(x, this.p, this.training, this.generator);
  }
}

/** Set the probability of every Dropout under `root` (e.g. 0 for pretraining without dropout). Returns how many were set. */
export function setDropout(root: Module, p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout probability must be in [0, 1), got ${p}`);
  let n = 0;
  for (const [, m] of root.namedModules()) {
    if (m instanceof Dropout) {
      m.p = p;
      n++;
    }
  }
  return n;
}

/** Copy a parameter's values from host data (shape checked by the caller). */
export function setParameterData(p: Tensor, data: ArrayLike<number>): void {
  noGrad(() => p.backend.write(p.storage.buf, p.dtype, data, p.offset));
}
