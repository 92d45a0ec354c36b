// The MLM pretraining loop: BertForMaskedLM on a packed text corpus, AdamW with a learning-rate
// schedule and gradient clipping, held-out evaluation, resumable checkpoints, a JSONL log.
//
// Determinism: every source of randomness is a function of (seed, step): the data order of each
// epoch, the masks of each step, the dropout masks of each step. A run resumed from a checkpoint
// therefore continues with exactly the losses the uninterrupted run would have had.
// Run directory layout:
//   <out>/log.jsonl               one JSON object per logged step or evaluation
//   <out>/tokens.u16, tokens.json the tokenized corpus cache (see PackedCorpus)
//   <out>/checkpoints/            resumable checkpoints (see checkpoint.ts)
//   <out>/model/                  the final model, Hugging Face layout (BertForMaskedLM)

import { join } from 'node:path';
import { startProgress } from '../cli/progress.js';
import { tidy } from '../tensor/memory.js';
import { Generator } from '../tensor/random.js';
import { noGrad } from '../autograd/engine.js';
import { BertForMaskedLM, type BertConfig } from '../nn/bert.js';
import { loadModelDir, saveModelDir } from '../nn/model-dir.js';
import { setDropout } from '../nn/module.js';
import type { BertTokenizer } from '../nn/tokenizer.js';
import { AdamW, clipGradNorm, decayGroups } from './optim.js';
import { makeSchedule, type ScheduleName } from './schedule.js';
import { countCorrect, maskTokens, mixSeed, mlmLoss, PackedCorpus, SequenceOrder, type MaskingOptions } from './mlm.js';
import {
  divergedError,
  firstNonFinite,
  gradients,
  latestCheckpoint,
  loadOptimizerState,
  readTrainerState,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { Interruption, RunLog } from './run.js';
import { ensureDirectory } from '../io/atomic.js';

export interface PretrainOptions {
  /** JSONL(.gz) of {"text": ...}. */
  corpus: string;
  /** Run directory (created; resumed when it holds a checkpoint). */
  out: string;
  /** Architecture of a fresh model (ignored when `init` or a checkpoint provides one). */
  config: BertConfig;
  tokenizer: BertTokenizer;
  /** Start from this model directory instead of random weights. */
  init?: string;
  /**
   * A new segment's data stream starts where this run directory's latest checkpoint stopped (same
   * corpus, seed and stream arguments, checked), so that a segment continuing another one's weights
   * (`init`) reads on instead of repeating its sequences. Ignored when resuming `out` itself.
   */
  dataFrom?: string;
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  warmup: number;
  schedule: ScheduleName;
  weightDecay: number;
  /** Max global gradient norm (0 disables clipping). */
  clip: number;
  seed: number;
  valSequences: number;
  evalEvery: number;
  saveEvery: number;
  logEvery: number;
  device: string;
  /** Override every dropout probability of the model (0: no dropout, as Cramming recommends); unset keeps the config's. */
  dropout?: number;
  /** Share of tokens selected for prediction in training batches (default 0.15); evaluation always masks 15%. */
  maskRate?: number;
  /** Recompute each encoder layer's forward during backward: less memory; every layer runs forward twice, 1.3-1.5x the step time. */
  checkpointActivations?: boolean;
  /** Progress on stderr: a bar on a terminal, else a line every few seconds (default true). */
  progress?: boolean;
  /** Called with every log entry (also written to log.jsonl). */
  onLog?: (entry: LogEntry) => void;
}

export type LogEntry =
  | {
      kind: 'start';
      step: number;
      from: 'checkpoint' | 'init' | 'scratch';
      source: string;
      warmup: number;
      /** A new segment reading on from another run's data position (`dataFrom`). */
      dataFrom?: { run: string; epoch: number; cursor: number };
    }
  | {
      kind: 'train';
      step: number;
      loss: number;
      lr: number;
      gradNorm: number;
      tokensPerSec: number;
      epoch: number;
      elapsedSec: number;
    }
  | { kind: 'eval'; step: number; loss: number; accuracy: number; perplexity: number; maskedTokens: number };

/** The arguments that fix the data stream: a resumed run must use the same ones. */
const STREAM_ARGS = ['batchSize', 'seqLen', 'seed', 'valSequences', 'maskRate'] as const;

/** Held-out evaluation masks this share of tokens whatever the training rate, so runs compare. */
const EVAL_MASK_RATE = 0.15;

const STREAM_SALT = { mask: 0x3a5c, dropout: 0xd409, eval: 0xe7a1 } as const;

export interface PretrainResult {
  step: number;
  finalEval: Extract<LogEntry, { kind: 'eval' }> | null;
  modelDir: string;
  /** The signal that stopped the run early (after its checkpoint was saved), or null. */
  interrupted: 'SIGINT' | 'SIGTERM' | null;
}

/** Arguments a resumed run may change (`steps` too): each change is reported on stderr. */
const TUNABLE_ARGS = ['lr', 'warmup', 'schedule', 'weightDecay', 'clip'] as const;

function maskingFor(tok: BertTokenizer, vocabSize: number): MaskingOptions {
  const id = (t: string): number => {
    const v = tok.tokenToId(t);
    if (v === undefined) throw new Error(`tokenizer has no ${t} token`);
    return v;
  };
  const s = tok.specialTokens;
  return { maskTokenId: id(s.mask), vocabSize, specialIds: [id(s.cls), id(s.sep), id(s.pad)] };
}

/** Held-out MLM loss and accuracy with fixed masks (the same for every evaluation of a run). */
async function evaluate(
  model: BertForMaskedLM,
  corpus: PackedCorpus,
  order: SequenceOrder,
  masking: MaskingOptions,
  o: PretrainOptions,
  step: number,
) {
  model.eval();
  const gen = new Generator(mixSeed(o.seed, STREAM_SALT.eval));
  let lossSum = 0;
  let correct = 0;
  let masked = 0;
  for (let start = 0; start < order.val.length; start += o.batchSize) {
    const indices = order.val.slice(start, start + o.batchSize);
    const batch = maskTokens(corpus.batch(indices), indices.length, o.seqLen, masking, gen);
    const { loss, logits } = noGrad(() => tidy(() => mlmLoss(model, batch)));
    lossSum += (await loss.data())[0] * batch.labels.length;
    correct += countCorrect((await logits.data()) as Float32Array, batch.labels);
    masked += batch.labels.length;
    loss.dispose();
    logits.dispose();
  }
  model.train();
  const loss = lossSum / masked;
  return {
    kind: 'eval' as const,
    step,
    loss,
    accuracy: correct / masked,
    perplexity: Math.exp(loss),
    maskedTokens: masked,
  };
}

/** Where run directory `dir`'s latest checkpoint stopped reading, for a segment with options `o`. */
function dataPosition(dir: string, o: PretrainOptions & { maskRate: number }, corpusSha256: string) {
  const checkpoint = latestCheckpoint(dir);
  if (checkpoint === null) throw new Error(`${dir}: no checkpoint to continue the data stream from`);
  const state = readTrainerState(checkpoint);
  const saved = state.args as Record<string, unknown>;
  for (const key of STREAM_ARGS) {
    if (saved[key] !== o[key])
      throw new Error(`${checkpoint}: continuing its data stream needs ${key}=${String(saved[key])}, got ${o[key]}`);
  }
  if (state.corpusSha256 !== corpusSha256)
    throw new Error(`${checkpoint}: trained on another corpus (sha256 differs from ${o.corpus})`);
  return { epoch: state.epoch as number, cursor: state.cursor as number };
}

export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const o = { ...options, maskRate: options.maskRate ?? 0.15 };
  ensureDirectory(o.out);
  const corpus = await PackedCorpus.load(o.corpus, o.tokenizer, o.seqLen, o.out);
  const valSequences = Math.min(o.valSequences, Math.floor(corpus.sequences / 10));
  const order = new SequenceOrder(corpus.sequences, valSequences, o.seed);
  const dropoutGen = new Generator(o.seed);

  const resumeDir = latestCheckpoint(o.out);
  let state: TrainerState;
  let model: BertForMaskedLM;
  if (resumeDir) {
    state = readTrainerState(resumeDir);
    const saved = state.args as Record<string, unknown>;
    for (const key of STREAM_ARGS) {
      if (saved[key] !== o[key])
        throw new Error(`${resumeDir}: resuming needs ${key}=${String(saved[key])}, got ${o[key]}`);
    }
    if (state.corpusSha256 !== corpus.info.sourceSha256)
      throw new Error(`${resumeDir}: the run was trained on another corpus (sha256 differs from ${o.corpus})`);
    for (const key of TUNABLE_ARGS) {
      if (key in saved && saved[key] !== o[key])
        console.error(
          `retrograd: resuming ${resumeDir} with ${key}=${o[key]}; it was trained with ${key}=${String(saved[key])}`,
        );
    }
    model = loadModelDir(resumeDir, { head: 'mlm', device: o.device, dropoutGenerator: dropoutGen }).mlm!;
  } else {
    const from = o.dataFrom ? dataPosition(o.dataFrom, o, corpus.info.sourceSha256) : { epoch: 0, cursor: 0 };
    state = { step: 0, optimizerStep: 0, ...from };
    model = o.init
      ? loadModelDir(o.init, {
          head: 'mlm',
          device: o.device,
          dropoutGenerator: dropoutGen,
          allowMissing: [
            'cls.predictions.bias',
            'cls.predictions.transform.dense.weight',
            'cls.predictions.transform.dense.bias',
            'cls.predictions.transform.LayerNorm.weight',
            'cls.predictions.transform.LayerNorm.bias',
          ],
        }).mlm!
      : new BertForMaskedLM(o.config, {
          device: o.device,
          generator: new Generator(o.seed),
          dropoutGenerator: dropoutGen,
        });
  }
  model.train();
  if (o.dropout !== undefined) setDropout(model, o.dropout);
  model.bert.encoder.checkpointActivations = o.checkpointActivations === true;
  const masking = { ...maskingFor(o.tokenizer, model.config.vocab_size), probability: o.maskRate };
  const evalMasking = { ...masking, probability: EVAL_MASK_RATE };
  const optimizer = new AdamW(decayGroups(model.namedParameters(), o.weightDecay), {
    lr: o.lr,
    betas: [0.9, 0.999],
    eps: 1e-6,
  });
  if (resumeDir) loadOptimizerState(resumeDir, model, optimizer, state);
  const schedule = makeSchedule(o.schedule, { peak: o.lr, warmup: o.warmup, total: o.steps });

  // Entries after the resumed step came from a run that died before its next checkpoint.
  const runLog = RunLog.open(o.out, { step: state.step });
  const log = (entry: LogEntry): void => {
    runLog.write(entry);
    o.onLog?.(entry);
  };

  // Say where the weights came from: a fresh machine restarts from committed weights (--init) with a
  // new optimizer and its own warm-up, which a reader of the curve must know.
  log({
    kind: 'start',
    step: state.step,
    from: resumeDir ? 'checkpoint' : o.init ? 'init' : 'scratch',
    source: resumeDir ?? o.init ?? 'random',
    warmup: o.warmup,
    ...(!resumeDir && o.dataFrom
      ? { dataFrom: { run: o.dataFrom, epoch: state.epoch as number, cursor: state.cursor as number } }
      : {}),
  });

  // A segment started from other weights is first evaluated as it stands: its gain is then measured
  // on this run's own held-out set (evaluations across corpora do not compare).
  const evaluatedAtStart = runLog.kept.some((e) => e.kind === 'eval');
  if (!resumeDir && o.init && !evaluatedAtStart) log(await evaluate(model, corpus, order, evalMasking, o, 0));

  const stop = new Interruption();

  const bar = startProgress({
    label: 'pretrain',
    total: o.steps,
    unit: 'step',
    start: state.step,
    enabled: o.progress,
  });

  const params = model.parameters();
  let pos = { epoch: state.epoch as number, cursor: state.cursor as number };
  let windowStart = performance.now();
  let windowTokens = 0;
  const t0 = performance.now();
  let finalEval: Extract<LogEntry, { kind: 'eval' }> | null = null;
  const save = async (): Promise<void> => {
    const full: TrainerState = {
      ...state,
      optimizerStep: optimizer.stepCount,
      epoch: pos.epoch,
      cursor: pos.cursor,
      corpusSha256: corpus.info.sourceSha256,
      args: {
        ...Object.fromEntries(STREAM_ARGS.map((k) => [k, o[k]])),
        steps: o.steps,
        lr: o.lr,
        warmup: o.warmup,
        schedule: o.schedule,
        dropout: o.dropout ?? null,
        weightDecay: o.weightDecay,
        clip: o.clip,
        corpus: o.corpus,
        dataFrom: o.dataFrom ?? null,
      },
    };
    await saveCheckpoint(o.out, model, optimizer, full, { tokenizer: o.tokenizer });
  };

  // Stop at a non-finite loss, gradient or weight: nothing from this step is kept or saved.
  const diverged = (step: number, what: string, tensor: Awaited<ReturnType<typeof firstNonFinite>> = null): never => {
    throw divergedError(o.out, step, what, tensor);
  };

  try {
    while (state.step < o.steps) {
      if (await stop.requested()) break;
      const step = state.step + 1;
      const { indices, next } = order.take(o.batchSize, pos);
      const batch = maskTokens(
        corpus.batch(indices),
        o.batchSize,
        o.seqLen,
        masking,
        new Generator(mixSeed(o.seed, STREAM_SALT.mask, step)),
      );
      dropoutGen.seed(mixSeed(o.seed, STREAM_SALT.dropout, step));
      const loss = tidy(() => {
        const { loss } = mlmLoss(model, batch);
        loss.backward();
        return loss;
      });
      const lossValue = (await loss.data())[0];
      loss.dispose();
      if (!Number.isFinite(lossValue)) diverged(step, `loss is ${lossValue}`);
      // An infinite norm would make clipping scale every gradient to zero; a NaN one would skip clipping.
      const gradNorm = o.clip > 0 ? await clipGradNorm(params, o.clip) : NaN;
      if (o.clip > 0 && !Number.isFinite(gradNorm))
        diverged(step, `gradient norm is ${gradNorm}`, await firstNonFinite(gradients(model)));
      optimizer.lr = schedule(step);
      optimizer.step();
      optimizer.zeroGrad();
      const bad = await firstNonFinite(model.namedParameters());
      if (bad) diverged(step, 'the update made a weight non-finite', bad);
      state.step = step;
      pos = next;
      windowTokens += o.batchSize * o.seqLen;

      if (step % o.logEvery === 0 || step === o.steps) {
        const now = performance.now();
        const tokensPerSec = windowTokens / ((now - windowStart) / 1000);
        log({
          kind: 'train',
          step,
          loss: lossValue,
          lr: optimizer.lr,
          gradNorm,
          tokensPerSec,
          epoch: pos.epoch,
          elapsedSec: (now - t0) / 1000,
        });
        bar.update(step, { loss: lossValue.toFixed(3), 'tok/s': tokensPerSec.toFixed(0) });
        windowStart = now;
        windowTokens = 0;
      }
      if (step % o.evalEvery === 0 || step === o.steps) {
        finalEval = await evaluate(model, corpus, order, evalMasking, o, step);
        log(finalEval);
      }
      if (step % o.saveEvery === 0 && step !== o.steps) await save();
    }
    await save();
    const modelDir = join(o.out, 'model');
    if (state.step === o.steps) await saveModelDir(modelDir, model, { tokenizer: o.tokenizer });
    return { step: state.step, finalEval, modelDir, interrupted: stop.signal };
  } finally {
    bar.finish();
    stop.close();
    optimizer.dispose();
    model.dispose();
  }
}
