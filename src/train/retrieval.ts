// Training a biencoder on (query, positive, negative) triples with SDAM, Margin-MSE or InfoNCE,
// validating on a held-out split with early stopping, and recording the loss internals.
//
// One step: B triples; queries (truncated to queryLength) and documents (docLength) go through the
// one shared encoder in training mode (positives and negatives in one batch), the loss is computed
// on the pooled embeddings, backward, AdamW (weight decay off for biases and LayerNorm) or plain SGD
// (p ← p − lr·grad exactly), with the SDAM paper's exponential learning-rate decay and no warm-up.
// The global gradient norm is logged every step; clipping it is off unless `clip` > 0 (the
// released SDAM code does not clip). `dropout` overrides every dropout probability of the encoder.
// `epochs` caps the passes over the triples (default: one with `maxTriples`, as the paper never
// repeats a triple); an epoch is floor(n / B) batches of a fresh seeded shuffle.
// Margin-MSE needs a teacher: scores for (query, document) pairs, computed inside the step so that
// its cost is part of the measured step time.
// Loss internals (every `internalsEvery` steps, to internals.jsonl): per triple s(p, n), the target,
// the margin, and the gradient norm of the loss w.r.t. the triple's three embeddings, which shows
// whether hard negatives (high s(p, n)) receive the larger gradients. Where triples share loss terms
// (SDAM in-batch or distributed, InfoNCE) that norm includes the other triples' terms: it is logged
// as `totalGradNorms`, not `gradNorms` (per-example). A distributed target is logged as its [B, B]
// matrix with `distributedTarget: true` (triple j regresses onto the mean over i of T[i, j]).
// Step time: each step's `ms` is logged; the result's `medianStepMs` is the median over the steps
// after the first WARMUP_STEPS of each process (start or resume), which pay for compilation and
// allocation.
// Batches (batching/plan.ts): a seeded shuffle per epoch, or contextual batches (clustered once,
// cached, re-packed per epoch; their hardness logged as a `batching` line per epoch). The in-batch
// losses (InfoNCE, SDAM --in-batch) never count a duplicate of a query's gold document as its
// negative, and with a filter also leave out the surrogate's false negatives (masked fractions in
// each train line).
// Determinism: the triple order (seeded shuffle or packing per epoch) and dropout (reseeded per
// step) are functions of the seed, so a run repeats its loss trajectory exactly.
// Resumable: a checkpoint (checkpoint.ts: weights, AdamW moments, early-stopping state) is saved at
// step 0, every `saveEvery` steps, on Ctrl-C / SIGTERM and at the end; the same call on the same run
// directory continues from it, and a run killed at any moment ends with the weights an uninterrupted
// run has, bit for bit. A directory holding anything else is refused, as is a finished run.
// A non-finite loss, gradient norm or weight stops the run without saving that step.
// Run directory: log.jsonl, internals.jsonl, checkpoints/, model/ (the best validation model, or
// the last), metrics.json (written last).

import { join } from 'node:path';
import { startProgress } from '../cli/progress.js';
import { tidy } from '../tensor/memory.js';
import { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromArray } from '../tensor/tensor.js';
import * as ops from '../autograd/ops.js';
import { Biencoder } from '../nn/biencoder.js';
import { setDropout } from '../nn/module.js';
import { readBertConfig } from '../nn/model-dir.js';
import type { PoolingMode } from '../nn/pooling.js';
import { docText, loadBeir, loadTrainingSplit, type BeirDataset, type Triple } from '../data/beir.js';
import { denseRetrieve } from '../eval/dense.js';
import { evaluate, type Evaluation } from '../eval/metrics.js';
import { AdamW, SGD, clipGradNorm, decayGroups } from './optim.js';
import { makeSchedule } from './schedule.js';
import { infoNCE, marginMSE, sdamLoss, type SdamOptions } from './losses.js';
import { BatchPlan, lossLayout, maskedFractions, type BatchingSpec, type FilterSpec } from './batching/plan.js';
import { mixSeed } from './mlm.js';
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
import { Interruption, RunLog, TrainingLoop } from './run.js';

