// Training the two-stage contextual model (src/nn/contextual.ts; Morris and Rush, arXiv 2410.02525,
// section 2, "Training"): one-directional InfoNCE query -> document on cosine / τ (τ = 0.02
// by default), with the context of a step drawn from that batch's documents (down to J, seeded) and
// shared by its queries and documents. Batches: a seeded shuffle per epoch, or contextual batches
// re-packed per epoch (batching/plan.ts); duplicates of a query's gold document are always masked
// out of its softmax, and with a filter the surrogate's false negatives too.
//
// `contextualStep` computes one batch's loss and accumulates the gradients into `.grad`, either by
// plain backprop (the whole batch's graph alive at once) or with two-stage gradient caching, whose
// peak memory is one chunk's graph:
//   (1) no-grad first stage over the context documents, in chunks -> ctx [J, H]
//   (2) no-grad second stage over the queries and the documents, in chunks, given ctx
//   (3) the loss on detached embeddings; d loss / d embeddings
//   (4) the second stage again, chunk by chunk, with gradients, back-propagating d loss / d
//       embedding; this also accumulates d loss / d ctx
//   (5) the first stage again, chunk by chunk, back-propagating d loss / d ctx
// Dropout: every dropout generator's state is saved before each chunk of (1) and (2) and restored
// before the same chunk is re-run in (4) and (5), so the re-runs draw the same masks; afterwards the
// generators continue from where (2) left them. Cached gradients therefore equal plain backprop
// through the same chunked forward (with dropout off, plain full-batch backprop: the chunking is
// invisible). The released models train with dropout off; `trainContextual` does too unless asked.
// `trainContextual` is the loop around it (AdamW, exponential decay, validation, checkpoints,
// evaluation) for the train CLI. With the hard negatives in the batch it records loss internals as
// the biencoder's InfoNCE does (internals.jsonl: per triple s(d+, d-) and the total gradient norm
// w.r.t. its query, positive and negative embeddings), so `retrograd plot` draws them.

