// The clustering embedder's linear algebra (src/train/batching/linalg.ts) and the embedder itself
// (embed.ts): the randomized truncated SVD against an independent exact SVD (one-sided Hestenes
// Jacobi on A itself, written below; the library solves the Gram matrix of a projection instead), a
// closed-form diagonal case, a rank-deficient matrix, MGS orthonormality, the Jacobi eigen-solver on
// closed-form matrices, sparse products against dense ones, TF-IDF weights, and the pair embedder's
// unit rows and determinism.

import { describe, expect, it } from 'vitest';
import { Generator } from '../src/tensor/random.js';
import {
  csrFromDense,
  csrTimesDense,
  csrTransposeTimesDense,
  jacobiEigen,
  mgsQr,
  randomizedSvd,
} from '../src/train/batching/linalg.js';
import { embedPairs, tfidfMatrix } from '../src/train/batching/embed.js';
import { assertClose, TOL } from './util/close.js';

/** Exact SVD of a dense m × n (m >= n) matrix by one-sided Jacobi: orthogonalise A's columns. */
function hestenesSvd(a: Float64Array, m: number, n: number): { s: number[]; u: number[][]; v: number[][] } {
  const cols = Array.from({ length: n }, (_, j) => Array.from({ length: m }, (_, i) => a[i * n + j]));
  const v = Array.from({ length: n }, (_, j) => Array.from({ length: n }, (_, i) => (i === j ? 1 : 0)));
  const dotv = (x: number[], y: number[]): number => x.reduce((s, xi, i) => s + xi * y[i], 0);
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const alpha = dotv(cols[p], cols[p]);
        const beta = dotv(cols[q], cols[q]);
        const gamma = dotv(cols[p], cols[q]);
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (const mat of [cols, v]) {
          const x = mat[p];
          const y = mat[q];
          for (let i = 0; i < x.length; i++) {
            const xi = x[i];
            x[i] = c * xi - s * y[i];
            y[i] = s * xi + c * y[i];
          }
        }
      }
    }
    if (!rotated) break;
  }
  const sigma = cols.map((c) => Math.sqrt(dotv(c, c)));
  const order = sigma.map((_, j) => j).sort((i, j) => sigma[j] - sigma[i]);
  return {
    s: order.map((j) => sigma[j]),
    u: order.map((j) => cols[j].map((x) => x / sigma[j])),
    v: order.map((j) => v[j]),
  };
}

function gaussian(m: number, n: number, seed: number): Float64Array {
  const g = new Generator(seed);
  return Float64Array.from({ length: m * n }, () => g.normal());
}

/** Column j of a row-major m × k matrix. */
function column(x: Float64Array, m: number, k: number, j: number): number[] {
  return Array.from({ length: m }, (_, i) => x[i * k + j]);
}

/** |<x, y>| for unit vectors: 1 when they agree up to sign. */
function absCos(x: number[], y: number[]): number {
  return Math.abs(x.reduce((s, xi, i) => s + xi * y[i], 0));
}

