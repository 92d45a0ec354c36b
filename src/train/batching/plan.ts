// What the trainers (retrieval.ts, contextual.ts) ask of contextual batching: the batches of each
// epoch and the mask of each batch's in-batch loss.
//
//   --batching random       the trainer's own seeded shuffle per epoch (batches() returns null)
//   --batching contextual   schedule.ts: the triples' (query, positive) pairs clustered once
//                           (cached), re-packed every epoch with a seed from (seed, epoch)
//   --batches FILE          file.ts: the batches `retrograd cluster --out` wrote, checked against
//                           the triples; epoch 0 in the file's order, later epochs the same batches
//                           in an order shuffled with a seed from (seed, epoch)
//   --filter none|tfidf|model:DIR   negatives.ts's surrogate: none (duplicates of the gold are
//                           masked anyway), the TF-IDF + SVD embedder over every text of the
//                           triples (cached), or a frozen biencoder directory
// `hardness(epoch)` measures an epoch's batches as `retrograd cluster` does (filter.ts
// batchHardness, the clustering embedder) beside random batches of the same size and seed.

import type { Triple } from '../../data/beir.js';
import { mixSeed } from '../mlm.js';
import { batchHardness } from './filter.js';
import type { KMeansInit } from './kmeans.js';
import {
  inBatchMask,
  modelSurrogate,
  surrogateDocuments,
  tfidfSurrogate,
  type InBatchMask,
  type MaskLayout,
  type Surrogate,
} from './negatives.js';
import type { ClusterOrder } from './order.js';
import { randomBatches } from './pack.js';
import { clusterPairs, epochBatches, type PairClustering } from './schedule.js';
import { readBatchFile } from './file.js';
import { Generator } from '../../tensor/random.js';

export type BatchingSpec =
  | { kind: 'random' }
  | {
      kind: 'contextual';
      clusterSize: number;
      order: ClusterOrder;
      dims: number;
      iterations: number;
      restarts: number;
      init: KMeansInit;
    }
  /** Batches written by `retrograd cluster --out` (file.ts); `sha256`, when given, must match the file's bytes. */
  | { kind: 'file'; path: string; sha256?: string };

export type FilterSpec = { kind: 'none' } | { kind: 'tfidf'; dims: number } | { kind: 'model'; dir: string };

/** --filter none | tfidf | model:DIR (tfidf's dimension is the clustering embedder's, `dims`). */
export function parseFilter(text: string, dims = 128): FilterSpec {
  if (text === 'none') return { kind: 'none' };
  if (text === 'tfidf') return { kind: 'tfidf', dims };
  if (text.startsWith('model:') && text.length > 'model:'.length)
    return { kind: 'model', dir: text.slice('model:'.length) };
  throw new Error(`--filter must be none, tfidf or model:DIR, got ${text}`);
}

export interface BatchPlanOptions {
  batching: BatchingSpec;
  filter: FilterSpec;
  /** The loss's candidate columns (negatives.ts), or null for a loss without in-batch negatives. */
  layout: MaskLayout | null;
  batchSize: number;
  seed: number;
  queryText: (qid: string) => string;
  docText: (id: string) => string;
  /** Cache of the clustering and TF-IDF stages (cache.ts); none when unset. */
  cacheDir?: string;
  device?: string;
  /** Truncation of the model surrogate's inputs. */
  queryLength: number;
  docLength: number;
}

export interface EpochHardness {
  contextual: number;
  random: number;
  /** Fraction of in-batch (query, other document) cells the clustering embedder would filter. */
  filteredContextual: number;
  filteredRandom: number;
}

const FILE_SALT = 0xf11e;

export class BatchPlan {
  private constructor(
    private readonly triples: readonly Triple[],
    private readonly o: BatchPlanOptions,
    readonly clustering: PairClustering | null,
    private readonly surrogate: Surrogate | null,
    private readonly release: () => void,
    /** Which stages came from the cache. */
    readonly cached: { clustering: boolean; tfidf: boolean },
    /** The batches of a batch file (--batches), else null. */
    private readonly fileBatches: number[][] | null = null,
  ) {}

