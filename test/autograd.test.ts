// Graph tests kept forever (style.md §4): a reused node, a diamond, a 10,000-deep chain; plus
// intermediate gradients, no-grad, detach, determinism, and the memory model (live buffers stay
// flat across training steps).

import { describe, expect, it } from 'vitest';
import {
  Linear,
  LayerNorm,
  AdamW,
  Module,
  Tensor,
  tensor,
  randn,
  grad,
  noGrad,
  tidy,
  liveStorages,
  manualSeed,
  Generator,
  ops,
  randint,
  tidyLocal,
} from '../src/index.js';
import { TOL, assertClose } from './util/close.js';

const f64 = { dtype: 'float64' as const };

describe('graph shapes', () => {
  it('a node used twice accumulates: b = a + a gives da = 2', () => {
    const a = tensor([1.5, -2], { ...f64, requiresGrad: true });
    const b = a.add(a);
    b.sum().backward();
    expect(Array.from(a.grad!.toArray())).toEqual([2, 2]);
  });

  it('diamond: d = (2a)·(3a) gives dd/da = 12a', () => {
    const a = tensor([0.5, 3], { ...f64, requiresGrad: true });
    const d = a.mul(2).mul(a.mul(3));
    d.sum().backward();
    assertClose(a.grad!.toArray(), [6, 36], TOL.f64, 'diamond');
  });

  it('a 10,000-deep chain backpropagates without recursion', () => {
    const a = tensor([1], { ...f64, requiresGrad: true });
    let x = a;
    for (let i = 0; i < 10_000; i++) x = x.mul(1.0001);
    x.sum().backward();
    assertClose(a.grad!.toArray(), [Math.pow(1.0001, 10_000)], { atol: 0, rtol: 1e-9 }, 'chain');
  });

  it('gradients accumulate across backward calls until zeroed', () => {
    const a = tensor([1, 2], { ...f64, requiresGrad: true });
    a.mul(3).sum().backward();
    a.mul(3).sum().backward();
    expect(Array.from(a.grad!.toArray())).toEqual([6, 6]);
  });
});

describe('reading gradients of intermediate tensors', () => {
  it('retainGrad stores the gradient of a non-leaf', () => {
    const w = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { ...f64, requiresGrad: true },
    );
    const h = w.matmul(tensor([[1], [1]], f64)).retainGrad(); // [2, 1]
    h.square().sum().backward();
    assertClose(h.grad!.toArray(), [6, 14], TOL.f64, 'dh = 2h');
  });

  it('grad() gives per-example gradients of embeddings without touching .grad', () => {
    const emb = randn([4, 3], { ...f64, requiresGrad: true, generator: new Generator(1) });
    const e = emb.mul(1); // an intermediate "embedding" tensor
    const loss = e.square().sum(1).mean(); // mean of per-example squared norms
    const [ge, gemb] = grad(loss, [e, emb]);
    assertClose(ge.toArray(), e.mul(2 / 4).toArray(), TOL.f64, 'd loss / d e');
    assertClose(gemb.toArray(), ge.toArray(), TOL.f64, 'd loss / d emb');
    expect(emb.grad).toBeNull();
  });
});

describe('seed and missing gradients are exact fills, whatever the forward values', () => {
  it('backward() seeds 1 even when the output is ±Inf (Inf·0 + 1 would be NaN)', () => {
    const x = tensor([Infinity, 1], { ...f64, requiresGrad: true });
    const y = x.mul(2).sum(); // +Inf
    expect(y.item()).toBe(Infinity);
    y.backward();
    expect(Array.from(x.grad!.toArray())).toEqual([2, 2]);
    const z = tensor([-Infinity, Number.NaN], { requiresGrad: true });
    z.mul(3).sum().backward(); // the output is NaN; its gradient is still 3 everywhere
    expect(Array.from(z.grad!.toArray())).toEqual([3, 3]);
  });

  it('grad() gives exact zeros for inputs the output does not depend on, even ±Inf or NaN ones', () => {
    const x = tensor([1, 2], { ...f64, requiresGrad: true });
    const unused = tensor([Infinity, -Infinity, Number.NaN], { ...f64, requiresGrad: true });
    const [gx, gu] = grad(x.square().sum(), [x, unused]);
    expect(Array.from(gx.toArray())).toEqual([2, 4]);
    expect(Array.from(gu.toArray())).toEqual([0, 0, 0]);
    expect(gu.dtype).toBe('float64');
  });
});

