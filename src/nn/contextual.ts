// CDE's two-stage contextual document embedder (Morris and Rush, "Contextual Document Embeddings",
// arXiv 2410.02525, section 2; official code jxmorris12/cde, cde/model.py: DatasetTransformer, BiEncoder, DatasetConditionedBiencoder).
//
//   first stage   J context documents -> BERT -> mean pool -> mlp (Linear-GELU-Linear) -> ctx [J, H]
//   second stage  [ctx (J) | prompt (S) | token embeddings (T)] -> BERT -> mean over the T text
//                 tokens -> output_projection (Linear-ReLU-Linear, + the pooled state with
//                 `output_residual`, as in v2) -> [B, H]
// The soft prompt is prompt_projection (Linear(H,H)-ReLU-Linear(H,S·H)) of a vector of ones. The
// prefix carries no position (text tokens keep 0..T-1) and is attended everywhere; see
// BertEmbeddings.forward for how it enters the embedding LayerNorm. Texts get the prefixes
// "search_query: " / "search_document: "; context documents get the document prefix.
// Module names equal the official checkpoint keys: first_stage_model.{embedder,mlp.0,mlp.2},
// second_stage_model.{backbone,prompt_projection.*,output_projection.*}.
//
// A contextual model directory:
//   config.json         {"model_type": "retrograd-contextual", context_size (J), prompt_length (S),
//                        query_prefix, document_prefix, pooling, output_residual}
//   first_stage/        Hugging Face BERT directory (model-dir.ts), the first-stage encoder
//   second_stage/       Hugging Face BERT directory, the second-stage encoder
//   heads.safetensors   the three MLPs, keys as above (F32)
// Not here: training (src/train/contextual.ts), the CLI (src/cli/eval.ts, embed.ts).

import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceDirectory, tempSibling, writeFileAtomic } from '../io/atomic.js';
import { fromArray, ones, type Tensor } from '../tensor/tensor.js';
import { tidy, keep } from '../tensor/memory.js';
import { Generator } from '../tensor/random.js';
import { noGrad } from '../autograd/engine.js';
import * as ops from '../autograd/ops.js';
import type { BertModel } from './bert.js';
import { Dropout, Linear, Module, setParameterData, type InitOptions } from './module.js';
import { ModelDirError, loadModelDir, saveModelDir } from './model-dir.js';
import { meanPool } from './pooling.js';
import { readSafetensors, serializeSafetensors, type SafetensorsTensorInput } from './safetensors.js';
import type { BertTokenizer, Encoding } from './tokenizer.js';
import { encodingTensors, type EncodedBatch } from './biencoder.js';

export const CONTEXTUAL_MODEL_TYPE = 'retrograd-contextual';

export interface ContextualConfig {
  /** J: context documents (dataset embeddings) the second stage sees. */
  context_size: number;
  /** S: soft-prompt vectors. */
  prompt_length: number;
  query_prefix: string;
  document_prefix: string;
  /** Second-stage pooling: 'mean' over the text tokens (prefix tokens included, as in v1). */
  pooling: 'mean';
  /** v2: output = pooled + output_projection(pooled). */
  output_residual: boolean;
}

/** cde-small-v1's settings. */
export const CONTEXTUAL_DEFAULTS: ContextualConfig = {
  context_size: 512,
  prompt_length: 8,
  query_prefix: 'search_query: ',
  document_prefix: 'search_document: ',
  pooling: 'mean',
  output_residual: false,
};

export type TextKind = 'query' | 'document';

/** Where both stages start by default: the shipped MLM-pretrained BERT-mini. */
export const DEFAULT_BERT_DIR = fileURLToPath(new URL('../../models/bert-mini-retrograd', import.meta.url));

