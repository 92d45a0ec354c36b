// The linear algebra behind the clustering embedder: a sparse CSR matrix with its two products,
// modified Gram-Schmidt QR, a cyclic Jacobi eigen-solver for small symmetric matrices, and a
// randomized truncated SVD built from them (Halko, Martinsson and Tropp 2011, algorithms 4.4 + 5.1):
//
//   Ω ~ N(0,1)^(n×l), l = rank + oversample      Gaussian sketch (seeded Generator)
//   Q = qr(A·Ω); repeat q times: Q = qr(A·qr(Aᵀ·Q))   power iterations, re-orthonormalised each step
//   Z = Aᵀ·Q  (so B = Qᵀ·A = Zᵀ)                   projected matrix, n×l stored as its transpose
//   B·Bᵀ = Zᵀ·Z = W·Λ·Wᵀ                           small l×l symmetric eigenproblem (Jacobi)
//   σ = √λ,  U = Q·W,  V = Z·W·Σ⁻¹                 keep the top `rank`
//
// The dense products (Zᵀ·Z, Q·W, Z·W) run through our tensor matmul, in float64 by default or in
// float32 (the fast SIMD kernel; what the clustering embedder uses, its output being float32 anyway);
// the sparse products, the QR and the eigen-solver are float64 loops. Dense matrices are row-major
// Float64Arrays. Columns that MGS finds linearly dependent (rank(A) < l) are set to zero rather
// than normalised noise, so a rank-deficient A gives zero singular values for the missing directions.
//
// This is not a general linear-algebra library: no pivoting QR, no LAPACK-grade SVD; it serves
// src/train/batching/embed.ts, and the tests check it against an independent exact SVD.

import { Generator } from '../../tensor/random.js';
import { fromArray } from '../../tensor/tensor.js';
import { matmul, transpose } from '../../autograd/ops.js';
import { tidy } from '../../tensor/memory.js';

/** Compressed sparse rows: row r holds colIdx/values[rowPtr[r] .. rowPtr[r+1]). */
export interface CsrMatrix {
  rows: number;
  cols: number;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float64Array;
}

/** A CSR matrix from a dense row-major array (zeros dropped); mostly for tests. */
export function csrFromDense(data: ArrayLike<number>, rows: number, cols: number): CsrMatrix {
  if (data.length !== rows * cols) throw new Error(`csrFromDense: ${data.length} values do not fill ${rows}x${cols}`);
  const rowPtr = new Int32Array(rows + 1);
  const colIdx: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c];
      if (v !== 0) {
        colIdx.push(c);
        values.push(v);
      }
    }
    rowPtr[r + 1] = colIdx.length;
  }
  return { rows, cols, rowPtr, colIdx: Int32Array.from(colIdx), values: Float64Array.from(values) };
}

/** A·X for dense X (A.cols × l, row-major) -> A.rows × l. */
export function csrTimesDense(a: CsrMatrix, x: Float64Array, l: number): Float64Array {
  const out = new Float64Array(a.rows * l);
  for (let r = 0; r < a.rows; r++) {
    const o = r * l;
    for (let p = a.rowPtr[r]; p < a.rowPtr[r + 1]; p++) {
      const v = a.values[p];
      const xo = a.colIdx[p] * l;
      for (let j = 0; j < l; j++) out[o + j] += v * x[xo + j];
    }
  }
  return out;
}

/** Aᵀ·Y for dense Y (A.rows × l, row-major) -> A.cols × l, by scattering each row of A. */
export function csrTransposeTimesDense(a: CsrMatrix, y: Float64Array, l: number): Float64Array {
  const out = new Float64Array(a.cols * l);
  for (let r = 0; r < a.rows; r++) {
    const yo = r * l;
    for (let p = a.rowPtr[r]; p < a.rowPtr[r + 1]; p++) {
      const v = a.values[p];
      const o = a.colIdx[p] * l;
      for (let j = 0; j < l; j++) out[o + j] += v * y[yo + j];
    }
  }
  return out;
}

/** Relative size below which a column left after orthogonalisation counts as dependent. */
const DEPENDENT_COLUMN = 1e-10;

/**
 * Orthonormal basis Q (m × l, row-major) of the columns of Y (m × l, row-major) by modified
 * Gram-Schmidt, column by column on a column-major copy. Dependent columns come out as zeros.
 * Each projection's update is fused with the next projection's dot product (one pass over the
 * column per basis vector instead of two); the arithmetic is that of plain MGS.
 */
