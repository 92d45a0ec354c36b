// `retrograd train`: fine-tune a biencoder on BM25 triples with SDAM, Margin-MSE or InfoNCE, then
// evaluate it on held-out sets and print the metrics as JSON.
//
//   retrograd train --model models/bert-mini-mlm --data data/pkgdesc --out runs/sdam --loss sdam \
//       --validation data/pkgdesc-dev:test --eval data/pkgdesc-test:test,data/faq:test
//
// SDAM variants: --target adaptive|distributed|<constant>, --in-batch, --margin-mode
// rowwise|as-released, --error l2|l1|soft, --detach-target. Margin-MSE takes its teacher from
// --teacher bm25 (BM25 scores of the pair, divided by the query's best BM25 score), triples
// (teacher_pos / teacher_neg of each line of the triples file, e.g. written by `retrograd score`) or
// cross-encoder:DIR (the cross-encoder's logits, computed inside each step); --teacher-scale auto
// (default) puts the teacher's margins on the cosine student's scale (src/train/teachers.ts).
// Optimisation as released by SDAM unless asked otherwise: AdamW (or --optimizer sgd, whose update
// is exactly -lr·gradient), learning rate decayed by --gamma 0.99999 per step, no clipping (--clip
// 0; the gradient norm is logged every step either way), the model's dropout unless --dropout P.
// --epochs caps the passes over the triples; with --max-triples the cap is one epoch unless given.
// The run directory gets log.jsonl, internals.jsonl, checkpoints/, metrics.json and model/ (the best
// validation checkpoint, Hugging Face layout with sentence-transformers pooling files). It is
// resumable: rerun the same command after an interruption (Ctrl-C or SIGTERM save a checkpoint, then
// exit 130 / 143; a kill loses at most the steps since the last checkpoint) and it continues with the
// weights an uninterrupted run would have. A directory of another run, or a finished one, is refused.
// --model-type contextual trains CDE's two-stage model instead (src/train/contextual.ts): both stages
// start from --model (a BERT directory; or a contextual one to continue), InfoNCE query -> document
// at --temperature 0.02 unless given, the context of a step drawn from the batch's documents (down
// to --context-size), two-stage gradient caching in chunks of --chunk-size (--no-grad-cache: plain
// backprop), dropout off unless --dropout; --validation, --save-every, resume and (with
// --own-negatives) loss internals as for the biencoder.
// Batches (both model types): --batching random (a seeded shuffle per epoch) or contextual (CDE:
// the triples clustered as by `retrograd cluster`, with its --cluster-size (default --batch-size),
// --order, --dims, --iterations, --restarts, --init; cached per data in --cache-dir; re-packed each
// epoch). In-batch losses never count a duplicate of a query's gold document as its negative;
// --filter tfidf | model:DIR also drops the documents a frozen surrogate scores >= the gold (the
// query's own hard negative exempt). --batches FILE trains on the batches `retrograd cluster --out
// FILE` wrote (checked against the triples; the same batches each epoch, reordered after the first).

import { type Command, InvalidArgumentError, Option } from 'commander';
import type { SdamError, SdamMarginMode, SdamOptions, SdamTarget } from '../train/losses.js';
import type { EvalSet, LossSpec, Teacher } from '../train/retrieval.js';
import type { PoolingMode } from '../nn/pooling.js';
import type { ClusterOrder } from '../train/batching/order.js';
import {
  choiceOrOption,
  evalSetListOption,
  evalSetOption,
  filterOption,
  intAtLeastOption,
  nonNegativeNumberOption,
  numberInRangeOption,
  numberOption,
  parsedOption,
  positiveIntOption,
  positiveNumberOption,
  startDevice,
} from './options.js';
import { parseFilter, type BatchingSpec, type FilterSpec } from '../train/batching/plan.js';
import { defaultCacheDir } from '../train/batching/cache.js';
import { fileSha256 } from '../train/batching/file.js';

/**
 * "dir:split" -> EvalSet named after the directory (options.ts's evalSetOption); a malformed spec
 * throws `--<option>: expected DIR:SPLIT, got <spec>`.
 */