import { join } from 'node:path';
import { startProgress } from '../cli/progress.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/memory.js';
import { Generator } from '../tensor/random.js';
import { backward, grad, noGrad } from '../autograd/engine.js';
import * as ops from '../autograd/ops.js';
import {
  ContextualModel,
  isContextualDir,
  sampleContext,
  type ContextualConfig,
  type TextKind,
} from '../nn/contextual.js';
import type { Encoding } from '../nn/tokenizer.js';
import { docText, loadTrainingSplit, type BeirDataset } from '../data/beir.js';
import { denseRetrieve } from '../eval/dense.js';
import { evaluate } from '../eval/metrics.js';
import { maskLogits } from './batching/filter.js';
import { BatchPlan, maskedFractions, type BatchingSpec, type FilterSpec } from './batching/plan.js';
import { AdamW, clipGradNorm, decayGroups } from './optim.js';
import { makeSchedule } from './schedule.js';
import { mixSeed } from './mlm.js';
import { ensureDirectory, writeFileAtomic } from '../io/atomic.js';
import { pearson } from '../plot/stats.js';
import { loadEvalSet, type EvalSet, type SetMetrics } from './retrieval.js';
import { Interruption, RunLog, TrainingLoop } from './run.js';
import {
  divergedError,
  firstNonFinite,
  gradients,
  loadOptimizerState,
  readTrainerState,
  resumeCheckpoint,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';

/** CDE's temperature: cosine × 50. */
export const CONTEXTUAL_TEMPERATURE = 0.02;

export interface ContextualBatch {
  queries: readonly string[];
  /** The batch's candidate documents: column j of the score matrix, and the context's pool. */
  documents: readonly string[];
  /** gold[i]: the column of query i's positive (default i). */
  gold?: readonly number[];
  /**
   * Row-major [queries, documents], 1 where document j leaves query i's softmax (false negatives,
   * duplicates of the gold: batching/filter.ts's falseNegativeMask). Never set on a gold column.
   */
  mask?: Uint8Array;
}

export interface ContextualStepOptions {
  /** τ (default 0.02). */
  temperature?: number;
  queryLength: number;
  docLength: number;
  /** Truncation of the context documents (default docLength). */
  contextLength?: number;
  /** Context documents per step, at most the model's J (default J). */
  contextSize?: number;
  /** Seed of this step's context sample. */
  contextSeed: number;
  /** Two-stage gradient caching (default true). */
  gradCache?: boolean;
  /** Sequences per second-stage forward (default 64 with caching, the whole batch without). */
  chunkSize?: number;
  /** Sequences per first-stage forward (default chunkSize). */
  contextChunkSize?: number;
  /** Also return the step's internals (default false). */
  internals?: boolean;
}

/** What the loss saw: gradient norms per embedding and the documents' cosine similarities. */
export interface StepInternals {
  /** ‖∂loss/∂q_i‖ per query and ‖∂loss/∂d_j‖ per document (the embeddings before the loss's normalisation). */
  queryGradNorms: number[];
  documentGradNorms: number[];
  /** Row-major [N, N] cosine similarities of the batch's document embeddings. */
  documentCosines: number[];
}

export interface ContextualStepResult {
  loss: number;
  /** Indices into batch.documents of the context used. */
  context: number[];
  internals?: StepInternals;
}

/** The step's context: all of the batch's documents, or a seeded sample of `size` of them. */
export function batchContext(documents: number, size: number, seed: number): number[] {
  const all = Array.from({ length: documents }, (_, i) => i);
  return documents > size ? sampleContext(all, size, seed) : all;
}

/** InfoNCE query -> document: cross-entropy of cos(q_i, d_j) / τ over j (masked cells left out), target gold[i]. */
export function contextualLoss(q: Tensor, d: Tensor, batch: ContextualBatch, temperature: number): Tensor {
  const [rows] = q.shape;
  const cols = d.shape[0];
  const gold = batch.gold ?? Array.from({ length: rows }, (_, i) => i);
  let logits = ops.mul(ops.cosineSimilarityMatrix(q, d), 1 / temperature); // [B, N]
  if (batch.mask) {
    gold.forEach((g, i) => {
      if (batch.mask![i * cols + g])
        throw new Error(`contextual loss: the mask removes query ${i}'s gold document ${g}`);
    });
    logits = maskLogits(logits, batch.mask);
  }
  return ops.crossEntropy(logits, fromArray(gold, [rows], { dtype: 'int32', device: q.device }));
}

function checkBatch(batch: ContextualBatch): void {
  const rows = batch.queries.length;
  const cols = batch.documents.length;
  if (rows === 0 || cols === 0) throw new Error(`contextual step: empty batch (${rows} queries, ${cols} documents)`);
  if (
    batch.gold &&
    (batch.gold.length !== rows || batch.gold.some((g) => !Number.isInteger(g) || g < 0 || g >= cols))
  ) {
    throw new Error(`contextual step: gold must give one column in 0..${cols - 1} per query`);
  }
  if (batch.mask && batch.mask.length !== rows * cols)
    throw new Error(`contextual step: mask has ${batch.mask.length} cells for ${rows}x${cols} scores`);
}

function chunks(n: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < n; start += size) out.push([start, Math.min(size, n - start)]);
  return out;
}

interface Job {
  stage: 'first' | 'second';
  encodings: Encoding[];
  /** Rows of this job in the loss's embedding matrix. */
  target: 'ctx' | 'q' | 'd';
}

/**
 * One batch: its loss, and its gradients accumulated into every parameter's `.grad` (see the file
 * header). The model's training flag decides dropout.
 */