export function mgsQr(y: Float64Array, m: number, l: number): Float64Array {
  if (y.length !== m * l) throw new Error(`mgsQr: ${y.length} values do not fill ${m}x${l}`);
  const cols: Float64Array[] = [];
  for (let j = 0; j < l; j++) {
    const c = new Float64Array(m);
    for (let i = 0; i < m; i++) c[i] = y[i * l + j];
    cols.push(c);
  }
  for (let j = 0; j < l; j++) {
    const c = cols[j];
    const before = Math.sqrt(dot(c, c));
    // r = q_p · c (with c already reduced by q_0 .. q_{p-1}); c -= r · q_p; then the next dot.
    let r = j > 0 ? dot(cols[0], c) : 0;
    for (let p = 0; p < j; p++) {
      const q = cols[p];
      const next = p + 1 < j ? cols[p + 1] : c;
      let s = 0;
      for (let i = 0; i < m; i++) {
        const ci = c[i] - r * q[i];
        c[i] = ci;
        s += next[i] * ci;
      }
      r = s;
    }
    const after = Math.sqrt(j > 0 ? r : dot(c, c));
    if (before === 0 || after <= DEPENDENT_COLUMN * before) c.fill(0);
    else for (let i = 0; i < m; i++) c[i] /= after;
  }
  const q = new Float64Array(m * l);
  for (let j = 0; j < l; j++) {
    const c = cols[j];
    for (let i = 0; i < m; i++) q[i * l + j] = c[i];
  }
  return q;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export interface EigenDecomposition {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Eigenvectors as columns of an n × n row-major matrix, in the order of `values`. */
  vectors: Float64Array;
  /** Jacobi sweeps used. */
  sweeps: number;
}

/**
 * Eigen-decomposition of a symmetric n × n matrix (row-major; symmetry is assumed, not checked) by
 * the cyclic Jacobi method: sweep over every (p, q) above the diagonal and zero it with a rotation
 * (Golub and Van Loan, algorithms 8.5.2 and 8.5.3). An element is skipped (and set to zero) when it
 * no longer changes the diagonal in float64 or is below 1e-17·‖S‖_F; the method stops after a sweep
 * that rotated nothing.
 */
export function jacobiEigen(a: ArrayLike<number>, n: number, opts: { maxSweeps?: number } = {}): EigenDecomposition {
  if (a.length !== n * n) throw new Error(`jacobiEigen: ${a.length} values do not fill ${n}x${n}`);
  const maxSweeps = opts.maxSweeps ?? 100;
  const s = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += s[i] * s[i];
  const negligible = 1e-17 * Math.sqrt(total);
  let sweeps = 0;
  for (let rotated = true; rotated; ) {
    if (sweeps === maxSweeps) throw new Error(`jacobiEigen: no convergence in ${maxSweeps} sweeps (n = ${n})`);
    sweeps++;
    rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = s[p * n + q];
        const app = s[p * n + p];
        const aqq = s[q * n + q];
        const small = 100 * Math.abs(apq);
        if (apq === 0) continue;
        if (
          Math.abs(apq) <= negligible ||
          (Math.abs(app) + small === Math.abs(app) && Math.abs(aqq) + small === Math.abs(aqq))
        ) {
          s[p * n + q] = 0;
          s[q * n + p] = 0;
          continue;
        }
        // Rotation angle from cot(2θ) = (a_qq − a_pp) / (2·a_pq), the smaller root for stability.
        const tau = (aqq - app) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        rotate(s, v, n, p, q, c, t * c);
        s[p * n + q] = 0;
        s[q * n + p] = 0;
        rotated = true;
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => s[j * n + j] - s[i * n + i] || i - j);
  const values = Float64Array.from(order, (i) => s[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let r = 0; r < n; r++) vectors[r * n + dst] = v[r * n + src];
  });
  return { values, vectors, sweeps };
}

