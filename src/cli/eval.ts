// `retrograd eval`: retrieval metrics of BM25 or a BERT model directory on a BEIR dataset split.
//
//   retrograd eval --data DIR [--split test] (--bm25 | --model MODELDIR [--pooling cls|mean]
//                  [--max-length N] [--batch-size N] [--device D] [--similarity cos|dot])
//                  [--depth 1000] [--k1 0.9] [--b 0.4] [--no-stopwords] [--no-stem]
//                  [--run-out FILE] [--metrics-out FILE] [--json]
//
// Ranks the whole corpus for every judged query of the split, keeps the top `depth` documents, and
// prints nDCG@10, MRR@10, R@10, R@100, MAP@100 (trec_eval definitions, src/eval/metrics.ts), the
// query counts and the time each stage took: a table, or one JSON object with --json. --run-out
// writes the run as a TREC run file, --metrics-out the per-query metrics as JSON (both atomically).
// Documents are `title + " " + text` (docText).
//
// A model directory is embedded with src/nn/biencoder.ts, as `retrograd embed` does: pooling from
// --pooling, else the directory's sentence-transformers files, else mean; truncation to
// --max-length, else the model's limit.
// A contextual model directory (src/nn/contextual.ts) is evaluated the same way, with one context
// for the whole run: J documents sampled from the evaluated corpus (seeded by --context-seed; with
// replacement when the corpus has fewer than J), run once through the first stage.

import { type Command, Option } from 'commander';
import { startProgress } from './progress.js';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { docText, loadBeir, writeTextAtomic } from '../data/beir.js';
import { Bm25Index } from '../eval/bm25.js';
import { denseRetrieve, type Similarity } from '../eval/dense.js';
import { evaluate, evaluationJson, metricNames, DEFAULT_CUTOFFS } from '../eval/metrics.js';
import { runFromLists, writeTrecRun, type Run } from '../eval/run.js';
import { initDevice } from '../tensor/device.js';
import type { PoolingMode } from '../nn/pooling.js';
import { Biencoder } from '../nn/biencoder.js';
import { ContextualModel, isContextualDir } from '../nn/contextual.js';
import { corpusContextIds } from '../train/contextual.js';
import { intAtLeastOption, integerOption, numberOption, positiveIntOption } from './options.js';

export interface EvalOptions {
  data: string;
  split?: string;
  bm25?: boolean;
  model?: string;
  pooling?: PoolingMode;
  maxLength?: number;
  batchSize?: number;
  device?: string;
  similarity?: Similarity;
  /** Documents retrieved per query (default 1000). */
  depth?: number;
  k1?: number;
  b?: number;
  stopwords?: boolean;
  stem?: boolean;
  runOut?: string;
  /** Write counts, means and per-query metrics as JSON here. */
  metricsOut?: string;
  /** Progress on stderr: a bar on a terminal, else a line every few seconds (default true). */
  progress?: boolean;
  /** Contextual models: seed of the context sample from the corpus (default 0). */
  contextSeed?: number;
}

export interface EvalReport {
  data: string;
  split: string;
  method: 'bm25' | 'dense';
  model?: string;
  metrics: Record<string, number>;
  queries: number;
  skipped_no_relevant: number;
  missing_from_run: number;
  corpus: number;
  depth: number;
  seconds: Record<string, number>;
}

/** An output file must be writable where it is named: not a directory, with no file in place of its folder. */
function checkOutputFile(path: string, option: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new Error(`--${option} ${path}: is a directory`);
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new Error(`--${option} ${path}: ${dir} is a file, not a directory`);
      break;
    }
  }
}

function seconds(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}

