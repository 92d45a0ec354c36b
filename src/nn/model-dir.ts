// Hugging Face model directories for BERT: load and save.
//
//   config.json            BertConfig fields, validated with one clear error per problem
//   model.safetensors      weights (or model.safetensors.index.json + shards); written as F32
//   vocab.txt, tokenizer_config.json   the WordPiece tokenizer (src/nn/tokenizer.ts)
//   modules.json, 1_Pooling/config.json   how the directory pools (src/nn/pooling.ts), optional
//
// Loading walks the module's parameter names (which equal checkpoint keys), checks every shape, and
// ends with a report of missing, unexpected and deliberately ignored keys; missing or unexpected
// keys are an error unless the caller allows them. Every known key variant is mapped in one place,
// `resolveKey`. Saving writes the same layout atomically. PyTorch pickles (pytorch_model.bin) are
// not read. Not here: the model itself (bert.ts).

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tempSibling } from '../io/atomic.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import {
  type SafetensorsTensor,
  type SafetensorsTensorInput,
  readSafetensors,
  serializeSafetensors,
} from './safetensors.js';
import { BertTokenizer } from './tokenizer.js';
import {
  BERT_CONFIG_DEFAULTS,
  BertForMaskedLM,
  BertForSequenceClassification,
  BertModel,
  HIDDEN_ACTS,
  type BertConfig,
  type BertInitOptions,
} from './bert.js';
import { type PoolingConfig, poolingFiles, readPoolingConfig } from './pooling.js';
import { setParameterData } from './module.js';

/** The one error type of this module: a single line naming the file and the problem. */
export class ModelDirError extends Error {
  override name = 'ModelDirError';
}

// ---- config.json --------------------------------------------------------------------------------

const REQUIRED_INTS = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
] as const;

/** Validate a parsed config.json object into a BertConfig; `label` names the file in errors. */
export function parseBertConfig(json: unknown, label: string): BertConfig {
  const fail = (msg: string): never => {
    throw new ModelDirError(`${label}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('expected a JSON object');
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== undefined && raw.model_type !== 'bert')
    fail(`model_type '${String(raw.model_type)}' is not supported (only 'bert')`);
  if (raw.position_embedding_type !== undefined && raw.position_embedding_type !== 'absolute') {
    fail(`position_embedding_type '${String(raw.position_embedding_type)}' is not supported (only 'absolute')`);
  }
  if (raw.is_decoder === true) fail('is_decoder: decoder BERTs are not supported');
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (v === undefined) fail(`missing required field ${key}`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
      fail(`${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const prob = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !(v >= 0 && v < 1))
      fail(`${key} must be a number in [0, 1), got ${JSON.stringify(v)}`);
    return v as number;
  };
  const positive = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
      fail(`${key} must be a positive number, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const [vocab, hidden, layers, heads, ffn] = REQUIRED_INTS.map((k) => int(k));
  if (hidden % heads !== 0) fail(`hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  const act = raw.hidden_act ?? BERT_CONFIG_DEFAULTS.hidden_act;
  if (typeof act !== 'string' || !(HIDDEN_ACTS as readonly string[]).includes(act)) {
    fail(`hidden_act ${JSON.stringify(act)} is not supported (supported: ${HIDDEN_ACTS.join(', ')})`);
  }
  const pad = raw.pad_token_id === undefined ? BERT_CONFIG_DEFAULTS.pad_token_id : raw.pad_token_id;
  if (pad !== null && (typeof pad !== 'number' || !Number.isSafeInteger(pad) || pad < 0 || pad >= vocab)) {
    fail(`pad_token_id ${JSON.stringify(pad)} is not null or an id in [0, ${vocab})`);
  }
  return {
    vocab_size: vocab,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: ffn,
    hidden_act: act as BertConfig['hidden_act'],
    max_position_embeddings: int('max_position_embeddings', BERT_CONFIG_DEFAULTS.max_position_embeddings),
    type_vocab_size: int('type_vocab_size', BERT_CONFIG_DEFAULTS.type_vocab_size),
    layer_norm_eps: positive('layer_norm_eps', BERT_CONFIG_DEFAULTS.layer_norm_eps),
    hidden_dropout_prob: prob('hidden_dropout_prob', BERT_CONFIG_DEFAULTS.hidden_dropout_prob),
    attention_probs_dropout_prob: prob(
      'attention_probs_dropout_prob',
      BERT_CONFIG_DEFAULTS.attention_probs_dropout_prob,
    ),
    pad_token_id: pad as number | null,
    initializer_range: positive('initializer_range', BERT_CONFIG_DEFAULTS.initializer_range),
  };
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ModelDirError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelDirError(`${path}: invalid JSON (${(err as Error).message})`);
  }
}

export function readBertConfig(dir: string): BertConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new ModelDirError(`${path}: missing (a model directory needs config.json)`);
  return parseBertConfig(readJsonFile(path), path);
}

