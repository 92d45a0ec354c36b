// Training a biencoder on (query, positive, negative) triples with SDAM, Margin-MSE or InfoNCE,
// validating on a held-out split with early stopping, and recording the loss internals.
//
// One step: B triples; queries (truncated to queryLength) and documents (docLength) go through the
// one shared encoder in training mode (positives and negatives in one batch), the loss is computed
// on the pooled embeddings, backward, AdamW (weight decay off for biases and LayerNorm) with the
// SDAM paper's exponential learning-rate decay and no warm-up.
// Margin-MSE needs a teacher: scores for (query, document) pairs, computed inside the step so that
// its cost is part of the measured step time.
// Loss internals (every `internalsEvery` steps, to internals.jsonl): per triple s(p, n), the target,
// the margin, and the gradient norm of the loss w.r.t. the triple's three embeddings, which shows
// whether hard negatives (high s(p, n)) receive the larger gradients.
// Determinism: the triple order (seeded shuffle per epoch) and dropout (reseeded per step) are
// functions of the seed, so a run repeats its loss trajectory exactly.
// Resumable: a checkpoint (checkpoint.ts: weights, AdamW moments, early-stopping state) is saved at
// step 0, every `saveEvery` steps, on Ctrl-C / SIGTERM and at the end; the same call on the same run
// directory continues from it, and a run killed at any moment ends with the weights an uninterrupted
// run has, bit for bit. A directory holding anything else is refused, as is a finished run.
// A non-finite loss, gradient norm or weight stops the run without saving that step.
// Run directory: log.jsonl, internals.jsonl, checkpoints/, model/ (the best validation model, or
// the last), metrics.json (written last).

import { join } from 'node:path';
import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { startProgress } from '../cli/progress.js';
import { tidy } from '../tensor/memory.js';
import { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromArray } from '../tensor/tensor.js';
import * as ops from '../autograd/ops.js';
import { Biencoder } from '../nn/biencoder.js';
import { readBertConfig } from '../nn/model-dir.js';
import type { PoolingMode } from '../nn/pooling.js';
import { docText, loadBeir, readTriples, type BeirDataset, type Triple } from '../data/beir.js';
import { denseRetrieve } from '../eval/dense.js';
import { evaluate, type Evaluation } from '../eval/metrics.js';
import { AdamW, clipGradNorm, decayGroups } from './optim.js';
import { makeSchedule } from './schedule.js';
import { infoNCE, marginMSE, sdamLoss, type SdamOptions } from './losses.js';
import { mixSeed } from './mlm.js';
import {
  divergedError, ensureDirectory, firstNonFinite, gradients, latestCheckpoint, loadOptimizerState, readTrainerState, rewriteLog,
  saveCheckpoint, writeFileAtomic, type TrainerState,
} from './checkpoint.js';
import { pearson } from '../plot/stats.js';

/** Teacher scores for (query text, document id) pairs, one per pair (a model teacher reads them back asynchronously). */
export type Teacher = (queries: readonly string[], docIds: readonly string[]) => number[] | Promise<number[]>;

export type LossSpec =
  | { kind: 'sdam'; options: SdamOptions }
  | { kind: 'margin-mse'; teacher: Teacher; teacherName: string }
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
  /** Per-step factor of the exponential learning-rate decay. */
  gamma: number;
  weightDecay: number;
  clip: number;
  /** Maximum optimizer steps. */
  steps: number;
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
  /** Recompute each encoder layer's forward during backward: less memory, about a third more time. */
  checkpointActivations?: boolean;
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
  bestStep: number;
  stoppedEarly: boolean;
  msPerStep: number;
  initial?: SetMetrics[];
  final: SetMetrics[];
  modelDir: string;
  /** The signal that stopped training early (its checkpoint saved; no final model or metrics), or null. */
  interrupted: 'SIGINT' | 'SIGTERM' | null;
}

/** The options a resumed run must share with the run that saved the checkpoint (`steps` may grow). */
function runArgs(o: TrainBiencoderOptions): Record<string, unknown> {
  const loss = o.loss.kind === 'sdam' ? { kind: 'sdam', ...o.loss.options }
    : o.loss.kind === 'margin-mse' ? { kind: 'margin-mse', teacher: o.loss.teacherName }
      : { kind: 'infonce', scale: o.loss.scale, ownNegatives: o.loss.ownNegatives };
  return {
    model: o.model, data: o.data, trainSplit: o.trainSplit ?? 'train', loss, pooling: o.pooling, batchSize: o.batchSize,
    queryLength: o.queryLength, docLength: o.docLength, lr: o.lr, gamma: o.gamma, weightDecay: o.weightDecay, clip: o.clip,
    maxTriples: o.maxTriples ?? null, seed: o.seed, evalEvery: o.evalEvery, patience: o.patience, validation: o.validation ?? null,
    evalSets: o.evalSets, evalInitial: o.evalInitial ?? false, evalQueries: o.evalQueries ?? null, internalsEvery: o.internalsEvery,
  };
}

