// Contextual batching end to end (cde.md, "1. Contextual batching"): embed the (query, positive)
// pairs with the fixed TF-IDF + SVD embedder, cluster them with asymmetric paired spherical k-means,
// order the non-empty clusters (random or greedy TSP over centroids), and pack them into shuffled
// fixed-size batches. Each stage's file says what it does; this one only chains them with one seed
// and times them. Batches are lists of pair indices. Hardness and false-negative filtering live in
// filter.ts; `retrograd cluster` (src/cli/cluster.ts) is the command-line front.

import { embedPairs, type PairEmbeddings, type TextPair } from './embed.js';
import { pairedKMeans, type KMeansInit, type PairedKMeansResult } from './kmeans.js';
import { randomOrder, tspOrder, type ClusterOrder } from './order.js';
import { packBatches, type Cluster, type Packing } from './pack.js';

export * from './embed.js';
export * from './filter.js';
export * from './kmeans.js';
export * from './linalg.js';
export * from './order.js';
export * from './pack.js';

export interface ContextualBatchingOptions {
  batchSize: number;
  /** Target pairs per cluster (k = ceil(N / clusterSize)). */
  clusterSize: number;
  /** Cluster order (default 'random'). */
  order?: ClusterOrder;
  /** Where the TSP tour starts: the lowest cluster id, or a seeded random cluster (default). */
  tspStart?: 'first' | 'random';
  /** Embedding dimension (default 128). */
  dims?: number;
  /** One seed for every stage (default 0). */
  seed?: number;
  /** k-means iterations (default 100), restarts (default 3) and initialisation (default 'random'). */
  iterations?: number;
  restarts?: number;
  init?: KMeansInit;
  /** Drop the last partial batch (default true). */
  dropLast?: boolean;
  /** Tensor device of the dense products (default 'cpu'). */
  device?: string;
  /** Called as each stage ends (progress). */
  onStage?: (stage: 'embed' | 'cluster' | 'order' | 'pack', seconds: number) => void;
}

export interface ContextualBatching {
  embeddings: PairEmbeddings;
  clustering: PairedKMeansResult;
  /** Non-empty clusters (by [q;d] assignment) in tour order, members ascending. */
  clusters: Cluster[];
  packing: Packing;
  /** Seconds per stage. */
  seconds: { embed: number; cluster: number; order: number; pack: number };
}

/** Contextual batches of the pairs (see the file header). */
export function contextualBatches(pairs: readonly TextPair[], opts: ContextualBatchingOptions): ContextualBatching {
  const seed = opts.seed ?? 0;
  const clock = (): number => performance.now() / 1000;
  let t = clock();
  const lap = (): number => {
    const now = clock();
    const dt = now - t;
    t = now;
    return Math.round(dt * 1000) / 1000;
  };

  const embeddings = embedPairs(pairs, { dims: opts.dims, seed, device: opts.device });
  const embed = lap();
  opts.onStage?.('embed', embed);

  const clustering = pairedKMeans(embeddings.queries, embeddings.docs, pairs.length, embeddings.dims, {
    clusterSize: opts.clusterSize,
    iterations: opts.iterations,
    restarts: opts.restarts,
    init: opts.init,
    seed,
    device: opts.device,
  });
  const members: number[][] = Array.from({ length: clustering.k }, () => []);
  clustering.pairAssignments.forEach((c, i) => members[c].push(i));
  const nonEmpty = members.flatMap((m, id) => (m.length > 0 ? [id] : []));
  const cluster = lap();
  opts.onStage?.('cluster', cluster);

  const ids =
    (opts.order ?? 'random') === 'tsp'
      ? tspOrder(nonEmpty, clustering.centroids, clustering.dim, { start: opts.tspStart ?? 'random', seed })
      : randomOrder(nonEmpty, seed);
  const clusters = ids.map((id) => ({ id, members: members[id] }));
  const order = lap();
  opts.onStage?.('order', order);

  const packing = packBatches(clusters, { batchSize: opts.batchSize, seed, dropLast: opts.dropLast });
  const pack = lap();
  opts.onStage?.('pack', pack);
  return { embeddings, clustering, clusters, packing, seconds: { embed, cluster, order, pack } };
}
