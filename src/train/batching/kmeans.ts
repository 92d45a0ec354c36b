// Spherical k-means (cosine similarity; centroids re-normalised to unit length) and the asymmetric
// paired clustering of contextual batching (cde.md, "1. Contextual batching", step 2).
//
// kmeans: Lloyd iterations on unit rows. Each restart draws its initial centroids from one seeded
// Generator — `random` (k distinct rows, uniformly; what the official code gets from faiss) or
// `kmeans++` (each next centroid drawn with probability ∝ 1 − max cosine to the chosen ones, i.e.
// half the squared Euclidean distance of unit vectors) — then alternates: centroid = normalised
// sum of its rows; row -> most similar centroid (ties: the lowest index). It stops when no row
// changes cluster or after `iterations` updates. An emptied cluster is re-seeded deterministically
// with the row least similar to its own centroid among clusters of two or more rows (ties: the
// lowest row index). The best of `restarts` runs by objective (sum of each row's cosine to its
// centroid; ties: the earlier run) is returned. Row-centroid similarities are one matmul per row
// chunk with our tensors (float32 on the 'cpu' device by default); sums are float64.
//
// pairedKMeans: each (q, d) pair becomes two rows, [q;d] and [d;q] (concatenations, 2·dims wide,
// re-normalised), k = ceil(N / clusterSize), k-means on all 2N rows, and each pair is assigned to the
// centroid nearest its [q;d] row — so a cluster means "queries like these with documents like those".

import { Generator } from '../../tensor/random.js';
import { fromArray } from '../../tensor/tensor.js';
import { matmul, transpose } from '../../autograd/ops.js';
import { tidy } from '../../tensor/memory.js';

export type KMeansInit = 'random' | 'kmeans++';

export interface KMeansOptions {
  k: number;
  /** Most centroid updates per restart (default 100). */
  iterations?: number;
  /** Independent runs; the best by objective is kept (default 3). */
  restarts?: number;
  seed?: number;
  /** Initial centroids (default 'random'). */
  init?: KMeansInit;
  /** Tensor device of the similarity products (default 'cpu'). */
  device?: string;
}

export interface KMeansResult {
  k: number;
  dim: number;
  /** k × dim, row-major, unit rows. */
  centroids: Float32Array;
  /** Cluster of each row. */
  assignments: Int32Array;
  /** Sum over rows of the cosine to their centroid (higher is better). */
  objective: number;
  /** Index of the restart that won; each restart's objective and iterations run. */
  restart: number;
  objectives: number[];
  iterationsRun: number[];
  /** Whether the winning restart stopped because no assignment changed. */
  converged: boolean;
}

/** Rows per similarity product: keeps one chunk's n × k float32 block near 64 MiB. */
function chunkRows(k: number): number {
  return Math.max(1, Math.floor((1 << 24) / k));
}

/**
 * Most similar centroid of every row, and that similarity. Rows are [n, dim], centroids [k, dim];
 * ties go to the lower centroid index.
 */
export function nearestCentroids(
  x: Float32Array,
  n: number,
  dim: number,
  centroids: Float32Array,
  k: number,
  device = 'cpu',
): { assignments: Int32Array; similarities: Float64Array } {
  const assignments = new Int32Array(n);
  const similarities = new Float64Array(n);
  const step = chunkRows(k);
  tidy(() => {
    const c = fromArray(centroids, [k, dim], { device });
    const ct = transpose(c);
    for (let start = 0; start < n; start += step) {
      const rows = Math.min(step, n - start);
      const sims = tidy(() =>
        matmul(fromArray(x.subarray(start * dim, (start + rows) * dim), [rows, dim], { device }), ct).toArray(),
      );
      for (let i = 0; i < rows; i++) {
        let best = 0;
        let bestSim = sims[i * k];
        for (let j = 1; j < k; j++) {
          const v = sims[i * k + j];
          if (v > bestSim) {
            bestSim = v;
            best = j;
          }
        }
        assignments[start + i] = best;
        similarities[start + i] = bestSim;
      }
    }
  });
  return { assignments, similarities };
}

function dotRow(x: Float32Array, i: number, y: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) s += x[i * dim + t] * y[j * dim + t];
  return s;
}