/**
 * The checkpoint to resume from, or null for a fresh run; refuses a directory that holds files of
 * another kind of run, or a finished one.
 */
function resumePoint(o: TrainBiencoderOptions): string | null {
  ensureDirectory(o.out);
  const resumeDir = latestCheckpoint(o.out);
  if (resumeDir === null) {
    const others = readdirSync(o.out).filter((e) => e !== 'checkpoints');
    if (others.length > 0) throw new Error(`${o.out}: holds ${others.join(', ')} but no checkpoint; train into a new --out`);
    return null;
  }
  if (existsSync(join(o.out, 'metrics.json'))) throw new Error(`${o.out}: the run is finished (metrics.json); train into a new --out`);
  const saved = readTrainerState(resumeDir).args as Record<string, unknown>;
  for (const [key, value] of Object.entries(runArgs(o))) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(value)) {
      throw new Error(`${resumeDir}: resuming needs ${key}=${JSON.stringify(saved[key])}, got ${JSON.stringify(value)}`);
    }
  }
  return resumeDir;
}

const SALT = { order: 0x0dde, dropout: 0xd409, subset: 0x5b5e } as const;

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
  if (queries.size === 0) throw new Error(`${join(set.dir, 'qrels', `${set.split}.tsv`)}: no query has a relevant document (every judgement is 0, or none matches a query)`);
  return subsampleQueries({ ...data, queries }, maxQueries);
}

