// Batch packing (src/train/batching/pack.ts), false-negative filtering and batch hardness
// (filter.ts), and the contextual-batching pipeline (index.ts) on small synthetic inputs: every
// example exactly once, batch sizes, clusters contiguous before the shuffle, determinism; the mask's
// semantics including ties and exemptions, the logit offset; contextual batches harder than random
// ones on a clustered set.

import { describe, expect, it } from 'vitest';
import { Generator } from '../src/tensor/random.js';
import { fromArray } from '../src/tensor/tensor.js';
import { softmax } from '../src/autograd/ops.js';
import { layoutBatches, packBatches, randomBatches, type Cluster } from '../src/train/batching/pack.js';
import { batchHardness, falseNegativeMask, FILTERED_LOGIT, maskLogits } from '../src/train/batching/filter.js';
import { contextualBatches } from '../src/train/batching/index.js';
import { assertClose, TOL } from './util/close.js';

/** Clusters of sizes `sizes`, members numbered consecutively from 0, ids 10, 11, ... */
function clustersOf(sizes: number[]): Cluster[] {
  let next = 0;
  return sizes.map((size, i) => ({ id: 10 + i, members: Array.from({ length: size }, () => next++) }));
}

describe('packing', () => {
  const clusters = clustersOf([7, 2, 3, 11, 1, 4]); // 28 examples

  it('lays the clusters out contiguously: big ones split, small ones merge with their neighbours', () => {
    const { batches, dropped } = layoutBatches(clusters, 5);
    expect(batches.map((b) => b.examples)).toEqual([
      [0, 1, 2, 3, 4],
      [5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14],
      [15, 16, 17, 18, 19],
      [20, 21, 22, 23, 24],
    ]);
    expect(batches.map((b) => b.clusters)).toEqual([[10], [10, 11, 12], [12, 13], [13], [13, 14, 15]]);
    expect(dropped).toEqual([25, 26, 27]);
    const kept = layoutBatches(clusters, 5, false);
    expect(kept.batches.map((b) => b.examples.length)).toEqual([5, 5, 5, 5, 5, 3]);
    expect(kept.dropped).toEqual([]);
    expect(layoutBatches(clustersOf([4, 6]), 5).dropped).toEqual([]);
  });

  it('packs every example exactly once, in full batches, each batch a contiguous run of the shuffled clusters', () => {
    for (const dropLast of [true, false]) {
      const p = packBatches(clusters, { batchSize: 5, seed: 3, dropLast });
      const all = [...p.batches.flatMap((b) => b.examples), ...p.dropped].sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 28 }, (_, i) => i));
      expect(p.batches.map((b) => b.examples.length)).toEqual(
        dropLast ? [5, 5, 5, 5, 5] : expect.arrayContaining([5, 5, 5, 5, 5, 3]),
      );
      const clusterOf = new Map(clusters.flatMap((c) => c.members.map((m) => [m, c.id] as const)));
      // Before the shuffle, batches cut the concatenation of the clusters in order: a batch's
      // clusters are consecutive in that order, and its examples come from exactly those clusters.
      const ids = clusters.map((c) => c.id);
      for (const b of p.batches) {
        const first = ids.indexOf(b.clusters[0]);
        expect(b.clusters).toEqual(ids.slice(first, first + b.clusters.length));
        expect(new Set(b.examples.map((e) => clusterOf.get(e)))).toEqual(new Set(b.clusters));
      }
    }
  });

  it('is deterministic for a seed and shuffles batch order and examples', () => {
    const a = packBatches(clusters, { batchSize: 5, seed: 8 });
    expect(packBatches(clusters, { batchSize: 5, seed: 8 })).toEqual(a);
    const layout = layoutBatches(clusters, 5);
    expect(a.batches.map((b) => b.examples)).not.toEqual(layout.batches.map((b) => b.examples));
    expect(packBatches(clusters, { batchSize: 5, seed: 9 })).not.toEqual(a);
  });

  it('random batches cover 0..n-1 and reject a bad batch size', () => {
    const r = randomBatches(23, { batchSize: 4, seed: 1 });
    expect(r.batches).toHaveLength(5);
    expect([...r.batches.flatMap((b) => b.examples), ...r.dropped].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 23 }, (_, i) => i),
    );
    expect(r.dropped).toHaveLength(3);
    expect(() => packBatches(clusters, { batchSize: 0, seed: 1 })).toThrow(
      'batch size must be a positive integer, got 0',
    );
  });
});

