// Spherical k-means, the asymmetric paired clustering (src/train/batching/kmeans.ts) and the cluster
// orders (order.ts) on small synthetic inputs: recovery of well-separated clusters with both
// initialisations, determinism per seed, best-of-restarts, re-seeding of emptied clusters, the
// [q;d]-row assignment of pairs, and greedy TSP tours over points on a line and on a circle.

import { describe, expect, it } from 'vitest';
import { Generator } from '../src/tensor/random.js';
import { kmeans, nearestCentroids, pairedKMeans, pairedRows } from '../src/train/batching/kmeans.js';
import { randomOrder, tspOrder } from '../src/train/batching/order.js';
import { assertClose, TOL } from './util/close.js';

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** `groups` unit directions in `dim` dims (orthogonal basis vectors), `per` noisy unit points each. */
function blobs(
  groups: number,
  per: number,
  dim: number,
  noise: number,
  seed: number,
): { x: Float32Array; labels: number[] } {
  const g = new Generator(seed);
  const rows: number[] = [];
  const labels: number[] = [];
  for (let c = 0; c < groups; c++) {
    for (let i = 0; i < per; i++) {
      const v = Array.from({ length: dim }, (_, t) => (t === c ? 1 : 0) + noise * g.normal());
      rows.push(...unit(v));
      labels.push(c);
    }
  }
  // Interleave the groups so that row order says nothing about the labels.
  const order = g.shuffle(labels.map((_, i) => i));
  return {
    x: Float32Array.from(order.flatMap((i) => rows.slice(i * dim, (i + 1) * dim))),
    labels: order.map((i) => labels[i]),
  };
}

/** True when the two labelings induce the same partition. */
function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]) ?? b[i]) !== b[i] || (ba.get(b[i]) ?? a[i]) !== a[i]) return false;
    ab.set(a[i], b[i]);
    ba.set(b[i], a[i]);
  }
  return true;
}

describe('kmeans', () => {
  it('recovers well-separated clusters with random and k-means++ initialisation', () => {
    const { x, labels } = blobs(4, 25, 8, 0.08, 1);
    for (const init of ['random', 'kmeans++'] as const) {
      const r = kmeans(x, 100, 8, { k: 4, seed: 3, init });
      expect(samePartition(r.assignments, labels), init).toBe(true);
      expect(r.converged).toBe(true);
      // Each centroid is the unit mean of its rows, and every row's nearest centroid is its own.
      const again = nearestCentroids(x, 100, 8, r.centroids, 4, 'cpu-ref');
      expect(Array.from(again.assignments)).toEqual(Array.from(r.assignments));
      for (let j = 0; j < 4; j++)
        assertClose(Math.hypot(...r.centroids.subarray(j * 8, j * 8 + 8)), 1, TOL.f32, `|c${j}|`);
      assertClose(
        r.objective,
        again.similarities.reduce((s, v) => s + v, 0),
        TOL.f32Loose,
        'objective',
      );
    }
  });

  it('is deterministic for a seed', () => {
    const { x } = blobs(5, 12, 10, 0.6, 2);
    const a = kmeans(x, 60, 10, { k: 5, seed: 9, restarts: 2 });
    const b = kmeans(x, 60, 10, { k: 5, seed: 9, restarts: 2 });
    expect(Array.from(b.assignments)).toEqual(Array.from(a.assignments));
    expect(Array.from(b.centroids)).toEqual(Array.from(a.centroids));
    expect(b.objective).toBe(a.objective);
  });

  it('keeps the best of its restarts by objective', () => {
    // Noisy, overlapping data: different starts end in different local optima.
    const { x } = blobs(6, 10, 6, 0.9, 4);
    const best = kmeans(x, 60, 6, { k: 6, seed: 100, restarts: 6 });
    expect(best.objectives).toHaveLength(6);
    expect(best.iterationsRun).toHaveLength(6);
    expect(new Set(best.objectives).size).toBeGreaterThan(1);
    expect(best.objective).toBe(Math.max(...best.objectives));
    expect(best.restart).toBe(best.objectives.indexOf(best.objective));
    // The first restart is the single run of the same seed (one generator drives the restarts in turn).
    expect(kmeans(x, 60, 6, { k: 6, seed: 100, restarts: 1 }).objective).toBe(best.objectives[0]);
  });

  it('re-seeds emptied clusters: duplicated points still give k non-empty clusters', () => {
    // Three distinct points, ten copies each. The random starts of seeds 0, 1, 3 and 5 pick two or
    // three copies of one point: their clusters tie, the higher ones empty out and are re-seeded.
    const points = [unit([1, 0, 0]), unit([0, 1, 0]), unit([1, 1, 1])];
    const x = Float32Array.from(Array.from({ length: 30 }, (_, i) => points[i % 3]).flat());
    const labels = Array.from({ length: 30 }, (_, i) => i % 3);
    for (let seed = 0; seed < 6; seed++) {
      const r = kmeans(x, 30, 3, { k: 3, seed, restarts: 1 });
      expect(samePartition(r.assignments, labels), `seed ${seed}`).toBe(true);
      assertClose(r.objective, 30, TOL.f32Loose, 'objective');
    }
  });

  it('rejects k outside 1..n', () => {
    expect(() => kmeans(new Float32Array(6), 3, 2, { k: 4 })).toThrow('k must be an integer in [1, 3]');
  });
});