export async function runEval(opts: EvalOptions): Promise<EvalReport> {
  if (opts.bm25 === (opts.model !== undefined)) throw new Error('give exactly one of --bm25 or --model DIR');
  const split = opts.split ?? 'test';
  // Option values are parsed and checked by commander (registerEval; --depth at least 100).
  const depth = opts.depth ?? 1000;
  const progress = opts.progress ?? true;
  const start = performance.now();
  for (const [option, path] of [
    ['run-out', opts.runOut],
    ['metrics-out', opts.metricsOut],
  ] as const)
    if (path !== undefined) checkOutputFile(path, option);
  const data = await loadBeir(opts.data, split);
  // No query with a relevant document: every metric would be an all-zero mean over nothing.
  const judged = [...data.queries.keys()].filter((qid) =>
    [...(data.qrels.get(qid)?.values() ?? [])].some((rel) => rel > 0),
  ).length;
  if (judged === 0)
    throw new Error(
      `${join(opts.data, 'qrels', `${split}.tsv`)}: no query has a relevant document (every judgement is 0, or none matches a query)`,
    );
  const time: Record<string, number> = { load: seconds(start) };

  let run: Run;
  if (opts.bm25) {
    let t = performance.now();
    const index = new Bm25Index(
      [...data.corpus].map(([id, doc]) => [id, docText(doc)] as const),
      {
        k1: opts.k1,
        b: opts.b,
        stopwords: opts.stopwords,
        stem: opts.stem,
      },
    );
    time.index = seconds(t);
    t = performance.now();
    const bar = startProgress({ label: 'bm25', total: data.queries.size, unit: 'query', enabled: progress });
    let done = 0;
    try {
      run = runFromLists(index.searchAll(data.queries, depth, () => bar.update(++done)));
    } finally {
      bar.finish();
    }
    time.search = seconds(t);
  } else {
    const device = opts.device ?? 'cpu';
    await initDevice(device);
    let result: Awaited<ReturnType<typeof denseRetrieve>>;
    if (isContextualDir(opts.model!)) {
      if (opts.pooling)
        throw new Error(
          `--pooling does not apply to the contextual model ${opts.model} (it mean-pools its text tokens)`,
        );
      const cde = ContextualModel.load(opts.model!, { device });
      try {
        const t = performance.now();
        const ids = corpusContextIds(data, cde.config.context_size, opts.contextSeed ?? 0);
        const ctx = cde.computeContext(
          ids.map((id) => docText(data.corpus.get(id)!)),
          { maxLength: opts.maxLength, batchSize: opts.batchSize },
        );
        time.context = seconds(t);
        try {
          const length = cde.lengthLimit('second', opts.maxLength);
          const encoder = (kind: 'query' | 'document') => cde.encoder(ctx, kind, length, opts.batchSize ?? 32);
          result = await denseRetrieve(data, encoder('document'), {
            k: depth,
            similarity: opts.similarity,
            batchSize: 1024,
            progress,
            device,
            encodeQueries: encoder('query'),
          });
        } finally {
          ctx.dispose();
        }
      } finally {
        cde.dispose();
      }
    } else {
      const loaded = Biencoder.load(opts.model!, { device });
      const bi = opts.pooling
        ? loaded.withPooling({ mode: opts.pooling, normalize: loaded.pooling.normalize })
        : loaded;
      try {
        const encode = bi.encoder(bi.lengthLimit(opts.maxLength), opts.batchSize ?? 32);
        // Chunks of 1024 texts: each is sorted by length inside the encoder, and the bar moves per chunk.
        result = await denseRetrieve(data, encode, {
          k: depth,
          similarity: opts.similarity,
          batchSize: 1024,
          progress,
          device,
        });
      } finally {
        bi.dispose();
      }
    }
    run = result.run;
    time.embed_corpus = Math.round(result.seconds.embedCorpus * 1000) / 1000;
    time.embed_queries = Math.round(result.seconds.embedQueries * 1000) / 1000;
    time.search = Math.round(result.seconds.search * 1000) / 1000;
  }

  const evaluation = evaluate(data.qrels, run, DEFAULT_CUTOFFS);
  if (opts.runOut !== undefined) await writeTrecRun(opts.runOut, run, opts.bm25 ? 'bm25' : 'dense');
  if (opts.metricsOut !== undefined)
    await writeTextAtomic(opts.metricsOut, `${JSON.stringify(evaluationJson(evaluation), null, 1)}\n`);
  time.total = seconds(start);
  return {
    data: opts.data,
    split,
    method: opts.bm25 ? 'bm25' : 'dense',
    ...(opts.model !== undefined ? { model: opts.model } : {}),
    metrics: evaluation.mean,
    queries: evaluation.queries,
    skipped_no_relevant: evaluation.skippedNoRelevant,
    missing_from_run: evaluation.missingFromRun,
    corpus: data.corpus.size,
    depth,
    seconds: time,
  };
}

