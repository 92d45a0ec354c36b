// False-negative filtering for in-batch negatives, and the batch-hardness measure of contextual
// batching (cde.md, "1. Contextual batching", step 5 and "What our reproduction must show" 1).
//
// Filtering: with a frozen surrogate scorer's scores S [rows = queries, cols = in-batch documents],
// document j is dropped from query i's softmax when S[i][j] >= S[i][gold_i] and j is not the gold
// column itself (ties are dropped: a duplicate of the gold document scores exactly the gold score).
// Columns listed as exempt for a query (its own mined hard negatives, per cde.md) are never dropped.
// The trainer applies the mask by adding -1e10 to those logits (maskLogits), a large finite value,
// so a fully masked row still has its gold logit and never becomes NaN.
//
// Hardness: the mean over queries of the top-1 non-gold similarity between query i and the batch's
// documents, with the fixed clustering embedder (embed.ts). The batch's documents are the examples'
// positives; "non-gold" excludes the query's own column and any column holding the same document id
// (two queries sharing a positive). A query with no non-gold document in its batch is not counted.
// The same pass reports the fraction of (query, other example's document) cells that the filter
// would drop with that embedder as the surrogate scorer (duplicates of the gold document included:
// they tie with it).

import type { Tensor } from '../../tensor/tensor.js';
import { fromArray } from '../../tensor/tensor.js';
import { add, matmul, transpose } from '../../autograd/ops.js';
import { tidy } from '../../tensor/memory.js';

/** The logit offset of a filtered document. */
export const FILTERED_LOGIT = -1e10;

export interface MaskOptions {
  /** Override the threshold: query i's gold score (default S[i][gold_i]). */
  goldScore?: ArrayLike<number>;
  /** Columns never dropped for query i (its own hard negatives). */
  exempt?: ReadonlyArray<readonly number[]>;
}

/**
 * mask[i·cols + j] = 1 when document j must leave query i's softmax: j ≠ gold[i], j not exempt for
 * i, and S[i][j] >= gold score of i. S is row-major [rows, cols]; gold[i] is a column index.
 */
export function falseNegativeMask(
  scores: ArrayLike<number>,
  rows: number,
  cols: number,
  gold: ArrayLike<number>,
  opts: MaskOptions = {},
): Uint8Array {
  if (scores.length !== rows * cols)
    throw new Error(`falseNegativeMask: ${scores.length} scores do not fill ${rows}x${cols}`);
  if (gold.length !== rows) throw new Error(`falseNegativeMask: ${gold.length} gold columns for ${rows} queries`);
  const mask = new Uint8Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const g = gold[i];
    if (!Number.isInteger(g) || g < 0 || g >= cols)
      throw new Error(`falseNegativeMask: gold column ${g} of query ${i} is outside 0..${cols - 1}`);
    const threshold = opts.goldScore ? opts.goldScore[i] : scores[i * cols + g];
    const exempt = new Set(opts.exempt?.[i] ?? []);
    for (let j = 0; j < cols; j++) {
      if (j !== g && !exempt.has(j) && scores[i * cols + j] >= threshold) mask[i * cols + j] = 1;
    }
  }
  return mask;
}

/** logits + FILTERED_LOGIT where the mask is set (differentiable in logits; same device and dtype). */
export function maskLogits(logits: Tensor, mask: Uint8Array): Tensor {
  if (logits.size !== mask.length)
    throw new Error(`maskLogits: mask of ${mask.length} entries for logits of shape [${logits.shape.join(', ')}]`);
  const offsets = Float64Array.from(mask, (m) => (m ? FILTERED_LOGIT : 0));
  return add(logits, fromArray(offsets, logits.shape, { dtype: logits.dtype, device: logits.device }));
}

export interface EmbeddedPairs {
  dims: number;
  /** n × dims query and positive-document vectors, row-major. */
  queries: Float32Array;
  docs: Float32Array;
}

export interface HardnessResult {
  /** Mean over counted queries of the top-1 non-gold in-batch similarity. */
  mean: number;
  /** Queries counted (those with at least one non-gold document in their batch). */
  queries: number;
  /** Mean hardness of each batch (NaN when none of its queries counts). */
  perBatch: number[];
  /** Fraction of (query i, document of example j ≠ i) cells the filter drops with this embedder. */
  filteredFraction: number;
}

/**
 * Hardness of batches of example indices over embedded pairs (see the file header). docIds[e] is
 * the positive document of example e; without it only the query's own column counts as gold.
 */
export function batchHardness(
  batches: ReadonlyArray<readonly number[]>,
  emb: EmbeddedPairs,
  opts: { docIds?: ReadonlyArray<string | number>; device?: string } = {},
): HardnessResult {
  const { dims } = emb;
  const device = opts.device ?? 'cpu';
  let sum = 0;
  let counted = 0;
  let filtered = 0;
  let cells = 0;
  const perBatch: number[] = [];
  for (const batch of batches) {
    const b = batch.length;
    const scores = tidy(() => {
      const q = new Float32Array(b * dims);
      const d = new Float32Array(b * dims);
      batch.forEach((e, i) => {
        q.set(emb.queries.subarray(e * dims, (e + 1) * dims), i * dims);
        d.set(emb.docs.subarray(e * dims, (e + 1) * dims), i * dims);
      });
      return matmul(fromArray(q, [b, dims], { device }), transpose(fromArray(d, [b, dims], { device }))).toArray();
    });
    const mask = falseNegativeMask(
      scores,
      b,
      b,
      Int32Array.from({ length: b }, (_, i) => i),
    );
    let batchSum = 0;
    let batchCount = 0;
    for (let i = 0; i < b; i++) {
      let top = -Infinity;
      for (let j = 0; j < b; j++) {
        if (j === i) continue;
        cells++;
        filtered += mask[i * b + j];
        if (opts.docIds && opts.docIds[batch[j]] === opts.docIds[batch[i]]) continue;
        top = Math.max(top, scores[i * b + j]);
      }
      if (top === -Infinity) continue;
      batchSum += top;
      batchCount++;
    }
    sum += batchSum;
    counted += batchCount;
    perBatch.push(batchCount > 0 ? batchSum / batchCount : NaN);
  }
  return {
    mean: counted > 0 ? sum / counted : NaN,
    queries: counted,
    perBatch,
    filteredFraction: cells > 0 ? filtered / cells : 0,
  };
}
