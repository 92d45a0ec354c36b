// CDE's Table 1 in miniature (Morris and Rush, arXiv 2410.02525): from one backbone, with the same
// steps, batch size and InfoNCE settings,
//   (a) biencoder, random batches             (b) biencoder, contextual batches + false-negative filter
//   (c) contextual architecture, random        (d) contextual architecture, contextual batches + filter
// evaluated on held-out package descriptions (in-domain) and the FAQs (out-of-domain), over several
// seeds (mean and sample standard deviation), with the median step time, the context size J and
// the cpu device's peak heap; and the paper's correlation of batch hardness with nDCG@10: variant
// (b) at three cluster sizes (and the random batches of (a)), drawn as a scatter with Pearson's r.
// (b) and (d) cluster with --cluster-size (default: the batch size, as `retrograd train`), one of
// the sweep's sizes (--cluster-sizes, default that size times 1, 4 and 16).
//
//   npx tsx examples/cde_table1.ts                                  # the full run (see the README)
//   npx tsx examples/cde_table1.ts --steps 5 --seeds 1 --eval-queries 50 --out runs/cde-smoke
//   flags: --out DIR (runs/cde-table1) --model DIR --data DIR --eval DIR:SPLIT,... --steps 100
//          --batch-size 32 --seeds 3 --eval-queries N --context-size 64 --chunk-size 32 --lr 1e-4
//          --temperature 0.02 --filter tfidf --order tsp --cluster-size B --cluster-sizes C,4C,16C --dims 128
//          --cache-dir DIR --docs
//
// Each cell (variant × seed, and each extra cluster size × seed) is its own run directory,
// DIR/cells/<name>/run, trained by `retrograd train`'s library calls (trainBiencoder, trainContextual)
// in a child process of its own (a fresh cpu heap, so its peak is the cell's). A cell whose
// run/metrics.json exists is reused; an unfinished one resumes from its checkpoint (Ctrl-C stops
// the current cell after saving one: rerun the same command). DIR/cells/<name>/cell.json records
// the cell's settings, the model's weight digest among them; a cell made with other settings (or
// from other weights behind the same --model path) is refused (use another --out).
// DIR/cells/<name>/stats.json: the cell's peak heaps and its CPU and wall seconds by phase.
// Outputs (written atomically): DIR/results.json (every cell and the aggregates), DIR/table.md,
// DIR/hardness-vs-ndcg.svg and .png; with --docs also docs/cde-table1.md and
// docs/figures/cde-hardness-vs-ndcg.png for the README. Progress goes to stderr.
// Batch hardness is the trainer's `batching` log line for epoch 0 (batching/plan.ts: mean top-1
// in-batch similarity to another example's positive under the TF-IDF + SVD clustering embedder);
// random batches are measured by the same line of a contextual cell with the same seed.

import { spawn } from 'node:child_process';
import { Option } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TopLevelSpec } from 'vega-lite';
import { getDevice, initDevice } from '../src/tensor/device.js';
import type { CpuBackend } from '../src/tensor/backends/cpu/index.js';
import { trainBiencoder, type EvalSet } from '../src/train/retrieval.js';
import { trainContextual } from '../src/train/contextual.js';
import { parseFilter, type BatchingSpec } from '../src/train/batching/plan.js';
import { defaultCacheDir } from '../src/train/batching/cache.js';
import {
  evalSetListOption,
  filterOption,
  intAtLeastOption,
  listOption,
  positiveIntOption,
  positiveNumberOption,
  scriptProgram,
} from '../src/cli/options.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { weightsDigest } from '../src/nn/model-dir.js';
import { pearson } from '../src/plot/stats.js';
import { pngFonts, renderSvg, svgToPng } from '../src/plot/render.js';

const ROOT = join(import.meta.dirname, '..');

/** A path as the docs show it: relative to the repository when inside it (the defaults are absolute). */
function shown(path: string): string {
  const r = relative(ROOT, path);
  return r !== '' && !r.startsWith('..') && !isAbsolute(r) ? r : path;
}

const SELF = fileURLToPath(import.meta.url);

/** Settings every cell shares. */
interface Shared {
  model: string;
  /** SHA-256 of the model's weights: a newer checkpoint under the same path needs another --out. */
  modelSha256: string;
  data: string;
  evalSets: EvalSet[];
  evalQueries: number | null;
  steps: number;
  batchSize: number;
  contextSize: number;
  chunkSize: number;
  lr: number;
  gamma: number;
  clip: number;
  weightDecay: number;
  temperature: number;
  queryLength: number;
  docLength: number;
  filter: string;
  order: 'random' | 'tsp';
  dims: number;
  /** Cluster size of (b) and (d). */
  clusterSize: number;
}

