// A cross-encoder: one BERT reads `[CLS] query [SEP] document [SEP]` (token types 0 then 1) and
// scores the pair with the single logit of a Hugging Face BertForSequenceClassification head
// (pooler, dropout, classifier with num_labels 1), so PyTorch / sentence-transformers' CrossEncoder
// load the saved directory as is.
//
// Loading a directory with a head gives that head; loading an encoder-only checkpoint (e.g. the
// MLM-pretrained models/bert-mini-retrograd) needs `newHead: true`, which initialises the missing
// pooler and classifier as transformers does (normal(0, initializer_range), zero biases) from a
// seeded generator. Pairs are truncated longest-first to `maxLength` tokens (the tokenizers crate's
// rule, what transformers' tokenizer(q, d, truncation=True) does).
// Not here: training (src/train/cross-encoder.ts), reranking (src/eval/rerank.ts).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/memory.js';
import type { Generator } from '../tensor/random.js';
import { noGrad } from '../autograd/engine.js';
import { BertForSequenceClassification } from './bert.js';
import {
  ModelDirError,
  loadCheckpoint,
  readBertConfig,
  readTokenizer,
  readWeights,
  saveModelDir,
  type LoadReport,
} from './model-dir.js';
import { setParameterData } from './module.js';
import type { BertTokenizer, Encoding } from './tokenizer.js';

export interface LoadCrossEncoderOptions {
  device?: string;
  dtype?: 'float32' | 'float64';
  /** Initialise a pooler and classifier the directory lacks (fine-tuning from an encoder); default false. */
  newHead?: boolean;
  /** Generator for a new head's weights. */
  generator?: Generator;
  /** Generator the dropout layers draw from. */
  dropoutGenerator?: Generator;
}

export interface CrossEncoderLoadReport extends LoadReport {
  /** Head parameters initialised fresh (file keys, `bert.pooler.*` / `classifier.*`). */
  fresh: string[];
}

const POOLER = ['pooler.dense.weight', 'pooler.dense.bias'];

/** num_labels and classifier_dropout from a config.json (id2label decides, as in transformers). */
function headConfig(path: string): { numLabels: number | null; classifierDropout: number | null } {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  let numLabels: number | null = null;
  if (typeof raw.id2label === 'object' && raw.id2label !== null) numLabels = Object.keys(raw.id2label).length;
  else if (typeof raw.num_labels === 'number') numLabels = raw.num_labels;
  const dropout = raw.classifier_dropout ?? null;
  if (dropout !== null && (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))) {
    throw new ModelDirError(
      `${path}: classifier_dropout must be null or a number in [0, 1), got ${JSON.stringify(dropout)}`,
    );
  }
  return { numLabels, classifierDropout: dropout as number | null };
}

export class CrossEncoder {
  constructor(
    readonly model: BertForSequenceClassification,
    readonly tokenizer: BertTokenizer,
    readonly report: CrossEncoderLoadReport | null = null,
  ) {}

