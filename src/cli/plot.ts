// `retrograd plot`: charts of a training run directory, as SVG and PNG files for a report.
//
//   retrograd plot --run DIR [--out DIR/plots] [--no-png] [--font FILE] [--smoothing 0.9]
//                  [--max-points 5000] [--spec-out FILE]
//
// The run kind (MLM pretraining or biencoder training) is told from log.jsonl's entries
// (src/plot/runlog.ts); the charts are src/plot/charts.ts's. Every chart is rendered before anything
// is written, then each file is written atomically (temp file + rename). --spec-out writes the
// Vega-Lite specs, data included, as one JSON object {chart name: spec}. A one-line JSON summary goes
// to stdout. The same run directory gives byte-identical files.

import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { writeFileAtomic } from '../io/atomic.js';
import { buildCharts } from '../plot/charts.js';
import { readRun } from '../plot/runlog.js';
import { pngFonts, renderSvg, svgToPng } from '../plot/render.js';
import { positiveIntOption } from './options.js';

export interface PlotOptions {
  run: string;
  /** Output folder (default RUN/plots). */
  out?: string;
  /** Also write PNG files (default true). */
  png?: boolean;
  /** Font file for PNG text (default DejaVu Sans). */
  font?: string;
  smoothing?: number;
  maxPoints?: number;
  specOut?: string;
}

export interface PlotSummary {
  run: string;
  kind: 'pretrain' | 'biencoder';
  out: string;
  files: string[];
  skipped: string[];
  specOut?: string;
}

export async function runPlot(o: PlotOptions): Promise<PlotSummary> {
  const run = readRun(o.run);
  const out = o.out ?? join(o.run, 'plots');
  const png = o.png ?? true;
  const fontFiles = png ? pngFonts(o.font === undefined ? undefined : [o.font]) : [];
  const { charts, skipped } = buildCharts(run, { smoothing: o.smoothing, maxPoints: o.maxPoints });

  const outputs: { path: string; data: string | Uint8Array }[] = [];
  for (const chart of charts) {
    const svg = await renderSvg(chart.spec, chart.name);
    outputs.push({ path: join(out, `${chart.name}.svg`), data: svg });
    if (png) outputs.push({ path: join(out, `${chart.name}.png`), data: svgToPng(svg, { fontFiles }) });
  }
  if (o.specOut !== undefined) {
    const specs = Object.fromEntries(charts.map((c) => [c.name, c.spec]));
    outputs.push({ path: o.specOut, data: `${JSON.stringify(specs, null, 1)}\n` });
  }
  for (const { path, data } of outputs) writeFileAtomic(path, data);
  return {
    run: o.run,
    kind: run.kind,
    out,
    files: outputs.filter((f) => f.path !== o.specOut).map((f) => f.path),
    skipped,
    ...(o.specOut !== undefined ? { specOut: o.specOut } : {}),
  };
}

function smoothingOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a number in [0, 1)');
  return n;
}

export function registerPlot(program: Command): void {
  program
    .command('plot')
    .description(
      'draw SVG/PNG charts of a pretrain or train run directory (loss, accuracy, learning rate, loss internals)',
    )
    .requiredOption('--run <dir>', 'run directory with log.jsonl (and internals.jsonl for a biencoder run)')
    .option('--out <dir>', 'output folder (default: RUN/plots)')
    .option('--no-png', 'write SVG only')
    .option('--font <file>', 'TrueType font for PNG text (default: DejaVu Sans from fonts-dejavu-core)')
    .option('--smoothing <w>', 'EMA weight of the smoothed training curves, in [0, 1)', smoothingOption, 0.9)
    .option(
      '--max-points <n>',
      'at most this many points in the hardness scatter (recorded steps thinned evenly)',
      positiveIntOption,
      5000,
    )
    .option('--spec-out <file>', 'also write the Vega-Lite specs (with their data) as JSON')
    .action(
      async (o: {
        run: string;
        out?: string;
        png: boolean;
        font?: string;
        smoothing: number;
        maxPoints: number;
        specOut?: string;
      }) => {
        const summary = await runPlot({
          run: o.run,
          out: o.out,
          png: o.png,
          font: o.font,
          smoothing: o.smoothing,
          maxPoints: o.maxPoints,
          specOut: o.specOut,
        });
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      },
    );
}
