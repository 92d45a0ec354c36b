// Retrieval losses on embeddings, written with ops from src/autograd (so their gradients and device
// placement come for free): InfoNCE, Margin-MSE with a teacher, and SDAM's self-distilled
// adaptive-margin loss (Gienapp et al., arXiv 2407.21515; official code
// webis-de/adaptive-relevance-margin-loss, src/loss.py).
//
// Notation: q, p, n are [B, H] embeddings of queries, positive and negative documents (one triple
// per row); s(a, b) is cosine similarity; S_xy[i, j] = s(x_i, y_j) is a [B, B] matrix.
// The in-batch losses take an optional mask (row-major, 1 = leave the cell out; built by
// batching/negatives.ts: duplicates of the gold document, false negatives): InfoNCE adds -1e10 to
// those logits, in-batch SDAM leaves those (query, negative) cells out of its mean.

import { type Tensor, arange, fromArray, scalar } from '../tensor/tensor.js';
import * as ops from '../autograd/ops.js';
import { maskLogits } from './batching/filter.js';

/**
 * InfoNCE with in-batch negatives: cross-entropy of scale·s(q_i, d_j) over j, target j = i.
 * With `negatives` [B, H] (each triple's own negative) the candidates are [d | negatives], [B, 2B].
 * q, d: [B, H] -> scalar. scale = 1/τ (20 is τ = 0.05). `mask` [B, candidates]: cells left out of
 * the softmax (never a diagonal cell).
 */
export function infoNCE(q: Tensor, d: Tensor, scale = 20, negatives?: Tensor, mask?: Uint8Array): Tensor {
  let scores = ops.cosineSimilarityMatrix(q, d); // [B, B]
  if (negatives) scores = ops.concat([scores, ops.cosineSimilarityMatrix(q, negatives)], 1); // [B, 2B]
  let logits = ops.mul(scores, scale);
  if (mask) {
    const [rows, cols] = logits.shape;
    for (let i = 0; i < rows; i++)
      if (mask[i * cols + i]) throw new Error(`infoNCE: the mask removes query ${i}'s positive`);
    logits = maskLogits(logits, mask);
  }
  return ops.crossEntropy(logits, arange(0, q.shape[0], 1, { dtype: 'int32', device: q.device }));
}

/**
 * Margin-MSE (Hofstätter et al. 2020): mean over triples of ((s(q,p) - s(q,n)) - (t_p - t_n))²,
 * where t_p, t_n [B] are a teacher's scores of the positive and the negative.
 */
export function marginMSE(q: Tensor, p: Tensor, n: Tensor, teacherPos: Tensor, teacherNeg: Tensor): Tensor {
  const margin = ops.sub(ops.cosineSimilarity(q, p), ops.cosineSimilarity(q, n)); // [B]
  return ops.mean(ops.square(ops.sub(margin, ops.sub(teacherPos, teacherNeg))));
}

/** 'adaptive': (1 + s(p, n)) / 2; 'distributed': the same against every negative in the batch; a number: static. */
export type SdamTarget = 'adaptive' | 'distributed' | number;
export type SdamError = 'l2' | 'l1' | 'soft';
/**
 * In-batch student margins. rowwise: M[i,j] = s(q_i,p_i) - s(q_i,n_j) (the clean reading).
 * as-released: M[i,j] = s(q_j,p_j) - s(q_i,n_j), what the official code's broadcast of
 * diag(S_qp) - S_qn computes.
 */
export type SdamMarginMode = 'rowwise' | 'as-released';

export interface SdamOptions {
  target?: SdamTarget;
  /** Compare every query with every negative in the batch (not with 'distributed'). */
  inBatch?: boolean;
  marginMode?: SdamMarginMode;
  error?: SdamError;
  /** Stop gradients through the target (research switch; the released code does not). */
  detachTarget?: boolean;
  /** In-batch only: [B, B] row-major, 1 = the (query i, negative j) cell is left out of the mean. */
  mask?: Uint8Array;
}

