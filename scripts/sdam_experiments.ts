// The SDAM experiments E1-E4 of issue 14 as one resumable command (src/experiments/sdam.ts plans
// and aggregates; every cell is a `retrograd train` run directory under <out>/cells).
//
//   npx tsx scripts/sdam_experiments.ts --teacher-model runs/ce/model [--only E1,E2,E3,E4] \
//       [--model models/bert-mini-retrograd] [--data data/pkgdesc-train] [--out runs/sdam-experiments] \
//       [--steps 200] [--batch-size 16] [--lr 1e-4] [--seeds 3] [--eval-queries 1000] [--eval-every 50] \
//       [--eval data/pkgdesc-test:test,data/faq:test] [--validation data/pkgdesc-dev:dev] \
//       [--static 0.1,0.3,0.6] [--fractions 1,3,13.5,25,50,100] [--e2-pool N] [--e2-steps N] \
//       [--internals-every 10] [--query-length 32] [--doc-length 128] [--teacher-max-length 160] \
//       [--device cpu] [--threads N] [--report-only] [--write-docs] [--docs-dir docs]
//
// A rerun skips finished cells (metrics.json) and resumes unfinished ones, so the same command
// continues after an interruption; --report-only trains nothing and reports the finished cells.
// Writes <out>/plan.json, <out>/results.json, <out>/report.md and <out>/figures/ (E4, SVG + PNG).
// --write-docs also copies the report to docs/sdam-experiments.md and the figure to
// docs/figures/sdam-e4-internals.{svg,png} (--docs-dir: another docs folder), and only when every
// planned cell is finished.
// Without --teacher-model the cross-encoder rows are left out (E2 and E4 use BM25's Margin-MSE).
// E2 on a budget: shrink the pool (--e2-pool) rather than cap the steps (--e2-steps): under a cap
// below one epoch the larger fractions all see the same number of triples.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readTriples } from '../src/data/beir.js';
import type { EvalSet } from '../src/train/retrieval.js';
import {
  choiceOption,
  evalSetListOption,
  evalSetOption,
  intAtLeastOption,
  listOption,
  numberInRangeOption,
  parsedOption,
  positiveIntOption,
  positiveNumberOption,
  scriptProgram,
  startDevice,
} from '../src/cli/options.js';
import { startProgress } from '../src/cli/progress.js';
import { ensureDirectory, writeFileAtomic } from '../src/io/atomic.js';
import { pngFonts, renderSvg, svgToPng } from '../src/plot/render.js';
import {
  EXPERIMENTS,
  TeacherCache,
  e1Table,
  e2Table,
  e3Table,
  e4Cells,
  e4Figure,
  e4Panel,
  e4Table,
  planCells,
  runBaselines,
  runCell,
  summarizeE3,
  summarizeRows,
  type Budget,
  type CellResult,
  type Experiment,
} from '../src/experiments/sdam.js';

const ROOT = resolve(import.meta.dirname, '..');

