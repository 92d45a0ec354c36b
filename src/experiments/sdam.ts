// The SDAM experiments of issue 14 (the paper's claims in miniature, arXiv 2407.21515) as cells of
// `retrograd train` runs (src/train/retrieval.ts, called as a library), planned from one budget:
//
// E1 same encoder, data and budget: SDAM adaptive (per triple), Margin-MSE with the cross-encoder
//    teacher (online, so s/step includes its forward pass) and with BM25, InfoNCE: the main rows, on
//    `seeds` seeds, full evaluation, validation every `evalEvery` steps (early stopping, E3's
//    curve). Sweep rows, one seed, evaluation on a seeded `evalQueries` subsample: SDAM in-batch
//    rowwise and as-released, static margins, distributed. Plus the untuned model and BM25.
// E2 data efficiency: SDAM adaptive on fractions of the triples (of the first `e2Pool` of the
//    seeded order, default all; at most one epoch, capped at `e2Steps` steps) against Margin-MSE
//    with the teacher on the whole pool.
// E3 time to quality: from E1's main runs, the training wall-clock (the sum of the logged step
//    times, teacher included, validation excluded) until validation nDCG@10 first reaches 95% of the
//    run's best; resolution: one validation every `evalEvery` steps.
// E4 loss internals: hardness s(d+,d-) against per-triple gradient norm for SDAM with and without a
//    detached target, Margin-MSE and InfoNCE (E1's seed-0 runs plus one detached-target run), one
//    figure with a panel per loss, and the pooled Pearson r per training phase.
//
// Every cell is a run directory `<out>/cells/<id>` holding metrics.json when finished, with its
// settings in `<out>/cells/<id>.json`; a finished cell is read back, an unfinished one resumes from
// its checkpoint (trainBiencoder's resume), so a rerun of the same command continues; a cell made
// with other settings (say, another --model, or other weights behind the same path) is refused, not
// reused. Margin-MSE puts the teacher on the student's scale with `--teacher-scale auto`
// (src/train/teachers.ts). Results: results.json, report.md (tables, each with the command that
// made it), figures/ (SVG + PNG).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { docText } from '../data/beir.js';
import { Bm25Index } from '../eval/bm25.js';
import { evaluate } from '../eval/metrics.js';
import { runFromLists } from '../eval/run.js';
import { Biencoder } from '../nn/biencoder.js';
import { weightsDigest } from '../nn/model-dir.js';
import { buildCharts } from '../plot/charts.js';
import { readRun, type BiencoderRun } from '../plot/runlog.js';
import { pearson, phases } from '../plot/stats.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  evaluateBiencoder,
  loadEvalSet,
  trainBiencoder,
  type EvalSet,
  type LossSpec,
  type SetMetrics,
} from '../train/retrieval.js';
import { bm25Teacher, crossEncoderTeacher, type Teacher } from '../train/teachers.js';

export type Experiment = 'E1' | 'E2' | 'E3' | 'E4';
export const EXPERIMENTS: readonly Experiment[] = ['E1', 'E2', 'E3', 'E4'];

/** A loss as data (the teacher is built when the cell runs). */
export type LossRecipe =
  | {
      kind: 'sdam';
      target: 'adaptive' | 'distributed' | number;
      inBatch?: boolean;
      marginMode?: 'rowwise' | 'as-released';
      detachTarget?: boolean;
    }
  | { kind: 'margin-mse'; teacher: 'cross-encoder' | 'bm25' }
  | { kind: 'infonce'; temperature: number };