/** nDCG@10, MRR@10, R@10, R@100, MAP@100 of the biencoder on a dataset (exact search). */
export async function evaluateBiencoder(bi: Biencoder, data: BeirDataset, o: { name: string; queryLength: number; docLength: number; batchSize?: number; progress?: boolean }): Promise<SetMetrics> {
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
  return { name: o.name, queries: data.queries.size, documents: data.corpus.size, metrics: result.mean, seconds: (performance.now() - t0) / 1000 };
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
  for (const [name, length] of [['query length', o.queryLength], ['document length', o.docLength]] as const) {
    if (length > positions) throw new Error(`${join(o.model, 'config.json')}: max_position_embeddings is ${positions}, less than the ${name} ${length}`);
  }
  const split = o.trainSplit ?? 'train';
  const data = await loadBeir(o.data, split);
  const triplesPath = join(o.data, 'triples', `${split}.jsonl.gz`);
  let triples: Triple[] = await readTriples(triplesPath);
  for (const [k, t] of triples.entries()) {
    if (!data.queries.has(t.qid)) throw new Error(`${triplesPath} line ${k + 1}: unknown query "${t.qid}"`);
    for (const d of [t.pos, t.neg]) if (!data.corpus.has(d)) throw new Error(`${triplesPath} line ${k + 1}: unknown document "${d}"`);
  }
  if (o.maxTriples !== undefined) triples = new Generator(mixSeed(o.seed, SALT.subset)).shuffle([...triples]).slice(0, o.maxTriples);
  if (triples.length < o.batchSize) throw new Error(`${triplesPath}: ${triples.length} triples, fewer than one batch of ${o.batchSize}`);

  const dropoutGen = new Generator(o.seed);
  const pooling = { mode: o.pooling, normalize: false };
  const bi = Biencoder.load(resumeDir ?? o.model, { device: o.device, pooling, dropoutGenerator: dropoutGen });
  bi.model.encoder.checkpointActivations = o.checkpointActivations === true;
  const validation = o.validation && o.evalEvery > 0 ? await loadEvalSet(o.validation) : null;
  const evalData = await Promise.all(o.evalSets.map((set) => loadEvalSet(set, o.evalQueries)));
  const evalOpts = { queryLength: o.queryLength, docLength: o.docLength, batchSize: o.evalBatchSize, progress: o.progress };
  const optimizer = new AdamW(decayGroups(bi.model.namedParameters(), o.weightDecay), { lr: o.lr });

  let state: TrainerState;
  if (resumeDir) {
    state = readTrainerState(resumeDir);
    loadOptimizerState(resumeDir, bi.model, optimizer, state);
  } else {
    const initial = o.evalInitial ? [] as SetMetrics[] : null;
    for (const [i, set] of (initial ? o.evalSets : []).entries()) initial!.push(await evaluateBiencoder(bi, evalData[i], { ...evalOpts, name: set.name }));
    state = { step: 0, optimizerStep: 0, best: null, bestStep: 0, sinceBest: 0, stoppedEarly: false, stepMs: 0, initial, args: runArgs(o) };
  }
  const initial = (state.initial as SetMetrics[] | null) ?? undefined;
  let best = (state.best as number | null) ?? -Infinity;
  let bestStep = state.bestStep as number;
  let sinceBest = state.sinceBest as number;
  let stoppedEarly = state.stoppedEarly as boolean;
  let stepMs = state.stepMs as number;
  let step = state.step;
  const save = async (): Promise<void> => {
    const full: TrainerState = { ...state, step, optimizerStep: optimizer.stepCount, best: Number.isFinite(best) ? best : null, bestStep, sinceBest, stoppedEarly, stepMs };
    await saveCheckpoint(o.out, bi.model, optimizer, full, { tokenizer: bi.tokenizer, pooling });
  };
  if (!resumeDir) await save();

  // Append-only logs (one whole line per write), cut back to the checkpoint's step: what a run wrote
  // after its last checkpoint is written again, identically, by the resumed run.
  const atCheckpoint = (e: Record<string, unknown>): boolean => typeof e.step === 'number' && e.step <= step;
  rewriteLog(join(o.out, 'log.jsonl'), (e) => e.kind !== 'initial' && atCheckpoint(e), initial ? [{ kind: 'initial', sets: initial }] : []);
  rewriteLog(join(o.out, 'internals.jsonl'), atCheckpoint);
  if (!resumeDir && initial) o.onLog?.({ kind: 'initial', sets: initial });
  const log = (file: 'log' | 'internals', entry: Record<string, unknown>): void => {
    appendFileSync(join(o.out, `${file}.jsonl`), `${JSON.stringify(entry)}\n`);
    if (file === 'log') o.onLog?.(entry);
  };

  const schedule = makeSchedule('exponential', { peak: o.lr, gamma: o.gamma });
  const params = bi.model.parameters();
  const modelDir = join(o.out, 'model');
  const batchesPerEpoch = Math.floor(triples.length / o.batchSize);
  const saveEvery = o.saveEvery ?? 50;
  const resumedAt = step;
  let order: Triple[] = [];
  let orderEpoch = -1;

  let interrupted: 'SIGINT' | 'SIGTERM' | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const bar = startProgress({ label: 'train', total: o.steps, unit: 'step', start: step, enabled: o.progress });
  bi.model.train();
  try {
    while (step < o.steps && !stoppedEarly) {
      // Give the event loop a turn (on the cpu device no await reaches it), so a signal is seen between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (interrupted) break;
      const epoch = Math.floor(step / batchesPerEpoch);
      const inEpoch = step % batchesPerEpoch;
      if (epoch !== orderEpoch) {
        order = new Generator(mixSeed(o.seed, SALT.order, epoch)).shuffle([...triples]);
        orderEpoch = epoch;
      }
      const batch = order.slice(inEpoch * o.batchSize, (inEpoch + 1) * o.batchSize);
      step++;
      dropoutGen.seed(mixSeed(o.seed, SALT.dropout, step));
      const recordInternals = o.internalsEvery > 0 && (step % o.internalsEvery === 0 || step === 1);
      const t0 = performance.now();

      const queries = batch.map((t) => data.queries.get(t.qid)!);
      const docs = [...batch.map((t) => docText(data.corpus.get(t.pos)!)), ...batch.map((t) => docText(data.corpus.get(t.neg)!))];
      const teacher = o.loss.kind === 'margin-mse' ? await o.loss.teacher([...queries, ...queries], [...batch.map((t) => t.pos), ...batch.map((t) => t.neg)]) : null;
      const B = batch.length;
      const out = tidy(() => {
        const q = bi.embed(queries, o.queryLength); // [B, H]
        const d = bi.embed(docs, o.docLength); // [2B, H]
        const p = d.narrow(0, 0, B);
        const n = d.narrow(0, B, B);
        if (recordInternals) for (const t of [q, p, n]) t.retainGrad();
        let loss: Tensor;
        let parts: Record<string, Tensor> = {};
        if (o.loss.kind === 'sdam') {
          const r = sdamLoss(q, p, n, o.loss.options);
          loss = r.loss;
          parts = { target: r.target.detach(), margin: r.margin.detach(), pairSimilarity: ops.cosineSimilarity(p, n).detach() };
        } else if (o.loss.kind === 'margin-mse') {
          const device = q.device;
          const tPos = fromArray(teacher!.slice(0, B), [B], { device });
          const tNeg = fromArray(teacher!.slice(B), [B], { device });
          loss = marginMSE(q, p, n, tPos, tNeg);
          parts = { pairSimilarity: ops.cosineSimilarity(p, n).detach() };
        } else {
          loss = infoNCE(q, p, o.loss.scale, o.loss.ownNegatives ? n : undefined);
          parts = { pairSimilarity: ops.cosineSimilarity(p, n).detach() };
        }
        loss.backward();
        return { loss: loss.detach(), parts, q, p, n };
      });
      const lossValue = (await out.loss.data())[0];
      if (!Number.isFinite(lossValue)) throw divergedError(o.out, step, `loss is ${lossValue}`);
      // An infinite norm would make clipping scale every gradient to zero; a NaN one would skip clipping.
      const gradNorm = o.clip > 0 ? await clipGradNorm(params, o.clip) : NaN;
      if (o.clip > 0 && !Number.isFinite(gradNorm)) throw divergedError(o.out, step, `gradient norm is ${gradNorm}`, await firstNonFinite(gradients(bi.model)));
      optimizer.lr = schedule(step);
      optimizer.step();
      optimizer.zeroGrad();
      const bad = await firstNonFinite(bi.model.namedParameters());
      if (bad) throw divergedError(o.out, step, 'the update made a weight non-finite', bad);
      stepMs += performance.now() - t0;

      if (recordInternals) {
        const norms = await Promise.all([out.q, out.p, out.n].map((t) => rowNorms(t.grad, B)));
        const gradNorms = norms[0].map((_, i) => Math.sqrt(norms[0][i] ** 2 + norms[1][i] ** 2 + norms[2][i] ** 2));
        const arrays: Record<string, number[]> = {};
        for (const [k, t] of Object.entries(out.parts)) arrays[k] = [...(await t.data())];
        log('internals', { step, loss: lossValue, gradNorms, ...arrays, hardnessGradCorrelation: pearson(arrays.pairSimilarity, gradNorms) ?? 0 });
      }
      for (const t of [out.loss, out.q, out.p, out.n, ...Object.values(out.parts)]) {
        t.grad?.dispose();
        t.grad = null;
        t.dispose();
      }
      log('log', { kind: 'train', step, loss: lossValue, lr: optimizer.lr, gradNorm, msPerStep: stepMs / step });
      bar.update(step, { loss: lossValue.toFixed(4) });

      if (validation && (step % o.evalEvery === 0 || step === o.steps)) {
        const v = await evaluateBiencoder(bi, validation, { ...evalOpts, progress: false, name: o.validation!.name });
        const score = v.metrics['nDCG@10'];
        log('log', { kind: 'validation', step, ...v });
        if (score > best) {
          best = score;
          bestStep = step;
          sinceBest = 0;
          await bi.save(modelDir);
        } else if (++sinceBest >= o.patience) {
          stoppedEarly = true;
        }
      }
      if (step % saveEvery === 0 && step < o.steps && !stoppedEarly) await save();
    }
    if (step !== resumedAt) await save();
    if (!interrupted && !validation) {
      bestStep = step;
      await bi.save(modelDir);
    }
  } finally {
    bar.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    optimizer.dispose();
    bi.dispose();
  }
  if (interrupted) return { steps: step, bestStep, stoppedEarly, msPerStep: stepMs / Math.max(step, 1), initial, final: [], modelDir, interrupted };

  const finalModel = Biencoder.load(modelDir, { device: o.device });
  const final: SetMetrics[] = [];
  try {
    for (const [i, set] of o.evalSets.entries()) final.push(await evaluateBiencoder(finalModel, evalData[i], { ...evalOpts, name: set.name }));
  } finally {
    finalModel.dispose();
  }
  const result: TrainBiencoderResult = { steps: step, bestStep, stoppedEarly, msPerStep: stepMs / Math.max(step, 1), initial, final, modelDir, interrupted: null };
  log('log', { kind: 'final', ...result });
  writeFileAtomic(join(o.out, 'metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