type Variant = 'a' | 'b' | 'c' | 'd';

interface CellSpec extends Omit<Shared, 'filter' | 'order' | 'dims' | 'contextSize' | 'chunkSize' | 'clusterSize'> {
  filter: string | null;
  order: 'random' | 'tsp' | null;
  dims: number | null;
  contextSize: number | null;
  chunkSize: number | null;
  name: string;
  variant: Variant;
  modelType: 'biencoder' | 'contextual';
  /** null: random batches. */
  clusterSize: number | null;
  seed: number;
}

const VARIANTS: Record<Variant, { label: string; modelType: CellSpec['modelType']; contextual: boolean }> = {
  a: { label: '(a) biencoder, random batches', modelType: 'biencoder', contextual: false },
  b: { label: '(b) biencoder, contextual batches + filter', modelType: 'biencoder', contextual: true },
  c: { label: '(c) contextual architecture, random batches', modelType: 'contextual', contextual: false },
  d: { label: '(d) contextual architecture and batches + filter', modelType: 'contextual', contextual: true },
};

// ---- one cell, in its own process ---------------------------------------------------------------

async function runCell(dir: string, cacheDir: string): Promise<void> {
  const spec = JSON.parse(readFileSync(join(dir, 'cell.json'), 'utf8')) as CellSpec;
  await initDevice('cpu');
  const heap = (getDevice('cpu') as CpuBackend).heap;
  // CPU seconds of this process (every thread) and wall seconds at: the end of step 1, the last step, the end.
  const clock = (): { cpu: number; wall: number } => {
    const u = process.cpuUsage();
    return { cpu: (u.user + u.system) / 1e6, wall: performance.now() / 1000 };
  };
  const start = clock();
  let trainPeak = 0;
  let firstStep = start;
  let lastStep = start;
  let steps = 0;
  const onLog = (e: Record<string, unknown>): void => {
    if (e.kind !== 'train') return;
    trainPeak = Math.max(trainPeak, heap.peakBytes());
    lastStep = clock();
    if (steps++ === 0) firstStep = lastStep;
  };
  const batching: BatchingSpec =
    spec.clusterSize === null
      ? { kind: 'random' }
      : {
          kind: 'contextual',
          clusterSize: spec.clusterSize,
          order: spec.order!,
          dims: spec.dims!,
          iterations: 100,
          restarts: 3,
          init: 'random',
        };
  const filter = spec.clusterSize === null ? { kind: 'none' as const } : parseFilter(spec.filter!, spec.dims!);
  const common = {
    model: spec.model,
    data: spec.data,
    out: join(dir, 'run'),
    batchSize: spec.batchSize,
    queryLength: spec.queryLength,
    docLength: spec.docLength,
    lr: spec.lr,
    gamma: spec.gamma,
    weightDecay: spec.weightDecay,
    clip: spec.clip,
    steps: spec.steps,
    seed: spec.seed,
    evalSets: spec.evalSets,
    evalQueries: spec.evalQueries ?? undefined,
    saveEvery: 50,
    device: 'cpu',
    batching,
    filter,
    cacheDir,
    onLog,
  };
  const result =
    spec.modelType === 'biencoder'
      ? await trainBiencoder({
          ...common,
          loss: { kind: 'infonce', scale: 1 / spec.temperature, ownNegatives: false },
          pooling: 'mean',
          evalEvery: 0,
          patience: 1,
          internalsEvery: 0,
        })
      : await trainContextual({
          ...common,
          config: { context_size: spec.contextSize! },
          temperature: spec.temperature,
          negatives: false,
          chunkSize: spec.chunkSize!,
          gradCache: true,
        });
  if (result.interrupted) {
    process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
    return;
  }
  const mib = (b: number): number => Math.round(b / 2 ** 20);
  const end = clock();
  const span = (from: { cpu: number; wall: number }, to: { cpu: number; wall: number }) => ({
    cpu: to.cpu - from.cpu,
    wall: to.wall - from.wall,
  });
  const stats: CellStats = {
    trainPeakHeapMiB: mib(trainPeak),
    peakHeapMiB: mib(heap.peakBytes()),
    steps,
    seconds: {
      toFirstStep: span(start, firstStep),
      laterSteps: span(firstStep, lastStep),
      evaluation: span(lastStep, end),
    },
  };
  writeFileAtomic(join(dir, 'stats.json'), `${JSON.stringify(stats)}\n`);
}