export function parseEvalSet(spec: string, option: string): EvalSet {
  try {
    return evalSetOption(spec);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new Error(`--${option}: ${err.message}, got ${spec}`);
    throw err;
  }
}

/** --eval: DIR:SPLIT sets separated by commas, or '' for none. */
function evalListOption(value: string): EvalSet[] {
  return value === '' ? [] : evalSetListOption(value);
}

/** --teacher bm25 | triples | cross-encoder:DIR (resolved, and loaded, in the action). */
function teacherOption(value: string): string {
  if (
    value === 'bm25' ||
    value === 'triples' ||
    (value.startsWith('cross-encoder:') && value.length > 'cross-encoder:'.length)
  )
    return value;
  throw new InvalidArgumentError('expected bm25, triples or cross-encoder:DIR');
}

/** The options as commander hands them to the action (each value parsed where it is declared). */
interface TrainFlags {
  model: string;
  data: string;
  out: string;
  split: string;
  loss: 'sdam' | 'margin-mse' | 'infonce';
  target: SdamTarget;
  inBatch?: boolean;
  marginMode: SdamMarginMode;
  error: SdamError;
  detachTarget?: boolean;
  teacher: string;
  teacherScale: 'auto' | 'raw' | number;
  temperature?: number;
  ownNegatives?: boolean;
  pooling: PoolingMode;
  batching: 'random' | 'contextual';
  clusterSize?: number;
  order?: ClusterOrder;
  dims: number;
  iterations?: number;
  restarts?: number;
  init?: 'random' | 'kmeans++';
  batches?: string;
  filter: string;
  cacheDir?: string;
  evalQueries?: number;
  batchSize: number;
  checkpointActivations?: boolean;
  queryLength: number;
  docLength: number;
  lr: number;
  optimizer?: 'adamw' | 'sgd';
  gamma?: number;
  weightDecay: number;
  clip?: number;
  steps: number;
  epochs?: number;
  maxTriples?: number;
  seed: number;
  validation?: EvalSet;
  evalEvery: number;
  patience: number;
  eval: EvalSet[];
  evalInitial?: boolean;
  internalsEvery: number;
  saveEvery: number;
  device: string;
  threads?: number;
  modelType: 'biencoder' | 'contextual';
  contextSize: number;
  chunkSize: number;
  gradCache: boolean;
  outputResidual?: boolean;
  /** A probability, or true for a bare --dropout (contextual: the BERTs' dropout on). */
  dropout?: number | true;
}

function sdamOptions(o: TrainFlags): SdamOptions {
  return {
    target: o.target,
    inBatch: Boolean(o.inBatch),
    marginMode: o.marginMode,
    error: o.error,
    detachTarget: Boolean(o.detachTarget),
  };
}

const CONTEXTUAL_ONLY = [
  ['clusterSize', '--cluster-size'],
  ['order', '--order'],
  ['iterations', '--iterations'],
  ['restarts', '--restarts'],
  ['init', '--init'],
] as const;

