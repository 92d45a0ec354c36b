// Optimizers: AdamW (decoupled weight decay, as torch.optim.AdamW) and SGD with momentum.
//
// Updates run in place on the parameters' own storage through the device's fused `adamw` kernel,
// so a GPU step never reads parameters back. Parameter groups carry their own weight decay: BERT
// training excludes biases and LayerNorm weights from decay (see `decayGroups`).

import { Tensor, fromArray, zeros } from '../tensor/tensor.js';
import { keep, tidy } from '../tensor/memory.js';
import { noGrad } from '../autograd/engine.js';
import { square, sum } from '../autograd/ops.js';

export interface ParamGroup {
  params: Tensor[];
  weightDecay?: number;
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly groups: { params: Tensor[]; weightDecay: number }[];
  stepCount = 0;
  private readonly state = new Map<Tensor, { m: Tensor; v: Tensor }>();

  constructor(params: Tensor[] | ParamGroup[], opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    const wd = opts.weightDecay ?? 0.01;
    const groups: ParamGroup[] =
      params.length > 0 && params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroup[]);
    this.groups = groups.map((g) => ({ params: g.params, weightDecay: g.weightDecay ?? wd }));
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    noGrad(() => {
      for (const group of this.groups) {
        for (const p of group.params) {
          if (!p.grad) continue;
          let s = this.state.get(p);
          if (!s) {
            s = {
              m: keep(zeros(p.shape, { dtype: p.dtype, device: p.device })),
              v: keep(zeros(p.shape, { dtype: p.dtype, device: p.device })),
            };
            this.state.set(p, s);
          }
          p.backend.adamw(p.view(), p.grad.view(), s.m.view(), s.v.view(), {
            lr: this.lr,
            beta1: this.beta1,
            beta2: this.beta2,
            eps: this.eps,
            weightDecay: group.weightDecay,
            step: this.stepCount,
          });
        }
      }
    });
  }

  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Optimizer state tensors (first and second moments), e.g. for checkpointing. */
  stateOf(p: Tensor): { m: Tensor; v: Tensor } | undefined {
    return this.state.get(p);
  }

  /** Restore a parameter's moments from a checkpoint (copies the data onto the parameter's device). */
  setStateOf(p: Tensor, m: ArrayLike<number>, v: ArrayLike<number>): void {
    if (m.length !== p.size || v.length !== p.size) {
      throw new Error(
        `AdamW.setStateOf: ${p.name ?? 'parameter'} has ${p.size} elements, state has ${m.length} and ${v.length}`,
      );
    }
    const old = this.state.get(p);
    old?.m.dispose();
    old?.v.dispose();
    const opts = { dtype: p.dtype, device: p.device };
    this.state.set(p, { m: keep(fromArray(m, p.shape, opts)), v: keep(fromArray(v, p.shape, opts)) });
  }

  dispose(): void {
    for (const { m, v } of this.state.values()) {
      m.dispose();
      v.dispose();
    }
    this.state.clear();
  }
}

/**
 * SGD with optional momentum, composed from primitives (no fused kernel needed). Without momentum
 * the update is exactly p ← p − lr·grad in the parameter's dtype, and there is no state to save.
 */
export class SGD {
  private readonly velocity = new Map<Tensor, Tensor>();
  stepCount = 0;

  constructor(
    readonly params: Tensor[],
    public lr = 0.01,
    readonly momentum = 0,
  ) {}

  step(): void {
    this.stepCount++;
    noGrad(() => {
      for (const p of this.params) {
        if (!p.grad) continue;
        let update = p.grad;
        if (this.momentum > 0) {
          const prev = this.velocity.get(p);
          update = keep(prev ? prev.mul(this.momentum).add(p.grad) : p.grad.clone());
          prev?.dispose();
          this.velocity.set(p, update);
        }
        // p - lr·update in the parameter's dtype; both temporaries freed here (no tidy around the step).
        const scaled = update.mul(this.lr);
        const next = p.sub(scaled);
        p.assign(next);
        scaled.dispose();
        next.dispose();
      }
    });
  }

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    for (const v of this.velocity.values()) v.dispose();
    this.velocity.clear();
  }
}

/** Split named parameters into decayed and non-decayed (bias, LayerNorm) groups. */
export function decayGroups(named: Iterable<[string, Tensor]>, weightDecay: number): ParamGroup[] {
  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  for (const [name, p] of named) {
    if (name.endsWith('bias') || /LayerNorm|layer_norm|\.ln/i.test(name)) noDecay.push(p);
    else decay.push(p);
  }
  return [
    { params: decay, weightDecay },
    { params: noDecay, weightDecay: 0 },
  ];
}

/**
 * Scale gradients in place so that their global L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ (coefficient maxNorm / (norm + 1e-6), applied only when below 1).
 * Returns the norm before clipping. One read-back of a scalar per call.
 */
export async function clipGradNorm(params: readonly Tensor[], maxNorm: number): Promise<number> {
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return 0;
  const squared = noGrad(() =>
    tidy(() => {
      let total = sum(square(grads[0]));
      for (const g of grads.slice(1)) total = total.add(sum(square(g)));
      return total;
    }),
  );
  const norm = Math.sqrt((await squared.data())[0]);
  squared.dispose();
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    noGrad(() => {
      for (const g of grads) {
        const scaled = g.mul(coef);
        g.assign(scaled);
        scaled.dispose();
      }
    });
  }
  return norm;
}