/** The report as one flat JSON object: metrics at the top level, in metric order. */
export function reportJson(r: EvalReport): string {
  const { metrics, ...rest } = r;
  const { data, split, method, model, ...counts } = rest;
  return JSON.stringify({ data, split, method, ...(model !== undefined ? { model } : {}), ...metrics, ...counts });
}

/** The report as a table for a terminal. */
export function formatReport(r: EvalReport): string {
  const lines = [
    `${r.method}${r.model ? ` (${r.model})` : ''} on ${r.data} [${r.split}]: ${r.queries} queries, ${r.corpus} documents, depth ${r.depth}`,
  ];
  for (const name of metricNames()) lines.push(`  ${name.padEnd(8)} ${r.metrics[name].toFixed(4)}`);
  if (r.skipped_no_relevant > 0)
    lines.push(`  (${r.skipped_no_relevant} judged queries without a relevant document skipped)`);
  lines.push(
    `  time: ${Object.entries(r.seconds)
      .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
      .join(', ')}`,
  );
  return `${lines.join('\n')}\n`;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('retrieval metrics (nDCG@10, MRR@10, R@10, R@100, MAP@100) of BM25 or a model on a BEIR dataset')
    .requiredOption('--data <dir>', 'BEIR dataset directory (corpus.jsonl.gz, queries.jsonl.gz, qrels/<split>.tsv)')
    .option('--split <name>', 'qrels split to evaluate', 'test')
    .option('--bm25', 'rank with BM25')
    .option('--model <dir>', 'rank with this Hugging Face model directory (exact dense search)')
    .addOption(
      new Option(
        '--pooling <mode>',
        "pooling of the token vectors (default: the model directory's setting, else mean)",
      ).choices(['cls', 'mean']),
    )
    .option('--max-length <n>', 'truncate texts to n tokens', positiveIntOption)
    .option('--batch-size <n>', 'texts per forward pass', positiveIntOption, 32)
    .option('--device <name>', 'cpu | cpu-ref | webgpu', 'cpu')
    .addOption(new Option('--similarity <s>', 'cosine or dot product').choices(['cos', 'dot']).default('cos'))
    .option(
      '--depth <n>',
      'documents retrieved per query, at least 100 (R@100 and MAP@100 need 100)',
      intAtLeastOption(100),
      1000,
    )
    .option('--k1 <x>', 'BM25 k1', numberOption, 0.9)
    .option('--b <x>', 'BM25 b', numberOption, 0.4)
    .option('--no-stopwords', 'BM25: keep English stopwords')
    .option('--no-stem', 'BM25: no Porter stemming')
    .option('--run-out <file>', 'write the run as a TREC run file')
    .option('--metrics-out <file>', 'write per-query metrics as JSON')
    .option('--context-seed <n>', 'contextual models: seed of the context sampled from the corpus', integerOption, 0)
    .option('--json', 'print one JSON object instead of a table')
    .action(
      async (o: {
        data: string;
        split: string;
        bm25?: boolean;
        model?: string;
        pooling?: PoolingMode;
        maxLength?: number;
        batchSize: number;
        device: string;
        similarity: Similarity;
        depth: number;
        k1: number;
        b: number;
        stopwords: boolean;
        stem: boolean;
        runOut?: string;
        metricsOut?: string;
        json?: boolean;
        contextSeed: number;
      }) => {
        const report = await runEval({
          data: o.data,
          split: o.split,
          bm25: o.bm25 ?? false,
          model: o.model,
          pooling: o.pooling,
          maxLength: o.maxLength,
          batchSize: o.batchSize,
          device: o.device,
          similarity: o.similarity,
          depth: o.depth,
          k1: o.k1,
          b: o.b,
          stopwords: o.stopwords,
          stem: o.stem,
          runOut: o.runOut,
          metricsOut: o.metricsOut,
          contextSeed: o.contextSeed,
        });
        process.stdout.write(o.json ? `${reportJson(report)}\n` : formatReport(report));
      },
    );
}
