// `retrograd pretrain`: masked-language-model pretraining of a BERT on a JSONL text corpus.
//
//   retrograd pretrain --corpus pretrain.jsonl.gz --out runs/mlm-mini --config mini --steps 20000
//
// The run directory is resumable: run the same command again after an interruption (Ctrl-C saves a
// checkpoint, then exits 130; SIGTERM 143) and it continues from the latest checkpoint with the
// same data order, masks and dropout. A non-finite loss, gradient norm or weight stops the run
// (exit 1) without saving it. `--steps` may be raised on resume to extend a run. Progress goes to
// stderr and to <out>/log.jsonl; the finished model is written to <out>/model (Hugging Face layout).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { BERT_PRESETS, type BertConfig } from '../nn/bert.js';
import { parseBertConfig } from '../nn/model-dir.js';
import { BertTokenizer } from '../nn/tokenizer.js';
import { SCHEDULES, type ScheduleName } from '../train/schedule.js';
import { startDevice } from './options.js';

const DEFAULT_VOCAB = new URL('../../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname;

function positiveInt(name: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1))
    throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`);
  return n;
}

function positiveNumber(name: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0))
    throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${value}`);
  return n;
}

function probability(name: string, value: string, allowZero = true): number {
  const n = Number(value);
  if (!(n >= (allowZero ? 0 : Number.MIN_VALUE) && n < 1))
    throw new Error(`--${name} must be a probability in ${allowZero ? '[0' : '(0'}, 1), got ${value}`);
  return n;
}

function resolveConfig(spec: string): BertConfig {
  if (spec in BERT_PRESETS) return { ...BERT_PRESETS[spec as keyof typeof BERT_PRESETS] };
  if (!existsSync(spec))
    throw new Error(
      `--config: ${spec} is neither a preset (${Object.keys(BERT_PRESETS).join(', ')}) nor a config.json file`,
    );
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (err) {
    throw new Error(`${spec}: not valid JSON (${(err as Error).message})`);
  }
  return parseBertConfig(json, spec);
}

export function registerPretrain(program: Command): void {
  program
    .command('pretrain')
    .description('masked-language-model pretraining of a BERT (resumable; writes <out>/model in Hugging Face layout)')
    .requiredOption('--corpus <file>', 'JSONL(.gz) corpus, one {"text": ...} per line')
    .requiredOption('--out <dir>', 'run directory (resumed when it holds a checkpoint)')
    .option('--config <preset|file>', `architecture: ${Object.keys(BERT_PRESETS).join(' | ')} or a config.json`, 'mini')
    .option('--init <dir>', 'start from this model directory instead of random weights')
    .option('--vocab <file>', 'WordPiece vocab.txt (default: bert-base-uncased)', DEFAULT_VOCAB)
    .option('--steps <n>', 'total optimizer steps', '10000')
    .option('--batch-size <n>', 'sequences per step', '32')
    .option('--seq-len <n>', 'tokens per sequence, [CLS] and [SEP] included', '128')
    .option('--lr <x>', 'peak learning rate', '5e-4')
    .option('--warmup <n>', 'warm-up steps', '500')
    .option('--schedule <name>', SCHEDULES.join(' | '), 'linear')
    .option('--weight-decay <x>', 'AdamW weight decay (not on biases and LayerNorm)', '0.01')
    .option('--clip <x>', 'max global gradient norm (0: no clipping)', '1')
    .option('--seed <n>', 'seed for init, data order, masks and dropout', '0')
    .option('--val-sequences <n>', 'held-out sequences for evaluation', '256')
    .option('--eval-every <n>', 'steps between evaluations', '500')
    .option('--save-every <n>', 'steps between checkpoints', '250')
    .option('--log-every <n>', 'steps between log lines', '10')
    .option('--dropout <p>', "override the model's dropout probabilities (0: none, the budget recipe)")
    .option(
      '--mask-rate <p>',
      'share of tokens selected for prediction while training (evaluation always uses 0.15)',
      '0.15',
    )
    .option(
      '--checkpoint-activations',
      'recompute each encoder layer in backward (less memory; every layer runs forward twice, 1.3-1.5x the step time)',
    )
    .option('--device <name>', 'cpu | cpu-ref | webgpu | gpujs', 'cpu')
    .option('--threads <n>', 'threads of the cpu device (default: all cores)')
    .action(async (o: Record<string, string | undefined>) => {
      const schedule = String(o.schedule);
      if (!(SCHEDULES as readonly string[]).includes(schedule))
        throw new Error(`--schedule must be one of ${SCHEDULES.join(', ')}, got ${schedule}`);
      if (!existsSync(String(o.corpus))) throw new Error(`--corpus: ${o.corpus} does not exist`);
      const config = resolveConfig(String(o.config));
      const tokenizer = BertTokenizer.fromVocabFile(String(o.vocab));
      if (tokenizer.vocabSize !== config.vocab_size)
        throw new Error(
          `${o.vocab}: ${tokenizer.vocabSize} tokens, but the config has vocab_size ${config.vocab_size}`,
        );
      const device = String(o.device);
      await startDevice(device, o.threads === undefined ? undefined : positiveInt('threads', o.threads));
      const { pretrain } = await import('../train/pretrain.js');
      const result = await pretrain({
        corpus: String(o.corpus),
        out: String(o.out),
        config,
        tokenizer,
        init: o.init,
        steps: positiveInt('steps', String(o.steps)),
        batchSize: positiveInt('batch-size', String(o.batchSize)),
        seqLen: positiveInt('seq-len', String(o.seqLen)),
        lr: positiveNumber('lr', String(o.lr)),
        warmup: positiveInt('warmup', String(o.warmup), true),
        schedule: schedule as ScheduleName,
        weightDecay: positiveNumber('weight-decay', String(o.weightDecay), true),
        clip: positiveNumber('clip', String(o.clip), true),
        seed: positiveInt('seed', String(o.seed), true),
        valSequences: positiveInt('val-sequences', String(o.valSequences)),
        evalEvery: positiveInt('eval-every', String(o.evalEvery)),
        saveEvery: positiveInt('save-every', String(o.saveEvery)),
        logEvery: positiveInt('log-every', String(o.logEvery)),
        device,
        dropout: o.dropout === undefined ? undefined : probability('dropout', o.dropout),
        maskRate: probability('mask-rate', String(o.maskRate), false),
        checkpointActivations: Boolean(o.checkpointActivations),
      });
      console.log(
        JSON.stringify(
          {
            step: result.step,
            eval: result.finalEval,
            model: result.step === positiveInt('steps', String(o.steps)) ? result.modelDir : null,
            checkpoints: join(String(o.out), 'checkpoints'),
            interrupted: result.interrupted,
          },
          null,
          2,
        ),
      );
      // Interrupted (the checkpoint is saved by now): exit as the shell does for the signal, so a chained pipeline stops.
      if (result.interrupted) process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
    });
}
