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

import type { Command } from 'commander';
import type { SdamError, SdamMarginMode, SdamOptions, SdamTarget } from '../train/losses.js';
import type { EvalSet, LossSpec, Teacher } from '../train/retrieval.js';
import { startDevice } from './options.js';
import { parseFilter, type BatchingSpec, type FilterSpec } from '../train/batching/plan.js';
import { defaultCacheDir } from '../train/batching/cache.js';
import { fileSha256 } from '../train/batching/file.js';

function num(name: string, value: string, o: { int?: boolean; min?: number; exclusiveMin?: boolean } = {}): number {
  const n = Number(value);
  const bad =
    !Number.isFinite(n) ||
    (o.int && !Number.isSafeInteger(n)) ||
    (o.min !== undefined && (o.exclusiveMin ? n <= o.min : n < o.min));
  if (bad)
    throw new Error(
      `--${name}: expected ${o.int ? 'an integer' : 'a number'}${o.min !== undefined ? ` ${o.exclusiveMin ? '>' : '>='} ${o.min}` : ''}, got ${value}`,
    );
  return n;
}

/** "dir:split" -> EvalSet named after the directory. */
export function parseEvalSet(spec: string, option: string): EvalSet {
  const at = spec.lastIndexOf(':');
  if (at <= 0 || at === spec.length - 1) throw new Error(`--${option}: expected DIR:SPLIT, got ${spec}`);
  const dir = spec.slice(0, at);
  return { name: dir.replace(/\/+$/, '').split('/').pop()!, dir, split: spec.slice(at + 1) };
}

function sdamOptions(o: Record<string, unknown>): SdamOptions {
  const targetText = String(o.target);
  const target: SdamTarget =
    targetText === 'adaptive' || targetText === 'distributed' ? targetText : num('target', targetText);
  const marginMode = String(o.marginMode);
  if (marginMode !== 'rowwise' && marginMode !== 'as-released')
    throw new Error(`--margin-mode must be rowwise or as-released, got ${marginMode}`);
  const error = String(o.error);
  if (!['l2', 'l1', 'soft'].includes(error)) throw new Error(`--error must be l2, l1 or soft, got ${error}`);
  return {
    target,
    inBatch: Boolean(o.inBatch),
    marginMode: marginMode as SdamMarginMode,
    error: error as SdamError,
    detachTarget: Boolean(o.detachTarget),
  };
}