export interface Budget {
  /** Starting encoder (Hugging Face directory). */
  model: string;
  /** Training BEIR directory with triples/train.jsonl.gz. */
  data: string;
  /** Final evaluation sets (default pkgdesc-test and faq). */
  evalSets: EvalSet[];
  /** Validation set of E1's main rows (E3). */
  validation: EvalSet;
  /** Cross-encoder teacher directory; without it the cross-encoder rows are left out. */
  teacherModel?: string;
  teacherMaxLength: number;
  steps: number;
  batchSize: number;
  seeds: number;
  /** Seeded query subsample of the sweep rows' evaluation (main rows: every query). */
  evalQueries: number;
  evalEvery: number;
  internalsEvery: number;
  lr: number;
  queryLength: number;
  docLength: number;
  /** SDAM static margins of the sweep. */
  staticMargins: number[];
  /** E2 fractions of the pool, in percent. */
  fractions: number[];
  /** E2: triples of the seeded order the fractions are taken of (default all). */
  e2Pool?: number;
  /** E2: at most this many steps per run (default: one epoch of its triples). */
  e2Steps?: number;
  device: string;
}

export interface Cell {
  /** Directory name under <out>/cells. */
  id: string;
  experiment: 'E1' | 'E2' | 'E4';
  /** Row label in the tables. */
  row: string;
  /** E1 main rows (several seeds, full evaluation, validation). */
  main: boolean;
  seed: number;
  recipe: LossRecipe;
  steps: number;
  maxTriples?: number;
  validation: boolean;
  /** undefined: every query. */
  evalQueries?: number;
  /** E2: percent of the pool. */
  fraction?: number;
}

const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-|-$/g, '');

/** E1's main rows: the losses compared on every seed (the cross-encoder row needs a teacher). */
function mainRows(b: Budget): { row: string; recipe: LossRecipe }[] {
  return [
    { row: 'SDAM adaptive', recipe: { kind: 'sdam', target: 'adaptive' } },
    ...(b.teacherModel
      ? [{ row: 'Margin-MSE, cross-encoder', recipe: { kind: 'margin-mse', teacher: 'cross-encoder' } as LossRecipe }]
      : []),
    { row: 'Margin-MSE, BM25', recipe: { kind: 'margin-mse', teacher: 'bm25' } },
    { row: 'InfoNCE', recipe: { kind: 'infonce', temperature: 0.05 } },
  ];
}

/** The Margin-MSE row of the best teacher there is: the cross-encoder when given, else BM25 (E2 and E4 show one). */
function teacherRow(b: Budget): { row: string; recipe: LossRecipe } {
  return b.teacherModel
    ? { row: 'Margin-MSE, cross-encoder', recipe: { kind: 'margin-mse', teacher: 'cross-encoder' } }
    : { row: 'Margin-MSE, BM25', recipe: { kind: 'margin-mse', teacher: 'bm25' } };
}

