// Properties of the retrieval losses beyond the PyTorch fixtures (test/torch-fixtures.test.ts) and
// the gradient checks (test/gradcheck.test.ts): SDAM's geometry, the distributed target's closed
// form, what detaching the target changes, and how the two in-batch margin readings differ.

import { describe, expect, it } from 'vitest';
import { Generator, grad, randn, type Tensor, ops } from '../src/index.js';
import { sdamLoss } from '../src/train/losses.js';
import { assertClose } from './util/close.js';

const gen = new Generator(2024);
const r = (...shape: number[]): Tensor => randn(shape, { dtype: 'float64', device: 'cpu-ref', generator: gen });

describe('SDAM', () => {
  it('the margin of unit vectors is bounded by sqrt(2 - 2·s(p, n))', () => {
    for (let trial = 0; trial < 20; trial++) {
      const q = r(64, 8);
      const p = r(64, 8);
      const n = p.add(r(64, 8).mul(0.3 * (trial % 5)));
      const margin = ops.sub(ops.cosineSimilarity(q, p), ops.cosineSimilarity(q, n)).toArray();
      const c = ops.cosineSimilarity(p, n).toArray();
      for (let i = 0; i < 64; i++)
        expect(Math.abs(margin[i])).toBeLessThanOrEqual(Math.sqrt(Math.max(0, 2 - 2 * c[i])) + 1e-12);
    }
  });

  it('distributed l2 equals mean_j[(m_j - mean_i T[i,j])² + var_i T[i,j]]', () => {
    const [q, p, n] = [r(6, 5), r(6, 5), r(6, 5)];
    const { loss, margin, target } = sdamLoss(q, p, n, { target: 'distributed' });
    const m = margin.toArray();
    const t = target.toArray(); // [6, 6], T[i, j] at i·6 + j
    let closed = 0;
    for (let j = 0; j < 6; j++) {
      const col = Array.from({ length: 6 }, (_, i) => t[i * 6 + j]);
      const mean = col.reduce((s, x) => s + x, 0) / 6;
      const variance = col.reduce((s, x) => s + (x - mean) ** 2, 0) / 6;
      closed += (m[j] - mean) ** 2 + variance;
    }
    assertClose([loss.item()], [closed / 6], { atol: 1e-14, rtol: 1e-12 }, 'closed form');
  });

  it('detaching the target leaves the query gradient unchanged and changes the document gradients', () => {
    const [q, p, n] = [r(4, 6), r(4, 6), r(4, 6)];
    for (const t of [q, p, n]) t.requiresGrad = true;
    const live = grad(sdamLoss(q, p, n).loss, [q, p, n]);
    const detached = grad(sdamLoss(q, p, n, { detachTarget: true }).loss, [q, p, n]);
    assertClose(detached[0].toArray(), live[0].toArray(), { atol: 1e-15, rtol: 1e-12 }, 'd/dq');
    const diff = ops.sum(ops.abs(ops.sub(detached[1], live[1]))).item();
    expect(diff).toBeGreaterThan(1e-6);
  });

  it('rowwise and as-released in-batch margins agree on the diagonal and differ off it', () => {
    const [q, p, n] = [r(5, 6), r(5, 6), r(5, 6)];
    const row = sdamLoss(q, p, n, { inBatch: true, marginMode: 'rowwise' }).margin.toArray();
    const rel = sdamLoss(q, p, n, { inBatch: true, marginMode: 'as-released' }).margin.toArray();
    const sqp = ops.cosineSimilarity(q, p).toArray();
    const sqn = ops.cosineSimilarityMatrix(q, n).toArray();
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        assertClose([row[i * 5 + j]], [sqp[i] - sqn[i * 5 + j]], { atol: 1e-15, rtol: 1e-12 }, `rowwise [${i},${j}]`);
        assertClose(
          [rel[i * 5 + j]],
          [sqp[j] - sqn[i * 5 + j]],
          { atol: 1e-15, rtol: 1e-12 },
          `as-released [${i},${j}]`,
        );
      }
    }
  });

  it('rejects distributed targets with in-batch negatives', () => {
    expect(() => sdamLoss(r(2, 3), r(2, 3), r(2, 3), { target: 'distributed', inBatch: true })).toThrow(
      /not defined with in-batch/,
    );
  });
});
