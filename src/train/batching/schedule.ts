// Contextual batches for a training loop: the clustering once (cached, cache.ts), the batches of
// each epoch re-packed from it.
//
//   clusterPairs   embed the (query, positive) pairs (embed.ts) and cluster them with paired
//                  spherical k-means (kmeans.ts) — the stages of index.ts's contextualBatches, with
//                  the same options and seed — keyed by the pair texts and options in the cache
//   epochBatches   epoch e: seed s_e = mixSeed(seed, 0xba7c, e); order the non-empty clusters
//                  (random: a shuffle by s_e; tsp: the greedy tour from a cluster drawn by s_e)
//                  and pack them (pack.ts, seed s_e). Every epoch sees every pair at most once (the
//                  last partial batch is dropped), in batches drawn from neighbouring clusters; the
//                  batches and their order differ between epochs and repeat for the same (seed, e).

import { embedPairs, type TextPair } from './embed.js';
import { pairedKMeans, type KMeansInit } from './kmeans.js';
import { randomOrder, tspOrder, type ClusterOrder } from './order.js';
import { packBatches } from './pack.js';
import { cacheKey, cached } from './cache.js';
import { mixSeed } from '../mlm.js';

export interface ClusterPairsOptions {
  /** Target pairs per cluster (k = ceil(N / clusterSize)). */
  clusterSize: number;
  /** Embedding dimension (default 128). */
  dims?: number;
  seed?: number;
  iterations?: number;
  restarts?: number;
  init?: KMeansInit;
  device?: string;
  /** Cache directory (cache.ts); without it nothing is cached. */
  cacheDir?: string;
}

export interface PairClustering {
  n: number;
  dims: number;
  /** n × dims unit query and positive-document vectors of the clustering embedder. */
  queries: Float32Array;
  docs: Float32Array;
  k: number;
  /** k × 2·dims centroids of the paired rows. */
  centroids: Float32Array;
  /** Cluster of each pair. */
  assignments: Int32Array;
  /** Mean cosine of a paired row to its centroid. */
  objective: number;
  /** Read from the cache (false: computed by this call). */
  cached: boolean;
}

/** Embed and cluster the pairs, or read the result back from the cache (see the file header). */
export function clusterPairs(pairs: readonly TextPair[], o: ClusterPairsOptions): PairClustering {
  const n = pairs.length;
  const dims = o.dims ?? 128;
  const settings = {
    version: 1,
    dims,
    clusterSize: o.clusterSize,
    seed: o.seed ?? 0,
    iterations: o.iterations ?? 100,
    restarts: o.restarts ?? 3,
    init: o.init ?? 'random',
  };
  const compute = () => {
    const emb = embedPairs(pairs, { dims, seed: settings.seed, device: o.device });
    const c = pairedKMeans(emb.queries, emb.docs, n, dims, {
      clusterSize: o.clusterSize,
      iterations: settings.iterations,
      restarts: settings.restarts,
      init: settings.init,
      seed: settings.seed,
      device: o.device,
    });
    return {
      tensors: {
        queries: { dtype: 'F32' as const, shape: [n, dims], data: emb.queries },
        docs: { dtype: 'F32' as const, shape: [n, dims], data: emb.docs },
        centroids: { dtype: 'F32' as const, shape: [c.k, c.dim], data: c.centroids },
        assignments: { dtype: 'I32' as const, shape: [n], data: c.pairAssignments },
      },
      metadata: { objective: String(c.objective / (2 * n)) },
    };
  };
  const texts = function* (): Generator<string> {
    for (const p of pairs) {
      yield p.query;
      yield p.doc;
    }
  };
  const entry = cached(o.cacheDir, 'clusters', cacheKey(settings, texts()), compute);
  const get = (name: string) => entry.tensors.get(name)!.data;
  const centroids = get('centroids') as Float32Array;
  return {
    n,
    dims,
    queries: get('queries') as Float32Array,
    docs: get('docs') as Float32Array,
    k: centroids.length / (2 * dims),
    centroids,
    assignments: get('assignments') as Int32Array,
    objective: Number(entry.metadata.objective),
    cached: entry.hit,
  };
}

export interface EpochBatchOptions {
  batchSize: number;
  order: ClusterOrder;
  seed: number;
}

const EPOCH_SALT = 0xba7c;

/** Batches (lists of pair indices, in training order) of one epoch (see the file header). */
export function epochBatches(c: PairClustering, epoch: number, o: EpochBatchOptions): number[][] {
  const members: number[][] = Array.from({ length: c.k }, () => []);
  c.assignments.forEach((cluster, i) => members[cluster].push(i));
  const nonEmpty = members.flatMap((m, id) => (m.length > 0 ? [id] : []));
  const seed = mixSeed(o.seed, EPOCH_SALT, epoch);
  const ids =
    o.order === 'tsp'
      ? tspOrder(nonEmpty, c.centroids, 2 * c.dims, { start: 'random', seed })
      : randomOrder(nonEmpty, seed);
  return packBatches(
    ids.map((id) => ({ id, members: members[id] })),
    { batchSize: o.batchSize, seed },
  ).batches.map((b) => b.examples);
}
