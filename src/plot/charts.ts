// Vega-Lite specifications of the charts `retrograd plot` draws for a training run (one spec per
// chart, its data inline, so a spec is a complete, self-contained description of the figure).
//
// MLM pretraining: loss (training, its exponential smoothing, held-out), held-out masked-token
// accuracy, learning rate, gradient norm.
// Biencoder training: loss (+ validation nDCG@10 below it), learning rate, gradient norm, and from
// the loss internals: negative hardness s(d+, d-) against the per-triple gradient norm (a scatter
// coloured by training phase, with a least-squares line per phase), the per-step Pearson
// correlation of the two, and boxplots per phase of s(d+, d-), the target margin and the student
// margin (in-batch [B, B] internals shown by their diagonal, a distributed target by its mean over
// the batch's positives, see src/plot/runlog.ts). Gradient norms logged as totals (in-batch and
// distributed losses) are labelled so.
// Smoothing, correlations, fits and phases are computed here (src/plot/stats.ts), not by Vega, so
// the spec's data are the exact values drawn (only the boxplot quartiles are Vega's).
//
// This file renders nothing (src/plot/render.ts does) and reads no files.

import { basename, resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { BiencoderRun, InternalsLayout, InternalsRecord, PretrainRun, Run, TrainEntry } from './runlog.js';
import { ema, evenlySpaced, pearson, phases, type Phase } from './stats.js';

export interface Chart {
  /** File stem: "loss" gives loss.svg and loss.png. */
  name: string;
  spec: TopLevelSpec;
}

export interface ChartOptions {
  /** EMA weight for the smoothed training curves, in [0, 1) (default 0.9). */
  smoothing?: number;
  /** At most this many points in the hardness scatter; more recorded steps are thinned evenly (default 5000). */
  maxPoints?: number;
}

export interface ChartSet {
  charts: Chart[];
  /** Charts not drawn and why, e.g. "accuracy: no held-out eval entries". */
  skipped: string[];
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 560;
const HEIGHT = 280;
const CONFIG = {
  background: 'white',
  font: 'DejaVu Sans, sans-serif',
  title: { anchor: 'start', fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555', offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', grid: true, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
  header: { labelFontSize: 12, titleFontSize: 12 },
} as const;

const COLORS = { raw: '#aec7e8', smooth: '#1f77b4', heldOut: '#d62728' };
/** Early to late: light to dark blue (ordered, readable in grey). */
const PHASE_COLORS = ['#6baed6', '#2171b5', '#08306b'];
const STEP_TITLE = 'optimizer step';

const stepX = {
  field: 'step',
  type: 'quantitative',
  title: STEP_TITLE,
  axis: { format: 'd', tickMinStep: 1 },
} as const;

function runName(run: Run): string {
  return basename(resolve(run.dir));
}

function fmt(x: number, digits = 3): string {
  return Number(x.toPrecision(digits)).toString();
}

/** Rows {step, value, series} of the raw and smoothed training loss. */
function trainLossRows(
  train: readonly TrainEntry[],
  smoothing: number,
): { rows: Record<string, number | string>[]; raw: string; smooth: string } {
  const raw = 'training loss';
  const smooth = `training loss, smoothed (EMA ${smoothing})`;
  const smoothed = ema(
    train.map((e) => e.loss),
    smoothing,
  );
  const rows: Record<string, number | string>[] = [
    ...train.map((e) => ({ step: e.step, value: e.loss, series: raw })),
    ...train.map((e, i) => ({ step: e.step, value: smoothed[i], series: smooth })),
  ];
  return { rows, raw, smooth };
}

function pretrainLoss(run: PretrainRun, smoothing: number): Chart {
  const { rows, raw, smooth } = trainLossRows(run.train, smoothing);
  const heldOut = 'held-out loss';
  rows.push(...run.eval.map((e) => ({ step: e.step, value: e.loss, series: heldOut })));
  const series = run.eval.length > 0 ? [raw, smooth, heldOut] : [raw, smooth];
  const last = run.eval.at(-1);
  const summary = last
    ? `final held-out loss ${fmt(last.loss)} (perplexity ${fmt(last.perplexity)}) at step ${last.step}`
    : 'no held-out evaluation logged';
  const trainLayer = {
    transform: [{ filter: { field: 'series', oneOf: [raw, smooth] } }],
    mark: { type: 'line' as const, strokeWidth: 1.5 },
  };
  const heldOutLayer = {
    transform: [{ filter: { field: 'series', equal: heldOut } }],
    mark: { type: 'line' as const, strokeWidth: 2, point: { size: 30 } },
  };
  return {
    name: 'loss',
    spec: {
      $schema: SCHEMA,
      title: {
        text: 'Masked-LM pretraining loss',
        subtitle: [
          `${runName(run)}: ${run.train.length} logged training steps, ${run.eval.length} held-out evaluations`,
          summary,
        ],
      },
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values: rows },
      encoding: {
        x: stepX,
        y: {
          field: 'value',
          type: 'quantitative',
          title: 'cross-entropy (nats per masked token)',
          scale: { zero: false },
        },
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: series, range: [COLORS.raw, COLORS.smooth, COLORS.heldOut].slice(0, series.length) },
        },
      },
      // A layer without data gives Vega infinite extents: the held-out layer only when there are evaluations.
      layer: run.eval.length > 0 ? [trainLayer, heldOutLayer] : [trainLayer],
    },
  };
}

