// `retrograd cluster`: CDE contextual batches for a BEIR split (src/train/batching), written as
// JSONL, with a JSON summary that compares their in-batch negative hardness with random batches.
//
//   retrograd cluster --data DIR [--split train] --batch-size B --cluster-size C
//                     [--order random|tsp] [--dims 128] [--seed 0] [--out FILE]
//                     [--iterations 100] [--restarts 3] [--init random|kmeans++] [--keep-last]
//
// Examples: the lines of DIR/triples/<split>.jsonl.gz (or .jsonl) when that file exists (the unit
// the trainers read), else every judged (query, document) pair of qrels/<split>.tsv in file order. Each example is
// embedded as (query text, positive document text) — docText: title + " " + text when the title is
// non-empty.
//
// Output (--out; gzip when it ends in ".gz"; written atomically; without --out only the summary is
// printed), one line per batch in training order:
//   {"batch": n, "clusters": [cluster ids, layout order], "qids": [...], "pos": [...],
//    "triples": [0-based line indices into the triples file]}      ("triples" only for triples input)
// The last partial batch is dropped unless --keep-last; the summary counts the dropped examples.
// Hardness (cde.md): mean over queries of the top-1 in-batch similarity to another example's positive
// (a different document), with the fixed clustering embedder; the random batches use the same batch
// size, seed and drop rule. `false_negatives` is the fraction of in-batch (query, other document)
// cells the filter would drop with that embedder as the surrogate scorer. Same data + options ->
// byte-identical output.

import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Option, type Command } from 'commander';
import { docText, loadBeir, readTriples, writeJsonlAtomic } from '../data/beir.js';
import { contextualBatches, type ContextualBatching } from '../train/batching/index.js';
import { batchHardness } from '../train/batching/filter.js';
import { randomBatches } from '../train/batching/pack.js';
import type { ClusterOrder } from '../train/batching/order.js';
import type { KMeansInit } from '../train/batching/kmeans.js';
import { integerOption, positiveIntOption } from './options.js';
import { startProgress } from './progress.js';

export interface ClusterCliOptions {
  data: string;
  split?: string;
  batchSize: number;
  clusterSize: number;
  order?: ClusterOrder;
  dims?: number;
  seed?: number;
  out?: string;
  iterations?: number;
  restarts?: number;
  init?: KMeansInit;
  keepLast?: boolean;
  /** Progress on stderr: a bar on a terminal, else a line every few seconds (default true). */
  progress?: boolean;
}

export interface ClusterSummary {
  data: string;
  split: string;
  source: 'triples' | 'qrels';
  examples: number;
  out: string | null;
  order: ClusterOrder;
  seed: number;
  dims: number;
  embedder: { texts: number; terms: number };
  clusters: {
    k: number;
    non_empty: number;
    min_size: number;
    max_size: number;
    mean_size: number;
    objective: number;
    restart: number;
    iterations: number[];
  };
  batches: number;
  batch_size: number;
  dropped: number;
  hardness: { contextual: number; random: number };
  false_negatives: { contextual: number; random: number };
  seconds: {
    load: number;
    embed: number;
    cluster: number;
    order: number;
    pack: number;
    hardness: number;
    total: number;
  };
}

interface Example {
  qid: string;
  pos: string;
}

const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function loadExamples(
  dir: string,
  split: string,
): Promise<{
  examples: Example[];
  source: 'triples' | 'qrels';
  queries: Map<string, string>;
  docs: Map<string, string>;
}> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`--data ${dir}: no such directory`);
  const data = await loadBeir(dir, split);
  const triplesPath = [`${split}.jsonl.gz`, `${split}.jsonl`]
    .map((name) => join(dir, 'triples', name))
    .find((p) => existsSync(p));
  let examples: Example[];
  let source: 'triples' | 'qrels';
  if (triplesPath !== undefined) {
    source = 'triples';
    const name = `triples/${basename(triplesPath)}`;
    examples = (await readTriples(triplesPath)).map((t, i) => {
      if (!data.queries.has(t.qid))
        throw new Error(`${name} entry ${i + 1}: qid "${t.qid}" is not a query of split "${split}"`);
      if (!data.corpus.has(t.pos)) throw new Error(`${name} entry ${i + 1}: pos "${t.pos}" is not in the corpus`);
      return { qid: t.qid, pos: t.pos };
    });
  } else {
    source = 'qrels';
    examples = [];
    for (const [qid, judged] of data.qrels)
      for (const [docid, score] of judged) if (score >= 1) examples.push({ qid, pos: docid });
  }
  if (examples.length === 0)
    throw new Error(`${dir}: split "${split}" has no examples (no triples and no judged pair with score >= 1)`);
  const docs = new Map<string, string>();
  for (const e of examples) if (!docs.has(e.pos)) docs.set(e.pos, docText(data.corpus.get(e.pos)!));
  return { examples, source, queries: data.queries, docs };
}