/** --batching, its clustering options, --filter and --cache-dir (src/train/batching/plan.ts). */
function batchingOptions(
  o: Record<string, unknown>,
  batchSize: number,
): { batching: BatchingSpec; filter: FilterSpec; cacheDir: string } {
  const kind = String(o.batching);
  const dims = num('dims', String(o.dims), { int: true, min: 1 });
  let batching: BatchingSpec;
  if (o.batches !== undefined) {
    if (kind !== 'random') throw new Error('--batches FILE replaces --batching; give one of them');
    for (const key of ['clusterSize', 'order', 'iterations', 'restarts', 'init']) {
      if (o[key] !== undefined)
        throw new Error(
          `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to --batching contextual only, not --batches`,
        );
    }
    const path = String(o.batches);
    batching = { kind: 'file', path, sha256: fileSha256(path) };
  } else if (kind === 'random') {
    for (const key of ['clusterSize', 'order', 'iterations', 'restarts', 'init']) {
      if (o[key] !== undefined)
        throw new Error(
          `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to --batching contextual only`,
        );
    }
    batching = { kind: 'random' };
  } else if (kind === 'contextual') {
    const order = String(o.order ?? 'random');
    if (order !== 'random' && order !== 'tsp') throw new Error(`--order must be random or tsp, got ${order}`);
    const init = String(o.init ?? 'random');
    if (init !== 'random' && init !== 'kmeans++') throw new Error(`--init must be random or kmeans++, got ${init}`);
    batching = {
      kind: 'contextual',
      clusterSize:
        o.clusterSize === undefined ? batchSize : num('cluster-size', String(o.clusterSize), { int: true, min: 1 }),
      order,
      dims,
      iterations: num('iterations', String(o.iterations ?? '100'), { int: true, min: 1 }),
      restarts: num('restarts', String(o.restarts ?? '3'), { int: true, min: 1 }),
      init,
    };
  } else {
    throw new Error(`--batching must be random or contextual, got ${kind}`);
  }
  return {
    batching,
    filter: parseFilter(String(o.filter), dims),
    cacheDir: o.cacheDir === undefined ? defaultCacheDir() : String(o.cacheDir),
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
    .option('--loss <name>', 'sdam | margin-mse | infonce', 'sdam')
    .option('--target <t>', 'SDAM target: adaptive | distributed | a constant margin', 'adaptive')
    .option('--in-batch', 'SDAM: compare every query with every negative of the batch')
    .option('--margin-mode <mode>', 'SDAM in-batch margins: rowwise | as-released', 'rowwise')
    .option('--error <fn>', 'SDAM error function: l2 | l1 | soft', 'l2')
    .option('--detach-target', 'SDAM: no gradient through the target')
    .option(
      '--teacher <name>',
      'Margin-MSE teacher: bm25 | triples (teacher_pos/teacher_neg in the triples file) | cross-encoder:DIR (online)',
      'bm25',
    )
    .option(
      '--teacher-scale <k>',
      "Margin-MSE regresses the cosine margin onto k·(t_p - t_n): auto (k fitted before the first step so that the teacher's margins have the root mean square of SDAM's adaptive target (1+s(d+,d-))/2 under the starting encoder, on 256 training triples; logged), raw (k = 1) or a number",
      'auto',
    )
    .option('--temperature <t>', 'InfoNCE temperature (default 0.05; 0.02 with --model-type contextual)')
    .option('--own-negatives', "InfoNCE: add each triple's own negative to the candidates")
    .option('--pooling <mode>', "mean | cls (the paper's first token; untrained in an MLM-only checkpoint)", 'mean')
    .option(
      '--batching <kind>',
      'random | contextual (CDE: triples clustered once, cached, re-packed each epoch)',
      'random',
    )
    .option('--cluster-size <n>', 'contextual batching: target triples per cluster (default: --batch-size)')
    .option('--order <order>', 'contextual batching: cluster order, random | tsp (default random)')
    .option('--dims <n>', 'contextual batching and --filter tfidf: TF-IDF + SVD dimension', '128')
    .option('--iterations <n>', 'contextual batching: k-means iterations per restart (default 100)')
    .option('--restarts <n>', 'contextual batching: k-means restarts (default 3)')
    .option('--init <init>', 'contextual batching: k-means initialisation, random | kmeans++ (default random)')
    .option(
      '--batches <file>',
      'train on the batches written by `retrograd cluster --out FILE` (triple indices checked against --data)',
    )
    .option(
      '--filter <f>',
      'in-batch losses: none | tfidf | model:DIR (drop in-batch documents the surrogate scores >= the gold; duplicates of the gold are always dropped)',
      'none',
    )
    .option(
      '--cache-dir <dir>',
      'cache of the clustering and TF-IDF stages (default $RETROGRAD_CACHE, else ~/.cache/retrograd)',
    )
    .option('--eval-queries <n>', 'evaluate on a seeded subsample of n queries per set')
    .option(
      '--batch-size <n>',
      "triples per step (BERT-mini: 64 fit the cpu device's 4 GiB heap, 128 with --checkpoint-activations)",
      '16',
    )
    .option(
      '--checkpoint-activations',
      'recompute each encoder layer in backward (less memory; every layer runs forward twice, 1.3-1.5x the step time)',
    )
    .option('--query-length <n>', 'query tokens', '32')
    .option('--doc-length <n>', 'document tokens', '128')
    .option('--lr <x>', 'learning rate', '5e-5')
    .option(
      '--optimizer <name>',
      'adamw | sgd (plain SGD: the update is exactly -lr·gradient, no weight decay) (default adamw)',
    )
    .option(
      '--gamma <x>',
      'exponential decay of the learning rate per step (default 0.99999, as released by SDAM; contextual: 0.999)',
    )
    .option('--weight-decay <x>', 'AdamW weight decay (not on biases and LayerNorm)', '1e-6')
    .option('--clip <x>', 'max global gradient norm, 0: no clipping (default 0, as released by SDAM; contextual: 1)')
    .option('--steps <n>', 'maximum steps', '300')
    .option('--epochs <n>', 'maximum passes over the triples (default: 1 with --max-triples, else only --steps limits)')
    .option(
      '--max-triples <n>',
      'train on the first n triples of the seeded order (data-efficiency runs: one epoch unless --epochs)',
    )
    .option('--seed <n>', 'seed for the triple order and dropout', '0')
    .option('--validation <dir:split>', 'early stopping on nDCG@10 of this set')
    .option('--eval-every <n>', 'steps between validations', '100')
    .option('--patience <n>', 'validations without improvement before stopping', '3')
    .option('--eval <list>', 'comma-separated DIR:SPLIT sets evaluated at the end', '')
    .option('--eval-initial', 'also evaluate the starting model')
    .option('--internals-every <n>', 'steps between loss-internals records (0: never)', '10')
    .option('--save-every <n>', 'steps between checkpoints', '50')
    .option('--device <name>', 'cpu | cpu-ref | webgpu | gpujs', 'cpu')
    .option('--threads <n>', 'threads of the cpu device')
    .option('--model-type <type>', 'biencoder | contextual (CDE two-stage model)', 'biencoder')
    .option('--context-size <n>', 'contextual: J, context documents per step and at inference', '512')
    .option('--chunk-size <n>', 'contextual: sequences per forward with gradient caching', '64')
    .option('--no-grad-cache', 'contextual: plain backprop over the whole batch')
    .option(
      '--dropout [p]',
      "biencoder: override every dropout probability with P (0: none; default: the model's config); contextual, no value: train with the BERTs' dropout (off by default, as in the released models)",
    )
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const s = (k: string): string => String(o[k]);
      if (s('modelType') === 'contextual') {
        if (s('loss') !== 'infonce')
          throw new Error(`--model-type contextual trains with --loss infonce, got ${s('loss')}`);
        for (const [key, flag] of [
          ['optimizer', '--optimizer'],
          ['epochs', '--epochs'],
          ['maxTriples', '--max-triples'],
        ] as const) {
          if (o[key] !== undefined) throw new Error(`${flag} applies to --model-type biencoder only`);
        }
        if (typeof o.dropout === 'string')
          throw new Error(
            `--model-type contextual: --dropout takes no value (it turns the BERTs' dropout on), got ${o.dropout}`,
          );
        const device = s('device');
        await startDevice(
          device,
          o.threads === undefined ? undefined : num('threads', s('threads'), { int: true, min: 1 }),
        );
        const { trainContextual } = await import('../train/contextual.js');
        const result = await trainContextual({
          model: s('model'),
          config: { context_size: num('context-size', s('contextSize'), { int: true, min: 1 }) },
          data: s('data'),
          trainSplit: s('split'),
          out: s('out'),
          batchSize: num('batch-size', s('batchSize'), { int: true, min: 2 }),
          negatives: Boolean(o.ownNegatives),
          queryLength: num('query-length', s('queryLength'), { int: true, min: 3 }),
          docLength: num('doc-length', s('docLength'), { int: true, min: 3 }),
          temperature:
            o.temperature === undefined
              ? undefined
              : num('temperature', s('temperature'), { min: 0, exclusiveMin: true }),
          lr: num('lr', s('lr'), { min: 0, exclusiveMin: true }),
          gamma: num('gamma', String(o.gamma ?? '0.999'), { min: 0, exclusiveMin: true }),
          weightDecay: num('weight-decay', s('weightDecay'), { min: 0 }),
          clip: num('clip', String(o.clip ?? '1'), { min: 0 }),
          steps: num('steps', s('steps'), { int: true, min: 1 }),
          seed: num('seed', s('seed'), { int: true, min: 0 }),
          gradCache: o.gradCache !== false,
          chunkSize: num('chunk-size', s('chunkSize'), { int: true, min: 1 }),
          dropout: Boolean(o.dropout),
          validation: o.validation ? parseEvalSet(s('validation'), 'validation') : undefined,
          evalEvery: num('eval-every', s('evalEvery'), { int: true, min: 0 }),
          patience: num('patience', s('patience'), { int: true, min: 1 }),
          saveEvery: num('save-every', s('saveEvery'), { int: true, min: 1 }),
          internalsEvery: num('internals-every', s('internalsEvery'), { int: true, min: 0 }),
          evalSets:
            s('eval') === ''
              ? []
              : s('eval')
                  .split(',')
                  .map((spec) => parseEvalSet(spec, 'eval')),
          evalQueries:
            o.evalQueries === undefined ? undefined : num('eval-queries', s('evalQueries'), { int: true, min: 1 }),
          ...batchingOptions(o, num('batch-size', s('batchSize'), { int: true, min: 2 })),
          device,
        });
        console.log(JSON.stringify({ loss: 'infonce', modelType: 'contextual', ...result }, null, 2));
        if (result.interrupted) process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
        return;
      }
      if (s('modelType') !== 'biencoder')
        throw new Error(`--model-type must be biencoder or contextual, got ${s('modelType')}`);
      const lossName = s('loss');
      let loss: LossSpec;
      if (lossName === 'sdam') {
        loss = { kind: 'sdam', options: sdamOptions(o) };
      } else if (lossName === 'margin-mse') {
        const name = s('teacher');
        const teachers = await import('../train/teachers.js');
        let teacher: Teacher;
        if (name === 'bm25') teacher = await teachers.bm25Teacher(s('data'));
        else if (name === 'triples') teacher = await teachers.triplesTeacher(s('data'), s('split'));
        else if (name.startsWith('cross-encoder:') && name.length > 'cross-encoder:'.length) {
          teacher = await teachers.crossEncoderTeacher(name.slice('cross-encoder:'.length), s('data'), {
            device: s('device'),
            split: s('split'),
          });
        } else throw new Error(`--teacher must be bm25, triples or cross-encoder:DIR, got ${name}`);
        const scaleText = s('teacherScale');
        const teacherScale =
          scaleText === 'auto'
            ? 'auto'
            : scaleText === 'raw'
              ? 1
              : num('teacher-scale', scaleText, { min: 0, exclusiveMin: true });
        loss = { kind: 'margin-mse', teacher, teacherName: name, teacherScale };
      } else if (lossName === 'infonce') {
        loss = {
          kind: 'infonce',
          scale: 1 / num('temperature', String(o.temperature ?? '0.05'), { min: 0, exclusiveMin: true }),
          ownNegatives: Boolean(o.ownNegatives),
        };
      } else {
        throw new Error(`--loss must be sdam, margin-mse or infonce, got ${lossName}`);
      }
      const pooling = s('pooling');
      if (pooling !== 'cls' && pooling !== 'mean') throw new Error(`--pooling must be cls or mean, got ${pooling}`);
      const optimizer = String(o.optimizer ?? 'adamw');
      if (optimizer !== 'adamw' && optimizer !== 'sgd')
        throw new Error(`--optimizer must be adamw or sgd, got ${optimizer}`);
      if (o.dropout === true) throw new Error('--dropout: expected a probability in [0, 1) for --model-type biencoder');
      const dropout = o.dropout === undefined ? undefined : num('dropout', s('dropout'), { min: 0 });
      if (dropout !== undefined && dropout >= 1)
        throw new Error(`--dropout: expected a probability in [0, 1), got ${s('dropout')}`);
      const device = s('device');
      await startDevice(
        device,
        o.threads === undefined ? undefined : num('threads', s('threads'), { int: true, min: 1 }),
      );
      const { trainBiencoder } = await import('../train/retrieval.js');
      const result = await trainBiencoder({
        model: s('model'),
        data: s('data'),
        trainSplit: s('split'),
        out: s('out'),
        loss,
        pooling,
        batchSize: num('batch-size', s('batchSize'), { int: true, min: 2 }),
        queryLength: num('query-length', s('queryLength'), { int: true, min: 3 }),
        docLength: num('doc-length', s('docLength'), { int: true, min: 3 }),
        lr: num('lr', s('lr'), { min: 0, exclusiveMin: true }),
        gamma: num('gamma', String(o.gamma ?? '0.99999'), { min: 0, exclusiveMin: true }),
        optimizer,
        weightDecay: num('weight-decay', s('weightDecay'), { min: 0 }),
        clip: num('clip', String(o.clip ?? '0'), { min: 0 }),
        dropout,
        steps: num('steps', s('steps'), { int: true, min: 1 }),
        epochs: o.epochs === undefined ? undefined : num('epochs', s('epochs'), { int: true, min: 1 }),
        maxTriples: o.maxTriples === undefined ? undefined : num('max-triples', s('maxTriples'), { int: true, min: 1 }),
        seed: num('seed', s('seed'), { int: true, min: 0 }),
        evalEvery: num('eval-every', s('evalEvery'), { int: true, min: 0 }),
        patience: num('patience', s('patience'), { int: true, min: 1 }),
        validation: o.validation ? parseEvalSet(s('validation'), 'validation') : undefined,
        evalSets:
          s('eval') === ''
            ? []
            : s('eval')
                .split(',')
                .map((spec) => parseEvalSet(spec, 'eval')),
        evalInitial: Boolean(o.evalInitial),
        internalsEvery: num('internals-every', s('internalsEvery'), { int: true, min: 0 }),
        saveEvery: num('save-every', s('saveEvery'), { int: true, min: 1 }),
        checkpointActivations: o.checkpointActivations === true,
        evalQueries:
          o.evalQueries === undefined ? undefined : num('eval-queries', s('evalQueries'), { int: true, min: 1 }),
        ...batchingOptions(o, num('batch-size', s('batchSize'), { int: true, min: 2 })),
        device,
      });
      console.log(JSON.stringify({ loss: lossName, ...result }, null, 2));
      // Interrupted (the checkpoint is saved by now): exit as the shell does for the signal, so a chained pipeline stops.
      if (result.interrupted) process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
    });
}
