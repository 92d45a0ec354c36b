// BERT encoder with Hugging Face's module names, so parameter names equal checkpoint keys.
//
// A transcription of transformers' modeling_bert.py (eager attention, absolute positions):
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py
// BertEmbeddings -> N x BertLayer (self-attention with an additive mask, output projection +
// residual + LayerNorm, feed-forward + residual + LayerNorm) -> optional BertPooler; BertForMaskedLM
// adds the `cls.predictions` head whose decoder is tied to the word embeddings.
// Semantics kept on purpose: exact erf GELU, LayerNorm eps from the config, the attention mask as
// (1 - mask) * finfo(dtype).min (a large finite negative, never -Infinity), and no gradient into the
// padding row of the word embeddings (nn.Embedding's padding_idx).
// Not here: checkpoint files (src/nn/model-dir.ts), pooling (src/nn/pooling.ts), tokenization.
// The model never reads tensor data, so it runs unchanged on every device.

import type { DType } from '../tensor/backend.js';
import { Tensor, arange, ones, zeros } from '../tensor/tensor.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { consume, tidy, tidyLocal } from '../tensor/memory.js';
import * as ops from '../autograd/ops.js';
import { isGradEnabled, noGrad } from '../autograd/engine.js';
import { checkpoint } from '../autograd/checkpoint.js';
import { Dropout, Embedding, LayerNorm, Linear, Module, type InitOptions } from './module.js';

export const HIDDEN_ACTS = ['gelu', 'relu', 'gelu_new', 'gelu_pytorch_tanh'] as const;
export type HiddenAct = (typeof HIDDEN_ACTS)[number];

/** The BertConfig fields we use, named exactly as in Hugging Face's config.json. */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: HiddenAct;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  /** Row of the word embeddings that receives no gradient; null when the model has none. */
  pad_token_id: number | null;
  /** Std of the normal initialisation of fresh weights. */
  initializer_range: number;
}

/** Hugging Face BertConfig's defaults for the fields a config.json may omit. */
export const BERT_CONFIG_DEFAULTS = {
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  pad_token_id: 0,
  initializer_range: 0.02,
} as const satisfies Partial<BertConfig>;

const COMMON = { vocab_size: 30522, ...BERT_CONFIG_DEFAULTS } as const;

/** The published BERT sizes (Turc et al. 2019 for tiny, mini and small). */
export const BERT_PRESETS = {
  tiny: { ...COMMON, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 },
  mini: { ...COMMON, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024 },
  small: { ...COMMON, hidden_size: 512, num_hidden_layers: 4, num_attention_heads: 8, intermediate_size: 2048 },
  base: { ...COMMON, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 },
} as const satisfies Record<string, BertConfig>;

export type BertPreset = keyof typeof BERT_PRESETS;

/** Structural checks a config must pass before a model is built (file parsing is in model-dir.ts). */
export function checkBertConfig(c: BertConfig): void {
  const positive = [
    'vocab_size',
    'hidden_size',
    'num_hidden_layers',
    'num_attention_heads',
    'intermediate_size',
    'max_position_embeddings',
    'type_vocab_size',
  ] as const;
  for (const key of positive) {
    if (!Number.isSafeInteger(c[key]) || c[key] <= 0)
      throw new Error(`config: ${key} must be a positive integer, got ${c[key]}`);
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new Error(
      `config: hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`,
    );
  }
  if (!HIDDEN_ACTS.includes(c.hidden_act)) {
    throw new Error(`config: hidden_act '${c.hidden_act}' is not supported (supported: ${HIDDEN_ACTS.join(', ')})`);
  }
  if (!(c.layer_norm_eps > 0)) throw new Error(`config: layer_norm_eps must be positive, got ${c.layer_norm_eps}`);
  for (const key of ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const) {
    if (!(c[key] >= 0 && c[key] < 1)) throw new Error(`config: ${key} must be in [0, 1), got ${c[key]}`);
  }
  if (
    c.pad_token_id !== null &&
    !(Number.isSafeInteger(c.pad_token_id) && c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size)
  ) {
    throw new Error(`config: pad_token_id ${c.pad_token_id} is outside the vocabulary [0, ${c.vocab_size})`);
  }
}