// ---- planning, running and reading the cells ----------------------------------------------------

/**
 * Every cell, seeds outermost. A cell records only the settings it depends on (random batches: no
 * filter, order or clustering dimension; a biencoder: no J or chunk size), so changing one of them
 * reuses the cells it does not touch.
 */
function planCells(s: Shared, seeds: number[], clusterSizes: number[]): CellSpec[] {
  const cell = (name: string, variant: Variant, clusterSize: number | null, seed: number): CellSpec => {
    const modelType = VARIANTS[variant].modelType;
    return {
      ...s,
      name,
      variant,
      modelType,
      clusterSize,
      seed,
      ...(clusterSize === null ? { filter: null, order: null, dims: null } : {}),
      ...(modelType === 'biencoder' ? { contextSize: null, chunkSize: null } : {}),
    };
  };
  const cells: CellSpec[] = [];
  for (const seed of seeds) {
    for (const v of ['a', 'b', 'c', 'd'] as const)
      cells.push(cell(`${v}-s${seed}`, v, VARIANTS[v].contextual ? s.clusterSize : null, seed));
    for (const c of clusterSizes) if (c !== s.clusterSize) cells.push(cell(`b-c${c}-s${seed}`, 'b', c, seed));
  }
  return cells;
}

const cellDir = (out: string, c: CellSpec): string => join(out, 'cells', c.name);

/** Refuse a cell directory made with other settings (naming the first that differs). */
function checkCell(dir: string, spec: CellSpec): void {
  const path = join(dir, 'cell.json');
  if (!existsSync(path)) return;
  const saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  for (const [key, value] of Object.entries(spec)) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(value)) {
      throw new Error(
        `${path}: the cell was made with ${key}=${JSON.stringify(saved[key])}, now ${JSON.stringify(value)}; use another --out`,
      );
    }
  }
}

/**
 * A cell process's peak heaps and its time (CPU seconds of all its threads, and wall seconds) until
 * the end of step 1 (loading, clustering, the filter's embedder, one step), over the later steps of
 * this process (a resumed cell: the steps since the resume), and in the final evaluation.
 */
interface CellStats {
  trainPeakHeapMiB: number;
  peakHeapMiB: number;
  steps: number;
  seconds: Record<'toFirstStep' | 'laterSteps' | 'evaluation', { cpu: number; wall: number }>;
}

/**
 * On Linux with autogroup scheduling, a process in a session of its own (a detached child) is
 * weighed against whole sessions at its autogroup's nice, 0 by default: give it this process's, so
 * that a study started under `nice` stays niced. No-op where /proc/PID/autogroup does not exist.
 */
function shareAutogroupNice(pid: number | undefined): void {
  try {
    const nice = /nice (-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'utf8'))?.[1];
    if (pid !== undefined && nice !== undefined) writeFileSync(`/proc/${pid}/autogroup`, nice);
  } catch {
    // not Linux, or no autogroups: priorities are the plain nice values
  }
}

/**
 * Run a cell in a child process of its own process group: Ctrl-C or SIGTERM reach this process
 * only, which passes them on once, so the trainer saves a checkpoint and exits 130 / 143.
 */
function runChild(dir: string, cacheDir: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--cell', dir, '--cache-dir', cacheDir], {
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    shareAutogroupNice(child.pid);
    const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const done = (): void => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    };
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('exit', (code, signal) => {
      done();
      resolve({ code, signal });
    });
  });
}

interface CellResult {
  spec: CellSpec;
  reused: boolean;
  metrics: Record<string, Record<string, number>>;
  medianStepMs: number | null;
  msPerStep: number;
  stats: CellStats | null;
  /** Epoch 0's batch hardness: contextual and random batches (contextual cells only). */
  hardness: { contextual: number; random: number } | null;
}

