// Which in-batch documents an in-batch loss may count as a query's negatives (cde.md, "1. Contextual
// batching", step 5 and its loss). A batch of triples (q_i, p_i, n_i) offers query i a row of
// candidate columns; cell (i, j) is masked (left out of the loss) when
//   duplicate  column j holds the same document id as query i's gold p_i — always, filter or not
//              (in data/pkgdesc-train one document is the positive of hundreds of triples);
//   filtered   a frozen surrogate scorer f has f(q_i, column j) >= f(q_i, p_i), j is not the gold
//              column and not exempt (query i's own hard negative) — only with a surrogate.
// A cell that is both counts as a duplicate. Column layouts of the losses:
//   'positives'            InfoNCE:                 [p_0..p_B-1], gold column i
//   'positives+negatives'  InfoNCE --own-negatives: [p | n], gold column i, column B+i exempt
//   'negatives'            SDAM --in-batch:         [n_0..n_B-1], no gold column (threshold
//                          f(q_i, p_i)), column i exempt
// Surrogates (`Surrogate`: texts -> scores [queries, documents], row-major): the contextual
// batching embedder (TF-IDF + SVD, embed.ts; cosine of unit rows) over every text of the training
// triples, or a frozen biencoder directory (cosine of its pooled embeddings, eval mode, no grad).

import { noGrad } from '../../autograd/engine.js';
import { cosineSimilarityMatrix, matmul, transpose } from '../../autograd/ops.js';
import { tidy } from '../../tensor/memory.js';
import { fromArray } from '../../tensor/tensor.js';
import { Biencoder } from '../../nn/biencoder.js';
import { embedTexts } from './embed.js';
import { cacheKey, cached } from './cache.js';

export type MaskLayout = 'positives' | 'positives+negatives' | 'negatives';

/** Scores f(query_i, document_j) as a row-major [queries, documents] array. */
export type Surrogate = (queries: readonly string[], documents: readonly string[]) => ArrayLike<number>;

export interface BatchTriple {
  pos: string;
  neg: string;
}

export interface InBatchMask {
  /** Row-major [B, columns]; 1 = the cell leaves query i's loss. */
  mask: Uint8Array;
  columns: number;
  /** Masked cells that duplicate the gold document, masked by the surrogate, and all negative cells (non-gold). */
  duplicates: number;
  filtered: number;
  cells: number;
}

/** Number of candidate columns of a layout for a batch of B triples. */
export function layoutColumns(layout: MaskLayout, b: number): number {
  return layout === 'positives+negatives' ? 2 * b : b;
}

/** The document ids the surrogate scores for a layout: [p] for 'positives', else [p | n]. */
export function surrogateDocuments(batch: readonly BatchTriple[], layout: MaskLayout): string[] {
  return layout === 'positives' ? batch.map((t) => t.pos) : [...batch.map((t) => t.pos), ...batch.map((t) => t.neg)];
}

/**
 * The mask of a batch of triples (see the file header). `scores`: the surrogate's scores of every
 * query against surrogateDocuments(batch, layout), [B, B] or [B, 2B]; omit them for duplicates only.
 */
export function inBatchMask(
  batch: readonly BatchTriple[],
  layout: MaskLayout,
  scores?: ArrayLike<number>,
): InBatchMask {
  const b = batch.length;
  const columns = layoutColumns(layout, b);
  const width = layout === 'positives' ? b : 2 * b;
  if (scores && scores.length !== b * width)
    throw new Error(`inBatchMask: ${scores.length} surrogate scores for ${b} queries and ${width} documents`);
  const columnIds =
    layout === 'positives'
      ? batch.map((t) => t.pos)
      : layout === 'negatives'
        ? batch.map((t) => t.neg)
        : [...batch.map((t) => t.pos), ...batch.map((t) => t.neg)];
  // Surrogate column of candidate j: p_j is column j, n_j is column B + j of [p | n].
  const scoreColumn = (j: number): number => (layout === 'negatives' ? b + j : j);
  const mask = new Uint8Array(b * columns);
  let duplicates = 0;
  let filtered = 0;
  let cells = 0;
  for (let i = 0; i < b; i++) {
    const gold = layout === 'negatives' ? -1 : i;
    const exempt = layout === 'positives' ? -1 : layout === 'negatives' ? i : b + i;
    const goldScore = scores ? scores[i * width + i] : 0;
    for (let j = 0; j < columns; j++) {
      if (j === gold) continue;
      cells++;
      if (columnIds[j] === batch[i].pos) {
        mask[i * columns + j] = 1;
        duplicates++;
      } else if (scores && j !== exempt && scores[i * width + scoreColumn(j)] >= goldScore) {
        mask[i * columns + j] = 1;
        filtered++;
      }
    }
  }
  return { mask, columns, duplicates, filtered, cells };
}

/**
 * The TF-IDF + SVD surrogate over a fixed set of texts (every query and document text of the
 * training triples): embeds them once (cached in `cacheDir`, cache.ts); scoring looks texts up (a
 * text outside the set is an error).
 */
export function tfidfSurrogate(
  texts: readonly string[],
  opts: { dims?: number; seed?: number; device?: string; cacheDir?: string } = {},
): { surrogate: Surrogate; cached: boolean } {
  const distinct = [...new Set(texts)];
  const row = new Map(distinct.map((t, i) => [t, i]));
  const dims = opts.dims ?? 128;
  const settings = { version: 1, dims, seed: opts.seed ?? 0 };
  const entry = cached(opts.cacheDir, 'tfidf', cacheKey(settings, distinct), () => ({
    tensors: {
      vectors: {
        dtype: 'F32',
        shape: [distinct.length, dims],
        data: embedTexts(distinct, { dims, seed: settings.seed, device: opts.device }).vectors,
      },
    },
  }));
  const emb = { vectors: entry.tensors.get('vectors')!.data as Float32Array };
  const gather = (list: readonly string[]): Float32Array => {
    const out = new Float32Array(list.length * dims);
    list.forEach((text, i) => {
      const r = row.get(text);
      if (r === undefined) throw new Error('tfidf surrogate: a text outside the training triples');
      out.set(emb.vectors.subarray(r * dims, (r + 1) * dims), i * dims);
    });
    return out;
  };
  const surrogate: Surrogate = (queries, documents) =>
    tidy(() =>
      matmul(
        fromArray(gather(queries), [queries.length, dims]),
        transpose(fromArray(gather(documents), [documents.length, dims])),
      ).toArray(),
    );
  return { surrogate, cached: entry.hit };
}

/** A frozen biencoder as the surrogate: cosine of its pooled embeddings (eval mode, no gradients). */
export function modelSurrogate(
  dir: string,
  o: { device?: string; queryLength: number; docLength: number },
): { surrogate: Surrogate; dispose: () => void } {
  const bi = Biencoder.load(dir, { device: o.device });
  bi.model.eval();
  const surrogate: Surrogate = (queries, documents) =>
    noGrad(() =>
      tidy(() => cosineSimilarityMatrix(bi.embed(queries, o.queryLength), bi.embed(documents, o.docLength)).toArray()),
    );
  return { surrogate, dispose: () => bi.dispose() };
}