  static create(triples: readonly Triple[], o: BatchPlanOptions): BatchPlan {
    if (o.filter.kind !== 'none' && o.layout === null)
      throw new Error('--filter needs a loss with in-batch negatives (infonce, or sdam --in-batch)');
    if (o.batching.kind === 'contextual' && o.batching.clusterSize < 1)
      throw new Error(`--cluster-size must be at least 1, got ${o.batching.clusterSize}`);
    let clustering: PairClustering | null = null;
    const fileBatches =
      o.batching.kind === 'file' ? readBatchFile(o.batching.path, triples, o.batchSize, o.batching.sha256) : null;
    if (o.batching.kind === 'contextual') {
      const b = o.batching;
      clustering = clusterPairs(
        triples.map((t) => ({ query: o.queryText(t.qid), doc: o.docText(t.pos) })),
        {
          clusterSize: b.clusterSize,
          dims: b.dims,
          seed: o.seed,
          iterations: b.iterations,
          restarts: b.restarts,
          init: b.init,
          device: o.device,
          cacheDir: o.cacheDir,
        },
      );
    }
    let surrogate: Surrogate | null = null;
    let release = (): void => {};
    let tfidfHit = false;
    if (o.filter.kind === 'tfidf') {
      const texts = triples.flatMap((t) => [o.queryText(t.qid), o.docText(t.pos), o.docText(t.neg)]);
      const s = tfidfSurrogate(texts, { dims: o.filter.dims, seed: o.seed, device: o.device, cacheDir: o.cacheDir });
      surrogate = s.surrogate;
      tfidfHit = s.cached;
    } else if (o.filter.kind === 'model') {
      const s = modelSurrogate(o.filter.dir, { device: o.device, queryLength: o.queryLength, docLength: o.docLength });
      surrogate = s.surrogate;
      release = s.dispose;
    }
    return new BatchPlan(
      triples,
      o,
      clustering,
      surrogate,
      release,
      { clustering: clustering?.cached ?? false, tfidf: tfidfHit },
      fileBatches,
    );
  }

  /** Batches per epoch. */
  get perEpoch(): number {
    return Math.floor(this.triples.length / this.o.batchSize);
  }

  /** Epoch's batches as triple indices in training order; null for random batching (the trainer shuffles). */
  batches(epoch: number): number[][] | null {
    if (this.fileBatches) {
      const copy = this.fileBatches.map((b) => [...b]);
      return epoch === 0 ? copy : new Generator(mixSeed(this.o.seed, FILE_SALT, epoch)).shuffle(copy);
    }
    if (!this.clustering || this.o.batching.kind !== 'contextual') return null;
    return epochBatches(this.clustering, epoch, {
      batchSize: this.o.batchSize,
      order: this.o.batching.order,
      seed: this.o.seed,
    });
  }

  /** The in-batch mask of a batch (duplicates of the gold, and the filter's false negatives); null without in-batch negatives. */
  mask(batch: readonly Triple[]): InBatchMask | null {
    const layout = this.o.layout;
    if (layout === null) return null;
    const scores = this.surrogate
      ? this.surrogate(
          batch.map((t) => this.o.queryText(t.qid)),
          surrogateDocuments(batch, layout).map((id) => this.o.docText(id)),
        )
      : undefined;
    return inBatchMask(batch, layout, scores);
  }

  /** Hardness of the epoch's contextual batches and of random batches (contextual batching only). */
  hardness(epoch: number): EpochHardness | null {
    const batches = this.batches(epoch);
    if (!batches || !this.clustering) return null;
    const docIds = this.triples.map((t) => t.pos);
    const ctx = batchHardness(batches, this.clustering, { docIds, device: this.o.device });
    const random = randomBatches(this.triples.length, {
      batchSize: this.o.batchSize,
      seed: mixSeed(this.o.seed, 0x4a4d, epoch),
    });
    const rnd = batchHardness(
      random.batches.map((b) => b.examples),
      this.clustering,
      { docIds, device: this.o.device },
    );
    return {
      contextual: ctx.mean,
      random: rnd.mean,
      filteredContextual: ctx.filteredFraction,
      filteredRandom: rnd.filteredFraction,
    };
  }

  dispose(): void {
    this.release();
  }
}

/** A batch's masked share of its negative cells: duplicates of the gold, and the filter's removals. */
export function maskedFractions(m: InBatchMask | null): { duplicates: number; filtered: number } | null {
  if (!m) return null;
  return { duplicates: m.cells > 0 ? m.duplicates / m.cells : 0, filtered: m.cells > 0 ? m.filtered / m.cells : 0 };
}

/** The loss's in-batch candidate layout (negatives.ts), or null when it has none. */
export function lossLayout(loss: { kind: string; ownNegatives?: boolean; inBatch?: boolean }): MaskLayout | null {
  if (loss.kind === 'infonce') return loss.ownNegatives ? 'positives+negatives' : 'positives';
  if (loss.kind === 'sdam' && loss.inBatch) return 'negatives';
  return null;
}