function pretrainAccuracy(run: PretrainRun): Chart {
  const last = run.eval.at(-1)!;
  const best = run.eval.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
  return {
    name: 'accuracy',
    spec: {
      $schema: SCHEMA,
      title: {
        text: 'Held-out masked-token accuracy',
        subtitle: [
          `${runName(run)}: ${run.eval.length} evaluations on held-out sequences`,
          `final ${(last.accuracy * 100).toFixed(2)}% at step ${last.step}; best ${(best.accuracy * 100).toFixed(2)}% at step ${best.step}`,
        ],
      },
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values: run.eval.map((e) => ({ step: e.step, accuracy: e.accuracy })) },
      mark: { type: 'line', color: COLORS.heldOut, strokeWidth: 2, point: { size: 30, color: COLORS.heldOut } },
      encoding: {
        x: stepX,
        y: {
          field: 'accuracy',
          type: 'quantitative',
          title: 'masked tokens predicted exactly (%)',
          axis: { format: '.0%' },
          scale: { zero: false },
        },
      },
    },
  };
}

function learningRate(run: Run): Chart {
  const peak = run.train.reduce((a, b) => (b.lr > a.lr ? b : a));
  return {
    name: 'lr',
    spec: {
      $schema: SCHEMA,
      title: {
        text: 'Learning-rate schedule',
        subtitle: `${runName(run)}: peak ${peak.lr.toExponential(2)} at step ${peak.step}, last ${run.train.at(-1)!.lr.toExponential(2)}`,
      },
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values: run.train.map((e) => ({ step: e.step, lr: e.lr })) },
      mark: { type: 'line', color: COLORS.smooth, strokeWidth: 2 },
      encoding: {
        x: stepX,
        y: { field: 'lr', type: 'quantitative', title: 'learning rate (AdamW step size)', axis: { format: '.1e' } },
      },
    },
  };
}

function gradientNorm(run: Run, smoothing: number): Chart | null {
  const logged = run.train.filter((e): e is TrainEntry & { gradNorm: number } => e.gradNorm !== null);
  if (logged.length === 0) return null;
  const raw = 'gradient norm';
  const smooth = `smoothed (EMA ${smoothing})`;
  const smoothed = ema(
    logged.map((e) => e.gradNorm),
    smoothing,
  );
  const rows = [
    ...logged.map((e) => ({ step: e.step, value: e.gradNorm, series: raw })),
    ...logged.map((e, i) => ({ step: e.step, value: smoothed[i], series: smooth })),
  ];
  return {
    name: 'grad-norm',
    spec: {
      $schema: SCHEMA,
      title: {
        text: 'Global gradient norm before clipping',
        subtitle: `${runName(run)}: ${logged.length} logged steps`,
      },
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values: rows },
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x: stepX,
        y: { field: 'value', type: 'quantitative', title: 'L2 norm of the gradient over all parameters' },
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: [raw, smooth], range: [COLORS.raw, COLORS.smooth] },
        },
      },
    },
  };
}