describe('randomizedSvd', () => {
  it('matches an exact one-sided Jacobi SVD when the sketch spans the whole column space', () => {
    const [m, n] = [9, 6];
    const a = gaussian(m, n, 11);
    const ref = hestenesSvd(a, m, n);
    const svd = randomizedSvd(csrFromDense(a, m, n), { rank: 4, oversample: 10, seed: 3, device: 'cpu-ref' });
    // Summation-order noise through QR, a Gram matrix and Jacobi on a 6x6 problem.
    assertClose(svd.s, ref.s.slice(0, 4), { atol: 1e-11, rtol: 1e-10 }, 'singular values');
    for (let j = 0; j < 4; j++) {
      assertClose(absCos(column(svd.u, m, 4, j), ref.u[j]), 1, { atol: 1e-10, rtol: 0 }, `u[${j}]`);
      assertClose(absCos(column(svd.v, n, 4, j), ref.v[j]), 1, { atol: 1e-10, rtol: 0 }, `v[${j}]`);
    }
  });

  it('recovers the top singular triplets of a larger matrix from a sketch (power iterations on)', () => {
    // A = X·diag(σ)·Yᵀ with a fast-decaying spectrum, rank 20, in a 120 x 80 matrix; rank 5 asked.
    const [m, n, r] = [120, 80, 20];
    const x = gaussian(m, r, 21);
    const y = gaussian(n, r, 22);
    const sigma = Array.from({ length: r }, (_, j) => 10 * 0.5 ** j);
    const a = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) for (let t = 0; t < r; t++) a[i * n + j] += x[i * r + t] * sigma[t] * y[j * r + t];
    const ref = hestenesSvd(a, m, n);
    const svd = randomizedSvd(csrFromDense(a, m, n), {
      rank: 5,
      oversample: 10,
      powerIterations: 2,
      seed: 7,
      device: 'cpu-ref',
    });
    // The sketch misses the tail beyond rank + oversample = 15, whose mass is 10·0.5^15 ≈ 3e-4 of σ1:
    // the top five come out to better than 1e-8 relative.
    assertClose(svd.s, ref.s.slice(0, 5), { atol: 0, rtol: 1e-8 }, 'singular values');
    for (let j = 0; j < 5; j++)
      assertClose(absCos(column(svd.u, m, 5, j), ref.u[j]), 1, { atol: 1e-8, rtol: 0 }, `u[${j}]`);
  });

  it('gives the closed-form SVD of a permuted diagonal matrix', () => {
    const diag = [3, 5, 1, 4];
    const a = new Float64Array(5 * 4);
    const rowOf = [2, 0, 4, 1];
    diag.forEach((d, j) => (a[rowOf[j] * 4 + j] = d));
    const svd = randomizedSvd(csrFromDense(a, 5, 4), { rank: 3, seed: 1, device: 'cpu-ref' });
    assertClose(svd.s, [5, 4, 3], TOL.f64, 'singular values');
    // σ = 5 lives in column 1 / row 0, σ = 4 in column 3 / row 1, σ = 3 in column 0 / row 2.
    assertClose(column(svd.v, 4, 3, 0).map(Math.abs), [0, 1, 0, 0], TOL.f64, 'v[0]');
    assertClose(column(svd.u, 5, 3, 1).map(Math.abs), [0, 1, 0, 0, 0], TOL.f64, 'u[1]');
  });

  it('reports zero singular values beyond the rank of a rank-deficient matrix', () => {
    const [m, n] = [30, 20];
    const x = gaussian(m, 2, 5);
    const y = gaussian(n, 2, 6);
    const a = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) a[i * n + j] = x[i * 2] * y[j * 2] + x[i * 2 + 1] * y[j * 2 + 1];
    const ref = hestenesSvd(a, m, n);
    const svd = randomizedSvd(csrFromDense(a, m, n), { rank: 4, seed: 2, device: 'cpu-ref' });
    assertClose(svd.s.slice(0, 2), ref.s.slice(0, 2), { atol: 0, rtol: 1e-10 }, 'nonzero singular values');
    // Rank 2: MGS zeroes the dependent sketch columns, so the rest are zero up to roundoff.
    assertClose(svd.s.slice(2), [0, 0], { atol: 1e-6 * ref.s[0], rtol: 0 }, 'zero singular values');
  });

  it('is deterministic for a seed and agrees across devices and product precisions', () => {
    const a = csrFromDense(gaussian(12, 10, 9), 12, 10);
    const one = randomizedSvd(a, { rank: 3, oversample: 2, powerIterations: 1, seed: 4 });
    const two = randomizedSvd(a, { rank: 3, oversample: 2, powerIterations: 1, seed: 4 });
    expect(Array.from(two.u)).toEqual(Array.from(one.u));
    expect(Array.from(two.s)).toEqual(Array.from(one.s));
    const ref = randomizedSvd(a, { rank: 3, oversample: 2, powerIterations: 1, seed: 4, device: 'cpu-ref' });
    assertClose(ref.s, one.s, TOL.f64, 'cpu vs cpu-ref');
    // The embedder's setting: dense products in float32 (the SIMD kernel), the rest in float64.
    const f32 = randomizedSvd(a, { rank: 3, oversample: 2, powerIterations: 1, seed: 4, dtype: 'float32' });
    assertClose(f32.s, one.s, TOL.f32, 'float32 vs float64 products');
  });

  it('rejects a rank beyond the matrix', () => {
    expect(() => randomizedSvd(csrFromDense(gaussian(3, 5, 1), 3, 5), { rank: 4 })).toThrow(
      'rank 4 exceeds min(rows, cols) = 3 of the 3x5 matrix',
    );
  });
});