  /** Load a Hugging Face directory as a cross-encoder (see the file header for `newHead`). */
  static load(dir: string, o: LoadCrossEncoderOptions = {}): CrossEncoder {
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new ModelDirError(`model directory ${dir} does not exist`);
    const config = readBertConfig(dir);
    const configPath = join(dir, 'config.json');
    const head = headConfig(configPath);
    if (head.numLabels !== null && head.numLabels !== 1 && !o.newHead) {
      throw new ModelDirError(
        `${configPath}: a cross-encoder scores with one label, the config has ${head.numLabels} (id2label)`,
      );
    }
    const tokenizer = readTokenizer(dir, config.vocab_size);
    const { tensors, source } = readWeights(dir);
    const model = new BertForSequenceClassification(config, 1, {
      device: o.device,
      dtype: o.dtype,
      generator: o.generator,
      dropoutGenerator: o.dropoutGenerator,
      classifierDropout: head.classifierDropout,
    });
    try {
      const encoder = new Map([...tensors].filter(([k]) => !k.startsWith('classifier.')));
      const report = loadCheckpoint(model.bert, encoder, { source, allowMissing: o.newHead ? POOLER : false });
      const fresh = report.missing.map((n) => `bert.${n}`);
      const classifier = new Map(model.classifier.namedParameters());
      for (const key of tensors.keys()) {
        if (key.startsWith('classifier.') && !classifier.has(key.slice('classifier.'.length)))
          throw new ModelDirError(`${source}: unexpected key ${key}`);
      }
      for (const [name, p] of classifier) {
        const key = `classifier.${name}`;
        const t = tensors.get(key);
        if (t === undefined) {
          if (!o.newHead)
            throw new ModelDirError(
              `${source}: missing ${key} (not a cross-encoder; fine-tuning from an encoder needs a new head)`,
            );
          fresh.push(key);
          continue;
        }
        if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
          throw new ModelDirError(
            `${source}: ${key} has shape [${t.shape}], the model's is [${p.shape}] (num_labels must be 1)`,
          );
        }
        if (!(t.data instanceof Float32Array || t.data instanceof Float64Array))
          throw new ModelDirError(`${source}: ${key} has dtype ${t.dtype}`);
        setParameterData(p, p.dtype === 'float64' ? Float64Array.from(t.data) : Float32Array.from(t.data));
        report.loaded.push(key);
      }
      model.eval();
      return new CrossEncoder(model, tokenizer, { ...report, fresh });
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  get device(): string {
    return this.model.bert.device;
  }

  /** A pair length limit: `requested`, checked against the position table, or the model's limit. */
  lengthLimit(requested?: number): number {
    const positions = this.model.config.max_position_embeddings;
    if (requested !== undefined && requested > positions) {
      throw new Error(`max length ${requested} exceeds the model's max_position_embeddings ${positions}`);
    }
    const length = requested ?? Math.min(this.tokenizer.modelMaxLength, positions);
    if (length < 3) throw new Error(`max length ${length} leaves no room for [CLS] and two [SEP]`);
    return length;
  }

  /** `[CLS] q [SEP] d [SEP]` per pair, truncated longest-first to maxLength tokens. */
  encodePairs(queries: readonly string[], docs: readonly string[], maxLength: number): Encoding[] {
    if (queries.length !== docs.length)
      throw new Error(`cross-encoder: ${queries.length} queries for ${docs.length} documents`);
    return queries.map((q, i) => this.tokenizer.encode(q, docs[i], { maxLength, truncation: 'longest_first' }));
  }

  /** Scores [B] of already encoded pairs, with the graph kept for training. */
  scoreEncodings(encodings: readonly Encoding[]): Tensor {
    const b = this.tokenizer.padBatch(encodings);
    const shape = [b.batchSize, b.seqLen];
    const opts = { dtype: 'int32' as const, device: this.device };
    const { logits } = this.model.forward({
      inputIds: fromArray(b.inputIds, shape, opts),
      attentionMask: fromArray(b.attentionMask, shape, opts),
      tokenTypeIds: fromArray(b.tokenTypeIds, shape, opts),
    });
    return logits.reshape([b.batchSize]); // [B, 1] -> [B]
  }

  /** Scores [B] of (query, document) pairs, with the graph kept for training. */
  score(queries: readonly string[], docs: readonly string[], maxLength: number): Tensor {
    return this.scoreEncodings(this.encodePairs(queries, docs, maxLength));
  }

  /**
   * A no-grad scorer for evaluation and teaching: the pairs of one call are scored in sub-batches
   * of `batchSize`, longest first (so padding stays small; a pair's score does not depend on its
   * batch), in eval mode; the training flag is restored afterwards. `onProgress` gets the number
   * of pairs done after each sub-batch.
   */
  scorer(
    maxLength: number,
    batchSize = 32,
    onProgress?: (done: number) => void,
  ): (queries: readonly string[], docs: readonly string[]) => Promise<Float32Array> {
    return async (queries, docs) => {
      const encodings = this.encodePairs(queries, docs, maxLength);
      const order = encodings
        .map((_, i) => i)
        .sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length || a - b);
      const scores = new Float32Array(encodings.length);
      const wasTraining = this.model.training;
      this.model.eval();
      try {
        for (let start = 0; start < order.length; start += batchSize) {
          const idx = order.slice(start, start + batchSize);
          const out = noGrad(() => tidy(() => this.scoreEncodings(idx.map((i) => encodings[i]))));
          const data = await out.data();
          out.dispose();
          idx.forEach((i, b) => {
            scores[i] = data[b];
          });
          onProgress?.(start + idx.length);
        }
      } finally {
        this.model.train(wasTraining);
      }
      return scores;
    };
  }

  /** Save as a Hugging Face BertForSequenceClassification directory (config, weights, tokenizer). */
  async save(dir: string): Promise<void> {
    await saveModelDir(dir, this.model, { tokenizer: this.tokenizer });
  }

  dispose(): void {
    this.model.dispose();
  }
}