export function contextualStep(
  model: ContextualModel,
  batch: ContextualBatch,
  o: ContextualStepOptions,
): ContextualStepResult {
  checkBatch(batch);
  const J = Math.min(o.contextSize ?? model.config.context_size, model.config.context_size);
  if (!(J >= 1)) throw new Error(`contextual step: context size must be at least 1, got ${o.contextSize}`);
  const temperature = o.temperature ?? CONTEXTUAL_TEMPERATURE;
  if (!(temperature > 0)) throw new Error(`contextual step: temperature must be positive, got ${temperature}`);
  const gradCache = o.gradCache ?? true;
  const chunk = o.chunkSize ?? (gradCache ? 64 : Infinity);
  const contextChunk = o.contextChunkSize ?? chunk;
  for (const [name, v] of [
    ['chunkSize', chunk],
    ['contextChunkSize', contextChunk],
  ] as const) {
    if (!(v >= 1) || (Number.isFinite(v) && !Number.isInteger(v)))
      throw new Error(`contextual step: ${name} must be a positive integer, got ${v}`);
  }
  const context = batchContext(batch.documents.length, J, o.contextSeed);
  const contextDocs = context.map((j) => batch.documents[j]);
  const jobs: Job[] = [
    {
      stage: 'first',
      encodings: model.tokenize('first', contextDocs, 'document', o.contextLength ?? o.docLength),
      target: 'ctx',
    },
    { stage: 'second', encodings: model.tokenize('second', batch.queries, 'query', o.queryLength), target: 'q' },
    { stage: 'second', encodings: model.tokenize('second', batch.documents, 'document', o.docLength), target: 'd' },
  ];
  const sizeOf = (job: Job): number => (job.stage === 'first' ? contextChunk : chunk);
  const step = (gradCache ? cachedStep : plainStep)(model, batch, jobs, sizeOf, temperature, o.internals ?? false);
  return { ...step, context };
}

/** Row L2 norms of a [N, H] tensor. */
function rowNorms(g: Tensor): number[] {
  const [n, h] = g.shape;
  const x = g.toArray();
  return Array.from({ length: n }, (_, i) => {
    let sq = 0;
    for (let k = i * h; k < (i + 1) * h; k++) sq += x[k] * x[k];
    return Math.sqrt(sq);
  });
}

function internalsOf(d: Tensor, dq: Tensor, dd: Tensor): StepInternals {
  const cos = noGrad(() => ops.cosineSimilarityMatrix(d, d)); // [N, N]
  const documentCosines = Array.from(cos.toArray());
  cos.dispose();
  return { queryGradNorms: rowNorms(dq), documentGradNorms: rowNorms(dd), documentCosines };
}

type StepOutput = { loss: number; internals?: StepInternals };

/** Forward one chunk of a job: first stage -> [n, H]; second stage given ctx -> [n, H]. */
function forwardChunk(model: ContextualModel, job: Job, start: number, len: number, ctx: Tensor | null): Tensor {
  const inputs = model.tensors(job.stage, job.encodings.slice(start, start + len));
  return job.stage === 'first'
    ? model.first_stage_model.forward(inputs)
    : model.second_stage_model.forward(inputs, ctx!);
}

function plainStep(
  model: ContextualModel,
  batch: ContextualBatch,
  jobs: Job[],
  sizeOf: (j: Job) => number,
  temperature: number,
  internals: boolean,
): StepOutput {
  return tidy(() => {
    const out: Partial<Record<Job['target'], Tensor>> = {};
    for (const job of jobs) {
      const parts = chunks(job.encodings.length, sizeOf(job)).map(([s, n]) =>
        forwardChunk(model, job, s, n, out.ctx ?? null),
      );
      out[job.target] = parts.length === 1 ? parts[0] : ops.concat(parts, 0); // n chunks of [c, H] -> [N, H]
    }
    if (internals) for (const t of [out.q!, out.d!]) t.retainGrad();
    const loss = contextualLoss(out.q!, out.d!, batch, temperature);
    loss.backward();
    if (!internals) return { loss: loss.item() };
    const result = { loss: loss.item(), internals: internalsOf(out.d!, out.q!.grad!, out.d!.grad!) };
    for (const t of [out.q!, out.d!]) {
      // retained gradients outlive tidy
      t.grad!.dispose();
      t.grad = null;
    }
    return result;
  });
}