describe('building blocks', () => {
  it('mgsQr returns orthonormal columns spanning Y', () => {
    const [m, l] = [40, 7];
    const y = gaussian(m, l, 8);
    const q = mgsQr(y, m, l);
    const gram = new Float64Array(l * l);
    for (let i = 0; i < l; i++)
      for (let j = 0; j < l; j++) for (let r = 0; r < m; r++) gram[i * l + j] += q[r * l + i] * q[r * l + j];
    assertClose(
      gram,
      Array.from({ length: l * l }, (_, t) => (t % (l + 1) === 0 ? 1 : 0)),
      { atol: 1e-13, rtol: 0 },
      'QᵀQ',
    );
    // Y = Q·(QᵀY): the projection onto span(Q) leaves Y unchanged.
    const proj = new Float64Array(m * l);
    for (let j = 0; j < l; j++) {
      for (let p = 0; p < l; p++) {
        let c = 0;
        for (let r = 0; r < m; r++) c += q[r * l + p] * y[r * l + j];
        for (let r = 0; r < m; r++) proj[r * l + j] += c * q[r * l + p];
      }
    }
    assertClose(proj, y, { atol: 1e-12, rtol: 1e-12 }, 'Q·QᵀY');
  });

  it('jacobiEigen solves closed-form symmetric matrices', () => {
    const two = jacobiEigen([2, 1, 1, 2], 2);
    assertClose(two.values, [3, 1], TOL.f64, 'eigenvalues');
    assertClose(Array.from(two.vectors).map(Math.abs), Array(4).fill(Math.SQRT1_2), TOL.f64, 'eigenvectors');
    // Tridiagonal Toeplitz [2, -1]: λ_j = 2 - 2cos(jπ/(n+1)).
    const n = 6;
    const t = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      t[i * n + i] = 2;
      if (i + 1 < n) t[i * n + i + 1] = t[(i + 1) * n + i] = -1;
    }
    const eig = jacobiEigen(t, n);
    const expected = Array.from({ length: n }, (_, j) => 2 - 2 * Math.cos(((n - j) * Math.PI) / (n + 1)));
    assertClose(eig.values, expected, { atol: 1e-14, rtol: 1e-13 }, 'Toeplitz eigenvalues');
    // T·v = λ·v for every returned pair.
    for (let j = 0; j < n; j++) {
      const v = column(eig.vectors, n, n, j);
      const tv = v.map((_, i) => v.reduce((s, vk, k) => s + t[i * n + k] * vk, 0));
      assertClose(
        tv,
        v.map((x) => x * eig.values[j]),
        { atol: 1e-13, rtol: 0 },
        `T·v[${j}]`,
      );
    }
  });

  it('sparse products equal dense ones', () => {
    const g = new Generator(12);
    const dense = Float64Array.from({ length: 7 * 5 }, () => (g.uniform() < 0.4 ? g.normal() : 0));
    const a = csrFromDense(dense, 7, 5);
    const x = gaussian(5, 3, 13);
    const y = gaussian(7, 3, 14);
    const ax = new Float64Array(7 * 3);
    const aty = new Float64Array(5 * 3);
    for (let i = 0; i < 7; i++)
      for (let j = 0; j < 5; j++)
        for (let t = 0; t < 3; t++) {
          ax[i * 3 + t] += dense[i * 5 + j] * x[j * 3 + t];
          aty[j * 3 + t] += dense[i * 5 + j] * y[i * 3 + t];
        }
    assertClose(csrTimesDense(a, x, 3), ax, TOL.f64, 'A·X');
    assertClose(csrTransposeTimesDense(a, y, 3), aty, TOL.f64, 'Aᵀ·Y');
  });
});