export { WARMUP_STEPS, median } from './run.js';
import { writeFileAtomic } from '../io/atomic.js';
import { pearson } from '../plot/stats.js';
import { fitTeacherScale, type Teacher, type TeacherScale, type TeacherScaleFit } from './teachers.js';

export type { Teacher } from './teachers.js';

export type LossSpec =
  | { kind: 'sdam'; options: SdamOptions }
  // teacherScale: the student's margin regresses onto k·(t_p - t_n); 'auto' fits k (teachers.ts), default 1
  | { kind: 'margin-mse'; teacher: Teacher; teacherName: string; teacherScale?: TeacherScale }
  | { kind: 'infonce'; scale: number; ownNegatives: boolean };

export interface EvalSet {
  name: string;
  dir: string;
  split: string;
}

export interface TrainBiencoderOptions {
  /** Starting model directory (Hugging Face layout). */
  model: string;
  /** BEIR directory with triples/<split>.jsonl.gz. */
  data: string;
  trainSplit?: string;
  out: string;
  loss: LossSpec;
  pooling: PoolingMode;
  batchSize: number;
  queryLength: number;
  docLength: number;
  lr: number;
  /** Per-step factor of the exponential learning-rate decay (the released SDAM code: 0.99999). */
  gamma: number;
  /** 'adamw' (default) or 'sgd': plain SGD, p ← p − lr·grad exactly (no momentum, no weight decay). */
  optimizer?: 'adamw' | 'sgd';
  /** AdamW's weight decay (not on biases and LayerNorm); unused by SGD. */
  weightDecay: number;
  /** Max global gradient norm; 0 disables clipping (the released SDAM code does not clip). */
  clip: number;
  /** Override every dropout probability of the encoder (0: none); unset keeps the model's config. */
  dropout?: number;
  /** Maximum optimizer steps. */
  steps: number;
  /** Maximum passes over the triples; default 1 with `maxTriples`, else no cap (only `steps`). */
  epochs?: number;
  /** Use only the first n triples of the seeded order (data-efficiency runs). */
  maxTriples?: number;
  seed: number;
  /** Validation (early stopping on nDCG@10) every n steps; 0 disables. */
  evalEvery: number;
  patience: number;
  validation?: EvalSet;
  /** Evaluated with the final (best) model. */
  evalSets: EvalSet[];
  /** Also evaluate the starting model on evalSets. */
  evalInitial?: boolean;
  /** Evaluate on a seeded subsample of this many queries per set (quick runs); default all. */
  evalQueries?: number;
  internalsEvery: number;
  /** Steps between checkpoints (default 50). */
  saveEvery?: number;
  evalBatchSize?: number;
  device: string;
  /** Recompute each encoder layer's forward during backward: less memory; every layer runs forward twice, 1.3-1.5x the step time. */
  checkpointActivations?: boolean;
  /** Batch composition (batching/plan.ts): the seeded shuffle (default) or contextual batches. */
  batching?: BatchingSpec;
  /** False-negative filter of the in-batch losses (default none); duplicates of the gold are always masked. */
  filter?: FilterSpec;
  /** Cache of the clustering and TF-IDF stages (batching/cache.ts); none when unset. */
  cacheDir?: string;
  /** Progress on stderr: a bar on a terminal, else a line every few seconds (default true). */
  progress?: boolean;
  onLog?: (entry: Record<string, unknown>) => void;
}

export interface SetMetrics {
  name: string;
  queries: number;
  documents: number;
  metrics: Record<string, number>;
  seconds: number;
}