/** The cells the selected experiments need, each once (E3 and E4 reuse E1's main runs). */
export function planCells(b: Budget, only: ReadonlySet<Experiment>, totalTriples: number): Cell[] {
  const cells: Cell[] = [];
  const main = (row: string, recipe: LossRecipe, seeds: number): void => {
    for (let seed = 0; seed < seeds; seed++) {
      cells.push({
        id: `e1-${slug(row)}-s${seed}`,
        experiment: 'E1',
        row,
        main: true,
        seed,
        recipe,
        steps: b.steps,
        validation: true,
      });
    }
  };
  // E4 alone runs seed 0 of the rows it shows; the ids are E1's, so E1 reuses them later.
  const e4Teacher = teacherRow(b).row;
  if (only.has('E1') || only.has('E3')) for (const r of mainRows(b)) main(r.row, r.recipe, b.seeds);
  else if (only.has('E4'))
    for (const r of mainRows(b)) if (r.recipe.kind !== 'margin-mse' || r.row === e4Teacher) main(r.row, r.recipe, 1);
  if (only.has('E1')) {
    const sweep: { row: string; recipe: LossRecipe }[] = [
      {
        row: 'SDAM adaptive, in-batch rowwise',
        recipe: { kind: 'sdam', target: 'adaptive', inBatch: true, marginMode: 'rowwise' },
      },
      {
        row: 'SDAM adaptive, in-batch as-released',
        recipe: { kind: 'sdam', target: 'adaptive', inBatch: true, marginMode: 'as-released' },
      },
      ...b.staticMargins.map((c) => ({ row: `SDAM static ${c}`, recipe: { kind: 'sdam', target: c } as LossRecipe })),
      { row: 'SDAM distributed', recipe: { kind: 'sdam', target: 'distributed' } },
    ];
    for (const r of sweep)
      cells.push({
        id: `e1-${slug(r.row)}-s0`,
        experiment: 'E1',
        row: r.row,
        main: false,
        seed: 0,
        recipe: r.recipe,
        steps: b.steps,
        validation: false,
        evalQueries: b.evalQueries,
      });
  }
  if (only.has('E4')) {
    cells.push({
      id: 'e4-sdam-adaptive-detached-s0',
      experiment: 'E4',
      row: E4_DETACHED,
      main: false,
      seed: 0,
      recipe: { kind: 'sdam', target: 'adaptive', detachTarget: true },
      steps: b.steps,
      validation: true,
    });
  }
  if (only.has('E2')) {
    const pool = Math.min(b.e2Pool ?? totalTriples, totalTriples);
    const e2 = (row: string, recipe: LossRecipe, fraction: number): void => {
      // at least one batch; at most one epoch of the subset (and e2Steps)
      const triples = Math.max(b.batchSize, Math.round((fraction / 100) * pool));
      const steps = Math.min(Math.floor(triples / b.batchSize), b.e2Steps ?? Infinity);
      cells.push({
        id: `e2-${slug(row)}-${fraction}pct-s0`,
        experiment: 'E2',
        row,
        main: false,
        seed: 0,
        recipe,
        steps,
        maxTriples: triples,
        validation: false,
        evalQueries: b.evalQueries,
        fraction,
      });
    };
    for (const f of b.fractions) e2('SDAM adaptive', { kind: 'sdam', target: 'adaptive' }, f);
    const { row, recipe } = teacherRow(b);
    e2(row, recipe, 100);
  }
  return cells;
}

export const E4_DETACHED = 'SDAM adaptive, detached target';

/** E4's panels: SDAM adaptive with and without a detached target, the teacher's Margin-MSE, InfoNCE (seed 0). */
export function e4Cells(cells: readonly Cell[], b: Budget): Cell[] {
  const want = ['SDAM adaptive', E4_DETACHED, teacherRow(b).row, 'InfoNCE'];
  return want
    .map((row) => cells.find((c) => c.row === row && c.seed === 0 && c.experiment !== 'E2'))
    .filter((c): c is Cell => c !== undefined);
}

export interface CellResult {
  cell: Cell;
  dir: string;
  metrics: {
    steps: number;
    triplesSeen: number;
    epochs: number;
    trainTriples: number;
    medianStepMs: number | null;
    msPerStep: number;
    final: SetMetrics[];
    teacherScale?: { scale: number };
  };
}

/** Teachers are loaded once per process and shared by the cells. */
export class TeacherCache {
  private readonly teachers = new Map<string, Promise<Teacher>>();
  constructor(private readonly b: Budget) {}
  get(kind: 'cross-encoder' | 'bm25'): Promise<Teacher> {
    let t = this.teachers.get(kind);
    if (!t) {
      if (kind === 'bm25') t = bm25Teacher(this.b.data);
      else {
        if (!this.b.teacherModel) throw new Error('a cross-encoder cell needs --teacher-model DIR');
        t = crossEncoderTeacher(this.b.teacherModel, this.b.data, {
          device: this.b.device,
          maxLength: this.b.teacherMaxLength,
        });
      }
      this.teachers.set(kind, t);
    }
    return t;
  }
}

async function lossSpec(r: LossRecipe, teachers: TeacherCache): Promise<LossSpec> {
  switch (r.kind) {
    case 'sdam':
      return {
        kind: 'sdam',
        options: {
          target: r.target,
          inBatch: r.inBatch ?? false,
          marginMode: r.marginMode ?? 'rowwise',
          error: 'l2',
          detachTarget: r.detachTarget ?? false,
        },
      };
    case 'margin-mse':
      return {
        kind: 'margin-mse',
        teacher: await teachers.get(r.teacher),
        teacherName: r.teacher,
        teacherScale: 'auto',
      };
    case 'infonce':
      return { kind: 'infonce', scale: 1 / r.temperature, ownNegatives: true };
  }
}