describe('grad mode', () => {
  it('noGrad records nothing; detach cuts the graph', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = noGrad(() => a.mul(2));
    expect(b.requiresGrad).toBe(false);
    expect(b.node).toBeNull();
    const c = a.detach().mul(2);
    expect(c.requiresGrad).toBe(false);
    expect(() => c.sum().backward()).toThrow(/does not require grad/);
  });

  it('model code may drop intermediate handles: the graph keeps what rules saved, and frees it as each node runs', () => {
    const a = tensor([1, 2], { ...f64, requiresGrad: true });
    tidy(() => {
      const before = liveStorages();
      const b = a.exp(); // saves its output
      const c = b.mul(3).add(1); // mul by a constant saves nothing of b
      b.dispose();
      expect(liveStorages()).toBeGreaterThan(before); // exp's output lives on for its rule
      const loss = c.sum();
      loss.backward();
      assertClose(a.grad!.toArray(), [3 * Math.E, 3 * Math.E ** 2], TOL.f64, 'd sum(3eᵃ + 1)');
      expect(() => loss.backward()).toThrow(/already ran backward/);
    });
    a.grad!.dispose();
  });

  it('rules save only what they read: x·2 keeps nothing of x alive, x·w keeps x', () => {
    const w = tensor([3, 4], { ...f64, requiresGrad: true });
    tidy(() => {
      const x = tensor([1, 2], f64);
      const before = liveStorages();
      // tidyLocal drops the handles; what stays is y and the x·2 that ·w saved (not x+0, not w)
      const y = tidyLocal(() => x.add(0).mul(2).mul(w));
      expect(liveStorages() - before).toBe(2);
      y.sum().backward();
    });
    assertClose(w.grad!.toArray(), [2, 4], TOL.f64, 'dw');
  });

  it('backward after the tidy that owned the saved tensors fails loudly', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const c = tidy(() => a.exp().mul(2));
    expect(() => c.sum().backward()).toThrow(/freed when their tidy\(\) ended/);
  });
});

class Tiny extends Module {
  readonly fc1 = this.child('fc1', new Linear(8, 16));
  readonly ln = this.child('ln', new LayerNorm(16));
  readonly fc2 = this.child('fc2', new Linear(16, 4));
  forward(x: Tensor): Tensor {
    return this.fc2.forward(ops.dropout(this.ln.forward(this.fc1.forward(x)).gelu(), 0.1, this.training));
  }
}

function trainTrajectory(seed: number, steps: number): number[] {
  manualSeed(seed);
  const model = new Tiny();
  const opt = new AdamW(model.parameters(), { lr: 1e-2 });
  const x = randn([32, 8]);
  const y = randint(0, 4, [32]);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    losses.push(
      tidy(() => {
        opt.zeroGrad();
        const loss = ops.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        return loss.item();
      }),
    );
  }
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return losses;
}

describe('training steps', () => {
  it('names parameters like checkpoint keys', () => {
    const names = [...new Tiny().namedParameters()].map(([n]) => n);
    expect(names).toEqual(['fc1.weight', 'fc1.bias', 'ln.weight', 'ln.bias', 'fc2.weight', 'fc2.bias']);
  });

  it('the number of live buffers stays flat across steps inside tidy', () => {
    manualSeed(0);
    const model = new Tiny();
    const opt = new AdamW(model.parameters(), { lr: 1e-2 });
    const x = randn([16, 8]);
    const y = randint(0, 4, [16]);
    const live: number[] = [];
    for (let s = 0; s < 6; s++) {
      tidy(() => {
        opt.zeroGrad();
        const loss = ops.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
      });
      live.push(liveStorages());
    }
    // step 1 creates grads and optimizer moments; from then on the count must not move
    expect(new Set(live.slice(1)).size).toBe(1);
    // params (6) + grads (6) + moments (12) + x, y
    expect(live[5]).toBeLessThanOrEqual(live[0] + 12 + 6 + 2);
  });

  it('the same seed gives the same loss trajectory, and the loss goes down', () => {
    const a = trainTrajectory(3, 8);
    const b = trainTrajectory(3, 8);
    expect(a).toEqual(b);
    expect(a[7]).toBeLessThan(a[0]);
    const c = trainTrajectory(4, 8);
    expect(c).not.toEqual(a);
  });
});
