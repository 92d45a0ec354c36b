// `retrograd pretrain`: masked-language-model pretraining of a BERT on a JSONL text corpus.
//
//   retrograd pretrain --corpus pretrain.jsonl.gz --out runs/mlm-mini --config mini --steps 20000
//
// The run directory is resumable: run the same command again after an interruption (Ctrl-C saves a
// checkpoint, then exits 130; SIGTERM 143) and it continues from the latest checkpoint with the
// same data order, masks and dropout. A non-finite loss, gradient norm or weight stops the run
// (exit 1) without saving it. `--steps` may be raised on resume to extend a run. Progress goes to
// stderr and to <out>/log.jsonl; the finished model is written to <out>/model (Hugging Face layout).
// After every held-out evaluation the run's charts (`retrograd plot`: loss, accuracy, learning rate)
// are redrawn into <out>/plots, so the curve of a long background run is always current (--no-plots:
// don't); a chart that fails to draw is reported in one line and training goes on.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { BERT_PRESETS, type BertConfig } from '../nn/bert.js';
import { parseBertConfig } from '../nn/model-dir.js';
import { BertTokenizer } from '../nn/tokenizer.js';
import { SCHEDULES } from '../train/schedule.js';
import type { PretrainOptions } from '../train/pretrain.js';
import { runPlot } from './plot.js';
import {
  intAtLeastOption,
  nonNegativeNumberOption,
  numberInRangeOption,
  parsedOption,
  positiveIntOption,
  positiveNumberOption,
  startDevice,
} from './options.js';

const DEFAULT_VOCAB = new URL('../../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname;

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
    .option(
      '--data-from <run>',
      "a new segment reads on where this run's latest checkpoint stopped in the same corpus (instead of from the start)",
    )
    .option('--vocab <file>', 'WordPiece vocab.txt (default: bert-base-uncased)', DEFAULT_VOCAB)
    .option('--steps <n>', 'total optimizer steps', positiveIntOption, 10000)
    .option('--batch-size <n>', 'sequences per step', positiveIntOption, 32)
    .option('--seq-len <n>', 'tokens per sequence, [CLS] and [SEP] included', positiveIntOption, 128)
    .addOption(parsedOption('--lr <x>', 'peak learning rate', positiveNumberOption, '5e-4'))
    .option('--warmup <n>', 'warm-up steps', intAtLeastOption(0), 500)
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices(SCHEDULES).default('linear'))
    .option('--weight-decay <x>', 'AdamW weight decay (not on biases and LayerNorm)', nonNegativeNumberOption, 0.01)
    .option('--clip <x>', 'max global gradient norm (0: no clipping)', nonNegativeNumberOption, 1)
    .option('--seed <n>', 'seed for init, data order, masks and dropout', intAtLeastOption(0), 0)
    .option('--val-sequences <n>', 'held-out sequences for evaluation', positiveIntOption, 256)
    .option('--eval-every <n>', 'steps between evaluations', positiveIntOption, 500)
    .option('--save-every <n>', 'steps between checkpoints', positiveIntOption, 250)
    .option('--log-every <n>', 'steps between log lines', positiveIntOption, 10)
    .option(
      '--dropout <p>',
      "override the model's dropout probabilities, in [0, 1) (0: none, the budget recipe)",
      numberInRangeOption(0, 1, { exclusiveMax: true }),
    )
    .option(
      '--mask-rate <p>',
      'share of tokens selected for prediction while training, in (0, 1) (evaluation always uses 0.15)',
      numberInRangeOption(0, 1, { exclusiveMin: true, exclusiveMax: true }),
      0.15,
    )
    .option(
      '--checkpoint-activations',
      'recompute each encoder layer in backward (less memory; every layer runs forward twice, 1.3-1.5x the step time)',
    )
    .option('--device <name>', 'cpu | cpu-ref | webgpu | gpujs', 'cpu')
    .option('--threads <n>', 'threads of the cpu device (default: all cores)', positiveIntOption)
    .option('--no-plots', "do not redraw the run's charts (<out>/plots) after each evaluation")
    .action(
      async (
        o: Omit<PretrainOptions, 'config' | 'tokenizer' | 'maskRate' | 'onLog' | 'progress'> & {
          /** A preset name or a config.json path. */
          config: string;
          vocab: string;
          maskRate: number;
          threads?: number;
          plots: boolean;
        },
      ) => {
        if (!existsSync(o.corpus)) throw new Error(`--corpus: ${o.corpus} does not exist`);
        const config = resolveConfig(o.config);
        const tokenizer = BertTokenizer.fromVocabFile(o.vocab);
        if (tokenizer.vocabSize !== config.vocab_size)
          throw new Error(
            `${o.vocab}: ${tokenizer.vocabSize} tokens, but the config has vocab_size ${config.vocab_size}`,
          );
        await startDevice(o.device, o.threads);
        const { pretrain } = await import('../train/pretrain.js');
        // Charts redrawn after each evaluation, one drawing at a time (a second request waits for it).
        let drawing: Promise<void> = Promise.resolve();
        const redraw = (): void => {
          drawing = drawing.then(async () => {
            try {
              await runPlot({ run: o.out });
            } catch (err) {
              console.error(`retrograd pretrain: charts not redrawn (${err instanceof Error ? err.message : err})`);
            }
          });
        };
        const { vocab: _vocab, threads: _threads, plots: _plots, ...options } = o;
        const result = await pretrain({
          ...options,
          config,
          tokenizer,
          checkpointActivations: Boolean(o.checkpointActivations),
          onLog: o.plots ? (entry) => entry.kind === 'eval' && redraw() : undefined,
        });
        await drawing;
        console.log(
          JSON.stringify(
            {
              step: result.step,
              eval: result.finalEval,
              model: result.step === o.steps ? result.modelDir : null,
              checkpoints: join(o.out, 'checkpoints'),
              interrupted: result.interrupted,
            },
            null,
            2,
          ),
        );
        // Interrupted (the checkpoint is saved by now): exit as the shell does for the signal, so a chained pipeline stops.
        if (result.interrupted) process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
      },
    );
}