/** The cross-encoder teacher's part of a cell's settings: its directory, weights and input length. */
function teacherSettings(b: Budget): Record<string, unknown> {
  if (!b.teacherModel) throw new Error('a cross-encoder cell needs --teacher-model DIR');
  return { model: b.teacherModel, sha256: weightsDigest(b.teacherModel), maxLength: b.teacherMaxLength };
}

/**
 * What a cell's run depends on: saved beside its directory, checked before it is reused or resumed.
 * The weights' SHA-256 is part of it: a newer checkpoint committed under the same path needs another
 * --out.
 */
export function cellSettings(cell: Cell, b: Budget): Record<string, unknown> {
  const { row: _row, ...rest } = cell;
  return {
    ...rest,
    model: b.model,
    modelSha256: weightsDigest(b.model),
    data: b.data,
    evalSets: b.evalSets,
    validation: cell.validation ? b.validation : null,
    evalEvery: cell.validation ? b.evalEvery : 0,
    batchSize: b.batchSize,
    lr: b.lr,
    queryLength: b.queryLength,
    docLength: b.docLength,
    internalsEvery: b.internalsEvery,
    teacher: cell.recipe.kind === 'margin-mse' && cell.recipe.teacher === 'cross-encoder' ? teacherSettings(b) : null,
  };
}

/**
 * Run one cell, or read it back when its metrics.json exists (an unfinished run resumes). The
 * cell's settings are written to cells/<id>.json first; a cell directory made with other settings
 * (another model, budget or teacher), or without that file, is refused rather than reused.
 */
export async function runCell(
  cell: Cell,
  b: Budget,
  out: string,
  teachers: TeacherCache,
  progress = true,
): Promise<CellResult> {
  const dir = join(out, 'cells', cell.id);
  const metricsPath = join(dir, 'metrics.json');
  const settingsPath = join(out, 'cells', `${cell.id}.json`);
  const settings = `${JSON.stringify(cellSettings(cell, b), null, 2)}\n`;
  if (existsSync(settingsPath)) {
    if (readFileSync(settingsPath, 'utf8') !== settings)
      throw new Error(
        `${settingsPath}: cell ${cell.id} was run with other settings (model, budget or teacher); use another --out`,
      );
  } else if (existsSync(dir)) {
    throw new Error(`${dir}: exists without its settings file ${cell.id}.json; use another --out`);
  } else {
    writeFileAtomic(settingsPath, settings);
  }
  if (!existsSync(metricsPath)) {
    await trainBiencoder({
      model: b.model,
      data: b.data,
      out: dir,
      loss: await lossSpec(cell.recipe, teachers),
      pooling: 'mean',
      batchSize: b.batchSize,
      queryLength: b.queryLength,
      docLength: b.docLength,
      lr: b.lr,
      gamma: 0.99999,
      optimizer: 'adamw',
      weightDecay: 1e-6,
      clip: 0,
      steps: cell.steps,
      maxTriples: cell.maxTriples,
      seed: cell.seed,
      evalEvery: cell.validation ? b.evalEvery : 0,
      patience: 3,
      validation: cell.validation ? b.validation : undefined,
      evalSets: b.evalSets,
      evalQueries: cell.evalQueries,
      internalsEvery: b.internalsEvery,
      device: b.device,
      progress,
    });
    if (!existsSync(metricsPath))
      throw new Error(`${dir}: training stopped before metrics.json (interrupted); rerun the command to resume`);
  }
  return { cell, dir, metrics: JSON.parse(readFileSync(metricsPath, 'utf8')) as CellResult['metrics'] };
}

/**
 * The untuned model and BM25 on the evaluation sets, every query (a cell like the others: cached in
 * cells/baselines.json for the same model, sets and lengths). `compute: false` only reads the cache
 * (null when it is missing or for other settings).
 */