function cachedStep(
  model: ContextualModel,
  batch: ContextualBatch,
  jobs: Job[],
  sizeOf: (j: Job) => number,
  temperature: number,
  internals: boolean,
): StepOutput {
  const gens = model.dropoutGenerators();
  type State = ReturnType<Generator['getState']>[];
  const snapshot = (): State => gens.map((g) => g.getState());
  const restore = (s: State): void => gens.forEach((g, k) => g.setState(s[k]));
  const plan = jobs.map((job) =>
    chunks(job.encodings.length, sizeOf(job)).map(([start, len]) => ({ start, len, state: null as State | null })),
  );
  return tidy(() => {
    // (1), (2): no-grad forwards, remembering the dropout state before each chunk.
    const emb: Partial<Record<Job['target'], Tensor>> = {};
    noGrad(() => {
      jobs.forEach((job, k) => {
        const parts = plan[k].map((c) => {
          c.state = snapshot();
          return tidy(() => forwardChunk(model, job, c.start, c.len, emb.ctx ?? null));
        });
        emb[job.target] = parts.length === 1 ? parts[0] : ops.concat(parts, 0); // n chunks of [c, H] -> [N, H]
      });
    });
    const after = snapshot();
    // (3): loss and its gradient with respect to the (detached) embeddings.
    const q = emb.q!.detach();
    const d = emb.d!.detach();
    q.requiresGrad = true;
    d.requiresGrad = true;
    const loss = contextualLoss(q, d, batch, temperature);
    const [dq, dd] = grad(loss, [q, d]);
    const lossValue = loss.item();
    const stepInternals = internals ? internalsOf(d, dq, dd) : undefined;
    // (4): the second stage with gradients, chunk by chunk; d loss / d ctx accumulates in ctx.grad.
    const ctx = emb.ctx!.detach();
    ctx.requiresGrad = true;
    try {
      jobs.forEach((job, k) => {
        if (job.stage !== 'second') return;
        const upstream = job.target === 'q' ? dq : dd;
        for (const c of plan[k]) {
          restore(c.state!);
          tidy(() => backward(forwardChunk(model, job, c.start, c.len, ctx), upstream.narrow(0, c.start, c.len)));
        }
      });
      // (5): the first stage with gradients, back-propagating d loss / d ctx.
      const dctx = ctx.grad!;
      jobs.forEach((job, k) => {
        if (job.stage !== 'first') return;
        for (const c of plan[k]) {
          restore(c.state!);
          tidy(() => backward(forwardChunk(model, job, c.start, c.len, null), dctx.narrow(0, c.start, c.len)));
        }
      });
    } finally {
      ctx.grad?.dispose();
      ctx.grad = null;
      restore(after);
    }
    return { loss: lossValue, internals: stepInternals };
  });
}

// ---- evaluation ---------------------------------------------------------------------------------

export interface ContextualEvalOptions {
  name: string;
  queryLength: number;
  docLength: number;
  batchSize?: number;
  /** Seed of the context sample from the corpus (default 0). */
  contextSeed?: number;
  progress?: boolean;
}

/** The ids of a corpus's context: J documents sampled from it (seeded; with replacement when it has fewer than J). */
export function corpusContextIds(data: BeirDataset, size: number, seed = 0): string[] {
  return sampleContext([...data.corpus.keys()], size, seed);
}