function readCell(dir: string, spec: CellSpec, reused: boolean): CellResult {
  const run = join(dir, 'run');
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')) as {
    final: { name: string; metrics: Record<string, number> }[];
    medianStepMs: number | null;
    msPerStep: number;
  };
  const log = readFileSync(join(run, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const batching = log.find((e) => e.kind === 'batching' && e.epoch === 0 && typeof e.contextual === 'number');
  const statsPath = join(dir, 'stats.json');
  return {
    spec,
    reused,
    metrics: Object.fromEntries(m.final.map((f) => [f.name, f.metrics])),
    medianStepMs: m.medianStepMs,
    msPerStep: m.msPerStep,
    stats: existsSync(statsPath) ? (JSON.parse(readFileSync(statsPath, 'utf8')) as CellStats) : null,
    hardness: batching ? { contextual: batching.contextual as number, random: batching.random as number } : null,
  };
}

// ---- aggregates, table and figure ---------------------------------------------------------------

interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); null for one value. */
  sd: number | null;
  min: number;
  max: number;
}

function summarize(xs: readonly number[]): Summary | null {
  if (xs.length === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : null;
  return { n: xs.length, mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

const fmt = (s: Summary | null, digits = 3): string =>
  s === null ? '—' : s.sd === null ? s.mean.toFixed(digits) : `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;

interface HardnessPoint {
  set: string;
  batches: string;
  clusterSize: number | null;
  seed: number;
  hardness: number;
  ndcg: number;
}

/** (b) at each cluster size, and (a) with the random hardness measured beside the same seed's (b). */
function hardnessPoints(cells: CellResult[], sets: string[]): HardnessPoint[] {
  const points: HardnessPoint[] = [];
  for (const c of cells) {
    if (c.spec.variant === 'b' && c.hardness) {
      for (const set of sets)
        points.push({
          set,
          batches: `contextual, cluster size ${c.spec.clusterSize}`,
          clusterSize: c.spec.clusterSize,
          seed: c.spec.seed,
          hardness: c.hardness.contextual,
          ndcg: c.metrics[set]['nDCG@10'],
        });
    }
    if (c.spec.variant === 'a') {
      const twin = cells.find((t) => t.spec.variant === 'b' && t.spec.seed === c.spec.seed && t.hardness);
      if (twin)
        for (const set of sets)
          points.push({
            set,
            batches: 'random',
            clusterSize: null,
            seed: c.spec.seed,
            hardness: twin.hardness!.random,
            ndcg: c.metrics[set]['nDCG@10'],
          });
    }
  }
  return points;
}

function figure(
  points: HardnessPoint[],
  sets: string[],
  correlations: Record<string, number | null>,
  caption: string,
): TopLevelSpec {
  const order = [...new Set(points.map((p) => p.batches))].sort((x, y) =>
    x === 'random' ? -1 : y === 'random' ? 1 : Number(y.split(' ').pop()) - Number(x.split(' ').pop()),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Batch hardness against nDCG@10 (biencoder, InfoNCE)',
      subtitle: [
        caption,
        `Pearson r: ${sets.map((s) => `${s} ${correlations[s] === null ? 'undefined' : correlations[s]!.toFixed(2)}`).join(', ')}`,
      ],
    },
    config: {
      background: 'white',
      font: 'DejaVu Sans, sans-serif',
      title: { anchor: 'start', fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555', offset: 12 },
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', grid: true, gridColor: '#e6e6e6' },
      legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
      header: { labelFontSize: 12, titleFontSize: 12 },
    },
    data: { values: points },
    facet: { column: { field: 'set', type: 'nominal', title: null, sort: sets } },
    spec: {
      width: 340,
      height: 260,
      mark: { type: 'point', filled: true, size: 70, opacity: 0.85 },
      encoding: {
        x: {
          field: 'hardness',
          type: 'quantitative',
          title: 'batch hardness (mean top-1 in-batch similarity)',
          scale: { zero: false },
          axis: { tickCount: 6 },
        },
        y: { field: 'ndcg', type: 'quantitative', title: 'nDCG@10', scale: { zero: false } },
        color: { field: 'batches', type: 'nominal', title: 'batches', sort: order, scale: { scheme: 'viridis' } },
        shape: { field: 'batches', type: 'nominal', sort: order },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

// ---- main ---------------------------------------------------------------------------------------

const DEFAULT_EVAL_SETS: EvalSet[] = [
  { name: 'pkgdesc-test', dir: join(ROOT, 'data', 'pkgdesc-test'), split: 'test' },
  { name: 'faq', dir: join(ROOT, 'data', 'faq'), split: 'test' },
];

async function main(): Promise<void> {
  const a = scriptProgram(
    'cde_table1',
    "CDE's Table 1 in miniature: four variants over seeds, and batch hardness against nDCG@10",
  )
    .addOption(new Option('--cell <dir>', 'internal: train one cell in this process').hideHelp())
    .option('--out <dir>', 'study folder', join(ROOT, 'runs', 'cde-table1'))
    .option('--model <dir>', 'the backbone (model directory)', join(ROOT, 'models', 'bert-mini-retrograd'))
    .option(
      '--data <dir>',
      'training data (BEIR layout with triples/train.jsonl.gz)',
      join(ROOT, 'data', 'pkgdesc-train'),
    )
    .addOption(
      new Option('--eval <sets>', 'evaluation sets DIR:SPLIT,...')
        .argParser(evalSetListOption)
        .default(DEFAULT_EVAL_SETS, 'data/pkgdesc-test:test,data/faq:test'),
    )
    .option('--steps <n>', 'training steps per cell', positiveIntOption, 100)
    .option('--batch-size <n>', 'examples per step', intAtLeastOption(2), 32)
    .option('--seeds <n>', 'seeds per variant (0 .. n-1)', positiveIntOption, 3)
    .option('--eval-queries <n>', 'evaluation queries per set (seeded subsample; default: all)', positiveIntOption)
    .option('--context-size <n>', 'context size J of the contextual architecture', positiveIntOption, 64)
    .option('--chunk-size <n>', 'gradient-caching chunk of the contextual architecture', positiveIntOption, 32)
    .option('--lr <x>', 'learning rate', positiveNumberOption, 1e-4)
    .option('--temperature <x>', 'InfoNCE temperature', positiveNumberOption, 0.02)
    .option('--filter <f>', 'false-negative filter of (b) and (d): none, tfidf or model:DIR', filterOption, 'tfidf')
    .addOption(
      new Option('--order <order>', 'order of the clusters in contextual batches')
        .choices(['random', 'tsp'])
        .default('tsp'),
    )
    .option('--cluster-size <n>', 'cluster size of (b) and (d) (default: the batch size)', positiveIntOption)
    .option(
      '--cluster-sizes <list>',
      "the hardness sweep's cluster sizes (default: the cluster size times 1, 4 and 16)",
      listOption(positiveIntOption),
    )
    .option('--dims <n>', 'TF-IDF + SVD dimension of the clustering', positiveIntOption, 128)
    .option('--cache-dir <dir>', 'cache of the clustering and TF-IDF stages', defaultCacheDir())
    .option('--docs', 'also write docs/cde-table1.md and its figure', false)
    .parse()
    .opts<{
      cell?: string;
      out: string;
      model: string;
      data: string;
      eval: EvalSet[];
      steps: number;
      batchSize: number;
      seeds: number;
      evalQueries?: number;
      contextSize: number;
      chunkSize: number;
      lr: number;
      temperature: number;
      filter: string;
      order: 'random' | 'tsp';
      clusterSize?: number;
      clusterSizes?: number[];
      dims: number;
      cacheDir: string;
      docs: boolean;
    }>();
  if (a.cell !== undefined) return runCell(a.cell, a.cacheDir);

  const batchSize = a.batchSize;
  const seedCount = a.seeds;
  const clusterSize = a.clusterSize ?? batchSize;
  const clusterSizes = a.clusterSizes ?? [clusterSize, 4 * clusterSize, 16 * clusterSize];
  if (!clusterSizes.includes(clusterSize)) clusterSizes.push(clusterSize);
  const evalSets = a.eval;
  for (const [what, path] of [['--model', a.model], ['--data', a.data], ...evalSets.map((s) => ['--eval', s.dir])]) {
    if (!existsSync(path)) throw new Error(`${what} ${path}: no such directory`);
  }
  const shared: Shared = {
    model: a.model,
    modelSha256: weightsDigest(a.model),
    data: a.data,
    evalSets,
    evalQueries: a.evalQueries ?? null,
    steps: a.steps,
    batchSize,
    contextSize: a.contextSize,
    chunkSize: a.chunkSize,
    lr: a.lr,
    gamma: 0.99999,
    clip: 0,
    weightDecay: 1e-6,
    temperature: a.temperature,
    queryLength: 32,
    docLength: 128,
    filter: a.filter,
    order: a.order,
    dims: a.dims,
    clusterSize,
  };
  const seeds = Array.from({ length: seedCount }, (_, i) => i);
  const cells = planCells(shared, seeds, clusterSizes);
  const out = a.out;
  for (const c of cells) checkCell(cellDir(out, c), c); // every refusal before any work

  const results: CellResult[] = [];
  const t0 = performance.now();
  for (const [i, c] of cells.entries()) {
    const dir = cellDir(out, c);
    const what = `${VARIANTS[c.variant].label}${c.clusterSize !== null ? `, cluster size ${c.clusterSize}` : ''}, seed ${c.seed}`;
    if (existsSync(join(dir, 'run', 'metrics.json'))) {
      results.push(readCell(dir, c, true));
      process.stderr.write(`cde_table1: cell ${i + 1}/${cells.length} ${c.name} (${what}): finished earlier, reused\n`);
      continue;
    }
    process.stderr.write(
      `cde_table1: cell ${i + 1}/${cells.length} ${c.name} (${what}): training${existsSync(join(dir, 'run')) ? ' (resuming)' : ''}\n`,
    );
    writeFileAtomic(join(dir, 'cell.json'), `${JSON.stringify(c, null, 2)}\n`);
    const started = performance.now();
    const { code, signal } = await runChild(dir, a.cacheDir);
    // 130 / 143: the trainer saw Ctrl-C / SIGTERM and saved a checkpoint; killed by a signal: its last checkpoint stands.
    if (code === 130 || code === 143)
      throw new Error(`cell ${c.name} interrupted (its checkpoint is saved); rerun the same command to resume`);
    if (code !== 0)
      throw new Error(
        `cell ${c.name} failed (${signal ? `killed by ${signal}` : `exit code ${code}`}); rerun the same command to resume it`,
      );
    const r = readCell(dir, c, false);
    results.push(r);
    const first = evalSets[0].name;
    process.stderr.write(
      `cde_table1: cell ${i + 1}/${cells.length} ${c.name} done in ${((performance.now() - started) / 1000).toFixed(0)} s ` +
        `(${first} nDCG@10 ${r.metrics[first]['nDCG@10'].toFixed(3)}; ${((performance.now() - t0) / 60000).toFixed(1)} min since start)\n`,
    );
  }

  // Aggregates per variant (the main table) and the hardness sweep.
  const setNames = evalSets.map((s) => s.name);
  const main = results.filter((r) => r.spec.clusterSize === null || r.spec.clusterSize === clusterSize);
  const rows = (['a', 'b', 'c', 'd'] as const).map((v) => {
    const rs = main.filter((r) => r.spec.variant === v);
    const hardness = rs
      .map((r) =>
        VARIANTS[v].contextual
          ? r.hardness?.contextual
          : main.find((t) => t.spec.seed === r.spec.seed && VARIANTS[t.spec.variant].contextual && t.hardness)?.hardness
              ?.random,
      )
      .filter((x): x is number => x !== undefined);
    return {
      variant: v,
      label: VARIANTS[v].label,
      seeds: rs.map((r) => r.spec.seed),
      metrics: Object.fromEntries(
        setNames.map((s) => [
          s,
          {
            'nDCG@10': summarize(rs.map((r) => r.metrics[s]['nDCG@10'])),
            'MRR@10': summarize(rs.map((r) => r.metrics[s]['MRR@10'])),
          },
        ]),
      ),
      hardness: summarize(hardness),
      secondsPerStep: summarize(rs.map((r) => (r.medianStepMs ?? r.msPerStep) / 1000)),
      medianOfWarmOnly: rs.every((r) => r.medianStepMs !== null),
      peakHeapMiB: rs.some((r) => r.stats)
        ? Math.max(...rs.flatMap((r) => (r.stats ? [r.stats.peakHeapMiB] : [])))
        : null,
    };
  });
  const points = hardnessPoints(results, setNames);
  const correlations = Object.fromEntries(
    setNames.map((s) => {
      const ps = points.filter((p) => p.set === s);
      return [
        s,
        pearson(
          ps.map((p) => p.hardness),
          ps.map((p) => p.ndcg),
        ),
      ];
    }),
  );
  const sweep = [null, ...[...clusterSizes].sort((x, y) => y - x)].map((c) => {
    const ps = points.filter((p) => p.clusterSize === c);
    return {
      clusterSize: c,
      hardness: summarize([...new Map(ps.map((p) => [p.seed, p.hardness])).values()]),
      ndcg: Object.fromEntries(setNames.map((s) => [s, summarize(ps.filter((p) => p.set === s).map((p) => p.ndcg))])),
    };
  });

  const command = `npx tsx examples/cde_table1.ts ${process.argv.slice(2).join(' ')}`.trim();
  const settings =
    `${shared.steps} steps × ${batchSize} triples, InfoNCE τ ${shared.temperature}, AdamW lr ${shared.lr} (decay ${shared.gamma}/step, no clipping), ` +
    `query/document ${shared.queryLength}/${shared.docLength} tokens, J = ${shared.contextSize} (evaluation: J corpus documents; training: the batch's ` +
    `${batchSize} documents, down to J; gradient caching, chunks of ${shared.chunkSize}), ` +
    `(b) and (d): clusters of ${clusterSize}, filter ${shared.filter}, ${shared.order} cluster order, seeds ${seeds.join(', ')}${shared.evalQueries ? `, ${shared.evalQueries} evaluation queries per set` : ''}`;
  const head = [
    'variant',
    ...setNames.flatMap((s) => [`${s} nDCG@10`, `${s} MRR@10`]),
    'batch hardness',
    's/step',
    'peak heap',
  ];
  const md = [
    `Backbone ${shown(shared.model)}, training data ${shown(shared.data)}; ${settings}. Mean ± sample standard deviation over ${seeds.length} seed${seeds.length === 1 ? '' : 's'}; ` +
      `s/step: median step time${rows.every((r) => r.medianOfWarmOnly) ? ' without the first 3 (warm-up) steps' : ' (mean where a run had no step past warm-up)'}; peak heap: the cpu device's, highest over the variant's runs (clustering, training and evaluation).`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map(
      (r) =>
        `| ${r.label} | ${setNames.flatMap((s) => [fmt(r.metrics[s]['nDCG@10']), fmt(r.metrics[s]['MRR@10'])]).join(' | ')} | ${fmt(r.hardness)} | ${fmt(r.secondsPerStep, 2)} | ${r.peakHeapMiB === null ? '—' : `${r.peakHeapMiB} MiB`} |`,
    ),
    '',
    `Batch hardness against nDCG@10, variant (b) by cluster size (random: the batches of (a)); Pearson r over every (cell, seed) point: ${setNames.map((s) => `${s} ${correlations[s] === null ? 'undefined' : correlations[s]!.toFixed(2)}`).join(', ')}.`,
    '',
    `| batches | hardness | ${setNames.map((s) => `${s} nDCG@10`).join(' | ')} |`,
    `|---|---|${setNames.map(() => '---').join('|')}|`,
    ...sweep.map(
      (w) =>
        `| ${w.clusterSize === null ? 'random' : `cluster size ${w.clusterSize}`} | ${fmt(w.hardness)} | ${setNames.map((s) => fmt(w.ndcg[s])).join(' | ')} |`,
    ),
    '',
    `Made by \`${command}\`.`,
    '',
  ].join('\n');

  const outputs: { path: string; data: string | Uint8Array }[] = [
    {
      path: join(out, 'results.json'),
      data: `${JSON.stringify({ command, settings: { ...shared, seeds, clusterSizes }, rows, hardness: { points, correlations, sweep }, cells: results }, null, 2)}\n`,
    },
    { path: join(out, 'table.md'), data: md },
  ];
  if (points.length > 0) {
    const svg = await renderSvg(
      figure(
        points,
        setNames,
        correlations,
        `${shared.steps} steps × ${batchSize}, seeds ${seeds.join(', ')}; filter ${shared.filter}`,
      ),
      'hardness-vs-ndcg',
    );
    const png = svgToPng(svg, { fontFiles: pngFonts() });
    outputs.push(
      { path: join(out, 'hardness-vs-ndcg.svg'), data: svg },
      { path: join(out, 'hardness-vs-ndcg.png'), data: png },
    );
    if (a.docs) outputs.push({ path: join(ROOT, 'docs', 'figures', 'cde-hardness-vs-ndcg.png'), data: png });
  }
  if (a.docs)
    outputs.push({ path: join(ROOT, 'docs', 'cde-table1.md'), data: `# CDE's Table 1 in miniature\n\n${md}` });
  for (const { path, data } of outputs) writeFileAtomic(path, data);
  process.stdout.write(`${md}\nwritten: ${outputs.map((o) => o.path).join(', ')}\n`);
}

try {
  await main();
} catch (err) {
  console.error(`cde_table1: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