export async function runBaselines(
  b: Budget,
  out: string,
  o: { compute?: boolean; progress?: boolean } = {},
): Promise<{ untuned: SetMetrics[]; bm25: SetMetrics[] } | null> {
  const path = join(out, 'cells', 'baselines.json');
  const key = JSON.stringify({
    model: b.model,
    modelSha256: weightsDigest(b.model),
    evalSets: b.evalSets,
    queryLength: b.queryLength,
    docLength: b.docLength,
  });
  if (existsSync(path)) {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as { key: string; untuned: SetMetrics[]; bm25: SetMetrics[] };
    if (saved.key === key) return { untuned: saved.untuned, bm25: saved.bm25 };
  }
  if (o.compute === false) return null;
  const progress = o.progress ?? true;
  const untuned: SetMetrics[] = [];
  const bm25: SetMetrics[] = [];
  const bi = Biencoder.load(b.model, { device: b.device, pooling: { mode: 'mean', normalize: false } });
  try {
    for (const set of b.evalSets) {
      const data = await loadEvalSet(set);
      untuned.push(
        await evaluateBiencoder(bi, data, {
          name: set.name,
          queryLength: b.queryLength,
          docLength: b.docLength,
          progress,
        }),
      );
      const t0 = performance.now();
      const index = new Bm25Index([...data.corpus].map(([id, doc]) => [id, docText(doc)] as const));
      const run = runFromLists(index.searchAll(data.queries, 100));
      bm25.push({
        name: set.name,
        queries: data.queries.size,
        documents: data.corpus.size,
        metrics: evaluate(data.qrels, run).mean,
        seconds: (performance.now() - t0) / 1000,
      });
    }
  } finally {
    bi.dispose();
  }
  writeFileAtomic(path, `${JSON.stringify({ key, untuned, bm25 }, null, 2)}\n`);
  return { untuned, bm25 };
}

// ---- aggregation ---------------------------------------------------------------------------------

export interface Spread {
  mean: number;
  /** Sample standard deviation (n - 1); null for one value. */
  sd: number | null;
  n: number;
  min: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  if (xs.length === 0) throw new Error('spread of no values');
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, sd, n, min: Math.min(...xs), max: Math.max(...xs) };
}

const METRICS = ['nDCG@10', 'MRR@10'] as const;

export interface RowSummary {
  row: string;
  seeds: number;
  /** Per evaluation set and metric. */
  sets: Record<string, Record<string, Spread>>;
  /** Queries evaluated per set. */
  queries: Record<string, number>;
  /** Median step time in seconds (teacher included), over seeds. */
  secondsPerStep: Spread | null;
  triplesSeen: number;
  teacherScale?: number;
}

export function summarizeRows(results: readonly CellResult[]): RowSummary[] {
  const rows = new Map<string, CellResult[]>();
  for (const r of results) rows.set(r.cell.row, [...(rows.get(r.cell.row) ?? []), r]);
  return [...rows].map(([row, rs]) => {
    const sets: RowSummary['sets'] = {};
    const queries: RowSummary['queries'] = {};
    for (const set of rs[0].metrics.final) {
      queries[set.name] = set.queries;
      sets[set.name] = Object.fromEntries(
        METRICS.map((m) => [
          m,
          spread(
            rs.map((r) => {
              const s = r.metrics.final.find((f) => f.name === set.name);
              if (!s) throw new Error(`${r.dir}/metrics.json: no final evaluation of ${set.name}`);
              return s.metrics[m];
            }),
          ),
        ]),
      );
    }
    const times = rs
      .map((r) => r.metrics.medianStepMs)
      .filter((x): x is number => x !== null)
      .map((ms) => ms / 1000);
    return {
      row,
      seeds: rs.length,
      sets,
      queries,
      secondsPerStep: times.length > 0 ? spread(times) : null,
      triplesSeen: rs[0].metrics.triplesSeen,
      ...(rs[0].metrics.teacherScale ? { teacherScale: rs[0].metrics.teacherScale.scale } : {}),
    };
  });
}

