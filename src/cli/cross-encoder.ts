// `retrograd train-cross-encoder` and `retrograd rerank`: the cross-encoder teacher.
//
//   retrograd train-cross-encoder --model models/bert-mini-retrograd --data data/pkgdesc-train \
//       --out runs/ce --steps 300 [--eval data/pkgdesc-test:test --eval-queries 200 --bm25-top 100]
//   retrograd rerank --model runs/ce/model --data data/pkgdesc-test [--split test] [--bm25-top 100] \
//       [--queries 200] [--run-out FILE] [--json]
//
// train-cross-encoder fine-tunes a BertForSequenceClassification (num_labels 1) on the triples with
// the pairwise softmax loss (src/train/cross-encoder.ts) and prints metrics.json; Ctrl-C / SIGTERM
// stop it between steps with a checkpoint saved (exit 130 / 143), and the same command resumes it
// exactly (checkpoints every --save-every steps, so a kill loses at most those). rerank ranks each
// judged query's corpus with BM25, rescores the top k with the cross-encoder and prints nDCG@10,
// MRR@10, R@10, R@100, MAP@100 of both runs on the same queries.

import type { Command } from 'commander';
import { writeTrecRun } from '../eval/run.js';
import { metricNames } from '../eval/metrics.js';
import { rerankBm25 } from '../eval/rerank.js';
import { CrossEncoder } from '../nn/cross-encoder.js';
import { loadEvalSet } from '../train/retrieval.js';
import type { EvalSet } from '../train/retrieval.js';
import {
  evalSetOption,
  intAtLeastOption,
  integerOption,
  nonNegativeNumberOption,
  parsedOption,
  positiveIntOption,
  positiveNumberOption,
  startDevice,
} from './options.js';