export async function runCluster(opts: ClusterCliOptions): Promise<ClusterSummary> {
  const start = performance.now();
  const split = opts.split ?? 'train';
  const order = opts.order ?? 'random';
  const seed = opts.seed ?? 0;
  const dims = opts.dims ?? 128;
  const dropLast = !(opts.keepLast ?? false);
  const { examples, source, queries, docs } = await loadExamples(opts.data, split);
  if (dropLast && opts.batchSize > examples.length) {
    throw new Error(
      `--batch-size ${opts.batchSize} exceeds the ${examples.length} examples of split "${split}": no full batch (use a smaller batch size or --keep-last)`,
    );
  }
  const load = (performance.now() - start) / 1000;

  // Stages: load, embed, cluster, order, pack, hardness.
  const bar = startProgress({ label: 'cluster', total: 6, unit: 'stage', eta: false, enabled: opts.progress });
  let stages = 0;
  const stageDone = (stage: string, sec: number): void =>
    bar.update(++stages, { done: `${stage} (${sec.toFixed(1)}s)` });
  stageDone('load', load);
  let ctx: ContextualBatching;
  let contextual: ReturnType<typeof batchHardness>;
  let random: ReturnType<typeof batchHardness>;
  let hardness: number;
  try {
    const pairs = examples.map((e) => ({ query: queries.get(e.qid)!, doc: docs.get(e.pos)! }));
    ctx = contextualBatches(pairs, {
      batchSize: opts.batchSize,
      clusterSize: opts.clusterSize,
      order,
      dims,
      seed,
      iterations: opts.iterations,
      restarts: opts.restarts,
      init: opts.init,
      dropLast,
      onStage: stageDone,
    });

    const hardnessStart = performance.now();
    const docIds = examples.map((e) => e.pos);
    contextual = batchHardness(
      ctx.packing.batches.map((b) => b.examples),
      ctx.embeddings,
      { docIds },
    );
    random = batchHardness(
      randomBatches(examples.length, { batchSize: opts.batchSize, seed, dropLast }).batches.map((b) => b.examples),
      ctx.embeddings,
      { docIds },
    );
    hardness = (performance.now() - hardnessStart) / 1000;
    stageDone('hardness', hardness);
  } finally {
    bar.finish();
  }

  if (opts.out !== undefined) {
    const rows = ctx.packing.batches.map((b, n) => ({
      batch: n,
      clusters: b.clusters,
      qids: b.examples.map((e) => examples[e].qid),
      pos: b.examples.map((e) => examples[e].pos),
      ...(source === 'triples' ? { triples: b.examples } : {}),
    }));
    await writeJsonlAtomic(opts.out, rows);
  }

  const sizes = ctx.clusters.map((c) => c.members.length);
  return {
    data: opts.data,
    split,
    source,
    examples: examples.length,
    out: opts.out ?? null,
    order,
    seed,
    dims,
    embedder: { texts: ctx.embeddings.texts, terms: ctx.embeddings.terms },
    clusters: {
      k: ctx.clustering.k,
      non_empty: sizes.length,
      min_size: Math.min(...sizes),
      max_size: Math.max(...sizes),
      mean_size: round(examples.length / sizes.length, 2),
      objective: round(ctx.clustering.objective / (2 * examples.length)),
      restart: ctx.clustering.restart,
      iterations: ctx.clustering.iterationsRun,
    },
    batches: ctx.packing.batches.length,
    batch_size: opts.batchSize,
    dropped: ctx.packing.dropped.length,
    hardness: { contextual: round(contextual.mean), random: round(random.mean) },
    false_negatives: { contextual: round(contextual.filteredFraction), random: round(random.filteredFraction) },
    seconds: {
      load: round(load, 3),
      ...ctx.seconds,
      hardness: round(hardness, 3),
      total: round((performance.now() - start) / 1000, 3),
    },
  };
}

export function registerCluster(program: Command): void {
  program
    .command('cluster')
    .description(
      'CDE contextual batches for a BEIR split: TF-IDF+SVD embedding, paired spherical k-means, cluster order, packing; JSON summary with batch hardness vs random batches',
    )
    .requiredOption('--data <dir>', 'BEIR dataset directory')
    .option('--split <name>', 'split whose triples (or qrels pairs) are batched', 'train')
    .requiredOption('--batch-size <n>', 'examples per batch', positiveIntOption)
    .requiredOption('--cluster-size <n>', 'target examples per cluster: k = ceil(N / n)', positiveIntOption)
    .addOption(
      new Option('--order <order>', 'cluster order before packing').choices(['random', 'tsp']).default('random'),
    )
    .option('--dims <n>', 'embedding dimension (TF-IDF reduced by truncated SVD)', positiveIntOption, 128)
    .option('--seed <s>', 'seed of every random step', integerOption, 0)
    .option('--out <file>', 'write the batches as JSONL (gzip when it ends in .gz)')
    .option('--iterations <n>', 'k-means iterations per restart', positiveIntOption, 100)
    .option('--restarts <n>', 'k-means restarts (best objective kept)', positiveIntOption, 3)
    .addOption(new Option('--init <init>', 'k-means initialisation').choices(['random', 'kmeans++']).default('random'))
    .option('--keep-last', 'keep the last partial batch instead of dropping it')
    .action(
      async (o: {
        data: string;
        split: string;
        batchSize: number;
        clusterSize: number;
        order: ClusterOrder;
        dims: number;
        seed: number;
        out?: string;
        iterations: number;
        restarts: number;
        init: KMeansInit;
        keepLast?: boolean;
      }) => {
        const summary = await runCluster({
          data: o.data,
          split: o.split,
          batchSize: o.batchSize,
          clusterSize: o.clusterSize,
          order: o.order,
          dims: o.dims,
          seed: o.seed,
          out: o.out,
          iterations: o.iterations,
          restarts: o.restarts,
          init: o.init,
          keepLast: o.keepLast,
        });
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      },
    );
}
