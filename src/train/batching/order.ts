// The order in which clusters are laid out before they are cut into batches (cde.md, "1. Contextual
// batching", step 3). Neighbouring clusters share the batches a cluster boundary falls into, so the
// order decides what a mixed batch mixes:
//
//   random  a seeded shuffle of the clusters
//   tsp     greedy nearest-neighbour tour over the cluster centroids: start at the first cluster
//           given (or a seeded random one), then always step to the nearest unvisited centroid by
//           Euclidean distance (ties: the lower cluster id). As in the official code, a heuristic
//           tour, not an optimal one.
//
// Only the clusters passed in are ordered (callers leave out empty ones).

import { Generator } from '../../tensor/random.js';

export type ClusterOrder = 'random' | 'tsp';

/** A seeded shuffle of the cluster ids. */
export function randomOrder(clusters: readonly number[], seed: number): number[] {
  return new Generator(seed).shuffle([...clusters]);
}

export interface TspOptions {
  /** 'first': start at clusters[0] (default); 'random': a seeded random start. */
  start?: 'first' | 'random';
  seed?: number;
}

/**
 * Greedy TSP order of the given cluster ids over their centroids (row `id` of the row-major
 * `centroids`, `dim` wide).
 */
export function tspOrder(
  clusters: readonly number[],
  centroids: ArrayLike<number>,
  dim: number,
  opts: TspOptions = {},
): number[] {
  const m = clusters.length;
  if (m === 0) return [];
  for (const c of clusters) {
    if (!Number.isInteger(c) || c < 0 || (c + 1) * dim > centroids.length)
      throw new Error(`tspOrder: cluster ${c} has no centroid (${centroids.length / dim} centroids)`);
  }
  const distance2 = (a: number, b: number): number => {
    let s = 0;
    for (let t = 0; t < dim; t++) {
      const diff = centroids[a * dim + t] - centroids[b * dim + t];
      s += diff * diff;
    }
    return s;
  };
  const visited = new Uint8Array(m);
  let current = opts.start === 'random' ? new Generator(opts.seed ?? 0).int(m) : 0;
  const order = [clusters[current]];
  visited[current] = 1;
  for (let step = 1; step < m; step++) {
    let next = -1;
    let nextDistance = Infinity;
    for (let j = 0; j < m; j++) {
      if (visited[j]) continue;
      const dist = distance2(clusters[current], clusters[j]);
      if (next < 0 || dist < nextDistance || (dist === nextDistance && clusters[j] < clusters[next])) {
        next = j;
        nextDistance = dist;
      }
    }
    visited[next] = 1;
    order.push(clusters[next]);
    current = next;
  }
  return order;
}