export interface TrainBiencoderResult {
  steps: number;
  /** Triples trained on (steps × batch size, repeats counted) and passes over the training triples. */
  triplesSeen: number;
  epochs: number;
  /** Training triples available (after `maxTriples`). */
  trainTriples: number;
  bestStep: number;
  stoppedEarly: boolean;
  /** Mean step time over all steps, warm-up included. */
  msPerStep: number;
  /** Median step time without each process's first WARMUP_STEPS steps; null when no step is past them. */
  medianStepMs: number | null;
  initial?: SetMetrics[];
  final: SetMetrics[];
  /** Margin-MSE: the factor k on the teacher's margins (with its fit for 'auto'). */
  teacherScale?: TeacherScaleFit | { scale: number };
  modelDir: string;
  /** The signal that stopped training early (its checkpoint saved; no final model or metrics), or null. */
  interrupted: 'SIGINT' | 'SIGTERM' | null;
}

/** The cap on passes over the triples: `epochs`, else one for a data-efficiency run (`maxTriples`), else none. */
function epochCap(o: TrainBiencoderOptions): number | null {
  if (o.epochs !== undefined && !(Number.isSafeInteger(o.epochs) && o.epochs >= 1))
    throw new Error(`epochs must be an integer >= 1, got ${o.epochs}`);
  return o.epochs ?? (o.maxTriples !== undefined ? 1 : null);
}

/** The options a resumed run must share with the run that saved the checkpoint (`steps` may grow). */
function runArgs(o: TrainBiencoderOptions): Record<string, unknown> {
  const loss =
    o.loss.kind === 'sdam'
      ? { kind: 'sdam', ...o.loss.options }
      : o.loss.kind === 'margin-mse'
        ? {
            kind: 'margin-mse',
            teacher: o.loss.teacherName,
            ...((o.loss.teacherScale ?? 1) !== 1 ? { teacherScale: o.loss.teacherScale } : {}),
          }
        : { kind: 'infonce', scale: o.loss.scale, ownNegatives: o.loss.ownNegatives };
  return {
    model: o.model,
    data: o.data,
    trainSplit: o.trainSplit ?? 'train',
    loss,
    pooling: o.pooling,
    batchSize: o.batchSize,
    queryLength: o.queryLength,
    docLength: o.docLength,
    lr: o.lr,
    gamma: o.gamma,
    optimizer: o.optimizer ?? 'adamw',
    weightDecay: o.weightDecay,
    clip: o.clip,
    dropout: o.dropout ?? null,
    epochs: epochCap(o),
    maxTriples: o.maxTriples ?? null,
    seed: o.seed,
    evalEvery: o.evalEvery,
    patience: o.patience,
    validation: o.validation ?? null,
    evalSets: o.evalSets,
    evalInitial: o.evalInitial ?? false,
    evalQueries: o.evalQueries ?? null,
    internalsEvery: o.internalsEvery,
    batching: o.batching ?? { kind: 'random' },
    filter: o.filter ?? { kind: 'none' },
  };
}

/**
 * The checkpoint to resume from, or null for a fresh run; refuses a directory that holds files of
 * another kind of run, or a finished one.
 */
function resumePoint(o: TrainBiencoderOptions): string | null {
  return resumeCheckpoint(o.out, runArgs(o));
}

/**
 * Salts of the seeded streams, mixed with the seed (mlm.ts mixSeed): the triple order of epoch e is
 * a shuffle seeded mixSeed(seed, SALT.order, e); dropout is reseeded mixSeed(seed, SALT.dropout, step)
 * before each step; the `maxTriples` subset is mixSeed(seed, SALT.subset).
 */
export const SALT = { order: 0x0dde, dropout: 0xd409, subset: 0x5b5e } as const;

/** A batch's texts: its B queries and 2B documents, the positives then the negatives (in triple order). */
export function batchTexts(data: BeirDataset, batch: readonly Triple[]): { queries: string[]; docs: string[] } {
  return {
    queries: batch.map((t) => data.queries.get(t.qid)!),
    docs: [
      ...batch.map((t) => docText(data.corpus.get(t.pos)!)),
      ...batch.map((t) => docText(data.corpus.get(t.neg)!)),
    ],
  };
}