/** A model this module saves: the encoder alone or with one of its heads. */
export type SavableBert = BertModel | BertForMaskedLM | BertForSequenceClassification;

/**
 * config.json as Hugging Face writes it for this model; a sequence classifier also records its
 * labels (id2label / label2id, from which transformers derives num_labels) and classifier_dropout.
 */
export function configJson(
  config: BertConfig,
  architecture: 'BertModel' | 'BertForMaskedLM' | 'BertForSequenceClassification',
  numLabels = 1,
): Record<string, unknown> {
  const labels = Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
  return {
    architectures: [architecture],
    model_type: 'bert',
    ...config,
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    ...(architecture === 'BertForSequenceClassification'
      ? {
          id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
          label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
          classifier_dropout: null,
        }
      : {}),
  };
}

function architectureOf(model: SavableBert): Record<string, unknown> {
  if (model instanceof BertForSequenceClassification)
    return configJson(model.config, 'BertForSequenceClassification', model.numLabels);
  return configJson(model.config, model instanceof BertForMaskedLM ? 'BertForMaskedLM' : 'BertModel');
}

// ---- weights ------------------------------------------------------------------------------------

/**
 * The weight files of a model directory: model.safetensors, or the shards named by
 * model.safetensors.index.json (in the index's order, each once). `source` is the file that names
 * them: model.safetensors itself or the index.
 */
function weightFiles(dir: string): { source: string; files: string[] } {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return { source: single, files: [single] };
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const json = readJsonFile(index) as { weight_map?: Record<string, unknown> };
    if (typeof json?.weight_map !== 'object' || json.weight_map === null)
      throw new ModelDirError(`${index}: no weight_map object`);
    const files: string[] = [];
    for (const shard of new Set(Object.values(json.weight_map))) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\'))
        throw new ModelDirError(`${index}: bad shard name ${JSON.stringify(shard)}`);
      files.push(join(dir, shard));
    }
    return { source: index, files };
  }
  if (existsSync(join(dir, 'pytorch_model.bin'))) {
    throw new ModelDirError(
      `${dir}: only pytorch_model.bin found; retrograd reads safetensors (convert it with safetensors' convert script)`,
    );
  }
  throw new ModelDirError(`${single}: missing (a model directory needs model.safetensors)`);
}

/**
 * SHA-256 (hex) of a directory's weights: model.safetensors, or the index and its shards.
 * Experiments record it beside a model's path, so that a cell trained from other weights behind the
 * same path (a newer committed checkpoint) is refused instead of reused.
 */
export function weightsDigest(dir: string): string {
  const { source, files } = weightFiles(dir);
  const hash = createHash('sha256');
  if (!files.includes(source)) hash.update(readFileSync(source)); // the index
  for (const file of files) hash.update(readFileSync(file));
  return hash.digest('hex');
}

/** Read model.safetensors, or the shards named by model.safetensors.index.json. */
export function readWeights(dir: string): { tensors: Map<string, SafetensorsTensor>; source: string } {
  const { source, files } = weightFiles(dir);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const file of files) {
    for (const [key, t] of readSafetensors(file).tensors) {
      if (tensors.has(key)) throw new ModelDirError(`${source}: key ${key} appears in more than one shard`);
      tensors.set(key, t);
    }
  }
  return { tensors, source };
}

export interface LoadReport {
  /** Parameter names filled from the file. */
  loaded: string[];
  /** Parameters the file did not provide. */
  missing: string[];
  /** File keys nothing consumed. */
  unexpected: string[];
  /** Known file keys deliberately skipped, with the reason. */
  ignored: { key: string; reason: string }[];
  /** File keys loaded under another name (prefix or legacy-name variants). */
  renamed: { from: string; to: string }[];
}

type Resolution = { param: string } | { tiedTo: string } | { ignore: string };

