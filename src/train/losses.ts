// Contrastive losses on embeddings, written with ops from src/autograd (so their gradients and
// device placement come for free). The SDAM and Margin-MSE losses join this file with their stage.

import { type Tensor, arange } from '../tensor/tensor.js';
import * as ops from '../autograd/ops.js';

/**
 * InfoNCE with in-batch negatives: cross-entropy of scale·cos(q_i, d_j) over j, target j = i.
 * q, d: [n, H] -> scalar. scale = 1/τ (20 is τ = 0.05).
 */
export function infoNCE(q: Tensor, d: Tensor, scale = 20): Tensor {
  const logits = ops.mul(ops.cosineSimilarityMatrix(q, d), scale); // [n, n]
  return ops.crossEntropy(logits, arange(0, q.shape[0], 1, { dtype: 'int32', device: q.device }));
}