export function registerCrossEncoder(program: Command): void {
  program
    .command('train-cross-encoder')
    .description(
      'fine-tune a cross-encoder (BertForSequenceClassification, one logit) on triples; optionally rerank BM25 on an eval set',
    )
    .requiredOption(
      '--model <dir>',
      'starting model directory: an encoder (a new head is initialised) or a cross-encoder',
    )
    .requiredOption('--data <dir>', 'BEIR directory with triples/<split>.jsonl.gz')
    .requiredOption('--out <dir>', 'run directory (log.jsonl, model/, metrics.json)')
    .option('--split <name>', 'training split', 'train')
    .option('--batch-size <n>', 'triples per step (2x pairs per forward pass)', positiveIntOption, 16)
    .option('--max-length <n>', 'tokens per [CLS] q [SEP] d [SEP] pair', positiveIntOption, 160)
    .addOption(parsedOption('--lr <x>', 'peak learning rate', positiveNumberOption, '5e-5'))
    .option('--warmup <n>', 'linear warm-up steps', positiveIntOption)
    .option('--weight-decay <x>', 'AdamW weight decay (not on biases and LayerNorm)', nonNegativeNumberOption, 0.01)
    .option('--clip <x>', 'max global gradient norm (0: none)', nonNegativeNumberOption, 1)
    .option('--steps <n>', 'optimizer steps', positiveIntOption, 300)
    .option('--seed <n>', 'seed for the triple order, the new head and dropout', integerOption, 0)
    .option(
      '--save-every <n>',
      'checkpoint every n steps (and on Ctrl-C / SIGTERM); rerun to resume',
      positiveIntOption,
      50,
    )
    .option(
      '--random-negatives <n>',
      'extra negatives per triple drawn uniformly from the corpus (never a relevant one); the softmax runs over n + 2 scores. BM25 negatives alone can be beaten by a length prior (pkgdesc-train: the negative is the longer document in 61% of triples)',
      intAtLeastOption(0),
      0,
    )
    .option('--eval <dir:split>', 'rerank BM25 on this set with the final model', evalSetOption)
    .option('--eval-queries <n>', 'seeded subsample of evaluation queries', positiveIntOption)
    .option('--bm25-top <n>', 'BM25 candidates reranked per query', positiveIntOption, 100)
    .option('--eval-batch-size <n>', 'pairs per forward pass when reranking', positiveIntOption, 32)
    .option('--device <name>', 'cpu | cpu-ref | webgpu | gpujs', 'cpu')
    .option('--threads <n>', 'threads of the cpu device', positiveIntOption)
    .action(
      async (o: {
        model: string;
        data: string;
        out: string;
        split: string;
        batchSize: number;
        maxLength: number;
        lr: number;
        warmup?: number;
        weightDecay: number;
        clip: number;
        steps: number;
        seed: number;
        randomNegatives: number;
        eval?: EvalSet;
        evalQueries?: number;
        bm25Top: number;
        evalBatchSize: number;
        saveEvery: number;
        device: string;
        threads?: number;
      }) => {
        await startDevice(o.device, o.threads);
        const { trainCrossEncoder } = await import('../train/cross-encoder.js');
        const result = await trainCrossEncoder({
          model: o.model,
          data: o.data,
          trainSplit: o.split,
          out: o.out,
          batchSize: o.batchSize,
          maxLength: o.maxLength,
          lr: o.lr,
          warmup: o.warmup ?? Math.floor(o.steps / 10),
          weightDecay: o.weightDecay,
          clip: o.clip,
          steps: o.steps,
          seed: o.seed,
          randomNegatives: o.randomNegatives,
          evalSet: o.eval,
          evalQueries: o.evalQueries,
          bm25Top: o.bm25Top,
          evalBatchSize: o.evalBatchSize,
          saveEvery: o.saveEvery,
          device: o.device,
        });
        console.log(JSON.stringify(result, null, 2));
        if (result.interrupted) process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
      },
    );

  program
    .command('rerank')
    .description(
      "rerank BM25's top k with a cross-encoder: metrics of BM25 and of the reranked run on the same queries",
    )
    .requiredOption('--model <dir>', 'cross-encoder directory (BertForSequenceClassification, num_labels 1)')
    .requiredOption('--data <dir>', 'BEIR dataset directory')
    .option('--split <name>', 'qrels split', 'test')
    .option('--bm25-top <n>', 'BM25 candidates reranked per query', positiveIntOption, 100)
    .option('--queries <n>', 'seeded subsample of judged queries (seed 1, as train --eval-queries)', positiveIntOption)
    .option('--max-length <n>', "tokens per pair (default: the model's limit)", positiveIntOption)
    .option('--batch-size <n>', 'pairs per forward pass', positiveIntOption, 32)
    .option('--device <name>', 'cpu | cpu-ref | webgpu | gpujs', 'cpu')
    .option('--threads <n>', 'threads of the cpu device', positiveIntOption)
    .option('--run-out <file>', 'write the reranked run as a TREC run file')
    .option('--json', 'print one JSON object instead of a table')
    .action(
      async (o: {
        model: string;
        data: string;
        split: string;
        bm25Top: number;
        queries?: number;
        maxLength?: number;
        batchSize: number;
        device: string;
        threads?: number;
        runOut?: string;
        json?: boolean;
      }) => {
        await startDevice(o.device, o.threads);
        const data = await loadEvalSet({ name: o.data, dir: o.data, split: o.split }, o.queries);
        const ce = CrossEncoder.load(o.model, { device: o.device });
        let result: Awaited<ReturnType<typeof rerankBm25>>;
        try {
          result = await rerankBm25(data, ce.scorer(ce.lengthLimit(o.maxLength), o.batchSize), { top: o.bm25Top });
        } finally {
          ce.dispose();
        }
        if (o.runOut !== undefined) await writeTrecRun(o.runOut, result.rerank.run, 'rerank');
        const report = {
          data: o.data,
          split: o.split,
          model: o.model,
          queries: result.rerank.evaluation.queries,
          corpus: data.corpus.size,
          bm25_top: o.bm25Top,
          bm25: result.bm25.evaluation.mean,
          rerank: result.rerank.evaluation.mean,
          pairs: result.pairs,
          seconds: {
            bm25: Math.round(result.seconds.bm25 * 1000) / 1000,
            rerank: Math.round(result.seconds.rerank * 1000) / 1000,
          },
        };
        if (o.json) {
          process.stdout.write(`${JSON.stringify(report)}\n`);
          return;
        }
        const lines = [
          `rerank of BM25 top ${o.bm25Top} by ${o.model} on ${o.data} [${o.split}]: ${report.queries} queries, ${report.corpus} documents`,
        ];
        lines.push(`  ${'metric'.padEnd(8)} ${'bm25'.padStart(7)} ${'rerank'.padStart(7)}`);
        for (const name of metricNames())
          lines.push(`  ${name.padEnd(8)} ${report.bm25[name].toFixed(4)}  ${report.rerank[name].toFixed(4)}`);
        lines.push(
          `  time: bm25 ${report.seconds.bm25.toFixed(1)}s, rerank ${report.seconds.rerank.toFixed(1)}s (${report.pairs} pairs)`,
        );
        process.stdout.write(`${lines.join('\n')}\n`);
      },
    );
}