describe('false-negative filtering', () => {
  it('drops in-batch documents scoring at least the gold score, ties included, never the gold itself', () => {
    const s = [
      0.9,
      0.2,
      0.9,
      0.95, // query 0, gold 0: column 2 ties, column 3 beats it
      0.1,
      0.5,
      0.4,
      0.5, //  query 1, gold 1: column 3 ties
      0.3,
      0.3,
      0.3,
      0.3, //  query 2, gold 2: all tie
      0.0,
      0.1,
      0.2,
      -0.5, // query 3, gold 3: everything beats the gold
    ];
    const mask = falseNegativeMask(s, 4, 4, [0, 1, 2, 3]);
    expect(Array.from(mask)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0]);
    // A query's own hard negatives are exempt; the threshold can be an externally computed gold score.
    const exempt = falseNegativeMask(s, 4, 4, [0, 1, 2, 3], { exempt: [[3], [], [0, 1], []] });
    expect(Array.from(exempt.subarray(0, 4))).toEqual([0, 0, 1, 0]);
    expect(Array.from(exempt.subarray(8, 12))).toEqual([0, 0, 0, 1]);
    const scored = falseNegativeMask(s, 4, 4, [0, 1, 2, 3], { goldScore: [0.92, 0.5, 1, 0.15] });
    expect(Array.from(scored)).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0]);
    // Non-square: 2 queries over 3 documents, golds in columns 2 and 0.
    expect(Array.from(falseNegativeMask([0.1, 0.7, 0.7, 0.4, 0.4, 0.1], 2, 3, [2, 0]))).toEqual([0, 1, 0, 0, 1, 0]);
    expect(() => falseNegativeMask(s, 4, 4, [0, 1, 2, 4])).toThrow('gold column 4 of query 3 is outside 0..3');
  });

  it('maskLogits adds -1e10 where masked; a fully masked row keeps its gold and stays finite', () => {
    const logits = fromArray([2, 1, 3, 0.5, 0.5, 0.5], [2, 3], { dtype: 'float64', device: 'cpu-ref' });
    const mask = falseNegativeMask(logits.toArray(), 2, 3, [0, 1]);
    expect(Array.from(mask)).toEqual([0, 0, 1, 1, 0, 1]);
    const masked = maskLogits(logits, mask);
    assertClose(
      masked.toArray(),
      [2, 1, 3 + FILTERED_LOGIT, 0.5 + FILTERED_LOGIT, 0.5, 0.5 + FILTERED_LOGIT],
      TOL.f64,
      'logits',
    );
    const p = softmax(masked).toArray();
    assertClose(p, [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1)), 0, 0, 1, 0], TOL.f64, 'softmax');
    expect(() => maskLogits(logits, new Uint8Array(4))).toThrow('mask of 4 entries for logits of shape [2, 3]');
  });
});

describe('batch hardness', () => {
  it('is the mean top-1 non-gold similarity; duplicate positives are not negatives', () => {
    const dims = 2;
    const c = Math.SQRT1_2;
    const queries = Float32Array.from([1, 0, 0, 1, 1, 0, c, c]);
    const docs = Float32Array.from([1, 0, 0, 1, 1, 0, c, c]);
    // Batch [0, 1, 2, 3]: examples 0 and 2 share a document.
    const noIds = batchHardness([[0, 1, 2, 3]], { dims, queries, docs }, { device: 'cpu-ref' });
    // Query 0 (1,0): best non-own doc is doc 2 = (1,0) -> 1. Query 1 (0,1): doc 3 -> c. Query 2: doc 0 -> 1. Query 3: doc 0/1/2 -> c.
    assertClose(noIds.mean, (1 + c + 1 + c) / 4, TOL.f32, 'without ids');
    const ids = batchHardness(
      [[0, 1, 2, 3]],
      { dims, queries, docs },
      { docIds: ['a', 'b', 'a', 'd'], device: 'cpu-ref' },
    );
    // With ids, doc 2 is query 0's gold too: query 0 -> c (doc 3), query 2 -> c.
    assertClose(ids.mean, (c + c + c + c) / 4, TOL.f32, 'with ids');
    expect(ids.queries).toBe(4);
    // Filter with the embedder: query 0 drops doc 2 (tie), query 2 drops doc 0; 2 of 12 cells.
    assertClose(ids.filteredFraction, 2 / 12, TOL.f64, 'filtered');
    // A batch whose only other document is the gold's duplicate counts no query.
    const lone = batchHardness([[0, 2]], { dims, queries, docs }, { docIds: ['a', 'b', 'a', 'd'] });
    expect(lone.queries).toBe(0);
    expect(lone.perBatch).toEqual([NaN]);
  });

  it('contextual batches are harder than random ones on a clustered set, deterministically', () => {
    // 8 topics x 12 pairs; each text mixes its topic's words with shared filler words.
    const g = new Generator(4);
    const topics = ['font', 'kernel', 'python', 'audio', 'network', 'game', 'editor', 'database'];
    const flavour = ['driver', 'library', 'plugin', 'theme', 'server', 'client'];
    const filler = ['tool', 'support', 'files', 'utility', 'package', 'program', 'data', 'simple'];
    const pick = (xs: string[]): string => xs[g.int(xs.length)];
    const pairs = topics.flatMap((t) =>
      Array.from({ length: 12 }, () => ({
        query: `${t} ${pick(flavour)} ${pick(filler)}`,
        doc: `${t} ${pick(flavour)} ${pick(filler)} ${pick(filler)} ${t} ${pick(flavour)} ${pick(filler)}`,
      })),
    );
    const run = (): ReturnType<typeof contextualBatches> =>
      contextualBatches(pairs, { batchSize: 12, clusterSize: 12, dims: 8, seed: 2, order: 'tsp' });
    const ctx = run();
    expect(run().packing).toEqual(ctx.packing);
    expect(ctx.packing.batches).toHaveLength(8);
    expect(ctx.clustering.k).toBe(8);
    const contextual = batchHardness(
      ctx.packing.batches.map((b) => b.examples),
      ctx.embeddings,
    );
    const random = batchHardness(
      randomBatches(pairs.length, { batchSize: 12, seed: 2 }).batches.map((b) => b.examples),
      ctx.embeddings,
    );
    // Measured 0.97 vs 0.84: a random batch of 12 usually still holds a same-topic document.
    expect(contextual.mean).toBeGreaterThan(random.mean + 0.1);
    // Most contextual batches are single-topic.
    const topicOf = (e: number): number => Math.floor(e / 12);
    const pure = ctx.packing.batches.filter((b) => new Set(b.examples.map(topicOf)).size === 1).length;
    expect(pure).toBeGreaterThanOrEqual(6);
  });
});
