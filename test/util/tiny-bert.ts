// The tiny BERT shared by the GPU training-step tests (test/gpu-bert.test.ts for webgpu,
// test/gpujs-bert.test.ts for gpujs): one config, one padded batch with token types, weights built
// on cpu-ref from a fixed seed and moved to the device under test, and an InfoNCE loss on pooled
// embeddings that gives every parameter a gradient.

import { type Tensor, Generator, fromArray } from '../../src/index.js';
import { BERT_PRESETS, type BertConfig, BertModel } from '../../src/nn/bert.js';
import { meanPool } from '../../src/nn/pooling.js';
import { infoNCE } from '../../src/train/losses.js';

export const CONFIG: BertConfig = {
  ...BERT_PRESETS.mini,
  vocab_size: 64,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 16,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
};
export const BATCH = 4;
export const SEQ = 8;
/** Token ids [BATCH, SEQ]; 0 is [PAD] (CONFIG.pad_token_id), every row starts with a real token. */
export const INPUT_IDS = [
  2, 5, 9, 11, 3, 0, 0, 0, 2, 7, 8, 3, 0, 0, 0, 0, 2, 13, 14, 15, 16, 17, 18, 3, 2, 20, 3, 0, 0, 0, 0, 0,
];
export const ATTENTION_MASK = INPUT_IDS.map((id) => (id === 0 ? 0 : 1));
export const TOKEN_TYPES = [
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0,
];
export const WEIGHT_SEED = 7;
export const DROPOUT_SEED = 11;
/** Dropout sites per forward: embeddings, then attention probs, attention output, FFN output per layer. */
export const DROPOUTS_PER_STEP = 1 + 3 * CONFIG.num_hidden_layers;

/** The same model on `device`: built on cpu-ref from the fixed seeds, then moved. */
export function buildModel(device: string): BertModel {
  const model = new BertModel(CONFIG, {
    device: 'cpu-ref',
    generator: new Generator(WEIGHT_SEED),
    dropoutGenerator: new Generator(DROPOUT_SEED),
  });
  return model.to(device);
}

export interface Batch {
  inputIds: Tensor;
  attentionMask: Tensor;
  tokenTypeIds: Tensor;
}

export function makeBatch(device: string): Batch {
  const opts = { dtype: 'int32' as const, device };
  return {
    inputIds: fromArray(INPUT_IDS, [BATCH, SEQ], opts),
    attentionMask: fromArray(ATTENTION_MASK, [BATCH, SEQ], opts),
    tokenTypeIds: fromArray(TOKEN_TYPES, [BATCH, SEQ], opts),
  };
}

export function disposeBatch(b: Batch): void {
  for (const t of Object.values(b)) t.dispose();
}

export interface Forward {
  hidden: Tensor;
  pooler: Tensor;
  mean: Tensor;
  loss: Tensor;
}

/**
 * Forward and the contrastive loss: the first half of the batch against the second half, on
 * mask-aware mean pooling (padding must not leak in) plus the pooler output (so every parameter,
 * pooler included, gets a gradient).
 */
export function forwardLoss(model: BertModel, b: Batch): Forward {
  const out = model.forward(b);
  const hidden = out.lastHiddenState; // [B, S, H]
  const pooler = out.poolerOutput!; // [B, H]
  const mean = meanPool(hidden, b.attentionMask); // [B, H]
  const half = BATCH / 2;
  const loss = infoNCE(mean.narrow(0, 0, half), mean.narrow(0, half, half)).add(
    infoNCE(pooler.narrow(0, 0, half), pooler.narrow(0, half, half)),
  );
  return { hidden, pooler, mean, loss };
}