const args = scriptProgram('sdam_experiments', 'The SDAM experiments E1-E4 of issue 14, resumable')
  .option('--model <dir>', 'starting model directory', 'models/bert-mini-retrograd')
  .option('--data <dir>', 'training data (BEIR layout with triples/train.jsonl.gz)', 'data/pkgdesc-train')
  .option('--out <dir>', 'study folder', 'runs/sdam-experiments')
  .option('--teacher-model <dir>', 'cross-encoder teacher (without it the cross-encoder rows are left out)')
  .option('--teacher-max-length <n>', "the teacher's input length (tokens)", intAtLeastOption(3), 160)
  .addOption(
    parsedOption(
      '--only <list>',
      'experiments to run',
      listOption((e) => choiceOption(EXPERIMENTS)(e.toUpperCase())),
      EXPERIMENTS.join(','),
    ),
  )
  .option('--steps <n>', 'training steps per cell', positiveIntOption, 200)
  .option('--batch-size <n>', 'triples per step', intAtLeastOption(2), 16)
  .option('--lr <x>', 'learning rate', positiveNumberOption, 1e-4)
  .option('--seeds <n>', 'seeds of the main rows', positiveIntOption, 3)
  .option('--eval-queries <n>', 'evaluation queries of the sweep rows', positiveIntOption, 1000)
  .option('--eval-every <n>', 'validation every n steps', positiveIntOption, 50)
  .option('--internals-every <n>', 'loss internals every n steps (E4)', positiveIntOption, 10)
  .addOption(
    parsedOption(
      '--eval <sets>',
      'evaluation sets DIR:SPLIT,...',
      evalSetListOption,
      'data/pkgdesc-test:test,data/faq:test',
    ),
  )
  .addOption(parsedOption('--validation <set>', 'validation set DIR:SPLIT', evalSetOption, 'data/pkgdesc-dev:dev'))
  .addOption(
    parsedOption(
      '--static <list>',
      'static margins (E1), in [-2, 2]',
      listOption(numberInRangeOption(-2, 2)),
      '0.1,0.3,0.6',
    ),
  )
  .addOption(
    parsedOption(
      '--fractions <list>',
      'percentages of the triples (E2), in (0, 100]',
      listOption(numberInRangeOption(0, 100, { exclusiveMin: true })),
      '1,3,13.5,25,50,100',
    ),
  )
  .option('--e2-pool <n>', 'E2: triples in the pool the fractions are taken from', positiveIntOption)
  .option('--e2-steps <n>', 'E2: cap on the steps of a cell', positiveIntOption)
  .option('--query-length <n>', 'query truncation (tokens)', intAtLeastOption(3), 32)
  .option('--doc-length <n>', 'document truncation (tokens)', intAtLeastOption(3), 128)
  .option('--device <name>', 'device', 'cpu')
  .option('--threads <n>', 'cpu device threads', positiveIntOption)
  .option('--report-only', 'train nothing: report the finished cells', false)
  .option('--write-docs', 'copy the report and figure into the docs (every planned cell finished)', false)
  .option('--docs-dir <dir>', 'docs folder of --write-docs (default: docs)')
  .parse()
  .opts<{
    model: string;
    data: string;
    out: string;
    teacherModel?: string;
    teacherMaxLength: number;
    only: Experiment[];
    steps: number;
    batchSize: number;
    lr: number;
    seeds: number;
    evalQueries: number;
    evalEvery: number;
    internalsEvery: number;
    eval: EvalSet[];
    validation: EvalSet;
    static: number[];
    fractions: number[];
    e2Pool?: number;
    e2Steps?: number;
    queryLength: number;
    docLength: number;
    device: string;
    threads?: number;
    reportOnly: boolean;
    writeDocs: boolean;
    docsDir?: string;
  }>();