describe('pairedKMeans', () => {
  it('builds [q;d] then [d;q] rows, normalised', () => {
    const q = Float32Array.from([1, 0, 0, 2]);
    const d = Float32Array.from([0, 1, 2, 0]);
    const rows = pairedRows(q, d, 2, 2);
    const r = Math.SQRT1_2;
    assertClose(rows, [r, 0, 0, r, 0, r, r, 0, 0, r, r, 0, r, 0, 0, r], TOL.f32, 'rows');
  });

  it('fits on all 2N rows, k = ceil(N / clusterSize), and assigns each pair by its [q;d] row', () => {
    // Two directions A and B in 4 dims. Type-1 pairs: q ≈ A, d ≈ B; type-2 pairs: q ≈ B, d ≈ A.
    // The 2N rows form two tight clusters, [A;B] and [B;A]; a type-1 pair's [q;d] row is [A;B].
    const g = new Generator(6);
    const A = [1, 0, 0, 0];
    const B = [0, 0, 1, 0];
    const noisy = (v: number[]): number[] => unit(v.map((x) => x + 0.05 * g.normal()));
    const n = 18;
    const type = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 2 : 1));
    const q = Float32Array.from(type.flatMap((t) => noisy(t === 1 ? A : B)));
    const d = Float32Array.from(type.flatMap((t) => noisy(t === 1 ? B : A)));
    const r = pairedKMeans(q, d, n, 4, { clusterSize: 9, seed: 1 });
    expect(r.k).toBe(2);
    expect(r.assignments).toHaveLength(2 * n);
    expect(samePartition(r.pairAssignments, type)).toBe(true);
    for (let i = 0; i < n; i++) {
      const c = r.centroids.subarray(r.pairAssignments[i] * 8, r.pairAssignments[i] * 8 + 8);
      // The centroid's first half (the query half of [q;d]) points along the pair's query direction.
      const qHalf = type[i] === 1 ? c[0] : c[2];
      expect(qHalf, `pair ${i}`).toBeGreaterThan(0.6);
      expect(r.pairAssignments[i]).toBe(r.assignments[i]);
      expect(r.assignments[n + i]).not.toBe(r.assignments[i]);
    }
  });

  it('uses ceil(N / clusterSize) clusters', () => {
    const { x } = blobs(3, 7, 4, 0.3, 8);
    const r = pairedKMeans(x, x, 21, 4, { clusterSize: 5, seed: 2, restarts: 1 });
    expect(r.k).toBe(5);
    expect(Math.max(...r.pairAssignments)).toBeLessThan(5);
  });
});

describe('cluster order', () => {
  it('greedy TSP walks points on a line from the first cluster to the nearest unvisited each step', () => {
    const xs = [0, 5, 1, 4, 2, 3];
    expect(tspOrder([0, 1, 2, 3, 4, 5], xs, 1)).toEqual([0, 2, 4, 5, 3, 1]);
    // Starting in the middle (cluster 4 at x = 2): clusters 2 (x = 1) and 5 (x = 3) are equally near
    // and the tie goes to the lower id; from x = 1 the nearest is x = 0, then back up the line.
    expect(tspOrder([4, 0, 1, 2, 3, 5], xs, 1)).toEqual([4, 2, 0, 5, 3, 1]);
  });

  it('greedy TSP goes around a circle, and only over the clusters given', () => {
    const m = 10;
    const angleOf = new Generator(3).shuffle(Array.from({ length: m }, (_, i) => i));
    const c = angleOf.flatMap((a) => [Math.cos((2 * Math.PI * a) / m), Math.sin((2 * Math.PI * a) / m)]);
    const ids = Array.from({ length: m }, (_, i) => i);
    const start = angleOf.indexOf(0);
    const tour = tspOrder([start, ...ids.filter((i) => i !== start)], c, 2);
    const angles = tour.map((id) => angleOf[id]);
    // From angle 0 both neighbours (1 and m-1) are equally near; whichever is taken, the walk then
    // continues in that direction around the circle.
    const forward = Array.from({ length: m }, (_, i) => i);
    const backward = [0, ...Array.from({ length: m - 1 }, (_, i) => m - 1 - i)];
    expect([forward, backward]).toContainEqual(angles);
    const subset = tspOrder([ids[2], ids[5], ids[7]], c, 2);
    expect([...subset].sort()).toEqual([ids[2], ids[5], ids[7]].sort());
    expect(subset[0]).toBe(ids[2]);
  });

  it('a seeded start and a seeded random order are deterministic permutations', () => {
    const c = Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const a = tspOrder([0, 1, 2, 3, 4, 5, 6, 7], c, 2, { start: 'random', seed: 5 });
    expect(tspOrder([0, 1, 2, 3, 4, 5, 6, 7], c, 2, { start: 'random', seed: 5 })).toEqual(a);
    expect([...a].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const r = randomOrder([3, 8, 9, 11], 7);
    expect(randomOrder([3, 8, 9, 11], 7)).toEqual(r);
    expect([...r].sort((x, y) => x - y)).toEqual([3, 8, 9, 11]);
    expect(() => tspOrder([0, 9], c, 2)).toThrow('cluster 9 has no centroid (8 centroids)');
  });
});