/** Validate a parsed config.json into a ContextualConfig; `label` names the file in errors. */
export function parseContextualConfig(json: unknown, label: string): ContextualConfig {
  const fail = (msg: string): never => {
    throw new ModelDirError(`${label}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('expected a JSON object');
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== CONTEXTUAL_MODEL_TYPE) {
    fail(
      `not a contextual model directory (model_type ${JSON.stringify(raw.model_type ?? null)}, expected '${CONTEXTUAL_MODEL_TYPE}')`,
    );
  }
  const int = (key: 'context_size' | 'prompt_length'): number => {
    const v = raw[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
      fail(`${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const str = (key: 'query_prefix' | 'document_prefix'): string => {
    const v = raw[key];
    if (typeof v !== 'string') fail(`${key} must be a string, got ${JSON.stringify(v)}`);
    return v as string;
  };
  if (raw.pooling !== 'mean') fail(`pooling ${JSON.stringify(raw.pooling)} is not supported (supported: mean)`);
  if (typeof raw.output_residual !== 'boolean')
    fail(`output_residual must be true or false, got ${JSON.stringify(raw.output_residual)}`);
  return {
    context_size: int('context_size'),
    prompt_length: int('prompt_length'),
    query_prefix: str('query_prefix'),
    document_prefix: str('document_prefix'),
    pooling: 'mean',
    output_residual: raw.output_residual as boolean,
  };
}

/** Whether `dir` holds a contextual model (its config.json names the contextual model type). */
export function isContextualDir(dir: string): boolean {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) return false;
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { model_type?: unknown })?.model_type === CONTEXTUAL_MODEL_TYPE;
  } catch {
    return false;
  }
}

/**
 * Linear-act-Linear with children `0` and `2` (torch.nn.Sequential numbering; the activation is
 * child 1 and has no parameters). Weights start as torch.nn.Linear's default does in variance,
 * normal with std 1/√(3·in), biases at zero.
 */
export class Mlp extends Module {
  readonly first: Linear;
  readonly second: Linear;

  constructor(
    inF: number,
    hidden: number,
    outF: number,
    readonly activation: 'gelu' | 'relu',
    o: InitOptions = {},
  ) {
    super();
    this.first = this.child('0', new Linear(inF, hidden, { ...o, std: 1 / Math.sqrt(3 * inF) }));
    this.second = this.child('2', new Linear(hidden, outF, { ...o, std: 1 / Math.sqrt(3 * hidden) }));
  }

  /** [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    const h = this.first.forward(x);
    return this.second.forward(this.activation === 'gelu' ? ops.gelu(h) : ops.relu(h));
  }
}

/** `first_stage_model`: BERT, mean pooling over the mask, mlp -> dataset embeddings. */
export class FirstStage extends Module {
  readonly embedder: BertModel;
  readonly mlp: Mlp;

  constructor(embedder: BertModel, o: InitOptions = {}) {
    super();
    const h = embedder.config.hidden_size;
    this.embedder = this.child('embedder', embedder);
    this.mlp = this.child('mlp', new Mlp(h, h, h, 'gelu', o));
  }

  /** Context documents [J, T] -> dataset embeddings [J, H]. */
  forward(batch: EncodedBatch): Tensor {
    const { lastHiddenState } = this.embedder.forward(batch);
    return this.mlp.forward(meanPool(lastHiddenState, batch.attentionMask));
  }
}

/** `second_stage_model`: BERT over [context | soft prompt | text], pooled over the text. */
export class SecondStage extends Module {
  readonly backbone: BertModel;
  readonly prompt_projection: Mlp;
  readonly output_projection: Mlp;

  constructor(
    backbone: BertModel,
    readonly promptLength: number,
    readonly residual: boolean,
    o: InitOptions = {},
  ) {
    super();
    const h = backbone.config.hidden_size;
    this.backbone = this.child('backbone', backbone);
    this.prompt_projection = this.child('prompt_projection', new Mlp(h, h, h * promptLength, 'relu', o));
    this.output_projection = this.child('output_projection', new Mlp(h, h, h, 'relu', o));
  }