/**
 * The first n judged queries of a seeded shuffle, with their judgements (quick evaluations); the
 * corpus stays whole.
 */
export function subsampleQueries(data: BeirDataset, n: number | undefined, seed = 1): BeirDataset {
  if (n === undefined || n >= data.queries.size) return data;
  const ids = new Generator(seed).shuffle([...data.queries.keys()]).slice(0, n);
  return {
    corpus: data.corpus,
    queries: new Map(ids.map((id) => [id, data.queries.get(id)!])),
    qrels: new Map(ids.map((id) => [id, data.qrels.get(id)!])),
  };
}

/** The split's judged queries (optionally a seeded subsample), and the whole corpus of the directory. */
export async function loadEvalSet(set: EvalSet, maxQueries?: number): Promise<BeirDataset> {
  const data = await loadBeir(set.dir, set.split);
  const relevant = (qid: string): boolean => [...(data.qrels.get(qid)?.values() ?? [])].some((rel) => rel > 0);
  const queries = new Map([...data.queries].filter(([qid]) => relevant(qid)));
  if (queries.size === 0)
    throw new Error(
      `${join(set.dir, 'qrels', `${set.split}.tsv`)}: no query has a relevant document (every judgement is 0, or none matches a query)`,
    );
  return subsampleQueries({ ...data, queries }, maxQueries);
}