async function main(): Promise<void> {
  const only = new Set(args.only);
  const teacherModel = args.teacherModel;
  if (teacherModel !== undefined && !existsSync(join(teacherModel, 'config.json')))
    throw new Error(`--teacher-model ${teacherModel}: no config.json (train one with retrograd train-cross-encoder)`);
  const budget: Budget = {
    model: args.model,
    data: args.data,
    evalSets: args.eval,
    validation: args.validation,
    teacherModel,
    teacherMaxLength: args.teacherMaxLength,
    steps: args.steps,
    batchSize: args.batchSize,
    seeds: args.seeds,
    evalQueries: args.evalQueries,
    evalEvery: args.evalEvery,
    internalsEvery: args.internalsEvery,
    lr: args.lr,
    queryLength: args.queryLength,
    docLength: args.docLength,
    staticMargins: args.static,
    fractions: args.fractions,
    e2Pool: args.e2Pool,
    e2Steps: args.e2Steps,
    device: args.device,
  };
  const out = args.out;
  const command = `npx tsx scripts/sdam_experiments.ts ${process.argv.slice(2).join(' ')}`.trim();
  const triplesPath = join(budget.data, 'triples', 'train.jsonl.gz');
  const totalTriples = (await readTriples(triplesPath)).length;
  const cells = planCells(budget, only as Set<Experiment>, totalTriples);
  ensureDirectory(out);
  writeFileAtomic(
    join(out, 'plan.json'),
    `${JSON.stringify({ command, budget, only: [...only], totalTriples, cells }, null, 2)}\n`,
  );
  await startDevice(budget.device, args.threads);

  const teachers = new TeacherCache(budget);
  const results: CellResult[] = [];
  const missing: string[] = [];
  const bar = startProgress({ label: 'sdam-experiments', total: cells.length, unit: 'cell', eta: false });
  try {
    for (const [i, cell] of cells.entries()) {
      if (args.reportOnly && !existsSync(join(out, 'cells', cell.id, 'metrics.json'))) {
        missing.push(cell.id);
      } else {
        process.stderr.write(`sdam-experiments: cell ${i + 1}/${cells.length} ${cell.id} (${cell.steps} steps)\n`);
        results.push(await runCell(cell, budget, out, teachers));
      }
      bar.update(i + 1);
    }
  } finally {
    bar.finish();
  }
  const baselines = only.has('E1') ? await runBaselines(budget, out, { compute: !args.reportOnly }) : null;

  const setNames = budget.evalSets.map((s) => s.name);
  const report: string[] = [
    '# SDAM experiments (issue 14)',
    '',
    `Command: \`${command}\``,
    '',
    `Budget: ${budget.steps} steps of ${budget.batchSize} triples, lr ${budget.lr} (AdamW, decay 0.99999 per step, no clipping, mean pooling), ` +
      `from \`${budget.model}\` on \`${budget.data}\` (${totalTriples} triples); main rows on ${budget.seeds} seed(s) with every evaluation query ` +
      `and validation on ${budget.validation.name} every ${budget.evalEvery} steps (early stopping, patience 3); sweep rows on seed 0 with ${budget.evalQueries} ` +
      `evaluation queries (seeded subsample; all when a set has fewer). Mean ± sample standard deviation over seeds. s/step: median step time ` +
      `without warm-up, the online cross-encoder teacher's forward pass included. Margin-MSE: --teacher-scale auto (k in the row label).` +
      (teacherModel
        ? ` Teacher: \`${teacherModel}\` (max length ${budget.teacherMaxLength}).`
        : ' No --teacher-model: no cross-encoder rows.'),
    '',
  ];
  const json: Record<string, unknown> = { command, budget, totalTriples, missing };
  if (missing.length > 0) report.push(`Unfinished cells (not in the tables): ${missing.join(', ')}`, '');
  const e1 = results.filter((r) => r.cell.experiment === 'E1');
  if (only.has('E1') && e1.length > 0) {
    const rows = summarizeRows(e1);
    json.E1 = { rows, baselines };
    report.push('## E1: the losses at the same budget', '', e1Table(rows, baselines, setNames), '');
  }
  const e2 = results.filter((r) => r.cell.experiment === 'E2');
  if (only.has('E2') && e2.length > 0) {
    json.E2 = e2.map((r) => ({
      row: r.cell.row,
      fraction: r.cell.fraction,
      triples: r.metrics.trainTriples,
      steps: r.metrics.steps,
      epochs: r.metrics.epochs,
      final: r.metrics.final,
    }));
    report.push('## E2: data efficiency (at most one epoch of each subset)', '', e2Table(e2, setNames), '');
  }
  if (only.has('E3')) {
    const rows = summarizeE3(e1);
    json.E3 = rows;
    report.push(
      '## E3: time to quality',
      '',
      `Training seconds (sum of logged step times, teacher included, validation excluded) until validation nDCG@10 on ${budget.validation.name} first reaches 95% of the run's best; validated every ${budget.evalEvery} steps, so the resolution is ${budget.evalEvery} steps.`,
      '',
      e3Table(rows),
      '',
    );
  }
  if (only.has('E4')) {
    const byId = new Map(results.map((r) => [r.cell.id, r]));
    const shown = e4Cells(cells, budget)
      .map((c) => byId.get(c.id))
      .filter((r): r is CellResult => r !== undefined);
    if (shown.length > 0) {
      const panels = shown.map((r) => e4Panel(r.cell.row, r.dir));
      json.E4 = panels.map((p) => p.panel);
      const svg = await renderSvg(e4Figure(panels.map((p) => ({ row: p.panel.row, run: p.run }))), 'e4-internals');
      writeFileAtomic(join(out, 'figures', 'e4-internals.svg'), svg);
      writeFileAtomic(join(out, 'figures', 'e4-internals.png'), svgToPng(svg, { fontFiles: pngFonts() }));
      report.push(
        '## E4: loss internals',
        '',
        e4Table(panels.map((p) => p.panel)),
        '',
        '![hardness against gradient norm per loss](figures/e4-internals.png)',
        '',
      );
    }
  }
  writeFileAtomic(join(out, 'results.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileAtomic(join(out, 'report.md'), `${report.join('\n')}\n`);
  if (args.writeDocs) {
    if (missing.length > 0)
      throw new Error(
        `--write-docs: ${missing.length} planned cells are unfinished (${missing[0]}, ...); run without --report-only first`,
      );
    const docs = args.docsDir ?? join(ROOT, 'docs');
    writeFileAtomic(
      join(docs, 'sdam-experiments.md'),
      `${report.join('\n').replaceAll('figures/e4-internals.png', 'figures/sdam-e4-internals.png')}\n`,
    );
    for (const ext of ['svg', 'png']) {
      const from = join(out, 'figures', `e4-internals.${ext}`);
      if (existsSync(from)) writeFileAtomic(join(docs, 'figures', `sdam-e4-internals.${ext}`), readFileSync(from));
    }
  }
  process.stdout.write(
    `${JSON.stringify({ out, cells: cells.length, finished: results.length, missing: missing.length, report: join(out, 'report.md') })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`sdam_experiments: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