/**
 * The one place where checkpoint-key variants are mapped to our parameter names:
 * - legacy TF-era LayerNorm names `gamma`/`beta` -> `weight`/`bias`;
 * - a `bert.` prefix (BertFor* checkpoints) or its absence (BertModel checkpoints), whichever the
 *   target lacks: `bert.` + name for BertForMaskedLM, the bare name for BertModel;
 * - buffers saved by older transformers (`embeddings.position_ids`, `embeddings.token_type_ids`);
 * - the NSP head `cls.seq_relationship.*` (not modelled) and, for BertModel, the MLM head `cls.*`;
 * - the tied decoder `cls.predictions.decoder.{weight,bias}`: copies of the word embeddings and of
 *   `cls.predictions.bias`, checked equal to them by the loader.
 */
export function resolveKey(fileKey: string, hasHead: boolean): Resolution {
  let key = fileKey.replace(/(^|\.)gamma$/, '$1weight').replace(/(^|\.)beta$/, '$1bias');
  if (/(^|\.)embeddings\.(position_ids|token_type_ids)$/.test(key))
    return { ignore: 'buffer saved by older transformers, not a parameter' };
  if (key.startsWith('cls.seq_relationship.')) return { ignore: 'next-sentence-prediction head, not modelled' };
  if (key.startsWith('cls.') && !hasHead) return { ignore: 'MLM head, not part of BertModel' };
  const wordEmbeddings = hasHead ? 'bert.embeddings.word_embeddings.weight' : 'embeddings.word_embeddings.weight';
  if (key === 'cls.predictions.decoder.weight') return { tiedTo: wordEmbeddings };
  if (key === 'cls.predictions.decoder.bias') return { tiedTo: 'cls.predictions.bias' };
  if (key.startsWith('cls.')) return { param: key };
  if (key.startsWith('bert.')) key = key.slice('bert.'.length);
  return { param: hasHead ? `bert.${key}` : key };
}

export interface LoadCheckpointOptions {
  /** Name of the source in messages. */
  source?: string;
  /** Allow parameters the file does not provide (true, or a list of names). */
  allowMissing?: boolean | readonly string[];
  /** Allow file keys nothing consumes. */
  allowUnexpected?: boolean;
}

function floatData(t: SafetensorsTensor, key: string, source: string): Float32Array | Float64Array {
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) return t.data;
  throw new ModelDirError(`${source}: ${key} has dtype ${t.dtype}; parameters need F32, F16, BF16 or F64`);
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Load checkpoint tensors into a BertModel or BertForMaskedLM; see `resolveKey` for the variants. */
export function loadCheckpoint(
  model: BertModel | BertForMaskedLM,
  tensors: Map<string, SafetensorsTensor>,
  opts: LoadCheckpointOptions = {},
): LoadReport {
  const source = opts.source ?? 'checkpoint';
  const hasHead = model instanceof BertForMaskedLM;
  const params = new Map(model.namedParameters());
  const report: LoadReport = { loaded: [], missing: [], unexpected: [], ignored: [], renamed: [] };
  const byParam = new Map<string, string>();
  const tied: { key: string; target: string }[] = [];
  for (const key of tensors.keys()) {
    const r = resolveKey(key, hasHead);
    if ('ignore' in r) {
      report.ignored.push({ key, reason: r.ignore });
    } else if ('tiedTo' in r) {
      tied.push({ key, target: r.tiedTo });
    } else if (!params.has(r.param)) {
      report.unexpected.push(key);
    } else {
      const previous = byParam.get(r.param);
      if (previous !== undefined) throw new ModelDirError(`${source}: both ${previous} and ${key} map to ${r.param}`);
      byParam.set(r.param, key);
      if (r.param !== key) report.renamed.push({ from: key, to: r.param });
    }
  }
  for (const [name, p] of params) {
    const key = byParam.get(name);
    if (key === undefined) {
      report.missing.push(name);
      continue;
    }
    const t = tensors.get(key)!;
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new ModelDirError(
        `${source}: ${key} has shape [${t.shape}], the model's ${name} is [${p.shape}] (does config.json match the weights?)`,
      );
    }
    const data = floatData(t, key, source);
    setParameterData(
      p,
      p.dtype === 'float64' ? Float64Array.from(data) : data instanceof Float32Array ? data : Float32Array.from(data),
    );
    report.loaded.push(name);
  }
  for (const { key, target } of tied) {
    const sourceKey = byParam.get(target);
    if (sourceKey === undefined) {
      report.unexpected.push(key);
      continue;
    }
    const copy = floatData(tensors.get(key)!, key, source);
    if (!sameValues(copy, floatData(tensors.get(sourceKey)!, sourceKey, source))) {
      throw new ModelDirError(`${source}: ${key} differs from ${sourceKey}; untied MLM decoders are not supported`);
    }
    report.ignored.push({ key, reason: `tied to ${target} (checked equal)` });
  }
  const allowed = (name: string): boolean =>
    opts.allowMissing === true || (Array.isArray(opts.allowMissing) && opts.allowMissing.includes(name));
  const missing = report.missing.filter((n) => !allowed(n));
  if (missing.length > 0) {
    throw new ModelDirError(
      `${source}: ${missing.length} missing parameter(s): ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}`,
    );
  }
  if (report.unexpected.length > 0 && !opts.allowUnexpected) {
    const u = report.unexpected;
    throw new ModelDirError(
      `${source}: ${u.length} unexpected key(s): ${u.slice(0, 8).join(', ')}${u.length > 8 ? ', ...' : ''}`,
    );
  }
  return report;
}