/** nDCG@10, MRR@10, R@10, R@100, MAP@100 of the biencoder on a dataset (exact search). */
export async function evaluateBiencoder(
  bi: Biencoder,
  data: BeirDataset,
  o: { name: string; queryLength: number; docLength: number; batchSize?: number; progress?: boolean },
): Promise<SetMetrics> {
  const t0 = performance.now();
  const { run } = await denseRetrieve(data, bi.encoder(o.docLength, o.batchSize ?? 32), {
    k: 100,
    encodeQueries: bi.encoder(o.queryLength, o.batchSize ?? 32),
    batchSize: 512,
    progress: o.progress,
    label: o.name,
    device: bi.device,
  });
  const result: Evaluation = evaluate(data.qrels, run);
  return {
    name: o.name,
    queries: data.queries.size,
    documents: data.corpus.size,
    metrics: result.mean,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Row norms of a [B, H] gradient (zeros when absent). */
async function rowNorms(g: Tensor | null, rows: number): Promise<number[]> {
  if (!g) return new Array<number>(rows).fill(0);
  const data = await g.data();
  const h = g.shape[1];
  return Array.from({ length: rows }, (_, i) => {
    let sq = 0;
    for (let j = i * h; j < (i + 1) * h; j++) sq += data[j] * data[j];
    return Math.sqrt(sq);
  });
}

export async function trainBiencoder(o: TrainBiencoderOptions): Promise<TrainBiencoderResult> {
  const resumeDir = resumePoint(o);
  // Lengths beyond the position table would fail only at the first long text, maybe after training.
  const positions = readBertConfig(o.model).max_position_embeddings;
  for (const [name, length] of [
    ['query length', o.queryLength],
    ['document length', o.docLength],
  ] as const) {
    if (length > positions)
      throw new Error(
        `${join(o.model, 'config.json')}: max_position_embeddings is ${positions}, less than the ${name} ${length}`,
      );
  }
  const split = o.trainSplit ?? 'train';
  const loaded = await loadTrainingSplit(o.data, split);
  const { data, triplesPath } = loaded;
  let triples: Triple[] = loaded.triples;
  if (o.maxTriples !== undefined)
    triples = new Generator(mixSeed(o.seed, SALT.subset)).shuffle([...triples]).slice(0, o.maxTriples);
  if (triples.length < o.batchSize)
    throw new Error(`${triplesPath}: ${triples.length} triples, fewer than one batch of ${o.batchSize}`);
  // Contextual batches and in-batch masks (duplicates of the gold, the filter's false negatives).
  const plan = BatchPlan.create(triples, {
    batching: o.batching ?? { kind: 'random' },
    filter: o.filter ?? { kind: 'none' },
    layout: lossLayout(
      o.loss.kind === 'sdam'
        ? { kind: 'sdam', inBatch: o.loss.options.inBatch }
        : { kind: o.loss.kind, ownNegatives: o.loss.kind === 'infonce' && o.loss.ownNegatives },
    ),
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
  const pooling = { mode: o.pooling, normalize: false };
  const bi = Biencoder.load(resumeDir ?? o.model, { device: o.device, pooling, dropoutGenerator: dropoutGen });
  bi.model.encoder.checkpointActivations = o.checkpointActivations === true;
  if (o.dropout !== undefined) setDropout(bi.model, o.dropout);
  const validation = o.validation && o.evalEvery > 0 ? await loadEvalSet(o.validation) : null;
  const evalData = await Promise.all(o.evalSets.map((set) => loadEvalSet(set, o.evalQueries)));
  const evalOpts = {
    queryLength: o.queryLength,
    docLength: o.docLength,
    batchSize: o.evalBatchSize,
    progress: o.progress,
  };
  const optimizer =
    o.optimizer === 'sgd'
      ? new SGD(bi.model.parameters(), o.lr)
      : new AdamW(decayGroups(bi.model.namedParameters(), o.weightDecay), { lr: o.lr });

  let state: TrainerState;
  if (resumeDir) {
    state = readTrainerState(resumeDir);
    if (optimizer instanceof AdamW) loadOptimizerState(resumeDir, bi.model, optimizer, state);
    else optimizer.stepCount = state.optimizerStep;
  } else {
    const initial = o.evalInitial ? ([] as SetMetrics[]) : null;
    for (const [i, set] of (initial ? o.evalSets : []).entries())
      initial!.push(await evaluateBiencoder(bi, evalData[i], { ...evalOpts, name: set.name }));
    // 'auto' is fitted on the starting model, once: a resumed run reads k back from its checkpoint.
    const scale = o.loss.kind === 'margin-mse' ? (o.loss.teacherScale ?? 1) : null;
    const teacherScale =
      scale === 'auto' && o.loss.kind === 'margin-mse'
        ? await fitTeacherScale(bi, data, loaded.triples, o.loss.teacher, o)
        : scale === null
          ? null
          : { scale };
    state = TrainingLoop.fresh({ initial, teacherScale, args: runArgs(o) });
  }
  // A checkpoint from before the scale existed was trained raw (the resume check allows only k = 1 then).
  const teacherScale =
    o.loss.kind !== 'margin-mse'
      ? undefined
      : ((state.teacherScale as TeacherScaleFit | { scale: number } | undefined) ?? { scale: 1 });
  const initial = (state.initial as SetMetrics[] | null) ?? undefined;
  const loop = new TrainingLoop(state);
  const save = async (): Promise<void> => {
    await saveCheckpoint(
      o.out,
      bi.model,
      optimizer instanceof AdamW ? optimizer : null,
      loop.snapshot(optimizer.stepCount),
      { tokenizer: bi.tokenizer, pooling },
    );
  };
  if (!resumeDir) await save();

  // The initial evaluation (no step) heads log.jsonl; internals.jsonl always exists for a biencoder run.
  const runLog = RunLog.open(o.out, {
    step: loop.step,
    head: initial ? [{ kind: 'initial', sets: initial }] : [],
    internals: 'always',
    onLog: o.onLog,
  });
  if (!resumeDir && initial) o.onLog?.({ kind: 'initial', sets: initial });
  if (!resumeDir && teacherScale) runLog.write({ kind: 'teacher-scale', step: 0, ...teacherScale });

  const schedule = makeSchedule('exponential', { peak: o.lr, gamma: o.gamma });
  const params = bi.model.parameters();
  const modelDir = join(o.out, 'model');
  const batchesPerEpoch = Math.floor(triples.length / o.batchSize);
  const epochs = epochCap(o);
  const lastStep = epochs === null ? o.steps : Math.min(o.steps, epochs * batchesPerEpoch);
  // Losses whose terms couple triples: a triple's embedding gradients then include other triples' terms.
  const sharedTerms =
    o.loss.kind === 'infonce' ||
    (o.loss.kind === 'sdam' && (o.loss.options.inBatch === true || o.loss.options.target === 'distributed'));
  const saveEvery = o.saveEvery ?? 50;
  let order: Triple[] = [];
  let orderEpoch = -1;

  const stop = new Interruption();
  const bar = startProgress({ label: 'train', total: lastStep, unit: 'step', start: loop.step, enabled: o.progress });
  bi.model.train();
  try {
    while (loop.step < lastStep && !loop.stoppedEarly) {
      if (await stop.requested()) break;
      const epoch = Math.floor(loop.step / batchesPerEpoch);
      const inEpoch = loop.step % batchesPerEpoch;
      if (epoch !== orderEpoch) {
        const planned = plan.batches(epoch);
        order = planned
          ? planned.flat().map((i) => triples[i])
          : new Generator(mixSeed(o.seed, SALT.order, epoch)).shuffle([...triples]);
        // Logged with the epoch's first step, so a resume cuts and rewrites it like that step's line.
        if (planned && inEpoch === 0)
          runLog.write({ kind: 'batching', step: loop.step + 1, epoch, ...plan.hardness(epoch) });
        orderEpoch = epoch;
      }
      const batch = order.slice(inEpoch * o.batchSize, (inEpoch + 1) * o.batchSize);
      const step = ++loop.step;
      dropoutGen.seed(mixSeed(o.seed, SALT.dropout, step));
      const recordInternals = o.internalsEvery > 0 && (step % o.internalsEvery === 0 || step === 1);
      const t0 = performance.now();

      const { queries, docs } = batchTexts(data, batch);
      const teacher =
        o.loss.kind === 'margin-mse'
          ? (
              await o.loss.teacher([...queries, ...queries], [...batch.map((t) => t.pos), ...batch.map((t) => t.neg)])
            ).map((t) => t * teacherScale!.scale)
          : null;
      const B = batch.length;
      const masked = plan.mask(batch);
      const out = tidy(() => {
        const q = bi.embed(queries, o.queryLength); // [B, H]
        const d = bi.embed(docs, o.docLength); // [2B, H]
        const p = d.narrow(0, 0, B);
        const n = d.narrow(0, B, B);
        if (recordInternals) for (const t of [q, p, n]) t.retainGrad();
        let loss: Tensor;
        let parts: Record<string, Tensor> = {};
        if (o.loss.kind === 'sdam') {
          const r = sdamLoss(q, p, n, masked ? { ...o.loss.options, mask: masked.mask } : o.loss.options);
          loss = r.loss;
          parts = {
            target: r.target.detach(),
            margin: r.margin.detach(),
            pairSimilarity: ops.cosineSimilarity(p, n).detach(),
          };
        } else if (o.loss.kind === 'margin-mse') {
          const device = q.device;
          const tPos = fromArray(teacher!.slice(0, B), [B], { device });
          const tNeg = fromArray(teacher!.slice(B), [B], { device });
          loss = marginMSE(q, p, n, tPos, tNeg);
          parts = { pairSimilarity: ops.cosineSimilarity(p, n).detach() };
        } else {
          loss = infoNCE(q, p, o.loss.scale, o.loss.ownNegatives ? n : undefined, masked!.mask);
          parts = { pairSimilarity: ops.cosineSimilarity(p, n).detach() };
        }
        loss.backward();
        return { loss: loss.detach(), parts, q, p, n };
      });
      const lossValue = (await out.loss.data())[0];
      if (!Number.isFinite(lossValue)) throw divergedError(o.out, step, `loss is ${lossValue}`);
      // The norm is measured (and logged) on every step, clipped only when asked. An infinite norm
      // would make clipping scale every gradient to zero; a NaN one would skip clipping.
      const gradNorm = await clipGradNorm(params, o.clip > 0 ? o.clip : Infinity);
      if (!Number.isFinite(gradNorm))
        throw divergedError(o.out, step, `gradient norm is ${gradNorm}`, await firstNonFinite(gradients(bi.model)));
      optimizer.lr = schedule(step);
      optimizer.step();
      optimizer.zeroGrad();
      const bad = await firstNonFinite(bi.model.namedParameters());
      if (bad) throw divergedError(o.out, step, 'the update made a weight non-finite', bad);
      const ms = performance.now() - t0;
      loop.timed(ms);

      if (recordInternals) {
        const norms = await Promise.all([out.q, out.p, out.n].map((t) => rowNorms(t.grad, B)));
        const gradNorms = norms[0].map((_, i) => Math.sqrt(norms[0][i] ** 2 + norms[1][i] ** 2 + norms[2][i] ** 2));
        const arrays: Record<string, number[]> = {};
        for (const [k, t] of Object.entries(out.parts)) arrays[k] = [...(await t.data())];
        const distributed =
          o.loss.kind === 'sdam' && o.loss.options.target === 'distributed' ? { distributedTarget: true } : {};
        runLog.write(
          {
            step,
            loss: lossValue,
            [sharedTerms ? 'totalGradNorms' : 'gradNorms']: gradNorms,
            ...arrays,
            ...distributed,
            hardnessGradCorrelation: pearson(arrays.pairSimilarity, gradNorms), // null when undefined (constant values)
          },
          'internals',
        );
      }
      for (const t of [out.loss, out.q, out.p, out.n, ...Object.values(out.parts)]) {
        t.grad?.dispose();
        t.grad = null;
        t.dispose();
      }
      runLog.write({
        kind: 'train',
        step,
        loss: lossValue,
        lr: optimizer.lr,
        gradNorm,
        ms,
        msPerStep: loop.stepMs / step,
        triples: step * o.batchSize,
        epochs: step / batchesPerEpoch,
        ...(masked ? { masked: maskedFractions(masked) } : {}),
      });
      bar.update(step, { loss: lossValue.toFixed(4) });

      if (validation && (step % o.evalEvery === 0 || step === lastStep)) {
        const v = await evaluateBiencoder(bi, validation, { ...evalOpts, progress: false, name: o.validation!.name });
        const score = v.metrics['nDCG@10'];
        runLog.write({ kind: 'validation', step, ...v });
        await loop.validated(score, o.patience, () => bi.save(modelDir));
      }
      if (step % saveEvery === 0 && step < lastStep && !loop.stoppedEarly) await save();
    }
    if (loop.step !== loop.resumedAt) await save();
    if (!stop.signal && !validation) {
      loop.bestStep = loop.step;
      await bi.save(modelDir);
    }
  } finally {
    bar.finish();
    stop.close();
    optimizer.dispose();
    bi.dispose();
    plan.dispose();
  }
  const summary = {
    ...loop.summary(),
    triplesSeen: loop.step * o.batchSize,
    epochs: loop.step / batchesPerEpoch,
    trainTriples: triples.length,
  };
  if (stop.signal) return { ...summary, initial, final: [], modelDir, interrupted: stop.signal };

  const finalModel = Biencoder.load(modelDir, { device: o.device });
  const final: SetMetrics[] = [];
  try {
    for (const [i, set] of o.evalSets.entries())
      final.push(await evaluateBiencoder(finalModel, evalData[i], { ...evalOpts, name: set.name }));
  } finally {
    finalModel.dispose();
  }
  const result: TrainBiencoderResult = {
    ...summary,
    initial,
    final,
    ...(teacherScale ? { teacherScale } : {}),
    modelDir,
    interrupted: null,
  };
  runLog.write({ kind: 'final', ...result });
  writeFileAtomic(join(o.out, 'metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
