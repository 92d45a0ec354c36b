// `retrograd mine`: BM25 hard negatives for a BEIR split, one {"qid", "pos", "neg"} triple per line.
//
//   retrograd mine --data DIR [--split train] [--negatives 100] [--out DIR/triples/<split>.jsonl.gz]
//                  [--seed 42] [--k1 0.9] [--b 0.4] [--no-stopwords] [--no-stem]
//
// The recipe is src/eval/mine.ts's (BM25 top N, judged positives dropped, one negative drawn per
// (query, positive) pair with the seed). The output is written atomically (gzip when it ends in
// ".gz"); a one-line JSON summary goes to stdout. Same data + seed -> byte-identical file.

import { join } from 'node:path';
import type { Command } from 'commander';
import { startProgress } from './progress.js';
import { loadBeir, writeJsonlAtomic } from '../data/beir.js';
import { mineNegatives } from '../eval/mine.js';
import { integerOption, numberOption, positiveIntOption } from './options.js';

export interface MineCliOptions {
  data: string;
  split?: string;
  negatives?: number;
  out?: string;
  seed?: number;
  k1?: number;
  b?: number;
  stopwords?: boolean;
  stem?: boolean;
  progress?: boolean;
}

export interface MineSummary {
  out: string;
  split: string;
  triples: number;
  queries: number;
  pairs_without_negative: number;
  mean_candidates: number;
  negatives: number;
  seed: number;
  seconds: number;
}

export async function runMine(opts: MineCliOptions): Promise<MineSummary> {
  const start = performance.now();
  const split = opts.split ?? 'train';
  const negatives = opts.negatives ?? 100;
  const seed = opts.seed ?? 42;
  const out = opts.out ?? join(opts.data, 'triples', `${split}.jsonl.gz`);
  const data = await loadBeir(opts.data, split);
  const bar = startProgress({ label: 'mine', total: data.queries.size, unit: 'query', enabled: opts.progress });
  let result;
  try {
    result = mineNegatives(data, {
      negatives,
      seed,
      k1: opts.k1,
      b: opts.b,
      stopwords: opts.stopwords,
      stem: opts.stem,
      onQuery: (n) => bar.update(n),
    });
  } finally {
    bar.finish();
  }
  await writeJsonlAtomic(out, result.triples);
  return {
    out,
    split,
    triples: result.triples.length,
    queries: result.queries,
    pairs_without_negative: result.pairsWithoutNegative,
    mean_candidates: Math.round(result.meanCandidates * 100) / 100,
    negatives,
    seed,
    seconds: Math.round(performance.now() - start) / 1000,
  };
}

export function registerMine(program: Command): void {
  program
    .command('mine')
    .description('mine BM25 hard negatives for a BEIR split into {"qid","pos","neg"} triples')
    .requiredOption('--data <dir>', 'BEIR dataset directory')
    .option('--split <name>', 'qrels split whose queries are mined', 'train')
    .option('--negatives <n>', 'BM25 depth N: negatives are drawn from ranks 1..N', positiveIntOption, 100)
    .option('--out <file>', 'output JSONL (default: DIR/triples/<split>.jsonl.gz)')
    .option('--seed <s>', 'random seed for the negative draws', integerOption, 42)
    .option('--k1 <x>', 'BM25 k1', numberOption, 0.9)
    .option('--b <x>', 'BM25 b', numberOption, 0.4)
    .option('--no-stopwords', 'BM25: keep English stopwords')
    .option('--no-stem', 'BM25: no Porter stemming')
    .action(
      async (o: {
        data: string;
        split: string;
        negatives: number;
        out?: string;
        seed: number;
        k1: number;
        b: number;
        stopwords: boolean;
        stem: boolean;
      }) => {
        const summary = await runMine({
          data: o.data,
          split: o.split,
          negatives: o.negatives,
          out: o.out,
          seed: o.seed,
          k1: o.k1,
          b: o.b,
          stopwords: o.stopwords,
          stem: o.stem,
        });
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      },
    );
}
