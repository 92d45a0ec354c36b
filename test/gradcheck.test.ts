// Gradient check in float64 for every differentiable primitive and composite op, including
// broadcasting and non-contiguous (transposed, narrowed) inputs. The last test walks the primitive
// table: a primitive that no case exercised fails the suite.

import { describe, expect, it } from 'vitest';
import { Tensor, Generator, ops, randn, tensor, noGrad, grad } from '../src/index.js';
import { gradcheck } from './util/gradcheck.js';
import { infoNCE, marginMSE, sdamLoss } from '../src/train/losses.js';
import { TOL, assertClose } from './util/close.js';

const gen = new Generator(42);
const r = (...shape: number[]): Tensor => randn(shape, { dtype: 'float64', generator: gen });
/** Strictly positive, smooth in x: for log, sqrt, rsqrt, recip, pow bases. */
const pos = (x: Tensor): Tensor => x.square().add(0.5);
const idx = (values: number[]): Tensor => tensor(values, { dtype: 'int32' });

type Case = [label: string, fn: (...xs: Tensor[]) => Tensor, inputs: () => Tensor[]];

const cases: Case[] = [
  // unary
  ['neg', (x) => x.neg(), () => [r(3, 4)]],
  ['exp', (x) => x.exp(), () => [r(3, 4)]],
  ['log', (x) => pos(x).log(), () => [r(3, 4)]],
  ['sqrt', (x) => pos(x).sqrt(), () => [r(3, 4)]],
  ['rsqrt', (x) => pos(x).rsqrt(), () => [r(3, 4)]],
  ['recip', (x) => pos(x).recip(), () => [r(3, 4)]],
  ['tanh', (x) => x.tanh(), () => [r(3, 4)]],
  ['erf', (x) => x.erf(), () => [r(3, 4)]],
  ['gelu', (x) => x.gelu(), () => [r(3, 4)]],
  ['gelu_grad', (x) => ops.geluGrad(x), () => [r(3, 4)]],
  ['relu', (x) => x.relu(), () => [r(3, 4)]],
  ['sigmoid', (x) => x.sigmoid(), () => [r(3, 4)]],
  ['abs', (x) => x.abs(), () => [r(3, 4)]],
  ['softplus', (x) => x.mul(4).softplus(), () => [r(3, 4)]],
  ['square', (x) => x.square(), () => [r(3, 4)]],
  // binary, with broadcasting [3,1] x [1,4] and [2,3,4] x [4]
  ['add broadcast', (a, b) => a.add(b), () => [r(3, 1), r(1, 4)]],
  ['sub broadcast', (a, b) => a.sub(b), () => [r(2, 3, 4), r(4)]],
  ['mul broadcast', (a, b) => a.mul(b), () => [r(3, 1), r(1, 4)]],
  ['div broadcast', (a, b) => a.div(pos(b)), () => [r(3, 4), r(4)]],
  ['pow', (a, b) => pos(a).pow(b), () => [r(3, 4), r(3, 4)]],
  ['pow scalar exponent', (a) => pos(a).pow(2.5), () => [r(3, 4)]],
  ['maximum', (a, b) => a.maximum(b), () => [r(3, 4), r(3, 4)]],
  ['minimum', (a, b) => a.minimum(b), () => [r(3, 4), r(1, 4)]],
  [
    'where',
    (a, b) =>
      ops.where(
        noGrad(() => a.add(b).gt(0)),
        a,
        b,
      ),
    () => [r(3, 4), r(4)],
  ],
  [
    'maskedFill',
    (a) =>
      ops.maskedFill(
        a,
        noGrad(() => a.lt(0)),
        -5,
      ),
    () => [r(3, 4)],
  ],
  // reductions
  ['sum all', (x) => x.sum(), () => [r(2, 3, 4)]],
  ['sum axes', (x) => x.sum([0, 2]), () => [r(2, 3, 4)]],
  ['sum keepdim', (x) => x.sum(1, true), () => [r(2, 3, 4)]],
  ['mean', (x) => x.mean(-1), () => [r(2, 3, 4)]],
  ['max', (x) => x.max(1), () => [r(2, 3, 4)]],
  ['max all', (x) => x.max(), () => [r(5, 7)]],
  ['variance', (x) => x.var(-1, false, 1), () => [r(3, 6)]],
  ['logsumexp', (x) => x.logsumexp(-1), () => [r(3, 6)]],
  // matmul: plain, batched with broadcasting, transposed operands
  ['matmul', (a, b) => a.matmul(b), () => [r(3, 4), r(4, 5)]],
  ['matmul batched broadcast', (a, b) => a.matmul(b), () => [r(2, 1, 3, 4), r(3, 4, 5)]],
  ['matmul transposed A', (a, b) => a.T.matmul(b), () => [r(4, 3), r(4, 5)]],
  ['matmul transposed B', (a, b) => a.matmul(b.T), () => [r(3, 4), r(5, 4)]],
  // softmax family
  ['softmax', (x) => x.softmax(-1), () => [r(3, 5)]],
  ['softmax axis 0', (x) => x.softmax(0), () => [r(3, 5)]],
  ['logSoftmax', (x) => x.logSoftmax(-1), () => [r(2, 3, 5)]],
  // layer norm
  ['layerNorm', (x, w, b) => ops.layerNorm(x, w, b, 1e-5), () => [r(2, 3, 5), r(5), r(5)]],
  ['layerNorm strided x', (x, w, b) => ops.layerNorm(x.transpose(0, 1), w, b, 1e-5), () => [r(3, 2, 5), r(5), r(5)]],
  // gather / scatter-add, embedding
  ['gather', (t) => ops.gather(t, idx([0, 2, 2, 5])), () => [r(6, 3)]],
  ['scatterAdd', (s) => ops.scatterAdd(s, idx([1, 0, 1, 3]), 5), () => [r(4, 3)]],
  [
    'embedding',
    (t) =>
      ops.embedding(
        t,
        tensor(
          [
            [1, 2],
            [2, 0],
          ],
          { dtype: 'int32' },
        ),
      ),
    () => [r(4, 3)],
  ],
  // views and copies, non-contiguous inputs
  ['reshape', (x) => x.reshape([4, 3]).mul(x.reshape([4, 3])), () => [r(3, 4)]],
  ['reshape of transposed', (x) => x.T.reshape([12]).exp(), () => [r(3, 4)]],
  ['permute', (x) => x.permute([2, 0, 1]).exp(), () => [r(2, 3, 4)]],
  ['expand', (x) => x.expand([3, 4]).square(), () => [r(3, 1)]],
  ['narrow', (x) => x.narrow(1, 1, 2).exp(), () => [r(3, 4)]],
  ['clone', (x) => x.T.contiguous().exp(), () => [r(3, 4)]],
  ['concat', (a, b) => ops.concat([a, b], 1).square(), () => [r(2, 3), r(2, 2)]],
  ['stack', (a, b) => ops.stack([a, b], 0).exp(), () => [r(2, 3), r(2, 3)]],
  ['unsqueeze/squeeze', (x) => x.unsqueeze(1).squeeze(1).exp(), () => [r(2, 3)]],
  // composites
  ['crossEntropy hard', (x) => ops.crossEntropy(x, idx([1, 0, 3])), () => [r(3, 4)]],
  ['crossEntropy ignoreIndex', (x) => ops.crossEntropy(x, idx([1, -100, 3]), { ignoreIndex: -100 }), () => [r(3, 4)]],
  ['crossEntropy soft', (x, t) => ops.crossEntropy(x, t.softmax(-1)), () => [r(3, 4), r(3, 4)]],
  ['l2Normalize', (x) => ops.l2Normalize(x), () => [r(3, 4)]],
  ['cosineSimilarityMatrix', (a, b) => ops.cosineSimilarityMatrix(a, b), () => [r(3, 4), r(5, 4)]],
  ['cosineSimilarity', (a, b) => ops.cosineSimilarity(a, b), () => [r(3, 4), r(3, 4)]],
  ['dropout (fixed seed)', (x) => ops.dropout(x, 0.3, true, new Generator(7)), () => [r(4, 5)]],
  // retrieval losses (src/train/losses.ts)
  ['infoNCE with negatives', (q, p, n) => infoNCE(q, p, 20, n), () => [r(3, 4), r(3, 4), r(3, 4)]],
  ['marginMSE', (q, p, n, tp, tn) => marginMSE(q, p, n, tp, tn), () => [r(3, 4), r(3, 4), r(3, 4), r(3), r(3)]],
  ['sdam adaptive l2', (q, p, n) => sdamLoss(q, p, n).loss, () => [r(3, 4), r(3, 4), r(3, 4)]],
  [
    'sdam distributed soft',
    (q, p, n) => sdamLoss(q, p, n, { target: 'distributed', error: 'soft' }).loss,
    () => [r(3, 4), r(3, 4), r(3, 4)],
  ],
  [
    'sdam in-batch rowwise l1',
    (q, p, n) => sdamLoss(q, p, n, { inBatch: true, error: 'l1' }).loss,
    () => [r(3, 4), r(3, 4), r(3, 4)],
  ],
  [
    'sdam in-batch as-released static',
    (q, p, n) => sdamLoss(q, p, n, { inBatch: true, marginMode: 'as-released', target: 0.4 }).loss,
    () => [r(3, 4), r(3, 4), r(3, 4)],
  ],
];

describe('gradcheck (float64, directional central differences)', () => {
  const covered = new Set<string>();
  for (const [label, fn, inputs] of cases) {
    it(label, () => {
      const { nodeNames } = gradcheck(fn, inputs(), { label });
      nodeNames.forEach((n) => covered.add(n));
    });
  }

  it('cast: the gradient is cast back to the input dtype', () => {
    const x = r(3, 4);
    x.requiresGrad = true;
    const y = x.cast('float32');
    expect(y.dtype).toBe('float32');
    const v = randn([3, 4], { dtype: 'float32', generator: gen });
    const [gx] = grad(y, [x], v);
    expect(gx.dtype).toBe('float64');
    assertClose(gx.toArray(), v.toArray(), TOL.f64, 'cast grad');
    covered.add(y.node!.name);
  });

  it('every differentiable primitive was exercised by a case above', () => {
    const missing = ops.DIFFERENTIABLE_PRIMITIVES.filter((p) => !covered.has(p));
    expect(missing).toEqual([]);
    expect(covered.size).toBeGreaterThanOrEqual(ops.DIFFERENTIABLE_PRIMITIVES.length);
  });
});