/** torch.finfo(dtype).min: what Hugging Face adds to the scores of masked keys. */
export function maskFill(dtype: DType): number {
  if (dtype === 'float64') return -Number.MAX_VALUE;
  if (dtype === 'float32') return -3.4028234663852886e38;
  throw new Error(`attention mask: unsupported dtype ${dtype}`);
}

function activation(name: HiddenAct, x: Tensor): Tensor {
  switch (name) {
    case 'gelu':
      return ops.gelu(x);
    case 'relu':
      return ops.relu(x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const inner = ops.mul(ops.add(x, ops.mul(ops.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      return ops.mul(ops.mul(x, 0.5), ops.add(ops.tanh(inner), 1));
    }
  }
}

export interface BertInitOptions extends InitOptions {
  /** Generator for dropout masks (weights use `generator`). */
  dropoutGenerator?: Generator;
}

function linear(c: BertConfig, inF: number, outF: number, o: BertInitOptions): Linear {
  return new Linear(inF, outF, { ...o, std: c.initializer_range });
}

export class BertEmbeddings extends Module {
  readonly word_embeddings: Embedding;
  readonly position_embeddings: Embedding;
  readonly token_type_embeddings: Embedding;
  readonly LayerNorm: LayerNorm;
  readonly dropout: Dropout;

  constructor(
    readonly config: BertConfig,
    o: BertInitOptions = {},
  ) {
    super();
    const c = config;
    const std = c.initializer_range;
    this.word_embeddings = this.child('word_embeddings', new Embedding(c.vocab_size, c.hidden_size, { ...o, std }));
    this.position_embeddings = this.child(
      'position_embeddings',
      new Embedding(c.max_position_embeddings, c.hidden_size, { ...o, std }),
    );
    this.token_type_embeddings = this.child(
      'token_type_embeddings',
      new Embedding(c.type_vocab_size, c.hidden_size, { ...o, std }),
    );
    this.LayerNorm = this.child('LayerNorm', new LayerNorm(c.hidden_size, c.layer_norm_eps, o));
    this.dropout = this.child('dropout', new Dropout(c.hidden_dropout_prob, o.dropoutGenerator ?? defaultGenerator()));
    if (c.pad_token_id !== null) this.zeroPaddingRow(c.pad_token_id);
  }

  /** nn.Embedding(padding_idx) starts the padding row at zero. */
  private zeroPaddingRow(pad: number): void {
    const w = this.word_embeddings.weight;
    tidy(() =>
      noGrad(() => {
        const rows = arange(0, w.shape[0], 1, { dtype: 'int32', device: w.device }).reshape([w.shape[0], 1]); // [V] -> [V, 1]
        w.assign(ops.where(ops.eq(rows, pad), 0, w));
      }),
    );
  }

  /** Word lookups whose padding-row gradient is dropped, as nn.Embedding(padding_idx) does. */
  private words(inputIds: Tensor): Tensor {
    const words = this.word_embeddings.forward(inputIds); // [B, S, H]
    const pad = this.config.pad_token_id;
    if (pad === null || !isGradEnabled() || !words.requiresGrad) return words;
    const isPad = ops.eq(inputIds, pad).unsqueeze(-1); // [B, S] -> [B, S, 1]
    return ops.where(isPad, words.detach(), words);
  }

  /**
   * inputIds, tokenTypeIds: int32 [B, S] -> [B, S, H]. With `prefix` [B, P, H] (input embeddings
   * put before the tokens, CDE's context and soft prompt) -> [B, P+S, H]: the prefix gets the
   * token-type-0 embedding and no position, the tokens keep positions 0..S-1, and LayerNorm and
   * dropout run over the whole sequence.
   */
  forward(inputIds: Tensor, tokenTypeIds: Tensor, prefix?: Tensor): Tensor {
    const seq = inputIds.shape[1];
    if (seq > this.config.max_position_embeddings) {
      throw new Error(`sequence length ${seq} exceeds max_position_embeddings ${this.config.max_position_embeddings}`);
    }
    const positionIds = arange(0, seq, 1, { dtype: 'int32', device: inputIds.device }); // [S]
    const positions = this.position_embeddings.forward(positionIds); // [S, H], broadcast over the batch
    let embeddings = this.words(inputIds).add(this.token_type_embeddings.forward(tokenTypeIds)).add(positions);
    if (prefix) {
      const typeZero = this.token_type_embeddings.weight.narrow(0, 0, 1); // [1, H], broadcast over [B, P, H]
      embeddings = ops.concat([prefix.add(typeZero), embeddings], 1); // [B, P, H] ++ [B, S, H] -> [B, P+S, H]
    }
    return this.dropout.forward(this.LayerNorm.forward(embeddings));
  }
}

export class BertSelfAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly dropout: Dropout;
  readonly numHeads: number;
  readonly headSize: number;

  constructor(c: BertConfig, o: BertInitOptions = {}) {
    super();
    this.numHeads = c.num_attention_heads;
    this.headSize = c.hidden_size / c.num_attention_heads;
    this.query = this.child('query', linear(c, c.hidden_size, c.hidden_size, o));
    this.key = this.child('key', linear(c, c.hidden_size, c.hidden_size, o));
    this.value = this.child('value', linear(c, c.hidden_size, c.hidden_size, o));
    this.dropout = this.child(
      'dropout',
      new Dropout(c.attention_probs_dropout_prob, o.dropoutGenerator ?? defaultGenerator()),
    );
  }

  /** [B, S, H] -> [B, nh, S, hd] */
  private heads(x: Tensor): Tensor {
    const [batch, seq] = x.shape;
    return x.reshape([batch, seq, this.numHeads, this.headSize]).permute([0, 2, 1, 3]); // [B, S, H] -> [B, S, nh, hd] -> [B, nh, S, hd]
  }

  /** x [B, S, H], additive mask [B, 1, 1, S] or null -> context [B, S, H]. */
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const [batch, seq, hidden] = x.shape;
    const q = this.heads(this.query.forward(x));
    const k = this.heads(this.key.forward(x));
    const v = this.heads(this.value.forward(x));
    // each [B, nh, S, S] intermediate is dropped after its last use (the graph keeps what it saved)
    let scores = consume(q.matmul(k.transpose(-1, -2)), (s) => s.div(Math.sqrt(this.headSize))); // [B, nh, S, S]
    if (mask) scores = consume(scores, (s) => s.add(mask));
    const probs = consume(scores, (s) => this.dropout.forward(s.softmax(-1)));
    const context = consume(probs, (p) => p.matmul(v)); // [B, nh, S, hd]
    return context.permute([0, 2, 1, 3]).reshape([batch, seq, hidden]); // [B, nh, S, hd] -> [B, S, nh, hd] -> [B, S, H]
  }
}

/** Output projection, dropout, residual, LayerNorm (used after attention and after the FFN). */
class ResidualOutput extends Module {
  readonly dense: Linear;
  readonly LayerNorm: LayerNorm;
  readonly dropout: Dropout;

  constructor(c: BertConfig, inF: number, o: BertInitOptions) {
    super();
    this.dense = this.child('dense', linear(c, inF, c.hidden_size, o));
    this.LayerNorm = this.child('LayerNorm', new LayerNorm(c.hidden_size, c.layer_norm_eps, o));
    this.dropout = this.child('dropout', new Dropout(c.hidden_dropout_prob, o.dropoutGenerator ?? defaultGenerator()));
  }

  forward(x: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(this.dropout.forward(this.dense.forward(x)).add(residual));
  }
}

/** `attention.output`: dense H -> H, dropout, + residual, LayerNorm. */
export class BertSelfOutput extends ResidualOutput {
  constructor(c: BertConfig, o: BertInitOptions = {}) {
    super(c, c.hidden_size, o);
  }
}

/** `output`: dense FFN -> H, dropout, + residual, LayerNorm. */
export class BertOutput extends ResidualOutput {
  constructor(c: BertConfig, o: BertInitOptions = {}) {
    super(c, c.intermediate_size, o);
  }
}

export class BertAttention extends Module {
  readonly self: BertSelfAttention;
  readonly output: BertSelfOutput;

  constructor(c: BertConfig, o: BertInitOptions = {}) {
    super();
    this.self = this.child('self', new BertSelfAttention(c, o));
    this.output = this.child('output', new BertSelfOutput(c, o));
  }

  forward(x: Tensor, mask: Tensor | null): Tensor {
    return this.output.forward(this.self.forward(x, mask), x);
  }
}

export class BertIntermediate extends Module {
  readonly dense: Linear;

  constructor(
    readonly config: BertConfig,
    o: BertInitOptions = {},
  ) {
    super();
    this.dense = this.child('dense', linear(config, config.hidden_size, config.intermediate_size, o));
  }

  /** [B, S, H] -> [B, S, FFN] */
  forward(x: Tensor): Tensor {
    return activation(this.config.hidden_act, this.dense.forward(x));
  }
}

export class BertLayer extends Module {
  readonly attention: BertAttention;
  readonly intermediate: BertIntermediate;
  readonly output: BertOutput;

  constructor(c: BertConfig, o: BertInitOptions = {}) {
    super();
    this.attention = this.child('attention', new BertAttention(c, o));
    this.intermediate = this.child('intermediate', new BertIntermediate(c, o));
    this.output = this.child('output', new BertOutput(c, o));
  }

  forward(x: Tensor, mask: Tensor | null): Tensor {
    const attended = tidyLocal(() => this.attention.forward(x, mask));
    return this.output.forward(
      tidyLocal(() => this.intermediate.forward(attended)),
      attended,
    );
  }

  /** The generators of this layer's dropout masks (what a recomputed forward must replay). */
  dropoutGenerators(): Generator[] {
    const gens = new Set<Generator>();
    for (const [, m] of this.namedModules()) if (m instanceof Dropout) gens.add(m.generator);
    return [...gens];
  }
}

/** A list module: children named `0`, `1`, ... as in `encoder.layer.0.*`. */
class LayerList extends Module {
  readonly items: BertLayer[];

  constructor(c: BertConfig, o: BertInitOptions) {
    super();
    this.items = Array.from({ length: c.num_hidden_layers }, (_, i) => this.child(String(i), new BertLayer(c, o)));
  }
}

export class BertEncoder extends Module {
  readonly layer: LayerList;
  /**
   * Activation checkpointing: keep only each layer's input during the forward pass and recompute
   * the layer's forward during backward (src/autograd/checkpoint.ts). Same gradients, less memory,
   * about one more forward pass of time.
   */
  checkpointActivations = false;

  constructor(c: BertConfig, o: BertInitOptions = {}) {
    super();
    this.layer = this.child('layer', new LayerList(c, o));
  }

  /** Each layer runs in a tidyLocal scope: its intermediates are freed unless backward needs them. */
  forward(x: Tensor, mask: Tensor | null): Tensor {
    let hidden = x;
    for (const layer of this.layer.items) {
      const input = hidden;
      hidden = this.checkpointActivations
        ? checkpoint(([h, m]) => layer.forward(h, m ?? null), mask ? [input, mask] : [input], {
            params: layer.parameters(),
            generators: layer.dropoutGenerators(),
          })
        : tidyLocal(() => layer.forward(input, mask));
      if (input !== x) input.dispose();
    }
    return hidden;
  }
}

export class BertPooler extends Module {
  readonly dense: Linear;

  constructor(c: BertConfig, o: BertInitOptions = {}) {
    super();
    this.dense = this.child('dense', linear(c, c.hidden_size, c.hidden_size, o));
  }

  /** tanh(dense(first token)): [B, S, H] -> [B, H] */
  forward(hidden: Tensor): Tensor {
    const [batch, , size] = hidden.shape;
    const first = hidden.narrow(1, 0, 1).reshape([batch, size]); // [B, 1, H] -> [B, H]
    return this.dense.forward(first).tanh();
  }
}

export interface BertInputs {
  /** int32 [B, S] */
  inputIds: Tensor;
  /** [B, S], 1 for tokens and 0 for padding, any dtype; absent: attend everywhere. */
  attentionMask?: Tensor;
  /** int32 [B, S]; absent: all zeros. */
  tokenTypeIds?: Tensor;
  /**
   * [B, P, H] input embeddings placed before the tokens (see BertEmbeddings.forward): attended
   * everywhere, no position. The outputs then cover P+S positions, the prefix first.
   */
  prefix?: Tensor;
}

export interface BertOutputs {
  /** [B, S, H] */
  lastHiddenState: Tensor;
  /** tanh(dense(first token)) [B, H]; null without a pooler. */
  poolerOutput: Tensor | null;
}

export class BertModel extends Module {
  readonly embeddings: BertEmbeddings;
  readonly encoder: BertEncoder;
  readonly pooler: BertPooler | null;

  constructor(
    readonly config: BertConfig,
    o: BertInitOptions & { addPoolingLayer?: boolean } = {},
  ) {
    super();
    checkBertConfig(config);
    this.embeddings = this.child('embeddings', new BertEmbeddings(config, o));
    this.encoder = this.child('encoder', new BertEncoder(config, o));
    this.pooler = o.addPoolingLayer === false ? null : this.child('pooler', new BertPooler(config, o));
  }

  get dtype(): DType {
    return this.embeddings.word_embeddings.weight.dtype;
  }

  get device(): string {
    return this.embeddings.word_embeddings.weight.device;
  }

  /** HF get_extended_attention_mask: [B, S] -> (1 - mask)·finfo.min as [B, 1, 1, S]. */
  extendedMask(mask: Tensor): Tensor {
    const [batch, seq] = mask.shape;
    const keep = mask.cast(this.dtype);
    return ops.mul(ops.sub(1, keep), maskFill(this.dtype)).reshape([batch, 1, 1, seq]); // [B, S] -> [B, 1, 1, S]
  }

  forward(inputs: BertInputs): BertOutputs {
    const { inputIds } = inputs;
    if (inputIds.ndim !== 2 || inputIds.dtype !== 'int32') {
      throw new Error(`BertModel: inputIds must be int32 [B, S], got ${inputIds.dtype} [${inputIds.shape}]`);
    }
    const [batch, seq] = inputIds.shape;
    for (const [name, t] of [
      ['attentionMask', inputs.attentionMask],
      ['tokenTypeIds', inputs.tokenTypeIds],
    ] as const) {
      if (t && (t.ndim !== 2 || t.shape[0] !== batch || t.shape[1] !== seq)) {
        throw new Error(`BertModel: ${name} must be [${batch}, ${seq}], got [${t.shape}]`);
      }
    }
    const tokenTypeIds = inputs.tokenTypeIds ?? zeros([batch, seq], { dtype: 'int32', device: inputIds.device });
    const { prefix } = inputs;
    if (prefix && (prefix.ndim !== 3 || prefix.shape[0] !== batch || prefix.shape[2] !== this.config.hidden_size)) {
      throw new Error(`BertModel: prefix must be [${batch}, P, ${this.config.hidden_size}], got [${prefix.shape}]`);
    }
    let attentionMask = inputs.attentionMask;
    if (prefix && attentionMask) {
      const attendPrefix = ones([batch, prefix.shape[1]], { dtype: attentionMask.dtype, device: attentionMask.device }); // [B, P]
      attentionMask = ops.concat([attendPrefix, attentionMask], 1); // [B, P] ++ [B, S] -> [B, P+S]
    }
    const mask = attentionMask ? this.extendedMask(attentionMask) : null;
    const hidden = tidyLocal(() => this.embeddings.forward(inputIds, tokenTypeIds, prefix));
    const lastHiddenState = consume(hidden, (h) => this.encoder.forward(h, mask));
    return { lastHiddenState, poolerOutput: this.pooler ? this.pooler.forward(lastHiddenState) : null };
  }
}

export class BertPredictionHeadTransform extends Module {
  readonly dense: Linear;
  readonly LayerNorm: LayerNorm;

  constructor(
    readonly config: BertConfig,
    o: BertInitOptions = {},
  ) {
    super();
    this.dense = this.child('dense', linear(config, config.hidden_size, config.hidden_size, o));
    this.LayerNorm = this.child('LayerNorm', new LayerNorm(config.hidden_size, config.layer_norm_eps, o));
  }

  forward(x: Tensor): Tensor {
    return this.LayerNorm.forward(activation(this.config.hidden_act, this.dense.forward(x)));
  }
}

/** `cls.predictions`: transform, then the decoder tied to the word embeddings, plus its own bias. */
export class BertLMPredictionHead extends Module {
  readonly transform: BertPredictionHeadTransform;
  readonly bias: Tensor;

  constructor(
    c: BertConfig,
    private readonly wordEmbeddings: Tensor,
    o: BertInitOptions = {},
  ) {
    super();
    this.transform = this.child('transform', new BertPredictionHeadTransform(c, o));
    this.bias = this.param('bias', zeros([c.vocab_size], o));
  }

  /** [B, S, H] -> logits [B, S, V] */
  forward(hidden: Tensor): Tensor {
    const [batch, seq, size] = hidden.shape;
    const logits = this.forwardRows(hidden.reshape([batch * seq, size])); // [B, S, H] -> [B·S, H] -> [B·S, V]
    return logits.reshape([batch, seq, this.wordEmbeddings.shape[0]]); // [B·S, V] -> [B, S, V]
  }

  /** Rows of hidden states [N, H] -> logits [N, V] (MLM training scores only the masked rows). */
  forwardRows(rows: Tensor): Tensor {
    return this.transform.forward(rows).matmul(this.wordEmbeddings.T).add(this.bias);
  }
}

export class BertOnlyMLMHead extends Module {
  readonly predictions: BertLMPredictionHead;

  constructor(c: BertConfig, wordEmbeddings: Tensor, o: BertInitOptions = {}) {
    super();
    this.predictions = this.child('predictions', new BertLMPredictionHead(c, wordEmbeddings, o));
  }
}

export interface BertMLMOutputs extends BertOutputs {
  /** [B, S, V] */
  logits: Tensor;
}

/**
 * `bert.*` + `cls.predictions.*`. Hugging Face's BertForMaskedLM has no pooler and
 * BertForPreTraining has one (plus an NSP head we do not model): `addPoolingLayer` picks.
 */
export class BertForMaskedLM extends Module {
  readonly bert: BertModel;
  readonly cls: BertOnlyMLMHead;

  constructor(
    readonly config: BertConfig,
    o: BertInitOptions & { addPoolingLayer?: boolean } = {},
  ) {
    super();
    this.bert = this.child('bert', new BertModel(config, { addPoolingLayer: false, ...o }));
    this.cls = this.child('cls', new BertOnlyMLMHead(config, this.bert.embeddings.word_embeddings.weight, o));
  }

  forward(inputs: BertInputs): BertMLMOutputs {
    const out = this.bert.forward(inputs);
    return { ...out, logits: this.cls.predictions.forward(out.lastHiddenState) };
  }

  /**
   * Logits at selected token positions only: `positions` int32 [M] indexes the flattened [B·S]
   * sequence axis -> [M, V]. Same values as rows of `forward(...).logits`, at a fraction of the
   * decoder's cost when only the masked ~15% of tokens are scored.
   */
  logitsAt(inputs: BertInputs, positions: Tensor): { logits: Tensor; lastHiddenState: Tensor } {
    const { lastHiddenState } = this.bert.forward(inputs);
    const [batch, seq, size] = lastHiddenState.shape;
    const rows = ops.gather(lastHiddenState.reshape([batch * seq, size]), positions); // [B, S, H] -> [B·S, H] -> [M, H]
    return { logits: this.cls.predictions.forwardRows(rows), lastHiddenState };
  }
}

export interface BertSequenceClassificationOutputs extends BertOutputs {
  /** [B, numLabels] */
  logits: Tensor;
}

/**
 * `bert.*` (with its pooler) + `classifier.*`: Hugging Face's BertForSequenceClassification, the
 * cross-encoder layout. logits = classifier(dropout(pooler_output)); the dropout rate is the
 * config's classifier_dropout, else hidden_dropout_prob, as in transformers.
 */
export class BertForSequenceClassification extends Module {
  readonly bert: BertModel;
  readonly dropout: Dropout;
  readonly classifier: Linear;

  constructor(
    readonly config: BertConfig,
    readonly numLabels: number,
    o: BertInitOptions & { classifierDropout?: number | null } = {},
  ) {
    super();
    if (!Number.isSafeInteger(numLabels) || numLabels < 1)
      throw new Error(`BertForSequenceClassification: numLabels must be a positive integer, got ${numLabels}`);
    this.bert = this.child('bert', new BertModel(config, { ...o, addPoolingLayer: true }));
    const p = o.classifierDropout ?? config.hidden_dropout_prob;
    this.dropout = this.child('dropout', new Dropout(p, o.dropoutGenerator ?? defaultGenerator()));
    this.classifier = this.child('classifier', linear(config, config.hidden_size, numLabels, o));
  }

  forward(inputs: BertInputs): BertSequenceClassificationOutputs {
    const out = this.bert.forward(inputs);
    return { ...out, logits: this.classifier.forward(this.dropout.forward(out.poolerOutput!)) }; // [B, H] -> [B, numLabels]
  }
}