// ---- whole directories --------------------------------------------------------------------------

export interface LoadModelDirOptions extends LoadCheckpointOptions {
  device?: string;
  dtype?: 'float32' | 'float64';
  /** 'mlm' builds BertForMaskedLM, 'none' a BertModel (an MLM head in the file is ignored), 'auto' follows the file. Default 'none'. */
  head?: 'none' | 'mlm' | 'auto';
  /** Build the pooler: 'auto' (default) when the file has one. */
  pooler?: boolean | 'auto';
  /** Fail when vocab.txt is missing (default true). */
  requireTokenizer?: boolean;
  /** Generator the model's dropout layers draw from (default: the global generator). */
  dropoutGenerator?: Generator;
}

export interface LoadedModelDir {
  dir: string;
  config: BertConfig;
  /** The encoder (for an MLM model, `mlm.bert`). */
  model: BertModel;
  mlm: BertForMaskedLM | null;
  tokenizer: BertTokenizer | null;
  /** What modules.json / 1_Pooling/config.json record; null when the directory records nothing. */
  pooling: PoolingConfig | null;
  report: LoadReport;
}

/** DIR/vocab.txt as a tokenizer whose size matches the model's word embeddings (one-line errors naming the file). */
export function readTokenizer(dir: string, vocabSize: number): BertTokenizer {
  const vocabPath = join(dir, 'vocab.txt');
  if (!existsSync(vocabPath)) throw new ModelDirError(`${vocabPath}: missing (the tokenizer needs vocab.txt)`);
  let tokenizer: BertTokenizer;
  try {
    tokenizer = BertTokenizer.fromDir(dir);
  } catch (err) {
    throw new ModelDirError(`${vocabPath}: ${(err as Error).message}`);
  }
  if (tokenizer.vocabSize !== vocabSize) {
    throw new ModelDirError(
      `${vocabPath}: ${tokenizer.vocabSize} tokens, but the model has ${vocabSize} word embeddings (vocab_size)`,
    );
  }
  return tokenizer;
}