/** --batching, its clustering options, --filter and --cache-dir (src/train/batching/plan.ts). */
function batchingOptions(o: TrainFlags): { batching: BatchingSpec; filter: FilterSpec; cacheDir: string } {
  let batching: BatchingSpec;
  if (o.batches !== undefined) {
    if (o.batching !== 'random') throw new Error('--batches FILE replaces --batching; give one of them');
    for (const [key, flag] of CONTEXTUAL_ONLY)
      if (o[key] !== undefined) throw new Error(`${flag} applies to --batching contextual only, not --batches`);
    batching = { kind: 'file', path: o.batches, sha256: fileSha256(o.batches) };
  } else if (o.batching === 'random') {
    for (const [key, flag] of CONTEXTUAL_ONLY)
      if (o[key] !== undefined) throw new Error(`${flag} applies to --batching contextual only`);
    batching = { kind: 'random' };
  } else {
    batching = {
      kind: 'contextual',
      clusterSize: o.clusterSize ?? o.batchSize,
      order: o.order ?? 'random',
      dims: o.dims,
      iterations: o.iterations ?? 100,
      restarts: o.restarts ?? 3,
      init: o.init ?? 'random',
    };
  }
  return {
    batching,
    filter: parseFilter(o.filter, o.dims),
    cacheDir: o.cacheDir ?? defaultCacheDir(),
  };
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('fine-tune a biencoder on triples (SDAM, Margin-MSE or InfoNCE) and evaluate it')
    .requiredOption('--model <dir>', 'starting model directory (Hugging Face layout)')
    .requiredOption('--data <dir>', 'BEIR directory with triples/<split>.jsonl.gz')
    .requiredOption('--out <dir>', 'run directory')
    .option('--split <name>', 'training split', 'train')
    .addOption(new Option('--loss <name>', 'training loss').choices(['sdam', 'margin-mse', 'infonce']).default('sdam'))
    .option(
      '--target <t>',
      'SDAM target: adaptive | distributed | a constant margin',
      choiceOrOption(['adaptive', 'distributed'], numberOption),
      'adaptive',
    )
    .option('--in-batch', 'SDAM: compare every query with every negative of the batch')
    .addOption(
      new Option('--margin-mode <mode>', 'SDAM in-batch margins')
        .choices(['rowwise', 'as-released'])
        .default('rowwise'),
    )
    .addOption(new Option('--error <fn>', 'SDAM error function').choices(['l2', 'l1', 'soft']).default('l2'))
    .option('--detach-target', 'SDAM: no gradient through the target')
    .option(
      '--teacher <name>',
      'Margin-MSE teacher: bm25 | triples (teacher_pos/teacher_neg in the triples file) | cross-encoder:DIR (online)',
      teacherOption,
      'bm25',
    )
    .option(
      '--teacher-scale <k>',
      "Margin-MSE regresses the cosine margin onto k·(t_p - t_n): auto (k fitted before the first step so that the teacher's margins have the root mean square of SDAM's adaptive target (1+s(d+,d-))/2 under the starting encoder, on 256 training triples; logged), raw (k = 1) or a positive number",
      choiceOrOption(['auto', 'raw'], positiveNumberOption),
      'auto',
    )
    .option(
      '--temperature <t>',
      'InfoNCE temperature (default 0.05; 0.02 with --model-type contextual)',
      positiveNumberOption,
    )
    .option('--own-negatives', "InfoNCE: add each triple's own negative to the candidates")
    .addOption(
      new Option('--pooling <mode>', "cls: the paper's first token (untrained in an MLM-only checkpoint)")
        .choices(['mean', 'cls'])
        .default('mean'),
    )
    .addOption(
      new Option('--batching <kind>', 'contextual: CDE, triples clustered once, cached, re-packed each epoch')
        .choices(['random', 'contextual'])
        .default('random'),
    )
    .option(
      '--cluster-size <n>',
      'contextual batching: target triples per cluster (default: --batch-size)',
      positiveIntOption,
    )
    .addOption(
      new Option('--order <order>', 'contextual batching: cluster order (default random)').choices(['random', 'tsp']),
    )
    .option('--dims <n>', 'contextual batching and --filter tfidf: TF-IDF + SVD dimension', positiveIntOption, 128)
    .option('--iterations <n>', 'contextual batching: k-means iterations per restart (default 100)', positiveIntOption)
    .option('--restarts <n>', 'contextual batching: k-means restarts (default 3)', positiveIntOption)
    .addOption(
      new Option('--init <init>', 'contextual batching: k-means initialisation (default random)').choices([
        'random',
        'kmeans++',
      ]),
    )
    .option(
      '--batches <file>',
      'train on the batches written by `retrograd cluster --out FILE` (triple indices checked against --data)',
    )
    .option(
      '--filter <f>',
      'in-batch losses: none | tfidf | model:DIR (drop in-batch documents the surrogate scores >= the gold; duplicates of the gold are always dropped)',
      filterOption,
      'none',
    )
    .option(
      '--cache-dir <dir>',
      'cache of the clustering and TF-IDF stages (default $RETROGRAD_CACHE, else ~/.cache/retrograd)',
    )
    .option('--eval-queries <n>', 'evaluate on a seeded subsample of n queries per set', positiveIntOption)
    .option(
      '--batch-size <n>',
      "triples per step, at least 2 (BERT-mini: 64 fit the cpu device's 4 GiB heap, 128 with --checkpoint-activations)",
      intAtLeastOption(2),
      16,
    )
    .option(
      '--checkpoint-activations',
      'recompute each encoder layer in backward (less memory; every layer runs forward twice, 1.3-1.5x the step time)',
    )
    .option('--query-length <n>', 'query tokens (at least 3)', intAtLeastOption(3), 32)
    .option('--doc-length <n>', 'document tokens (at least 3)', intAtLeastOption(3), 128)
    .addOption(parsedOption('--lr <x>', 'learning rate', positiveNumberOption, '5e-5'))
    .addOption(
      new Option(
        '--optimizer <name>',
        'sgd: plain SGD, the update is exactly -lr·gradient, no weight decay (default adamw)',
      ).choices(['adamw', 'sgd']),
    )
    .option(
      '--gamma <x>',
      'exponential decay of the learning rate per step (default 0.99999, as released by SDAM; contextual: 0.999)',
      positiveNumberOption,
    )
    .addOption(
      parsedOption(
        '--weight-decay <x>',
        'AdamW weight decay (not on biases and LayerNorm)',
        nonNegativeNumberOption,
        '1e-6',
      ),
    )
    .option(
      '--clip <x>',
      'max global gradient norm, 0: no clipping (default 0, as released by SDAM; contextual: 1)',
      nonNegativeNumberOption,
    )
    .option('--steps <n>', 'maximum steps', positiveIntOption, 300)
    .option(
      '--epochs <n>',
      'maximum passes over the triples (default: 1 with --max-triples, else only --steps limits)',
      positiveIntOption,
    )
    .option(
      '--max-triples <n>',
      'train on the first n triples of the seeded order (data-efficiency runs: one epoch unless --epochs)',
      positiveIntOption,
    )
    .option('--seed <n>', 'seed for the triple order and dropout', intAtLeastOption(0), 0)
    .option('--validation <dir:split>', 'early stopping on nDCG@10 of this set', evalSetOption)
    .option('--eval-every <n>', 'steps between validations', intAtLeastOption(0), 100)
    .option('--patience <n>', 'validations without improvement before stopping', positiveIntOption, 3)
    .addOption(
      new Option('--eval <list>', 'comma-separated DIR:SPLIT sets evaluated at the end')
        .argParser(evalListOption)
        .default([], 'none'),
    )
    .option('--eval-initial', 'also evaluate the starting model')
    .option('--internals-every <n>', 'steps between loss-internals records (0: never)', intAtLeastOption(0), 10)
    .option('--save-every <n>', 'steps between checkpoints', positiveIntOption, 50)
    .option('--device <name>', 'cpu | cpu-ref | webgpu | gpujs', 'cpu')
    .option('--threads <n>', 'threads of the cpu device', positiveIntOption)
    .addOption(
      new Option('--model-type <type>', "contextual: CDE's two-stage model")
        .choices(['biencoder', 'contextual'])
        .default('biencoder'),
    )
    .option('--context-size <n>', 'contextual: J, context documents per step and at inference', positiveIntOption, 512)
    .option('--chunk-size <n>', 'contextual: sequences per forward with gradient caching', positiveIntOption, 64)
    .option('--no-grad-cache', 'contextual: plain backprop over the whole batch')
    .option(
      '--output-residual',
      "contextual: add the pooled embedding to the output MLP's result (the paper's v2; default off, as v1)",
    )
    .option(
      '--dropout [p]',
      "biencoder: override every dropout probability with P in [0, 1) (0: none; default: the model's config); contextual, no value: train with the BERTs' dropout (off by default, as in the released models)",
      numberInRangeOption(0, 1, { exclusiveMax: true }),
    )
    .action(async (o: TrainFlags) => {
      if (o.modelType === 'contextual') {
        if (o.loss !== 'infonce') throw new Error(`--model-type contextual trains with --loss infonce, got ${o.loss}`);
        for (const [key, flag] of [
          ['optimizer', '--optimizer'],
          ['epochs', '--epochs'],
          ['maxTriples', '--max-triples'],
        ] as const) {
          if (o[key] !== undefined) throw new Error(`${flag} applies to --model-type biencoder only`);
        }
        if (typeof o.dropout === 'number')
          throw new Error(
            `--model-type contextual: --dropout takes no value (it turns the BERTs' dropout on), got ${o.dropout}`,
          );
        const batching = batchingOptions(o);
        await startDevice(o.device, o.threads);
        const { trainContextual } = await import('../train/contextual.js');
        const result = await trainContextual({
          model: o.model,
          // output_residual only when asked: a run saved without it keeps resuming with the same config
          config: { context_size: o.contextSize, ...(o.outputResidual ? { output_residual: true } : {}) },
          data: o.data,
          trainSplit: o.split,
          out: o.out,
          batchSize: o.batchSize,
          negatives: Boolean(o.ownNegatives),
          queryLength: o.queryLength,
          docLength: o.docLength,
          temperature: o.temperature,
          lr: o.lr,
          gamma: o.gamma ?? 0.999,
          weightDecay: o.weightDecay,
          clip: o.clip ?? 1,
          steps: o.steps,
          seed: o.seed,
          gradCache: o.gradCache !== false,
          chunkSize: o.chunkSize,
          dropout: Boolean(o.dropout),
          validation: o.validation,
          evalEvery: o.evalEvery,
          patience: o.patience,
          saveEvery: o.saveEvery,
          internalsEvery: o.internalsEvery,
          evalSets: o.eval,
          evalQueries: o.evalQueries,
          ...batching,
          device: o.device,
        });
        console.log(JSON.stringify({ loss: 'infonce', modelType: 'contextual', ...result }, null, 2));
        if (result.interrupted) process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
        return;
      }
      if (o.dropout === true) throw new Error('--dropout: expected a probability in [0, 1) for --model-type biencoder');
      if (o.outputResidual) throw new Error('--output-residual applies to --model-type contextual only');
      const batching = batchingOptions(o);
      let loss: LossSpec;
      if (o.loss === 'sdam') {
        loss = { kind: 'sdam', options: sdamOptions(o) };
      } else if (o.loss === 'margin-mse') {
        const name = o.teacher;
        const teachers = await import('../train/teachers.js');
        let teacher: Teacher;
        if (name === 'bm25') teacher = await teachers.bm25Teacher(o.data);
        else if (name === 'triples') teacher = await teachers.triplesTeacher(o.data, o.split);
        else
          teacher = await teachers.crossEncoderTeacher(name.slice('cross-encoder:'.length), o.data, {
            device: o.device,
            split: o.split,
          });
        const teacherScale = o.teacherScale === 'raw' ? 1 : o.teacherScale;
        loss = { kind: 'margin-mse', teacher, teacherName: name, teacherScale };
      } else {
        loss = { kind: 'infonce', scale: 1 / (o.temperature ?? 0.05), ownNegatives: Boolean(o.ownNegatives) };
      }
      await startDevice(o.device, o.threads);
      const { trainBiencoder } = await import('../train/retrieval.js');
      const result = await trainBiencoder({
        model: o.model,
        data: o.data,
        trainSplit: o.split,
        out: o.out,
        loss,
        pooling: o.pooling,
        batchSize: o.batchSize,
        queryLength: o.queryLength,
        docLength: o.docLength,
        lr: o.lr,
        gamma: o.gamma ?? 0.99999,
        optimizer: o.optimizer ?? 'adamw',
        weightDecay: o.weightDecay,
        clip: o.clip ?? 0,
        dropout: o.dropout,
        steps: o.steps,
        epochs: o.epochs,
        maxTriples: o.maxTriples,
        seed: o.seed,
        evalEvery: o.evalEvery,
        patience: o.patience,
        validation: o.validation,
        evalSets: o.eval,
        evalInitial: Boolean(o.evalInitial),
        internalsEvery: o.internalsEvery,
        saveEvery: o.saveEvery,
        checkpointActivations: o.checkpointActivations === true,
        evalQueries: o.evalQueries,
        ...batching,
        device: o.device,
      });
      console.log(JSON.stringify({ loss: o.loss, ...result }, null, 2));
      // Interrupted (the checkpoint is saved by now): exit as the shell does for the signal, so a chained pipeline stops.
      if (result.interrupted) process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
    });
}