export interface SdamParts {
  loss: Tensor;
  /** Student margin: [B] per triple, [B, B] in-batch. */
  margin: Tensor;
  /** Target margin, shaped like the error below ([] for a static target). */
  target: Tensor;
  /** margin - target as compared: [B] or [B, B]. */
  error: Tensor;
  /** s(p_i, n_j) [B, B], the document-document similarity the adaptive targets come from. */
  docSimilarity: Tensor;
}

function errorFn(kind: SdamError, e: Tensor): Tensor {
  switch (kind) {
    case 'l2':
      return ops.square(e);
    case 'l1':
      return ops.abs(e);
    case 'soft':
      return ops.softplus(ops.neg(e)); // log(1 + exp(-e))
  }
}

/**
 * SDAM: L = mean err(margin - target), the target coming from the encoder's own document-document
 * similarity. Defaults: adaptive target, per-triple margins, l2 error, gradients through the target.
 */
export function sdamLoss(q: Tensor, p: Tensor, n: Tensor, o: SdamOptions = {}): SdamParts {
  const targetKind = o.target ?? 'adaptive';
  const inBatch = o.inBatch ?? false;
  const marginMode = o.marginMode ?? 'rowwise';
  if (inBatch && targetKind === 'distributed')
    throw new Error('sdamLoss: distributed targets are not defined with in-batch negatives');
  if (typeof targetKind === 'number' && !Number.isFinite(targetKind))
    throw new Error(`sdamLoss: static target must be finite, got ${targetKind}`);
  if (o.mask && !inBatch) throw new Error('sdamLoss: a mask needs in-batch margins');
  if (o.mask && o.mask.length !== q.shape[0] ** 2)
    throw new Error(`sdamLoss: mask of ${o.mask.length} cells for a batch of ${q.shape[0]}`);

  const docSimilarity = ops.cosineSimilarityMatrix(p, n); // [B, B]
  const positive = ops.cosineSimilarity(q, p); // [B] = diag(S_qp)
  let margin: Tensor;
  if (inBatch) {
    const sqn = ops.cosineSimilarityMatrix(q, n); // [B, B]
    const pos = marginMode === 'rowwise' ? positive.unsqueeze(1) : positive.unsqueeze(0); // [B] -> [B, 1] (row i) or [1, B] (column j)
    margin = ops.sub(pos, sqn);
  } else {
    margin = ops.sub(positive, ops.cosineSimilarity(q, n)); // [B]
  }

  let target: Tensor;
  if (typeof targetKind === 'number') {
    target = scalar(targetKind, { dtype: q.dtype, device: q.device });
  } else {
    const pairs = targetKind === 'adaptive' && !inBatch ? ops.cosineSimilarity(p, n) : docSimilarity; // [B] or [B, B]
    target = ops.add(ops.mul(pairs, 0.5), 0.5);
  }
  if (o.detachTarget) target = target.detach();

  // distributed: E[i, j] = m_j - T[i, j] (each triple's margin against its negative's similarity to every positive)
  const error = targetKind === 'distributed' ? ops.sub(margin.unsqueeze(0), target) : ops.sub(margin, target); // [B] -> [1, B]
  const errors = errorFn(o.error ?? 'l2', error);
  let loss: Tensor;
  if (o.mask) {
    // mean over the kept cells: sum(err · keep) / #kept (0 when every cell is masked)
    const keep = Float64Array.from(o.mask, (m) => 1 - m);
    const kept = keep.reduce((s, k) => s + k, 0);
    loss = ops.mul(
      ops.sum(ops.mul(errors, fromArray(keep, errors.shape, { dtype: errors.dtype, device: errors.device }))),
      1 / Math.max(kept, 1),
    );
  } else {
    loss = ops.mean(errors);
  }
  return { loss, margin, target, error, docSimilarity };
}