/** nDCG@10, MRR@10, R@10, R@100, MAP@100 with a context sampled from the evaluated corpus (exact search). */
export async function evaluateContextual(
  model: ContextualModel,
  data: BeirDataset,
  o: ContextualEvalOptions,
): Promise<SetMetrics> {
  const t0 = performance.now();
  const ids = corpusContextIds(data, model.config.context_size, o.contextSeed ?? 0);
  const ctx = model.computeContext(
    ids.map((id) => docText(data.corpus.get(id)!)),
    { maxLength: o.docLength, batchSize: o.batchSize },
  );
  try {
    const encoder = (kind: TextKind, length: number) => model.encoder(ctx, kind, length, o.batchSize ?? 32);
    const { run } = await denseRetrieve(data, encoder('document', o.docLength), {
      k: 100,
      encodeQueries: encoder('query', o.queryLength),
      batchSize: 512,
      progress: o.progress,
      device: model.device,
    });
    const result = evaluate(data.qrels, run);
    return {
      name: o.name,
      queries: data.queries.size,
      documents: data.corpus.size,
      metrics: result.mean,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    ctx.dispose();
  }
}

// ---- the training loop --------------------------------------------------------------------------

export interface TrainContextualOptions {
  /** A BERT directory (both stages start from it, fresh heads) or a contextual model directory. */
  model: string;
  /** The second stage's starting BERT directory when `model` is a BERT directory (default: the same). */
  secondStage?: string;
  /** Settings of a new contextual model (J, prompt length, prefixes, residual). */
  config?: Partial<ContextualConfig>;
  /** BEIR directory with triples/<split>.jsonl.gz. */
  data: string;
  trainSplit?: string;
  out: string;
  batchSize: number;
  /** Batches as lists of triple indices (library use; not checkpointed, so no resume); default a seeded shuffle per epoch. */
  batches?: number[][];
  /** Contextual batches re-packed per epoch, or a batch file (batching/plan.ts; overrides `batches`); default random. */
  batching?: BatchingSpec;
  /** False-negative filter of the loss (default none); duplicates of a query's gold are always masked. */
  filter?: FilterSpec;
  /** Cache of the clustering and TF-IDF stages (batching/cache.ts). */
  cacheDir?: string;
  /** Each triple's hard negative joins the batch's documents (default false: the paper finds extra mined negatives hurt). */
  negatives?: boolean;
  queryLength: number;
  docLength: number;
  temperature?: number;
  lr: number;
  /** Per-step factor of the exponential learning-rate decay. */
  gamma: number;
  weightDecay: number;
  /** Max global gradient norm; 0: no clipping (the norm is logged either way). */
  clip: number;
  steps: number;
  seed: number;
  gradCache?: boolean;
  chunkSize?: number;
  contextChunkSize?: number;
  /** Train with the BERTs' dropout (default false, as the released models). */
  dropout?: boolean;
  /** Early stopping on nDCG@10 of this set (context sampled from its corpus), every `evalEvery` steps. */
  validation?: EvalSet;
  /** Steps between validations (default 100; 0: none). */
  evalEvery?: number;
  /** Validations without improvement before stopping (default 3). */
  patience?: number;
  /** Steps between checkpoints (default 50). */
  saveEvery?: number;
  /** Steps between loss-internals records in internals.jsonl (default 10; 0: never); recorded only with `negatives`. */
  internalsEvery?: number;
  evalSets: EvalSet[];
  evalQueries?: number;
  evalBatchSize?: number;
  device: string;
  /** Progress on stderr (src/cli/progress.ts; default true). */
  progress?: boolean;
  onLog?: (entry: Record<string, unknown>) => void;
}

export interface TrainContextualResult {
  steps: number;
  /** Step at which model/ was saved (the best validation, else the last). */
  bestStep: number;
  stoppedEarly: boolean;
  /** Mean step time, warm-up included. */
  msPerStep: number;
  /** Median step time without each process's first WARMUP_STEPS steps; null when no step is past them. */
  medianStepMs: number | null;
  final: SetMetrics[];
  modelDir: string;
  /** The signal that stopped training (its checkpoint saved; no final model or metrics), or null. */
  interrupted: 'SIGINT' | 'SIGTERM' | null;
}

const SALT = { order: 0xc0de, context: 0xc7e7, dropout: 0xd409 } as const;

/** The options a resumed run must share with the run that saved the checkpoint (`steps` may grow). */
function runArgs(o: TrainContextualOptions): Record<string, unknown> {
  return {
    modelType: 'contextual',
    model: o.model,
    secondStage: o.secondStage ?? null,
    config: o.config ?? {},
    data: o.data,
    trainSplit: o.trainSplit ?? 'train',
    batchSize: o.batchSize,
    batching: o.batching ?? { kind: 'random' },
    filter: o.filter ?? { kind: 'none' },
    negatives: o.negatives ?? false,
    queryLength: o.queryLength,
    docLength: o.docLength,
    temperature: o.temperature ?? CONTEXTUAL_TEMPERATURE,
    lr: o.lr,
    gamma: o.gamma,
    weightDecay: o.weightDecay,
    clip: o.clip,
    seed: o.seed,
    gradCache: o.gradCache ?? true,
    chunkSize: o.chunkSize ?? null,
    contextChunkSize: o.contextChunkSize ?? null,
    dropout: o.dropout ?? false,
    validation: o.validation ?? null,
    evalEvery: o.evalEvery ?? 100,
    patience: o.patience ?? 3,
    evalSets: o.evalSets,
    evalQueries: o.evalQueries ?? null,
    internalsEvery: o.internalsEvery ?? 10,
  };
}

/**
 * The loop: AdamW (no decay on biases and LayerNorm), the learning rate decayed by `gamma` per step,
 * the gradient norm logged every step (clipped when `clip` > 0), optional validation with early
 * stopping. Resumable as trainBiencoder (retrieval.ts): a checkpoint (the contextual model
 * directory, AdamW's moments, the loop's state) at step 0, every `saveEvery` steps, on Ctrl-C /
 * SIGTERM and at the end; rerunning the same call continues with the weights an uninterrupted run
 * has, bit for bit (the batch order, the context sample and dropout are functions of (seed, step)).
 * A directory of another run, a finished run or other arguments are refused.
 */
export async function trainContextual(o: TrainContextualOptions): Promise<TrainContextualResult> {
  if (o.batches && o.batching) throw new Error('trainContextual: give batches or batching, not both');
  const resumeDir = o.batches ? null : resumeCheckpoint(o.out, runArgs(o));
  if (o.batches) ensureDirectory(o.out);
  const split = o.trainSplit ?? 'train';
  const { data, triples, triplesPath } = await loadTrainingSplit(o.data, split);
  if (!o.batches && triples.length < o.batchSize)
    throw new Error(`${triplesPath}: ${triples.length} triples, fewer than one batch of ${o.batchSize}`);
  for (const b of o.batches ?? []) {
    if (b.length === 0 || b.some((i) => !Number.isInteger(i) || i < 0 || i >= triples.length))
      throw new Error(`batches: every batch needs triple indices in 0..${triples.length - 1}`);
  }
  const plan = BatchPlan.create(triples, {
    batching: o.batching ?? { kind: 'random' },
    filter: o.filter ?? { kind: 'none' },
    layout: o.negatives ? 'positives+negatives' : 'positives',
    batchSize: o.batchSize,
    seed: o.seed,
    queryText: (id) => data.queries.get(id)!,
    docText: (id) => docText(data.corpus.get(id)!),
    cacheDir: o.cacheDir,
    device: o.device,
    queryLength: o.queryLength,
    docLength: o.docLength,
  });
  const dropoutGen = new Generator(o.seed);
  let model: ContextualModel;
  try {
    const from = resumeDir ?? o.model;
    model = isContextualDir(from)
      ? ContextualModel.load(from, { device: o.device, dropoutGenerator: dropoutGen })
      : ContextualModel.fromBert(from, {
          device: o.device,
          secondStage: o.secondStage,
          config: o.config,
          seed: o.seed,
          dropoutGenerator: dropoutGen,
        });
  } catch (err) {
    plan.dispose();
    throw err;
  }
  const evalEvery = o.evalEvery ?? 100;
  const patience = o.patience ?? 3;
  const saveEvery = o.saveEvery ?? 50;
  const optimizer = new AdamW(decayGroups(model.namedParameters(), o.weightDecay), { lr: o.lr });
  const release = (): void => {
    plan.dispose();
    optimizer.dispose();
    model.dispose();
  };
  let validation: BeirDataset | null;
  let evalData: BeirDataset[];
  try {
    validation = o.validation && evalEvery > 0 ? await loadEvalSet(o.validation) : null;
    evalData = await Promise.all(o.evalSets.map((set) => loadEvalSet(set, o.evalQueries)));
  } catch (err) {
    release();
    throw err;
  }
  const evalOpts = {
    queryLength: o.queryLength,
    docLength: o.docLength,
    batchSize: o.evalBatchSize,
    contextSeed: o.seed,
  };

  let state: TrainerState;
  if (resumeDir) {
    state = readTrainerState(resumeDir);
    loadOptimizerState(resumeDir, model, optimizer, state);
  } else {
    state = TrainingLoop.fresh({ args: runArgs(o) });
  }
  const loop = new TrainingLoop(state);
  const save = async (): Promise<void> => {
    if (o.batches) return; // library batches are not part of the run's arguments: nothing to resume against
    await saveCheckpoint(o.out, model, optimizer, loop.snapshot(optimizer.stepCount), {
      writeModel: (dir) => model.save(dir),
    });
  };
  try {
    if (!resumeDir) await save();
  } catch (err) {
    release();
    throw err;
  }
  // internals.jsonl exists only when internals are recorded (with negatives).
  const runLog = RunLog.open(o.out, { step: loop.step, internals: 'if-present', onLog: o.onLog });
  const internalsEvery = o.negatives ? (o.internalsEvery ?? 10) : 0;

  const schedule = makeSchedule('exponential', { peak: o.lr, gamma: o.gamma });
  const params = model.parameters();
  const modelDir = join(o.out, 'model');
  const planned = o.batching !== undefined && o.batching.kind !== 'random';
  const perEpoch = planned ? plan.perEpoch : o.batches ? o.batches.length : Math.floor(triples.length / o.batchSize);
  let order: number[][] = [];
  let orderEpoch = -1;
  const stop = new Interruption();
  const bar = startProgress({ label: 'train', total: o.steps, unit: 'step', start: loop.step, enabled: o.progress });
  model.train(o.dropout ?? false);
  try {
    while (loop.step < o.steps && !loop.stoppedEarly) {
      if (await stop.requested()) break;
      const epoch = Math.floor(loop.step / perEpoch);
      const inEpoch = loop.step % perEpoch;
      if (epoch !== orderEpoch) {
        const gen = new Generator(mixSeed(o.seed, SALT.order, epoch));
        if (planned) {
          order = plan.batches(epoch)!;
          // Logged with the epoch's first step, so a resume cuts and rewrites it like that step's line.
          if (inEpoch === 0) runLog.write({ kind: 'batching', step: loop.step + 1, epoch, ...plan.hardness(epoch) });
        } else if (o.batches) {
          order = gen.shuffle(o.batches.map((b) => [...b]));
        } else {
          const shuffled = gen.shuffle(triples.map((_, i) => i));
          order = Array.from({ length: perEpoch }, (_, b) => shuffled.slice(b * o.batchSize, (b + 1) * o.batchSize));
        }
        orderEpoch = epoch;
      }
      const picked = order[inEpoch].map((i) => triples[i]);
      const step = ++loop.step;
      dropoutGen.seed(mixSeed(o.seed, SALT.dropout, step));
      const t0 = performance.now();
      const documents = picked.map((t) => docText(data.corpus.get(t.pos)!));
      if (o.negatives ?? false) documents.push(...picked.map((t) => docText(data.corpus.get(t.neg)!)));
      const masked = plan.mask(picked)!;
      const recordInternals = internalsEvery > 0 && (step % internalsEvery === 0 || step === 1);
      const { loss, internals } = contextualStep(
        model,
        { queries: picked.map((t) => data.queries.get(t.qid)!), documents, mask: masked.mask },
        {
          temperature: o.temperature,
          queryLength: o.queryLength,
          docLength: o.docLength,
          contextSeed: mixSeed(o.seed, SALT.context, step),
          gradCache: o.gradCache,
          chunkSize: o.chunkSize,
          contextChunkSize: o.contextChunkSize,
          internals: recordInternals,
        },
      );
      if (!Number.isFinite(loss)) throw divergedError(o.out, step, `loss is ${loss}`);
      // Measured every step, clipped only when asked (an infinite norm would scale every gradient to zero).
      const gradNorm = await clipGradNorm(params, o.clip > 0 ? o.clip : Infinity);
      if (!Number.isFinite(gradNorm))
        throw divergedError(o.out, step, `gradient norm is ${gradNorm}`, await firstNonFinite(gradients(model)));
      optimizer.lr = schedule(step);
      optimizer.step();
      optimizer.zeroGrad();
      const bad = await firstNonFinite(model.namedParameters());
      if (bad) throw divergedError(o.out, step, 'the update made a weight non-finite', bad);
      const ms = performance.now() - t0;
      loop.timed(ms);
      runLog.write({
        kind: 'train',
        step,
        loss,
        lr: optimizer.lr,
        gradNorm,
        ms,
        msPerStep: loop.stepMs / step,
        masked: maskedFractions(masked),
      });
      if (internals) {
        // As the biencoder's InfoNCE internals: triple i's (query, positive i, negative B+i); the loss couples triples.
        const B = picked.length;
        const n = documents.length;
        const totalGradNorms = picked.map((_, i) =>
          Math.hypot(internals.queryGradNorms[i], internals.documentGradNorms[i], internals.documentGradNorms[B + i]),
        );
        const pairSimilarity = picked.map((_, i) => internals.documentCosines[i * n + B + i]);
        runLog.write(
          {
            step,
            loss,
            totalGradNorms,
            pairSimilarity,
            hardnessGradCorrelation: pearson(pairSimilarity, totalGradNorms),
          },
          'internals',
        );
      }
      bar.update(step, { loss: loss.toFixed(4) });

      if (validation && (step % evalEvery === 0 || step === o.steps)) {
        model.eval();
        const v = await evaluateContextual(model, validation, { ...evalOpts, name: o.validation!.name });
        model.train(o.dropout ?? false);
        runLog.write({ kind: 'validation', step, ...v });
        await loop.validated(v.metrics['nDCG@10'], patience, () => model.save(modelDir));
      }
      if (step % saveEvery === 0 && step < o.steps && !loop.stoppedEarly) await save();
    }
    if (loop.step !== loop.resumedAt) await save();
    if (!stop.signal && !validation) {
      loop.bestStep = loop.step;
      await model.save(modelDir);
    }
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    bar.finish();
    stop.close();
    plan.dispose();
    optimizer.dispose();
  }
  model.dispose();
  const summary = loop.summary();
  if (stop.signal) return { ...summary, final: [], modelDir, interrupted: stop.signal };

  const finalModel = ContextualModel.load(modelDir, { device: o.device });
  const final: SetMetrics[] = [];
  try {
    for (const [i, set] of o.evalSets.entries())
      final.push(await evaluateContextual(finalModel, evalData[i], { ...evalOpts, name: set.name }));
  } finally {
    finalModel.dispose();
  }
  const result: TrainContextualResult = { ...summary, final, modelDir, interrupted: null };
  runLog.write({ kind: 'final', ...result });
  writeFileAtomic(join(o.out, 'metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