  /** The soft prompt: prompt_projection(ones) [1, S·H] -> [S, H]. */
  prompt(): Tensor {
    const h = this.backbone.config.hidden_size;
    const w = this.prompt_projection.first.weight;
    const unit = ones([1, h], { dtype: w.dtype, device: w.device });
    return this.prompt_projection.forward(unit).reshape([this.promptLength, h]); // [1, S·H] -> [S, H]
  }

  /** Texts [B, T] given dataset embeddings ctx [J, H] -> embeddings [B, H]. */
  forward(batch: EncodedBatch, ctx: Tensor): Tensor {
    const [b, t] = batch.inputIds.shape;
    const h = this.backbone.config.hidden_size;
    if (ctx.ndim !== 2 || ctx.shape[1] !== h)
      throw new Error(`contextual model: context must be [J, ${h}], got [${ctx.shape}]`);
    const p = ctx.shape[0] + this.promptLength;
    const prefix = ops.concat([ctx, this.prompt()], 0).unsqueeze(0).expand([b, p, h]); // [J, H] ++ [S, H] -> [J+S, H] -> [1, J+S, H] -> [B, J+S, H]
    const { lastHiddenState } = this.backbone.forward({ ...batch, prefix }); // [B, J+S+T, H]
    const text = lastHiddenState.narrow(1, p, t); // [B, T, H]
    const pooled = meanPool(text, batch.attentionMask); // [B, H]
    const out = this.output_projection.forward(pooled);
    return this.residual ? out.add(pooled) : out;
  }
}

export interface ContextualInitOptions {
  device?: string;
  dtype?: 'float32' | 'float64';
  /** Generator of the dropout masks of both BERTs (default: the global generator). */
  dropoutGenerator?: Generator;
}

export interface FromBertOptions extends ContextualInitOptions {
  /** The second stage's starting directory (default: the first stage's). */
  secondStage?: string;
  config?: Partial<ContextualConfig>;
  /** Seed of the heads' initialisation (default 0). */
  seed?: number;
}

/** J documents of `items`: a seeded sample without replacement, or with replacement when there are fewer than J. */
export function sampleContext<T>(items: readonly T[], size: number, seed: number): T[] {
  if (!Number.isSafeInteger(size) || size < 1) throw new Error(`context size must be a positive integer, got ${size}`);
  if (items.length === 0) throw new Error('context: no documents to sample from');
  const gen = new Generator(seed);
  if (items.length >= size) return gen.shuffle([...items]).slice(0, size);
  return Array.from({ length: size }, () => items[gen.int(items.length)]);
}

export class ContextualModel extends Module {
  readonly first_stage_model: FirstStage;
  readonly second_stage_model: SecondStage;

  constructor(
    readonly config: ContextualConfig,
    firstBert: BertModel,
    secondBert: BertModel,
    readonly firstTokenizer: BertTokenizer,
    readonly secondTokenizer: BertTokenizer,
    o: InitOptions = {},
  ) {
    super();
    const h1 = firstBert.config.hidden_size;
    const h2 = secondBert.config.hidden_size;
    if (h1 !== h2) throw new Error(`contextual model: the stages' hidden sizes differ (${h1} vs ${h2})`);
    this.first_stage_model = this.child('first_stage_model', new FirstStage(firstBert, o));
    this.second_stage_model = this.child(
      'second_stage_model',
      new SecondStage(secondBert, config.prompt_length, config.output_residual, o),
    );
  }