/** S ← Jᵀ·S·J and V ← V·J for the rotation J in the (p, q) plane (c on the diagonal, s off it). */
function rotate(s: Float64Array, v: Float64Array, n: number, p: number, q: number, c: number, sn: number): void {
  for (let k = 0; k < n; k++) {
    const skp = s[k * n + p];
    const skq = s[k * n + q];
    s[k * n + p] = c * skp - sn * skq;
    s[k * n + q] = sn * skp + c * skq;
  }
  for (let k = 0; k < n; k++) {
    const spk = s[p * n + k];
    const sqk = s[q * n + k];
    s[p * n + k] = c * spk - sn * sqk;
    s[q * n + k] = sn * spk + c * sqk;
  }
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p];
    const vkq = v[k * n + q];
    v[k * n + p] = c * vkp - sn * vkq;
    v[k * n + q] = sn * vkp + c * vkq;
  }
}

export interface SvdOptions {
  /** Singular triplets to keep. */
  rank: number;
  /** Extra sketch columns beyond `rank` (default 10). */
  oversample?: number;
  /** Power iterations (default 2). */
  powerIterations?: number;
  /** Seed of the Gaussian sketch (default 0). */
  seed?: number;
  /** Tensor device of the dense products (default 'cpu'). */
  device?: string;
  /** Precision of the dense products (default 'float64'). */
  dtype?: 'float32' | 'float64';
}

export interface TruncatedSvd {
  rank: number;
  /** Left singular vectors, A.rows × rank, row-major. */
  u: Float64Array;
  /** Singular values, descending. */
  s: Float64Array;
  /** Right singular vectors, A.cols × rank, row-major. */
  v: Float64Array;
}

type Place = { device: string; dtype: 'float32' | 'float64' };

/** Dense a (m × k) · b (k × n), row-major, through our tensor matmul. */
function denseProduct(a: Float64Array, m: number, k: number, b: Float64Array, n: number, at: Place): Float64Array {
  return tidy(() => Float64Array.from(matmul(fromArray(a, [m, k], at), fromArray(b, [k, n], at)).toArray()));
}

/** Zᵀ·Z for Z (m × l, row-major) through our tensor matmul. */
function gram(z: Float64Array, m: number, l: number, at: Place): Float64Array {
  return tidy(() => {
    const tz = fromArray(z, [m, l], at);
    return Float64Array.from(matmul(transpose(tz), tz).toArray());
  });
}

/** Randomized truncated SVD of a sparse matrix (see the file header). Deterministic for a seed. */
export function randomizedSvd(a: CsrMatrix, opts: SvdOptions): TruncatedSvd {
  const rank = opts.rank;
  const maxRank = Math.min(a.rows, a.cols);
  if (!Number.isInteger(rank) || rank < 1)
    throw new Error(`randomizedSvd: rank must be a positive integer, got ${rank}`);
  if (rank > maxRank)
    throw new Error(
      `randomizedSvd: rank ${rank} exceeds min(rows, cols) = ${maxRank} of the ${a.rows}x${a.cols} matrix`,
    );
  const l = Math.min(rank + (opts.oversample ?? 10), maxRank);
  const at: Place = { device: opts.device ?? 'cpu', dtype: opts.dtype ?? 'float64' };
  const gen = new Generator(opts.seed ?? 0);
  const omega = new Float64Array(a.cols * l);
  for (let i = 0; i < omega.length; i++) omega[i] = gen.normal();

  let q = mgsQr(csrTimesDense(a, omega, l), a.rows, l);
  for (let it = 0; it < (opts.powerIterations ?? 2); it++) {
    const w = mgsQr(csrTransposeTimesDense(a, q, l), a.cols, l);
    q = mgsQr(csrTimesDense(a, w, l), a.rows, l);
  }
  const z = csrTransposeTimesDense(a, q, l);
  const eig = jacobiEigen(gram(z, a.cols, l, at), l);

  const s = new Float64Array(rank);
  const w = new Float64Array(l * rank);
  const wScaled = new Float64Array(l * rank);
  for (let j = 0; j < rank; j++) {
    s[j] = Math.sqrt(Math.max(eig.values[j], 0));
    for (let i = 0; i < l; i++) {
      w[i * rank + j] = eig.vectors[i * l + j];
      wScaled[i * rank + j] = s[j] > 0 ? eig.vectors[i * l + j] / s[j] : 0;
    }
  }
  return {
    rank,
    u: denseProduct(q, a.rows, l, w, rank, at),
    s,
    v: denseProduct(z, a.cols, l, wScaled, rank, at),
  };
}