function initRandom(n: number, k: number, gen: Generator): number[] {
  // Partial Fisher-Yates: the first k entries of a seeded permutation of 0..n-1.
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + gen.int(n - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return Array.from(idx.subarray(0, k));
}

function initPlusPlus(x: Float32Array, n: number, dim: number, k: number, gen: Generator): number[] {
  const chosen = [gen.int(n)];
  const best = new Float64Array(n).fill(-Infinity);
  while (chosen.length < k) {
    const last = chosen[chosen.length - 1];
    let total = 0;
    for (let i = 0; i < n; i++) {
      best[i] = Math.max(best[i], dotRow(x, i, x, last, dim));
      total += Math.max(0, 1 - best[i]);
    }
    let next = -1;
    if (total > 0) {
      let u = gen.uniform() * total;
      for (let i = 0; i < n && next < 0; i++) {
        const w = Math.max(0, 1 - best[i]);
        if (w > 0 && u < w) next = i;
        u -= w;
      }
    }
    // All remaining rows coincide with a centroid (or rounding ran past the end): the first row
    // not yet chosen, so the k initial rows stay distinct.
    if (next < 0) {
      const taken = new Set(chosen);
      next = 0;
      while (taken.has(next)) next++;
    }
    chosen.push(next);
  }
  return chosen;
}

/** Re-seed every empty cluster with the worst-fitting row of a cluster that can spare one. */
function reseedEmpty(assignments: Int32Array, similarities: Float64Array, k: number): void {
  const counts = new Int32Array(k);
  for (const a of assignments) counts[a]++;
  const empty: number[] = [];
  for (let j = 0; j < k; j++) if (counts[j] === 0) empty.push(j);
  if (empty.length === 0) return;
  const order = Array.from({ length: assignments.length }, (_, i) => i).sort(
    (a, b) => similarities[a] - similarities[b] || a - b,
  );
  let next = 0;
  for (const e of empty) {
    while (counts[assignments[order[next]]] < 2) next++;
    const row = order[next++];
    counts[assignments[row]]--;
    assignments[row] = e;
    counts[e] = 1;
    similarities[row] = 1;
  }
}

/** Unit centroid of each cluster: the normalised sum of its rows (float64 sums). */
function updateCentroids(x: Float32Array, n: number, dim: number, assignments: Int32Array, k: number): Float32Array {
  const sums = new Float64Array(k * dim);
  for (let i = 0; i < n; i++) {
    const o = assignments[i] * dim;
    for (let t = 0; t < dim; t++) sums[o + t] += x[i * dim + t];
  }
  const out = new Float32Array(k * dim);
  for (let j = 0; j < k; j++) {
    let norm = 0;
    for (let t = 0; t < dim; t++) norm += sums[j * dim + t] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    for (let t = 0; t < dim; t++) out[j * dim + t] = sums[j * dim + t] / norm;
  }
  return out;
}

/** Spherical k-means on n unit rows of width dim (see the file header). */
export function kmeans(x: Float32Array, n: number, dim: number, opts: KMeansOptions): KMeansResult {
  const k = opts.k;
  if (x.length !== n * dim) throw new Error(`kmeans: ${x.length} values do not fill ${n}x${dim}`);
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new Error(`kmeans: k must be an integer in [1, ${n}] (the number of rows), got ${k}`);
  const iterations = opts.iterations ?? 100;
  const restarts = opts.restarts ?? 3;
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new Error(`kmeans: iterations must be a positive integer, got ${iterations}`);
  if (!Number.isInteger(restarts) || restarts < 1)
    throw new Error(`kmeans: restarts must be a positive integer, got ${restarts}`);
  const device = opts.device ?? 'cpu';
  const gen = new Generator(opts.seed ?? 0);

  let best: KMeansResult | null = null;
  const iterationsRun: number[] = [];
  const objectives: number[] = [];
  for (let r = 0; r < restarts; r++) {
    const seeds = opts.init === 'kmeans++' ? initPlusPlus(x, n, dim, k, gen) : initRandom(n, k, gen);
    let centroids: Float32Array = new Float32Array(k * dim);
    seeds.forEach((row, j) => centroids.set(x.subarray(row * dim, (row + 1) * dim), j * dim));
    let { assignments, similarities } = nearestCentroids(x, n, dim, centroids, k, device);
    let converged = false;
    let it = 0;
    while (it < iterations && !converged) {
      it++;
      reseedEmpty(assignments, similarities, k);
      centroids = updateCentroids(x, n, dim, assignments, k);
      const next = nearestCentroids(x, n, dim, centroids, k, device);
      converged = next.assignments.every((a, i) => a === assignments[i]);
      assignments = next.assignments;
      similarities = next.similarities;
    }
    iterationsRun.push(it);
    const objective = similarities.reduce((s, v) => s + v, 0);
    objectives.push(objective);
    if (best === null || objective > best.objective) {
      best = { k, dim, centroids, assignments, objective, restart: r, objectives, iterationsRun, converged };
    }
  }
  return best!;
}

export interface PairedKMeansOptions extends Omit<KMeansOptions, 'k'> {
  /** Target pairs per cluster: k = ceil(N / clusterSize). */
  clusterSize: number;
}

export interface PairedKMeansResult extends KMeansResult {
  /** Cluster of each pair (by its [q;d] row); `assignments` covers all 2N rows. */
  pairAssignments: Int32Array;
}

/** The 2N rows [q_i; d_i] (i < N) then [d_i; q_i], each normalised to unit length. */
export function pairedRows(q: Float32Array, d: Float32Array, n: number, dims: number): Float32Array {
  if (q.length !== n * dims || d.length !== n * dims)
    throw new Error(`pairedRows: query and document arrays must both be ${n}x${dims}`);
  const width = 2 * dims;
  const rows = new Float32Array(2 * n * width);
  const put = (row: number, first: Float32Array, second: Float32Array, i: number): void => {
    let norm = 0;
    for (let t = 0; t < dims; t++) norm += first[i * dims + t] ** 2 + second[i * dims + t] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) return;
    for (let t = 0; t < dims; t++) {
      rows[row * width + t] = first[i * dims + t] / norm;
      rows[row * width + dims + t] = second[i * dims + t] / norm;
    }
  };
  for (let i = 0; i < n; i++) {
    put(i, q, d, i);
    put(n + i, d, q, i);
  }
  return rows;
}

/** Asymmetric paired spherical k-means (see the file header). */
export function pairedKMeans(
  q: Float32Array,
  d: Float32Array,
  n: number,
  dims: number,
  opts: PairedKMeansOptions,
): PairedKMeansResult {
  if (!Number.isInteger(opts.clusterSize) || opts.clusterSize < 1)
    throw new Error(`pairedKMeans: clusterSize must be a positive integer, got ${opts.clusterSize}`);
  const k = Math.ceil(n / opts.clusterSize);
  const rows = pairedRows(q, d, n, dims);
  const result = kmeans(rows, 2 * n, 2 * dims, { ...opts, k });
  const forward = nearestCentroids(rows.subarray(0, n * 2 * dims), n, 2 * dims, result.centroids, k, opts.device);
  return { ...result, pairAssignments: forward.assignments };
}
