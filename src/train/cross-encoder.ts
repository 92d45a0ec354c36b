// Fine-tuning a cross-encoder (src/nn/cross-encoder.ts) on (query, positive, negative) triples,
// then measuring it as a reranker of BM25's top k: the teacher that Margin-MSE distils from.
//
// One step: B triples give 2B pairs `[CLS] q [SEP] d [SEP]` (positives, then negatives) scored in
// one forward pass in training mode; the loss is the softmax cross-entropy over each triple's two
// scores [s(q, d+), s(q, d-)] with the positive as the target, i.e. mean -log σ(s+ - s-) (the
// pairwise RankNet loss; localized contrastive estimation with one negative). With
// `randomNegatives` N each triple also gets N documents drawn uniformly from the corpus (never one
// judged relevant to the query, nor the triple's own two), and the softmax runs over the N + 2
// scores: BM25's negatives alone differ from the positives in ways a model can learn instead of
// relevance (on pkgdesc-train the negative is the longer document, in words, in 61% of the
// triples, and a 150-step run from the MLM checkpoint learned to prefer short documents). AdamW
// (no weight decay on biases and LayerNorm), linear warm-up then linear decay to zero at the last
// step, gradient clipping. Starting from an encoder-only checkpoint, the pooler and classifier
// are initialised from the seed.
// Determinism: the triple order (seeded shuffle per epoch), the new head and dropout (reseeded per
// step) are functions of the seed, so a run repeats its loss trajectory exactly.
// The run directory gets log.jsonl (append-only), checkpoints/ (src/train/checkpoint.ts: weights,
// AdamW moments and the step, every `saveEvery` steps), and once the run is finished model/ (Hugging
// Face BertForSequenceClassification) and metrics.json (BM25 and reranked metrics on the evaluation
// set, when one is given). It is resumable: Ctrl-C / SIGTERM stop the run between steps after saving
// a checkpoint (the result says `interrupted`), and the same call again continues with the weights
// an uninterrupted run would have (a kill loses the steps since the last checkpoint). A directory of
// another run, or a finished one, is refused.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tidy } from '../tensor/memory.js';
import { Generator } from '../tensor/random.js';
import { zeros } from '../tensor/tensor.js';
import * as ops from '../autograd/ops.js';
import { CrossEncoder } from '../nn/cross-encoder.js';
import { docText, loadTrainingSplit, type Triple } from '../data/beir.js';
import { rerankBm25 } from '../eval/rerank.js';
import { AdamW, clipGradNorm, decayGroups } from './optim.js';
import { makeSchedule } from './schedule.js';
import { mixSeed } from './mlm.js';
import { writeFileAtomic } from '../io/atomic.js';
import { startProgress } from '../cli/progress.js';
import { loadEvalSet, type EvalSet } from './retrieval.js';
import { Interruption, RunLog } from './run.js';
import {
  loadOptimizerState,
  readTrainerState,
  resumeCheckpoint,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';

export interface TrainCrossEncoderOptions {
  /** Starting directory: an encoder (new head) or a cross-encoder (its head is kept). */
  model: string;
  /** BEIR directory with triples/<split>.jsonl.gz. */
  data: string;
  trainSplit?: string;
  out: string;
  /** Triples per step (2x pairs per forward pass). */
  batchSize: number;
  /** Tokens per pair, [CLS] q [SEP] d [SEP] included (longest-first truncation). */
  maxLength: number;
  lr: number;
  /** Linear warm-up steps. */
  warmup: number;
  weightDecay: number;
  clip: number;
  steps: number;
  seed: number;
  /** Extra negatives per triple drawn uniformly from the corpus (default 0: the BM25 negative only). */
  randomNegatives?: number;
  /** Reranking evaluation of the final model (BM25's top `bm25Top`). */
  evalSet?: EvalSet;
  /** Seeded subsample of this many evaluation queries; default all. */
  evalQueries?: number;
  bm25Top?: number;
  evalBatchSize?: number;
  /** Checkpoint every this many steps (default 50), and when interrupted. */
  saveEvery?: number;
  device: string;
  progress?: boolean;
  onLog?: (entry: Record<string, unknown>) => void;
}

export interface RerankMetrics {
  name: string;
  queries: number;
  documents: number;
  bm25Top: number;
  bm25: Record<string, number>;
  rerank: Record<string, number>;
  pairs: number;
  seconds: number;
}

export interface TrainCrossEncoderResult {
  steps: number;
  msPerStep: number;
  /** Head parameters initialised fresh at the start. */
  freshHead: string[];
  final?: RerankMetrics;
  modelDir: string;
  /** The signal that stopped training early; null when it ran all its steps. */
  interrupted: 'SIGINT' | 'SIGTERM' | null;
}

const SALT = { order: 0xce0d, dropout: 0xced0, head: 0xcead, random: 0xce4a } as const;

/**
 * `n` documents drawn uniformly (with replacement) from `ids`, redrawing any in `exclude` (the
 * query's relevant documents and the triple's own two).
 */
export function sampleRandomNegatives(
  gen: Generator,
  ids: readonly string[],
  exclude: ReadonlySet<string>,
  n: number,
): string[] {
  if (n > 0 && ids.every((id) => exclude.has(id)))
    throw new Error(`random negatives: every one of the ${ids.length} corpus documents is excluded for this query`);
  const out: string[] = [];
  while (out.length < n) {
    const id = ids[gen.int(ids.length)];
    if (!exclude.has(id)) out.push(id);
  }
  return out;
}

/** Rerank BM25's top `top` on an evaluation set with a cross-encoder. */
export async function evaluateReranker(
  ce: CrossEncoder,
  set: EvalSet,
  o: { maxLength: number; top?: number; queries?: number; batchSize?: number; progress?: boolean },
): Promise<RerankMetrics> {
  const data = await loadEvalSet(set, o.queries);
  const t0 = performance.now();
  const r = await rerankBm25(data, ce.scorer(o.maxLength, o.batchSize ?? 32), {
    top: o.top ?? 100,
    progress: o.progress,
  });
  return {
    name: set.name,
    queries: r.rerank.evaluation.queries,
    documents: data.corpus.size,
    bm25Top: o.top ?? 100,
    bm25: r.bm25.evaluation.mean,
    rerank: r.rerank.evaluation.mean,
    pairs: r.pairs,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * What a resumed run must share with its checkpoint: everything that shapes the trajectory (the
 * step budget too, since the learning rate decays to zero at the last step).
 */
function runArgs(o: TrainCrossEncoderOptions): Record<string, unknown> {
  return {
    model: o.model,
    data: o.data,
    split: o.trainSplit ?? 'train',
    batchSize: o.batchSize,
    maxLength: o.maxLength,
    lr: o.lr,
    warmup: o.warmup,
    weightDecay: o.weightDecay,
    clip: o.clip,
    steps: o.steps,
    seed: o.seed,
    randomNegatives: o.randomNegatives ?? 0,
  };
}

export async function trainCrossEncoder(o: TrainCrossEncoderOptions): Promise<TrainCrossEncoderResult> {
  const split = o.trainSplit ?? 'train';
  const randomNegatives = o.randomNegatives ?? 0;
  if (!(Number.isSafeInteger(randomNegatives) && randomNegatives >= 0))
    throw new Error(`randomNegatives must be an integer >= 0, got ${randomNegatives}`);
  const { data, triples, triplesPath } = await loadTrainingSplit(o.data, split);
  if (triples.length < o.batchSize)
    throw new Error(`${triplesPath}: ${triples.length} triples, fewer than one batch of ${o.batchSize}`);
  const resumeDir = resumeCheckpoint(o.out, runArgs(o));

  const dropoutGen = new Generator(o.seed);
  const corpusIds = [...data.corpus.keys()];
  // A head the directory lacks is initialised; one it has (a checkpoint always has one) is loaded
  // and trained further.
  const ce = CrossEncoder.load(resumeDir ?? o.model, {
    device: o.device,
    newHead: true,
    generator: new Generator(mixSeed(o.seed, SALT.head)),
    dropoutGenerator: dropoutGen,
  });
  const maxLength = ce.lengthLimit(o.maxLength);
  const optimizer = new AdamW(decayGroups(ce.model.namedParameters(), o.weightDecay), { lr: o.lr });
  const state: TrainerState = resumeDir
    ? readTrainerState(resumeDir)
    : { step: 0, optimizerStep: 0, stepMs: 0, freshHead: ce.report?.fresh ?? [], args: runArgs(o) };
  if (resumeDir) loadOptimizerState(resumeDir, ce.model, optimizer, state);
  const freshHead = state.freshHead as string[];
  let stepMs = state.stepMs as number;
  let step = state.step;
  const save = async (): Promise<void> => {
    await saveCheckpoint(
      o.out,
      ce.model,
      optimizer,
      { ...state, step, optimizerStep: optimizer.stepCount, stepMs },
      { writeModel: (dir) => ce.save(dir) },
    );
  };

  // The run's first line (`start`, no step) survives every resume.
  const runLog = RunLog.open(o.out, { step, keepAlso: (e) => e.kind === 'start', onLog: o.onLog });
  if (resumeDir) {
    runLog.write({ kind: 'resume', from: resumeDir, step });
  } else {
    runLog.write({
      kind: 'start',
      model: o.model,
      data: o.data,
      split,
      triples: triples.length,
      freshHead,
      maxLength,
      batchSize: o.batchSize,
      steps: o.steps,
      lr: o.lr,
      seed: o.seed,
      randomNegatives,
    });
    await save();
  }

  const schedule = makeSchedule('linear', { peak: o.lr, warmup: o.warmup, total: o.steps + 1 });
  const params = ce.model.parameters();
  const batchesPerEpoch = Math.floor(triples.length / o.batchSize);
  const saveEvery = o.saveEvery ?? 50;
  const resumedAt = step;
  let order: Triple[] = [];
  const stop = new Interruption();
  const bar = startProgress({
    label: 'train-cross-encoder',
    total: o.steps,
    unit: 'step',
    start: step,
    enabled: o.progress,
  });
  ce.model.train();
  try {
    while (step < o.steps) {
      if (await stop.requested()) break;
      const inEpoch = step % batchesPerEpoch;
      if (inEpoch === 0 || order.length === 0)
        order = new Generator(mixSeed(o.seed, SALT.order, Math.floor(step / batchesPerEpoch))).shuffle([...triples]);
      const batch = order.slice(inEpoch * o.batchSize, (inEpoch + 1) * o.batchSize);
      step++;
      dropoutGen.seed(mixSeed(o.seed, SALT.dropout, step));
      const t0 = performance.now();
      const B = batch.length;
      const queries = batch.map((t) => data.queries.get(t.qid)!);
      // Candidate blocks of B documents each: positives, BM25 negatives, then randomNegatives random blocks.
      const blocks = [batch.map((t) => t.pos), batch.map((t) => t.neg)];
      if (randomNegatives > 0) {
        const gen = new Generator(mixSeed(o.seed, SALT.random, step));
        const drawn = batch.map((t) => {
          const relevant = [...(data.qrels.get(t.qid) ?? [])].filter(([, rel]) => rel > 0).map(([id]) => id);
          return sampleRandomNegatives(gen, corpusIds, new Set([...relevant, t.pos, t.neg]), randomNegatives);
        });
        for (let k = 0; k < randomNegatives; k++) blocks.push(drawn.map((d) => d[k]));
      }
      const C = blocks.length;
      const docs = blocks.flat().map((id) => docText(data.corpus.get(id)!));
      const out = tidy(() => {
        const s = ce.score(
          blocks.flatMap(() => queries),
          docs,
          maxLength,
        ); // [C·B]: block k holds candidate k of every triple
        const logits = ops.stack(
          blocks.map((_, k) => s.narrow(0, k * B, B)),
          1,
        ); // C × [B] -> [B, C]
        const loss = ops.crossEntropy(logits, zeros([B], { dtype: 'int32', device: s.device }));
        loss.backward();
        return { loss: loss.detach(), logits: logits.detach() };
      });
      const lossValue = (await out.loss.data())[0];
      const scores = await out.logits.data();
      out.loss.dispose();
      out.logits.dispose();
      if (!Number.isFinite(lossValue)) throw new Error(`step ${step}: loss is ${lossValue}`);
      const gradNorm = o.clip > 0 ? await clipGradNorm(params, o.clip) : NaN;
      optimizer.lr = schedule(step);
      optimizer.step();
      optimizer.zeroGrad();
      stepMs += performance.now() - t0;
      // the positive scored above every negative of its triple
      let won = 0;
      for (let i = 0; i < B; i++)
        if (Array.from({ length: C - 1 }, (_, k) => scores[i * C + k + 1]).every((x) => scores[i * C] > x)) won++;
      const accuracy = won / B;
      runLog.write({
        kind: 'train',
        step,
        loss: lossValue,
        accuracy,
        lr: optimizer.lr,
        gradNorm,
        msPerStep: stepMs / step,
      });
      bar.update(step, { loss: lossValue.toFixed(4) });
      if (step % saveEvery === 0 && step < o.steps) await save();
    }
    if (step !== resumedAt) await save();
  } finally {
    bar.finish();
    stop.close();
    optimizer.dispose();
  }
  const modelDir = join(o.out, 'model');
  if (stop.signal) {
    ce.dispose();
    return { steps: step, msPerStep: stepMs / Math.max(step, 1), freshHead, modelDir, interrupted: stop.signal };
  }
  await ce.save(modelDir);
  ce.dispose();

  let final: RerankMetrics | undefined;
  if (o.evalSet) {
    if (!existsSync(modelDir)) throw new Error(`${modelDir}: the trained model was not saved`);
    const saved = CrossEncoder.load(modelDir, { device: o.device });
    try {
      final = await evaluateReranker(saved, o.evalSet, {
        maxLength,
        top: o.bm25Top,
        queries: o.evalQueries,
        batchSize: o.evalBatchSize,
        progress: o.progress,
      });
    } finally {
      saved.dispose();
    }
  }
  const result: TrainCrossEncoderResult = {
    steps: step,
    msPerStep: stepMs / Math.max(step, 1),
    freshHead,
    final,
    modelDir,
    interrupted: null,
  };
  runLog.write({ kind: 'final', ...result });
  writeFileAtomic(join(o.out, 'metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