function biencoderLoss(run: BiencoderRun, smoothing: number): Chart {
  const { rows, raw, smooth } = trainLossRows(run.train, smoothing);
  const lossPanel = {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: stepX,
      y: { field: 'value', type: 'quantitative', title: 'training loss (per batch)', scale: { zero: false } },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: [raw, smooth], range: [COLORS.raw, COLORS.smooth] },
      },
    },
  } as const;
  const subtitle = [`${runName(run)}: ${run.train.length} training steps`];
  if (run.validation.length === 0) {
    return {
      name: 'loss',
      spec: { $schema: SCHEMA, title: { text: 'Biencoder training loss', subtitle }, config: CONFIG, ...lossPanel },
    };
  }
  const sets = [...new Set(run.validation.map((v) => v.name))];
  for (const set of sets) {
    const entries = run.validation.filter((v) => v.name === set);
    const best = entries.reduce((a, b) => (b.metrics['nDCG@10'] > a.metrics['nDCG@10'] ? b : a));
    subtitle.push(
      `${set}: best validation nDCG@10 ${best.metrics['nDCG@10'].toFixed(4)} at step ${best.step} (${entries.length} validations)`,
    );
  }
  const validationPanel = {
    width: WIDTH,
    height: Math.round(HEIGHT * 0.7),
    data: { values: run.validation.map((v) => ({ step: v.step, nDCG10: v.metrics['nDCG@10'], set: v.name })) },
    mark: { type: 'line', strokeWidth: 2, point: { size: 30 } },
    encoding: {
      x: stepX,
      y: { field: 'nDCG10', type: 'quantitative', title: 'validation nDCG@10', scale: { zero: false } },
      color: { field: 'set', type: 'nominal', title: 'validation set', scale: { domain: sets, scheme: 'category10' } },
    },
  } as const;
  return {
    name: 'loss',
    spec: {
      $schema: SCHEMA,
      title: { text: 'Biencoder training loss and validation nDCG@10', subtitle },
      config: CONFIG,
      vconcat: [lossPanel, validationPanel],
      resolve: { scale: { x: 'shared', color: 'independent' } },
    },
  };
}

interface PhasedRecords {
  phases: Phase[];
  /** Phase index of each record. */
  phaseOf: number[];
}

function phaseRecords(records: readonly InternalsRecord[]): PhasedRecords {
  const ps = phases(records.map((r) => r.step));
  const phaseOf = new Array<number>(records.length);
  ps.forEach((p, i) => phaseOf.fill(i, p.start, p.end));
  return { phases: ps, phaseOf };
}

function phaseColor(ps: readonly Phase[]): {
  field: string;
  type: 'ordinal';
  title: string;
  sort: string[];
  scale: { domain: string[]; range: string[] };
} {
  const labels = ps.map((p) => p.label);
  const range =
    ps.length === 1 ? [PHASE_COLORS[1]] : ps.length === 2 ? [PHASE_COLORS[0], PHASE_COLORS[2]] : PHASE_COLORS;
  return {
    field: 'phase',
    type: 'ordinal',
    title: 'training phase',
    sort: labels,
    scale: { domain: labels, range: [...range] },
  };
}

/** Least-squares line y = a + b·x over a phase's points, as its two end points (null if x is constant). */
function fitLine(xs: readonly number[], ys: readonly number[]): { x: number; y: number }[] | null {
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  if (!(sxx > 0)) return null;
  const slope = sxy / sxx;
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return [lo, hi].map((x) => ({ x, y: my + slope * (x - mx) }));
}