  /**
   * Both stages from BERT directories (default: DEFAULT_BERT_DIR; the second stage from the same
   * directory unless `secondStage`, as a separate copy); fresh heads.
   */
  static fromBert(dir: string = DEFAULT_BERT_DIR, o: FromBertOptions = {}): ContextualModel {
    const config = { ...CONTEXTUAL_DEFAULTS, ...o.config };
    parseContextualConfig({ model_type: CONTEXTUAL_MODEL_TYPE, ...config }, 'contextual config');
    const load = { device: o.device, dtype: o.dtype, dropoutGenerator: o.dropoutGenerator };
    const first = loadModelDir(dir, load);
    let second: ReturnType<typeof loadModelDir>;
    try {
      second = loadModelDir(o.secondStage ?? dir, load);
    } catch (err) {
      first.model.dispose();
      throw err;
    }
    const gen = new Generator(o.seed ?? 0);
    return new ContextualModel(config, first.model, second.model, first.tokenizer!, second.tokenizer!, {
      device: o.device,
      dtype: o.dtype,
      generator: gen,
    }).eval();
  }

  /** Load a contextual model directory (see the file header). */
  static load(dir: string, o: ContextualInitOptions = {}): ContextualModel {
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new ModelDirError(`model directory ${dir} does not exist`);
    const configPath = join(dir, 'config.json');
    if (!existsSync(configPath))
      throw new ModelDirError(`${configPath}: missing (a model directory needs config.json)`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new ModelDirError(`${configPath}: invalid JSON (${(err as Error).message})`);
    }
    const config = parseContextualConfig(json, configPath);
    const load = { device: o.device, dtype: o.dtype, dropoutGenerator: o.dropoutGenerator };
    const first = loadModelDir(join(dir, 'first_stage'), load);
    let second: ReturnType<typeof loadModelDir>;
    try {
      second = loadModelDir(join(dir, 'second_stage'), load);
    } catch (err) {
      first.model.dispose();
      throw err;
    }
    const model = new ContextualModel(config, first.model, second.model, first.tokenizer!, second.tokenizer!, {
      device: o.device,
      dtype: o.dtype,
    });
    try {
      model.loadHeads(join(dir, 'heads.safetensors'));
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model.eval();
  }

  /** The three MLPs' parameters, named as in the checkpoint. */
  private *headParameters(): IterableIterator<[string, Tensor]> {
    for (const [name, p] of this.namedParameters()) {
      if (!name.startsWith('first_stage_model.embedder.') && !name.startsWith('second_stage_model.backbone.'))
        yield [name, p];
    }
  }

  private loadHeads(path: string): void {
    if (!existsSync(path))
      throw new ModelDirError(`${path}: missing (a contextual model directory needs the heads' weights)`);
    const { tensors } = readSafetensors(path);
    const params = new Map(this.headParameters());
    for (const key of tensors.keys()) if (!params.has(key)) throw new ModelDirError(`${path}: unexpected key ${key}`);
    for (const [name, p] of params) {
      const t = tensors.get(name);
      if (!t) throw new ModelDirError(`${path}: missing ${name}`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new ModelDirError(
          `${path}: ${name} has shape [${t.shape}], the model's is [${p.shape}] (does config.json match the weights?)`,
        );
      }
      if (!(t.data instanceof Float32Array || t.data instanceof Float64Array))
        throw new ModelDirError(`${path}: ${name} has dtype ${t.dtype}; heads need F32, F16, BF16 or F64`);
      setParameterData(p, p.dtype === 'float64' ? Float64Array.from(t.data) : Float32Array.from(t.data));
    }
  }

  /** Save as a contextual model directory, atomically (written under a temporary name, then swapped in). */
  async save(dir: string): Promise<void> {
    if (existsSync(dir) && !isContextualDir(dir))
      throw new ModelDirError(`${dir}: exists and is not a contextual model directory; not overwriting it`);
    const tmp = tempSibling(dir);
    try {
      mkdirSync(tmp, { recursive: true });
      writeFileSync(
        join(tmp, 'config.json'),
        `${JSON.stringify({ architectures: ['ContextualDocumentEmbedder'], model_type: CONTEXTUAL_MODEL_TYPE, ...this.config }, null, 2)}\n`,
      );
      await saveModelDir(join(tmp, 'first_stage'), this.first_stage_model.embedder, { tokenizer: this.firstTokenizer });
      await saveModelDir(join(tmp, 'second_stage'), this.second_stage_model.backbone, {
        tokenizer: this.secondTokenizer,
      });
      const heads = new Map<string, SafetensorsTensorInput>();
      for (const [name, p] of this.headParameters()) {
        const data = await p.data();
        heads.set(name, {
          dtype: 'F32',
          shape: [...p.shape],
          data: data instanceof Float32Array ? data : Float32Array.from(data),
        });
      }
      writeFileSync(join(tmp, 'heads.safetensors'), serializeSafetensors(heads, { format: 'pt' }));
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw new ModelDirError(`${dir}: cannot save (${(err as Error).message})`);
    }
    replaceDirectory(tmp, dir);
  }

  get device(): string {
    return this.second_stage_model.backbone.device;
  }

  get dimension(): number {
    return this.second_stage_model.backbone.config.hidden_size;
  }

  /** Generators of every dropout layer (gradient caching replays them). */
  dropoutGenerators(): Generator[] {
    const gens = new Set<Generator>();
    for (const [, m] of this.namedModules()) if (m instanceof Dropout) gens.add(m.generator);
    return [...gens];
  }

  /** A truncation length for a stage: `requested`, checked against its position table, or its limit. */
  lengthLimit(stage: 'first' | 'second', requested?: number): number {
    const bert = stage === 'first' ? this.first_stage_model.embedder : this.second_stage_model.backbone;
    const tok = stage === 'first' ? this.firstTokenizer : this.secondTokenizer;
    const positions = bert.config.max_position_embeddings;
    if (requested !== undefined && requested > positions)
      throw new Error(`max length ${requested} exceeds the ${stage} stage's max_position_embeddings ${positions}`);
    const length = requested ?? Math.min(tok.modelMaxLength, positions);
    if (length < 2) throw new Error(`max length ${length} leaves no room for [CLS] and [SEP]`);
    return length;
  }

  /** Prefixed, truncated encodings for a stage. */
  tokenize(stage: 'first' | 'second', texts: readonly string[], kind: TextKind, maxLength: number): Encoding[] {
    const tok = stage === 'first' ? this.firstTokenizer : this.secondTokenizer;
    const prefix = kind === 'query' ? this.config.query_prefix : this.config.document_prefix;
    return texts.map((t) => tok.encode(prefix + t, undefined, { maxLength, truncation: true }));
  }

  /** Pad encodings to the longest and upload them as [B, T] int32 tensors. */
  tensors(stage: 'first' | 'second', encodings: readonly Encoding[]): EncodedBatch {
    return encodingTensors(stage === 'first' ? this.firstTokenizer : this.secondTokenizer, encodings, this.device);
  }

  /** Dataset embeddings [J, H] of context documents, graph kept (training). */
  embedContext(docs: readonly string[], maxLength: number): Tensor {
    return this.first_stage_model.forward(this.tensors('first', this.tokenize('first', docs, 'document', maxLength)));
  }

  /** Embeddings [B, H] of texts given dataset embeddings ctx [J, H], graph kept (training). */
  embed(texts: readonly string[], kind: TextKind, ctx: Tensor, maxLength: number): Tensor {
    return this.second_stage_model.forward(
      this.tensors('second', this.tokenize('second', texts, kind, maxLength)),
      ctx,
    );
  }

  /** Run fn in eval mode (no dropout), restoring the training flag afterwards. */
  private inEval<T>(fn: () => T): T {
    const wasTraining = this.training;
    this.eval();
    try {
      return fn();
    } finally {
      this.train(wasTraining);
    }
  }

  /**
   * The context of a corpus, computed once: dataset embeddings [J, H] of `docs` (exactly what the
   * model is given: sample them with `sampleContext`), no gradient, eval mode, in sub-batches. The
   * result is kept (outlives tidy scopes); dispose it when done.
   */
  computeContext(docs: readonly string[], o: { maxLength?: number; batchSize?: number } = {}): Tensor {
    if (docs.length === 0) throw new Error('context: no documents');
    const maxLength = this.lengthLimit('first', o.maxLength);
    const batchSize = o.batchSize ?? 32;
    return this.inEval(() =>
      noGrad(() => {
        const parts: Tensor[] = [];
        for (let start = 0; start < docs.length; start += batchSize) {
          parts.push(tidy(() => this.embedContext(docs.slice(start, start + batchSize), maxLength)));
        }
        const ctx = tidy(() => (parts.length === 1 ? parts[0].clone() : ops.concat(parts, 0))); // [J, H]
        for (const p of parts) p.dispose();
        return keep(ctx);
      }),
    );
  }

  /**
   * A no-grad encoder (src/eval/dense.ts's Encoder) of queries or documents given a context:
   * sub-batches of `batchSize`, longest first, eval mode. A row does not depend on its batch.
   */
  encoder(
    ctx: Tensor,
    kind: TextKind,
    maxLength: number,
    batchSize = 32,
    onProgress?: (done: number) => void,
  ): (texts: string[]) => Promise<Float32Array[]> {
    const h = this.dimension;
    if (ctx.ndim !== 2 || ctx.shape[1] !== h)
      throw new Error(`contextual model: context must be [J, ${h}], got [${ctx.shape}]`);
    return async (texts) => {
      const encodings = this.tokenize('second', texts, kind, maxLength);
      const order = encodings
        .map((_, i) => i)
        .sort((a, b) => encodings[b].inputIds.length - encodings[a].inputIds.length || a - b);
      const rows = new Array<Float32Array>(texts.length);
      for (let start = 0; start < order.length; start += batchSize) {
        const idx = order.slice(start, start + batchSize);
        const out = this.inEval(() =>
          noGrad(() =>
            tidy(() =>
              this.second_stage_model.forward(
                this.tensors(
                  'second',
                  idx.map((i) => encodings[i]),
                ),
                ctx,
              ),
            ),
          ),
        );
        const data = Float32Array.from(await out.data());
        out.dispose();
        idx.forEach((i, b) => {
          rows[i] = data.subarray(b * h, (b + 1) * h);
        });
        onProgress?.(start + idx.length);
      }
      return rows;
    };
  }
}

/** Write a computed context [J, H] as a safetensors file (tensor `context`, F32), atomically. */
export async function saveContext(path: string, ctx: Tensor): Promise<void> {
  const data = await ctx.data();
  const bytes = serializeSafetensors(
    {
      context: {
        dtype: 'F32',
        shape: [...ctx.shape],
        data: data instanceof Float32Array ? data : Float32Array.from(data),
      },
    },
    { format: 'pt', kind: CONTEXTUAL_MODEL_TYPE },
  );
  writeFileAtomic(path, bytes);
}

/** Read a context written by saveContext onto the model's device, checked against its hidden size (kept; dispose it). */
export function loadContext(path: string, model: ContextualModel): Tensor {
  if (!existsSync(path)) throw new Error(`context file ${path} does not exist`);
  const { tensors } = readSafetensors(path);
  const t = tensors.get('context');
  if (!t || tensors.size !== 1)
    throw new Error(`${path}: not a context file (expected exactly one tensor named 'context')`);
  const h = model.dimension;
  if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] !== h)
    throw new Error(`${path}: context has shape [${t.shape}], the model needs [J, ${h}]`);
  if (!(t.data instanceof Float32Array || t.data instanceof Float64Array))
    throw new Error(`${path}: context has dtype ${t.dtype}, expected F32`);
  const dtype = model.second_stage_model.backbone.dtype;
  return keep(fromArray(t.data, t.shape, { dtype, device: model.device }));
}
