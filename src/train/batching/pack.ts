// Packing ordered clusters into fixed-size training batches (cde.md, "1. Contextual batching",
// step 4):
//
//   1. shuffle the examples inside each cluster (seeded), so which examples of a split cluster
//      share a batch is random rather than file order;
//   2. concatenate the clusters in the given order and cut the sequence every `batchSize` examples:
//      a cluster bigger than a batch spans several batches, small ones share a batch with their
//      neighbours in the order;
//   3. the last partial batch is dropped by default (as the official sampler's drop_last; training
//      then always sees full batches) and its examples are reported in `dropped`; `dropLast: false`
//      keeps it as a smaller final batch;
//   4. shuffle the batch order, then the examples inside each batch (seeded).
//
// Every example appears exactly once: in one batch, or in `dropped`. One Generator drives steps 1
// and 4, so a seed gives the same batches. `layoutBatches` is steps 2-3 alone (the contiguous cut,
// before any shuffling). Examples are opaque integers (indices into the caller's example list).

import { Generator } from '../../tensor/random.js';

export interface Cluster {
  id: number;
  members: readonly number[];
}

export interface Batch {
  examples: number[];
  /** Ids of the clusters the batch draws from, in layout order. */
  clusters: number[];
}

export interface Packing {
  batches: Batch[];
  /** Examples of the dropped last partial batch (empty when none was dropped). */
  dropped: number[];
}

export interface PackOptions {
  batchSize: number;
  seed: number;
  /** Drop the last partial batch (default true). */
  dropLast?: boolean;
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`pack: batch size must be a positive integer, got ${batchSize}`);
}

/** Concatenate the clusters in order and cut into batches of `batchSize` (no shuffling). */
export function layoutBatches(clusters: readonly Cluster[], batchSize: number, dropLast = true): Packing {
  checkBatchSize(batchSize);
  const batches: Batch[] = [];
  let current: Batch = { examples: [], clusters: [] };
  for (const cluster of clusters) {
    for (const example of cluster.members) {
      if (current.clusters[current.clusters.length - 1] !== cluster.id) current.clusters.push(cluster.id);
      current.examples.push(example);
      if (current.examples.length === batchSize) {
        batches.push(current);
        current = { examples: [], clusters: [] };
      }
    }
  }
  if (current.examples.length === 0) return { batches, dropped: [] };
  if (dropLast) return { batches, dropped: current.examples };
  batches.push(current);
  return { batches, dropped: [] };
}

/** The full packing of ordered clusters (see the file header). */
export function packBatches(clusters: readonly Cluster[], opts: PackOptions): Packing {
  checkBatchSize(opts.batchSize);
  const gen = new Generator(opts.seed);
  const shuffled = clusters.map((c) => ({ id: c.id, members: gen.shuffle([...c.members]) }));
  const packing = layoutBatches(shuffled, opts.batchSize, opts.dropLast ?? true);
  gen.shuffle(packing.batches);
  for (const batch of packing.batches) gen.shuffle(batch.examples);
  return packing;
}

/** Batches of uniformly shuffled examples 0..n-1: the baseline contextual batches are compared with. */
export function randomBatches(n: number, opts: PackOptions): Packing {
  return packBatches([{ id: 0, members: Array.from({ length: n }, (_, i) => i) }], opts);
}