export interface TimeToQuality {
  /** Best validation nDCG@10 of the run. */
  best: number;
  /** First validated step with nDCG@10 >= 95% of the best, and the training seconds up to it. */
  step: number;
  seconds: number;
}

/**
 * E3 for one run's log entries: the first validation at or above `fraction` of the run's best
 * validation nDCG@10, and the sum of the step times (`ms`) of the training steps up to it.
 */
export function timeToQuality(log: readonly Record<string, unknown>[], fraction = 0.95): TimeToQuality | null {
  const validations = log
    .filter((e) => e.kind === 'validation')
    .map((e) => ({ step: e.step as number, score: (e.metrics as Record<string, number>)['nDCG@10'] }));
  if (validations.length === 0) return null;
  const best = Math.max(...validations.map((v) => v.score));
  const hit = validations.find((v) => v.score >= fraction * best)!;
  const ms = log
    .filter((e) => e.kind === 'train' && (e.step as number) <= hit.step)
    .reduce((s, e) => s + (e.ms as number), 0);
  return { best, step: hit.step, seconds: ms / 1000 };
}

function readLog(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface E3Row {
  row: string;
  runs: number;
  best: Spread;
  seconds: Spread;
  steps: Spread;
}

export function summarizeE3(results: readonly CellResult[]): E3Row[] {
  const rows = new Map<string, TimeToQuality[]>();
  for (const r of results) {
    if (!r.cell.main) continue;
    const t = timeToQuality(readLog(r.dir));
    if (t) rows.set(r.cell.row, [...(rows.get(r.cell.row) ?? []), t]);
  }
  return [...rows].map(([row, ts]) => ({
    row,
    runs: ts.length,
    best: spread(ts.map((t) => t.best)),
    seconds: spread(ts.map((t) => t.seconds)),
    steps: spread(ts.map((t) => t.step)),
  }));
}

export interface E4Panel {
  row: string;
  dir: string;
  gradNormKind: 'per-example' | 'total';
  /** Pooled Pearson r of s(d+,d-) and gradient norm per training phase. */
  phases: { label: string; r: number | null; triples: number }[];
}

export function e4Panel(row: string, dir: string): { panel: E4Panel; run: BiencoderRun } {
  const run = readRun(dir);
  if (run.kind !== 'biencoder' || run.internals.length === 0)
    throw new Error(`${dir}: no loss internals (internals.jsonl) for E4`);
  const ps = phases(run.internals.map((r) => r.step));
  return {
    run,
    panel: {
      row,
      dir,
      gradNormKind: run.internals[0].gradNormKind,
      phases: ps.map((p) => {
        const recs = run.internals.slice(p.start, p.end);
        return {
          label: p.label,
          r: pearson(
            recs.flatMap((r) => r.pairSimilarity),
            recs.flatMap((r) => r.gradNorms),
          ),
          triples: recs.reduce((s, r) => s + r.gradNorms.length, 0),
        };
      }),
    },
  };
}

/** One figure: the hardness-vs-gradient chart of `retrograd plot` for each run, two panels a row. */
export function e4Figure(panels: readonly { row: string; run: BiencoderRun }[]): TopLevelSpec {
  const charts = panels.map(({ row, run }) => {
    const chart = buildCharts(run).charts.find((c) => c.name === 'hardness-vs-gradient');
    if (!chart) throw new Error(`${run.dir}: no hardness-vs-gradient chart`);
    const { $schema: _schema, config, title, ...rest } = chart.spec as unknown as Record<string, unknown>;
    const subtitle = (title as { subtitle?: string[] }).subtitle ?? [];
    return { ...rest, width: 380, height: 260, title: { text: row, subtitle: subtitle.slice(1) } };
  });
  const config = (buildCharts(panels[0].run).charts[0].spec as unknown as Record<string, unknown>).config;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Negative hardness s(d+, d−) against the gradient norm of each triple',
      subtitle: 'E4: one panel per loss; colour: training phase; lines: least-squares fit per phase',
    },
    config,
    columns: 2,
    concat: charts,
    resolve: { scale: { color: 'independent' } },
  } as unknown as TopLevelSpec;
}