describe('TF-IDF and the pair embedder', () => {
  it('weights terms by (1 + ln tf)·idf over analyzed tokens, drops rare terms, normalises rows', () => {
    const texts = ['the fonts fonts', 'font editor', 'text editor', 'editor'];
    const { matrix, terms } = tfidfMatrix(texts);
    // Porter stems: fonts -> font; "the" is a stopword; "text" (df 1) is dropped at minDf 2.
    expect(terms).toEqual(['editor', 'font']);
    const idf = (df: number): number => Math.log(5 / (1 + df)) + 1;
    const row0 = [0, (1 + Math.log(2)) * idf(2)]; // font tf 2
    const row1 = [idf(3), idf(2)];
    const dense = (r: number): number[] => {
      const out = [0, 0];
      for (let p = matrix.rowPtr[r]; p < matrix.rowPtr[r + 1]; p++) out[matrix.colIdx[p]] = matrix.values[p];
      return out;
    };
    const unit = (v: number[]): number[] => v.map((x) => x / Math.hypot(...v));
    assertClose(dense(0), unit(row0), TOL.f64, 'row 0');
    assertClose(dense(1), unit(row1), TOL.f64, 'row 1');
    assertClose(dense(2), [1, 0], TOL.f64, 'row 2');
  });

  it('gives unit query and document rows, shared texts share a row, and is deterministic per seed', () => {
    const topics = ['font', 'kernel', 'python', 'audio', 'network', 'game'];
    const pairs = topics.flatMap((t, i) =>
      [0, 1, 2].map((k) => ({
        query: `${t} tool ${k}`,
        doc: `${t} ${topics[(i + 1) % 6]} library ${t} files ${k === 0 ? 'editor' : 'viewer'}`,
      })),
    );
    pairs.push({ query: pairs[0].query, doc: pairs[1].doc });
    const a = embedPairs(pairs, { dims: 4, seed: 5 });
    const b = embedPairs(pairs, { dims: 4, seed: 5 });
    expect(Array.from(b.queries)).toEqual(Array.from(a.queries));
    expect(Array.from(b.docs)).toEqual(Array.from(a.docs));
    expect([a.n, a.dims, a.texts]).toEqual([19, 4, 30]); // 18 queries + 12 documents (k = 1, 2 share a text)
    for (let i = 0; i < a.n; i++) {
      const q = a.queries.subarray(i * 4, i * 4 + 4);
      const d = a.docs.subarray(i * 4, i * 4 + 4);
      assertClose(Math.hypot(...q), 1, TOL.f32, `|q${i}|`);
      assertClose(Math.hypot(...d), 1, TOL.f32, `|d${i}|`);
    }
    expect(Array.from(a.queries.subarray(18 * 4, 19 * 4))).toEqual(Array.from(a.queries.subarray(0, 4)));
    expect(Array.from(a.docs.subarray(18 * 4, 19 * 4))).toEqual(Array.from(a.docs.subarray(4, 8)));
    expect(() => embedPairs(pairs, { dims: 400 })).toThrow(
      /--dims 400 exceeds what 30 distinct texts over \d+ terms \(df >= 2\) allow/,
    );
  });
});