function hardnessScatter(run: BiencoderRun, maxPoints: number): Chart {
  const records = run.internals;
  const { phases: ps, phaseOf } = phaseRecords(records);
  const batchMax = Math.max(...records.map((r) => r.gradNorms.length));
  const totalPoints = records.reduce((s, r) => s + r.gradNorms.length, 0);
  const shown =
    totalPoints <= maxPoints
      ? records.map((_, i) => i)
      : evenlySpaced(records.length, Math.max(1, Math.floor(maxPoints / batchMax)));
  const points: { step: number; phase: string; hardness: number; gradNorm: number }[] = [];
  for (const i of shown) {
    const r = records[i];
    for (let k = 0; k < r.gradNorms.length; k++)
      points.push({
        step: r.step,
        phase: ps[phaseOf[i]].label,
        hardness: r.pairSimilarity[k],
        gradNorm: r.gradNorms[k],
      });
  }
  const lines: { phase: string; hardness: number; gradNorm: number }[] = [];
  const pooled: string[] = [];
  for (const [pi, p] of ps.entries()) {
    // Fits and correlations use every recorded triple of the phase, not only the points drawn.
    const xs = records.slice(p.start, p.end).flatMap((r) => r.pairSimilarity);
    const ys = records.slice(p.start, p.end).flatMap((r) => r.gradNorms);
    const r = pearson(xs, ys);
    pooled.push(`${p.label.split(' ')[0]} ${r === null ? 'n/a' : r.toFixed(2)}`);
    for (const end of fitLine(xs, ys) ?? []) lines.push({ phase: ps[pi].label, hardness: end.x, gradNorm: end.y });
  }
  const total = records[0].gradNormKind === 'total';
  const subtitle = [
    `${runName(run)}: ${totalPoints} triples over ${records.length} recorded steps${lines.length > 0 ? '; lines: least-squares fit per phase' : ''}`,
    `Pearson r pooled per phase: ${pooled.join(', ')}`,
  ];
  if (total)
    subtitle.push(
      "totals: the loss couples triples, so a triple's norm includes the other triples' terms (not per-example)",
    );
  if (shown.length < records.length)
    subtitle.push(
      `points of ${shown.length} of the ${records.length} recorded steps shown (evenly spaced); fits and r use all`,
    );
  const color = phaseColor(ps);
  const pointLayer = {
    data: { values: points },
    mark: { type: 'circle', size: 22, opacity: 0.55 },
    encoding: {
      x: {
        field: 'hardness',
        type: 'quantitative',
        title: 'negative hardness s(d+, d−) (cosine of positive and negative)',
        scale: { zero: false },
      },
      y: {
        field: 'gradNorm',
        type: 'quantitative',
        title: `${total ? 'total ' : ''}gradient norm w.r.t. (q, d+, d−) embeddings (L2)`,
      },
      color,
    },
  } as const;
  const fitLayer = {
    data: { values: lines },
    mark: { type: 'line', strokeWidth: 2.5 },
    encoding: { x: { field: 'hardness', type: 'quantitative' }, y: { field: 'gradNorm', type: 'quantitative' }, color },
  } as const;
  return {
    name: 'hardness-vs-gradient',
    spec: {
      $schema: SCHEMA,
      title: { text: `Negative hardness vs per-triple gradient norm${total ? ' (batch totals)' : ''}`, subtitle },
      width: WIDTH,
      height: HEIGHT + 60,
      config: CONFIG,
      // A layer without data gives Vega infinite extents: no fit layer when no phase could be fitted.
      layer: lines.length > 0 ? [pointLayer, fitLayer] : [pointLayer],
    },
  };
}

function hardnessCorrelation(run: BiencoderRun): Chart | null {
  const rows = run.internals
    .filter((r): r is InternalsRecord & { hardnessGradCorrelation: number } => r.hardnessGradCorrelation !== null)
    .map((r) => ({ step: r.step, r: r.hardnessGradCorrelation }));
  if (rows.length === 0) return null;
  const mean = rows.reduce((s, v) => s + v.r, 0) / rows.length;
  const positive = rows.filter((v) => v.r > 0).length;
  return {
    name: 'hardness-gradient-correlation',
    spec: {
      $schema: SCHEMA,
      title: {
        text: 'Correlation of negative hardness and gradient norm per step',
        subtitle: [
          `${runName(run)}: Pearson r over each recorded batch, ${rows.length} steps`,
          `mean r ${mean.toFixed(3)}; positive at ${positive} of ${rows.length} steps`,
        ],
      },
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      layer: [
        {
          data: { values: [{ zero: 0 }] },
          mark: { type: 'rule', color: '#888', strokeDash: [4, 4] },
          encoding: { y: { field: 'zero', type: 'quantitative' } },
        },
        {
          data: { values: rows },
          mark: { type: 'line', color: COLORS.smooth, strokeWidth: 1.5, point: { size: 25, color: COLORS.smooth } },
          encoding: {
            x: stepX,
            y: {
              field: 'r',
              type: 'quantitative',
              title: 'Pearson r of s(d+, d−) and gradient norm',
              scale: { domain: [-1, 1] },
            },
          },
        },
      ],
    },
  };
}

const QUANTITIES = {
  pairSimilarity: 'negative hardness s(d+, d−)',
  target: 'target margin',
  margin: 'student margin s(q, d+) − s(q, d−)',
} as const;