// ---- tables ------------------------------------------------------------------------------------

const f3 = (x: number): string => x.toFixed(3);
function cellText(s: Spread | undefined): string {
  if (!s) return '—';
  return s.sd === null ? f3(s.mean) : `${f3(s.mean)} ± ${f3(s.sd)}`;
}

export function e1Table(
  rows: readonly RowSummary[],
  baselines: { untuned: SetMetrics[]; bm25: SetMetrics[] } | null,
  setNames: readonly string[],
): string {
  const head = ['row', 'seeds', ...setNames.flatMap((s) => METRICS.map((m) => `${s} ${m}`)), 's/step', 'queries'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  if (baselines) {
    for (const [name, sets] of [
      ['BM25', baselines.bm25],
      ['untuned (mean pooling)', baselines.untuned],
    ] as const) {
      const vals = setNames.flatMap((s) =>
        METRICS.map((m) => {
          const v = sets.find((x) => x.name === s)?.metrics[m];
          return v === undefined ? '—' : f3(v);
        }),
      );
      lines.push(
        `| ${name} | — | ${vals.join(' | ')} | — | ${setNames.map((s) => sets.find((x) => x.name === s)?.queries ?? '—').join(' / ')} |`,
      );
    }
  }
  for (const r of rows) {
    const vals = setNames.flatMap((s) => METRICS.map((m) => cellText(r.sets[s]?.[m])));
    const sps = r.secondsPerStep
      ? r.secondsPerStep.sd === null
        ? r.secondsPerStep.mean.toFixed(2)
        : `${r.secondsPerStep.mean.toFixed(2)} ± ${r.secondsPerStep.sd.toFixed(2)}`
      : '—';
    lines.push(
      `| ${r.row}${r.teacherScale !== undefined ? ` (k ${r.teacherScale.toPrecision(3)})` : ''} | ${r.seeds} | ${vals.join(' | ')} | ${sps} | ${setNames.map((s) => r.queries[s] ?? '—').join(' / ')} |`,
    );
  }
  return lines.join('\n');
}

export function e2Table(results: readonly CellResult[], setNames: readonly string[]): string {
  const head = [
    'row',
    '% of triples',
    'triples',
    'steps',
    'epochs',
    ...setNames.flatMap((s) => METRICS.map((m) => `${s} ${m}`)),
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of [...results].sort(
    (a, b) => a.cell.row.localeCompare(b.cell.row) || a.cell.fraction! - b.cell.fraction!,
  )) {
    const vals = setNames.flatMap((s) =>
      METRICS.map((m) => {
        const v = r.metrics.final.find((x) => x.name === s)?.metrics[m];
        return v === undefined ? '—' : f3(v);
      }),
    );
    lines.push(
      `| ${r.cell.row} | ${r.cell.fraction} | ${r.metrics.trainTriples} | ${r.metrics.steps} | ${r.metrics.epochs.toFixed(2)} | ${vals.join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

export function e3Table(rows: readonly E3Row[]): string {
  const lines = [
    '| row | runs | best validation nDCG@10 | training seconds to 95% of best | steps to 95% of best |',
    '|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const s = (x: Spread, d: number): string =>
      x.sd === null ? x.mean.toFixed(d) : `${x.mean.toFixed(d)} ± ${x.sd.toFixed(d)}`;
    lines.push(`| ${r.row} | ${r.runs} | ${s(r.best, 3)} | ${s(r.seconds, 1)} | ${s(r.steps, 0)} |`);
  }
  return lines.join('\n');
}

export function e4Table(panels: readonly E4Panel[]): string {
  const lines = ['| loss | gradient norms | Pearson r per phase (pooled triples) |', '|---|---|---|'];
  for (const p of panels)
    lines.push(
      `| ${p.row} | ${p.gradNormKind} | ${p.phases.map((ph) => `${ph.label}: ${ph.r === null ? 'n/a' : ph.r.toFixed(2)}`).join('; ')} |`,
    );
  return lines.join('\n');
}
