// A biencoder: one BERT encoder, a tokenizer and a pooling rule (with optional L2 normalisation)
// that map texts to embeddings, used for queries and documents alike.
//
// `embed` keeps the graph (training); `encoder` returns a no-grad callback for evaluation that
// batches texts longest-first so padding stays small, and whose rows do not depend on their batch.
// Batches are right-padded to their longest text with [PAD], attention mask 0, token type 0.
// Not here: losses (src/train/losses.ts), search (src/eval/dense.ts), directories (model-dir.ts).

import { fromArray, type Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/memory.js';
import type { Generator } from '../tensor/random.js';
import { noGrad } from '../autograd/engine.js';
import type { BertModel } from './bert.js';
import { loadModelDir, saveModelDir } from './model-dir.js';
import { pool, type PoolingConfig } from './pooling.js';
import type { BertTokenizer, Encoding } from './tokenizer.js';

export interface EncodedBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  tokenTypeIds: Tensor;
}

/** Pad encodings to the longest (the tokenizer's padBatch) and upload them as [B, T] int32 tensors. */
export function encodingTensors(
  tokenizer: BertTokenizer,
  encodings: readonly Encoding[],
  device: string,
): EncodedBatch {
  const b = tokenizer.padBatch(encodings);
  const shape = [b.batchSize, b.seqLen];
  const opts = { dtype: 'int32' as const, device };
  return {
    inputIds: fromArray(b.inputIds, shape, opts),
    attentionMask: fromArray(b.attentionMask, shape, opts),
    tokenTypeIds: fromArray(b.tokenTypeIds, shape, opts),
  };
}

export interface LoadBiencoderOptions {
  device?: string;
  /** Overrides what the directory records (sentence-transformers files), else CLS without normalisation. */
  pooling?: PoolingConfig;
  dropoutGenerator?: Generator;
}

export class Biencoder {
  constructor(
    readonly model: BertModel,
    readonly tokenizer: BertTokenizer,
    readonly pooling: PoolingConfig,
  ) {}

  /**
   * Load a Hugging Face model directory (an MLM head in the file is ignored; a pooler is loaded but
   * unused). Pooling:
   * `o.pooling`, else what the directory records, else mean pooling without normalisation (what
   * sentence-transformers does with a plain Hugging Face model).
   */
  static load(dir: string, o: LoadBiencoderOptions = {}): Biencoder {
    const loaded = loadModelDir(dir, { device: o.device, head: 'none', dropoutGenerator: o.dropoutGenerator });
    const pooling = o.pooling ?? loaded.pooling ?? { mode: 'mean', normalize: false };
    return new Biencoder(loaded.model, loaded.tokenizer!, pooling);
  }

  /** The same encoder and tokenizer with another pooling rule. */
  withPooling(pooling: PoolingConfig): Biencoder {
    return new Biencoder(this.model, this.tokenizer, pooling);
  }

  /** A truncation length: `requested`, checked against the position table, or the model's limit. */
  lengthLimit(requested?: number): number {
    const positions = this.model.config.max_position_embeddings;
    if (requested !== undefined && requested > positions) {
      throw new Error(`max length ${requested} exceeds the model's max_position_embeddings ${positions}`);
    }
    const length = requested ?? Math.min(this.tokenizer.modelMaxLength, positions);
    if (length < 2) throw new Error(`max length ${length} leaves no room for [CLS] and [SEP]`);
    return length;
  }

  get device(): string {
    return this.model.embeddings.word_embeddings.weight.device;
  }

  get dimension(): number {
    return this.model.config.hidden_size;
  }

  /** Tokenize with truncation to maxLength tokens ([CLS] and [SEP] included). */
  tokenize(texts: readonly string[], maxLength: number): Encoding[] {
    return texts.map((t) => this.tokenizer.encode(t, undefined, { maxLength, truncation: true }));
  }

  /** Pad encodings to the longest and upload them as [B, S] int32 tensors. */
  tensors(encodings: readonly Encoding[]): EncodedBatch {
    return encodingTensors(this.tokenizer, encodings, this.device);
  }

  /** Pooled embeddings [B, H] of already tokenized texts, with the graph kept for training. */
  embedEncodings(encodings: readonly Encoding[]): Tensor {
    const batch = this.tensors(encodings);
    const { lastHiddenState } = this.model.forward(batch);
    return pool(lastHiddenState, batch.attentionMask, this.pooling);
  }

  /** Pooled embeddings [B, H], with the graph kept for training. */
  embed(texts: readonly string[], maxLength: number): Tensor {
    return this.embedEncodings(this.tokenize(texts, maxLength));
  }

  /**
   * A no-grad encoder for evaluation (src/eval/dense.ts's Encoder): the texts of one call are
   * embedded in sub-batches of `batchSize`, longest first, in eval mode (no dropout); the training
   * flag is restored afterwards. `onProgress` gets the number of texts done after each sub-batch.
   */
  encoder(
    maxLength: number,
    batchSize = 32,
    onProgress?: (done: number) => void,
  ): (texts: string[]) => Promise<Float32Array[]> {
    return async (texts) => {
      const encodings = this.tokenize(texts, maxLength);
      const order = encodings
        .map((_, i) => i)
        .sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length || a - b);
      const rows = new Array<Float32Array>(texts.length);
      const wasTraining = this.model.training;
      this.model.eval();
      try {
        for (let start = 0; start < order.length; start += batchSize) {
          const idx = order.slice(start, start + batchSize);
          const pooled = noGrad(() => tidy(() => this.embedEncodings(idx.map((i) => encodings[i]))));
          const data = Float32Array.from(await pooled.data());
          pooled.dispose();
          idx.forEach((i, b) => {
            rows[i] = data.subarray(b * this.dimension, (b + 1) * this.dimension);
          });
          onProgress?.(start + idx.length);
        }
      } finally {
        this.model.train(wasTraining);
      }
      return rows;
    };
  }

  /** Save as a Hugging Face directory with the pooling recorded in sentence-transformers files. */
  async save(dir: string): Promise<void> {
    await saveModelDir(dir, this.model, { tokenizer: this.tokenizer, pooling: this.pooling });
  }

  dispose(): void {
    this.model.dispose();
  }
}