function layoutNote(name: string, layouts: Set<InternalsLayout>): string | null {
  if (layouts.has('in-batch diagonal'))
    return `${name}: in-batch [B, B] matrix shown by its diagonal (each triple's own pair)`;
  if (layouts.has('distributed mean'))
    return `${name}: distributed, per triple the mean over the batch's positives (what its margin regresses onto)`;
  if (layouts.has('constant')) return `${name}: a static constant`;
  return null;
}

function internalsDistributions(run: BiencoderRun): Chart {
  const records = run.internals;
  const { phases: ps, phaseOf } = phaseRecords(records);
  const rows: { phase: string; phaseName: string; quantity: string; value: number }[] = [];
  const present: string[] = [QUANTITIES.pairSimilarity];
  const layouts = { target: new Set<InternalsLayout>(), margin: new Set<InternalsLayout>() };
  for (const [i, r] of records.entries()) {
    const phase = ps[phaseOf[i]].label;
    const phaseName = phase.split(' ')[0];
    const add = (quantity: string, values: readonly number[]): void => {
      for (const value of values) rows.push({ phase, phaseName, quantity, value });
    };
    add(QUANTITIES.pairSimilarity, r.pairSimilarity);
    if (r.target) {
      add(QUANTITIES.target, r.target.values);
      layouts.target.add(r.target.layout);
    }
    if (r.margin) {
      add(QUANTITIES.margin, r.margin.values);
      layouts.margin.add(r.margin.layout);
    }
  }
  if (layouts.target.size > 0) present.push(QUANTITIES.target);
  if (layouts.margin.size > 0) present.push(QUANTITIES.margin);
  const notes = [layoutNote('target', layouts.target), layoutNote('margin', layouts.margin)].filter(
    (n): n is string => n !== null,
  );
  const phaseNames = ps.map((p) => p.label.split(' ')[0]);
  return {
    name: 'internals-distributions',
    spec: {
      $schema: SCHEMA,
      title: {
        text: 'Loss internals per training phase',
        subtitle: [
          `${runName(run)}: ${records.length} recorded steps split into ${ps.length} phase${ps.length === 1 ? '' : 's'}; boxes: quartiles and median, whiskers: min to max`,
          ...notes,
        ],
      },
      config: CONFIG,
      data: { values: rows },
      facet: { column: { field: 'quantity', type: 'nominal', title: null, sort: present } },
      spec: {
        width: 170,
        height: HEIGHT,
        mark: { type: 'boxplot', extent: 'min-max', size: 28 },
        encoding: {
          x: {
            field: 'phaseName',
            type: 'ordinal',
            title: 'training phase',
            sort: phaseNames,
            axis: { labelAngle: 0 },
          },
          y: { field: 'value', type: 'quantitative', title: 'cosine similarity or margin', scale: { zero: false } },
          color: phaseColor(ps),
        },
      },
      resolve: { scale: { y: 'independent' } },
    },
  };
}

/** Every chart this run's logs support, in a fixed order. */
export function buildCharts(run: Run, o: ChartOptions = {}): ChartSet {
  const smoothing = o.smoothing ?? 0.9;
  const maxPoints = o.maxPoints ?? 5000;
  if (!Number.isSafeInteger(maxPoints) || maxPoints < 1)
    throw new Error(`maxPoints must be a positive integer, got ${maxPoints}`);
  const charts: Chart[] = [];
  const skipped: string[] = [];
  const gradNorm = (): void => {
    const chart = gradientNorm(run, smoothing);
    if (chart) charts.push(chart);
    else skipped.push('grad-norm: no gradient norms logged (runs before 2026-12-07 logged them only when clipping)');
  };
  if (run.kind === 'pretrain') {
    charts.push(pretrainLoss(run, smoothing));
    if (run.eval.length > 0) charts.push(pretrainAccuracy(run));
    else skipped.push('accuracy: no held-out eval entries');
    charts.push(learningRate(run));
    gradNorm();
    return { charts, skipped };
  }
  charts.push(biencoderLoss(run, smoothing));
  charts.push(learningRate(run));
  gradNorm();
  if (run.internals.length === 0) {
    skipped.push(
      run.hasInternalsFile ? 'loss internals: internals.jsonl has no records' : 'loss internals: no internals.jsonl',
    );
    return { charts, skipped };
  }
  charts.push(hardnessScatter(run, maxPoints));
  const correlation = hardnessCorrelation(run);
  if (correlation) charts.push(correlation);
  else skipped.push('hardness-gradient-correlation: every logged correlation is null');
  charts.push(internalsDistributions(run));
  return { charts, skipped };
}
