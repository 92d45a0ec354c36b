// The SDAM experiments E1-E4 of issue 14 as one resumable command (src/experiments/sdam.ts plans
// and aggregates; every cell is a `retrograd train` run directory under <out>/cells).
//
//   npx tsx scripts/sdam_experiments.ts --teacher-model runs/ce/model [--only E1,E2,E3,E4] \
//       [--model models/bert-mini-retrograd] [--data data/pkgdesc-train] [--out runs/sdam-experiments] \
//       [--steps 200] [--batch-size 16] [--lr 1e-4] [--seeds 3] [--eval-queries 1000] [--eval-every 50] \
//       [--eval data/pkgdesc-test:test,data/faq:test] [--validation data/pkgdesc-dev:dev] \
//       [--static 0.1,0.3,0.6] [--fractions 1,3,13.5,25,50,100] [--e2-pool N] [--e2-steps N] \
//       [--teacher-max-length 160] [--device cpu] [--threads N] [--report-only] [--write-docs]
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
import { parseArgs } from 'node:util';
import { readTriples } from '../src/data/beir.js';
import { startDevice } from '../src/cli/options.js';
import { startProgress } from '../src/cli/progress.js';
import { parseEvalSet } from '../src/cli/train.js';
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

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/bert-mini-retrograd' },
    data: { type: 'string', default: 'data/pkgdesc-train' },
    out: { type: 'string', default: 'runs/sdam-experiments' },
    'teacher-model': { type: 'string' },
    'teacher-max-length': { type: 'string', default: '160' },
    only: { type: 'string', default: EXPERIMENTS.join(',') },
    steps: { type: 'string', default: '200' },
    'batch-size': { type: 'string', default: '16' },
    lr: { type: 'string', default: '1e-4' },
    seeds: { type: 'string', default: '3' },
    'eval-queries': { type: 'string', default: '1000' },
    'eval-every': { type: 'string', default: '50' },
    'internals-every': { type: 'string', default: '10' },
    eval: { type: 'string', default: 'data/pkgdesc-test:test,data/faq:test' },
    validation: { type: 'string', default: 'data/pkgdesc-dev:dev' },
    static: { type: 'string', default: '0.1,0.3,0.6' },
    fractions: { type: 'string', default: '1,3,13.5,25,50,100' },
    'e2-pool': { type: 'string' },
    'e2-steps': { type: 'string' },
    'query-length': { type: 'string', default: '32' },
    'doc-length': { type: 'string', default: '128' },
    device: { type: 'string', default: 'cpu' },
    threads: { type: 'string' },
    'report-only': { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    'docs-dir': { type: 'string' },
  },
});

function number(name: keyof typeof args, o: { int?: boolean; min?: number } = {}): number {
  const text = String(args[name]);
  const n = Number(text);
  if (
    text.trim() === '' ||
    !Number.isFinite(n) ||
    (o.int && !Number.isSafeInteger(n)) ||
    (o.min !== undefined && n < o.min)
  ) {
    throw new Error(
      `--${name}: expected ${o.int ? 'an integer' : 'a number'}${o.min !== undefined ? ` >= ${o.min}` : ''}, got ${text}`,
    );
  }
  return n;
}

function list(name: keyof typeof args, min: number, max = Infinity): number[] {
  const xs = String(args[name])
    .split(',')
    .map((t) => t.trim());
  return xs.map((t) => {
    const n = Number(t);
    if (t === '' || !Number.isFinite(n) || n < min || n > max)
      throw new Error(`--${name}: expected numbers in [${min}, ${max}] separated by commas, got ${args[name]}`);
    return n;
  });
}

async function main(): Promise<void> {
  const only = new Set(
    String(args.only)
      .split(',')
      .map((e) => e.trim().toUpperCase()),
  );
  for (const e of only)
    if (!EXPERIMENTS.includes(e as Experiment))
      throw new Error(`--only: expected some of ${EXPERIMENTS.join(',')}, got ${e}`);
  const teacherModel = args['teacher-model'];
  if (teacherModel !== undefined && !existsSync(join(teacherModel, 'config.json')))
    throw new Error(`--teacher-model ${teacherModel}: no config.json (train one with retrograd train-cross-encoder)`);
  const budget: Budget = {
    model: String(args.model),
    data: String(args.data),
    evalSets: String(args.eval)
      .split(',')
      .map((spec) => parseEvalSet(spec, 'eval')),
    validation: parseEvalSet(String(args.validation), 'validation'),
    teacherModel,
    teacherMaxLength: number('teacher-max-length', { int: true, min: 3 }),
    steps: number('steps', { int: true, min: 1 }),
    batchSize: number('batch-size', { int: true, min: 2 }),
    seeds: number('seeds', { int: true, min: 1 }),
    evalQueries: number('eval-queries', { int: true, min: 1 }),
    evalEvery: number('eval-every', { int: true, min: 1 }),
    internalsEvery: number('internals-every', { int: true, min: 1 }),
    lr: number('lr', { min: Number.MIN_VALUE }),
    queryLength: number('query-length', { int: true, min: 3 }),
    docLength: number('doc-length', { int: true, min: 3 }),
    staticMargins: list('static', -2, 2),
    fractions: list('fractions', Number.MIN_VALUE, 100),
    e2Pool: args['e2-pool'] === undefined ? undefined : number('e2-pool', { int: true, min: 1 }),
    e2Steps: args['e2-steps'] === undefined ? undefined : number('e2-steps', { int: true, min: 1 }),
    device: String(args.device),
  };
  const out = String(args.out);
  const command = `npx tsx scripts/sdam_experiments.ts ${process.argv.slice(2).join(' ')}`.trim();
  const triplesPath = join(budget.data, 'triples', 'train.jsonl.gz');
  const totalTriples = (await readTriples(triplesPath)).length;
  const cells = planCells(budget, only as Set<Experiment>, totalTriples);
  ensureDirectory(out);
  writeFileAtomic(
    join(out, 'plan.json'),
    `${JSON.stringify({ command, budget, only: [...only], totalTriples, cells }, null, 2)}\n`,
  );
  await startDevice(budget.device, args.threads === undefined ? undefined : number('threads', { int: true, min: 1 }));

  const teachers = new TeacherCache(budget);
  const results: CellResult[] = [];
  const missing: string[] = [];
  const bar = startProgress({ label: 'sdam-experiments', total: cells.length, unit: 'cell', eta: false });
  try {
    for (const [i, cell] of cells.entries()) {
      if (args['report-only'] && !existsSync(join(out, 'cells', cell.id, 'metrics.json'))) {
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
  const baselines = only.has('E1') ? await runBaselines(budget, out, { compute: !args['report-only'] }) : null;

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
  if (args['write-docs']) {
    if (missing.length > 0)
      throw new Error(
        `--write-docs: ${missing.length} planned cells are unfinished (${missing[0]}, ...); run without --report-only first`,
      );
    const docs = args['docs-dir'] ?? join(ROOT, 'docs');
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