export function loadModelDir(dir: string, opts: LoadModelDirOptions = {}): LoadedModelDir {
  if (!existsSync(dir)) throw new ModelDirError(`model directory ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new ModelDirError(`${dir} is not a directory`);
  const config = readBertConfig(dir);
  const { tensors, source } = readWeights(dir);
  const keys = [...tensors.keys()];
  const fileHasHead = keys.includes('cls.predictions.bias');
  const head = opts.head ?? 'none';
  const withHead = head === 'mlm' || (head === 'auto' && fileHasHead);
  const pooler = opts.pooler ?? 'auto';
  const addPoolingLayer = pooler === 'auto' ? keys.some((k) => /(^|\.)pooler\.dense\.weight$/.test(k)) : pooler;
  const init: BertInitOptions & { addPoolingLayer: boolean } = {
    device: opts.device,
    dtype: opts.dtype,
    addPoolingLayer,
    dropoutGenerator: opts.dropoutGenerator,
  };

  const tokenizer =
    existsSync(join(dir, 'vocab.txt')) || (opts.requireTokenizer ?? true)
      ? readTokenizer(dir, config.vocab_size)
      : null;
  const pooling = readPoolingConfig(dir);

  const mlm = withHead ? new BertForMaskedLM(config, init) : null;
  const model = mlm ? mlm.bert : new BertModel(config, init);
  let report: LoadReport;
  try {
    report = loadCheckpoint(mlm ?? model, tensors, { ...opts, source });
  } catch (err) {
    (mlm ?? model).dispose();
    throw err;
  }
  (mlm ?? model).eval();
  return { dir, config, model, mlm, tokenizer, pooling, report };
}

export interface SaveModelDirOptions {
  /** Written as vocab.txt + tokenizer_config.json. */
  tokenizer?: BertTokenizer;
  /** Written as modules.json + 1_Pooling/config.json (sentence-transformers layout). */
  pooling?: PoolingConfig | null;
  /** Storage dtype of the weights (default F32); F16/BF16 halve the file, rounding to nearest even. */
  weightsDtype?: 'F32' | 'F16' | 'BF16';
}

/** Everything a model directory holds, as relative path -> bytes, for an atomic write. */
async function directoryFiles(
  model: SavableBert,
  opts: SaveModelDirOptions,
): Promise<{ files: Map<string, Uint8Array>; dirs: string[] }> {
  const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
  const json = (value: unknown): Uint8Array => encode(`${JSON.stringify(value, null, 2)}\n`);
  const files = new Map<string, Uint8Array>();
  const dirs: string[] = [];
  const tensors = new Map<string, SafetensorsTensorInput>();
  for (const [name, p] of model.namedParameters()) {
    const data = await (p as Tensor).data();
    tensors.set(name, {
      dtype: opts.weightsDtype ?? 'F32',
      shape: [...p.shape],
      data: data instanceof Float32Array ? data : Float32Array.from(data),
    });
  }
  const config = model.config;
  files.set('config.json', json(architectureOf(model)));
  // transformers refuses safetensors files without format metadata.
  files.set('model.safetensors', serializeSafetensors(tensors, { format: 'pt' }));
  const tok = opts.tokenizer;
  if (tok) {
    if (tok.vocabSize !== config.vocab_size) {
      throw new ModelDirError(
        `tokenizer has ${tok.vocabSize} tokens, but the model has ${config.vocab_size} word embeddings`,
      );
    }
    files.set('vocab.txt', encode(`${tok.vocab.join('\n')}\n`));
    files.set(
      'tokenizer_config.json',
      json({
        tokenizer_class: 'BertTokenizer',
        do_lower_case: tok.doLowerCase,
        strip_accents: tok.stripAccents === tok.doLowerCase ? null : tok.stripAccents,
        tokenize_chinese_chars: tok.tokenizeChineseChars,
        model_max_length: Number.isFinite(tok.modelMaxLength) ? tok.modelMaxLength : config.max_position_embeddings,
        unk_token: tok.specialTokens.unk,
        sep_token: tok.specialTokens.sep,
        pad_token: tok.specialTokens.pad,
        cls_token: tok.specialTokens.cls,
        mask_token: tok.specialTokens.mask,
      }),
    );
  }
  if (opts.pooling) {
    const pooling = poolingFiles(opts.pooling, config.hidden_size);
    for (const [path, text] of pooling.files) files.set(path, encode(text));
    dirs.push(...pooling.dirs);
  }
  return { files, dirs };
}

/**
 * Save a model directory atomically. A new directory is written under a temporary name and renamed
 * into place; into an existing directory, every file is first written to a temporary sibling and
 * only then renamed over its target, so a failure leaves the old files untouched. Files the
 * directory holds besides ours are kept.
 */
export async function saveModelDir(dir: string, model: SavableBert, opts: SaveModelDirOptions = {}): Promise<void> {
  const { files, dirs } = await directoryFiles(model, opts);
  if (!existsSync(dir)) {
    const tmp = tempSibling(dir);
    try {
      mkdirSync(tmp, { recursive: true });
      for (const sub of dirs) mkdirSync(join(tmp, sub), { recursive: true });
      for (const [path, bytes] of files) writeFileSync(join(tmp, path), bytes);
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw new ModelDirError(`${dir}: cannot save (${(err as Error).message})`);
    }
    return;
  }
  if (!statSync(dir).isDirectory()) throw new ModelDirError(`${dir} exists and is not a directory`);
  const staged: [string, string][] = [];
  try {
    for (const sub of dirs) mkdirSync(join(dir, sub), { recursive: true });
    for (const [path, bytes] of files) {
      const target = join(dir, path);
      const tmp = tempSibling(target);
      writeFileSync(tmp, bytes);
      staged.push([tmp, target]);
    }
  } catch (err) {
    for (const [tmp] of staged) unlinkSync(tmp);
    throw new ModelDirError(`${dir}: cannot save (${(err as Error).message})`);
  }
  for (const [tmp, target] of staged) renameSync(tmp, target);
}
