// The SDAM experiments (src/experiments/sdam.ts, scripts/sdam_experiments.ts): the cell plan of
// E1-E4 from a budget, the spread over seeds, E3's time to quality from a log, and the command end
// to end on the synthetic retrieval set with the tiny cross-encoder fixture as the teacher: every
// cell a run directory with metrics.json, results.json / report.md / the E4 figure written, a rerun
// trains nothing and reports the same, another budget in the same --out is refused, --report-only
// lists unfinished cells and --write-docs refuses to write them; a bad flag value fails in one line
// naming the option.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  planCells,
  spread,
  summarizeRows,
  timeToQuality,
  type Budget,
  type CellResult,
  type Experiment,
} from '../src/experiments/sdam.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const CE = join(import.meta.dirname, 'fixtures', 'cross-encoder', 'tiny');
const work = mkdtempSync(join(tmpdir(), 'retrograd-sdam-experiments-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const budget = (extra: Partial<Budget> = {}): Budget => ({
  model: 'm',
  data: 'd',
  evalSets: [{ name: 'pkgdesc-test', dir: 'x', split: 'test' }],
  validation: { name: 'dev', dir: 'y', split: 'dev' },
  teacherModel: 'ce',
  teacherMaxLength: 160,
  steps: 200,
  batchSize: 16,
  seeds: 3,
  evalQueries: 1000,
  evalEvery: 50,
  internalsEvery: 10,
  lr: 1e-4,
  queryLength: 32,
  docLength: 128,
  staticMargins: [0.1, 0.3, 0.6],
  fractions: [1, 3, 13.5, 25, 50, 100],
  device: 'cpu',
  ...extra,
});
const all = new Set<Experiment>(['E1', 'E2', 'E3', 'E4']);

describe('plan', () => {
  it('E1-E4: main rows on every seed with validation and full evaluation, sweep rows on seed 0 with the subsample, E2 one epoch per fraction', () => {
    const cells = planCells(budget(), all, 52594);
    expect(new Set(cells.map((c) => c.id)).size).toBe(cells.length);
    const main = cells.filter((c) => c.main);
    expect([...new Set(main.map((c) => c.row))]).toEqual([
      'SDAM adaptive',
      'Margin-MSE, cross-encoder',
      'Margin-MSE, BM25',
      'InfoNCE',
    ]);
    expect(main).toHaveLength(12);
    for (const c of main) expect([c.validation, c.evalQueries, c.steps]).toEqual([true, undefined, 200]);
    const sweep = cells.filter((c) => c.experiment === 'E1' && !c.main);
    expect(sweep.map((c) => c.row)).toEqual([
      'SDAM adaptive, in-batch rowwise',
      'SDAM adaptive, in-batch as-released',
      'SDAM static 0.1',
      'SDAM static 0.3',
      'SDAM static 0.6',
      'SDAM distributed',
    ]);
    for (const c of sweep) expect(c).toMatchObject({ seed: 0, evalQueries: 1000, validation: false });
    expect(sweep[1].recipe).toEqual({ kind: 'sdam', target: 'adaptive', inBatch: true, marginMode: 'as-released' });
    const e2 = cells.filter((c) => c.experiment === 'E2');
    // 1% of 52,594 = 526 triples = 32 batches of 16 (one epoch); 100% = 3,287 steps
    expect(e2.map((c) => [c.row, c.fraction, c.maxTriples, c.steps])).toEqual([
      ['SDAM adaptive', 1, 526, 32],
      ['SDAM adaptive', 3, 1578, 98],
      ['SDAM adaptive', 13.5, 7100, 443],
      ['SDAM adaptive', 25, 13149, 821],
      ['SDAM adaptive', 50, 26297, 1643],
      ['SDAM adaptive', 100, 52594, 3287],
      ['Margin-MSE, cross-encoder', 100, 52594, 3287],
    ]);
    expect(cells.filter((c) => c.experiment === 'E4').map((c) => c.recipe)).toEqual([
      { kind: 'sdam', target: 'adaptive', detachTarget: true },
    ]);
  });

  it("budget flags: E2 pool and step cap; without a teacher no cross-encoder rows; E3 alone runs E1's main rows, E4 alone their seed 0", () => {
    const e2 = planCells(budget({ e2Pool: 1000, e2Steps: 20 }), new Set(['E2']), 52594);
    expect(e2.map((c) => [c.maxTriples, c.steps])).toEqual([
      [16, 1],
      [30, 1],
      [135, 8],
      [250, 15],
      [500, 20],
      [1000, 20],
      [1000, 20],
    ]);
    const noTeacher = planCells(budget({ teacherModel: undefined }), all, 52594);
    expect(noTeacher.some((c) => c.row.includes('cross-encoder'))).toBe(false);
    const bm25Row = noTeacher.filter((c) => c.experiment === 'E2').at(-1)!;
    expect(bm25Row.recipe).toEqual({ kind: 'margin-mse', teacher: 'bm25' });
    // the same label as E1's row, so the tables agree; the id (lower case) is the one cells were saved under
    expect([bm25Row.row, bm25Row.id]).toEqual(['Margin-MSE, BM25', 'e2-margin-mse-bm25-100pct-s0']);
    expect(planCells(budget(), new Set(['E3']), 100).every((c) => c.main)).toBe(true);
    const e4 = planCells(budget(), new Set(['E4']), 100);
    expect(e4.map((c) => c.id)).toEqual([
      'e1-sdam-adaptive-s0',
      'e1-margin-mse-cross-encoder-s0',
      'e1-infonce-s0',
      'e4-sdam-adaptive-detached-s0',
    ]);
  });
});

describe('aggregation', () => {
  it('spread: mean and sample standard deviation; null for one value', () => {
    expect(spread([1, 2, 3, 6])).toEqual({ mean: 3, sd: Math.sqrt(14 / 3), n: 4, min: 1, max: 6 });
    expect(spread([0.5]).sd).toBeNull();
    expect(() => spread([])).toThrow(/no values/);
  });

  it('time to quality: the first validation at 95% of the best, with the step times up to it', () => {
    const log = [
      ...[1, 2, 3, 4, 5, 6].map((step) => ({ kind: 'train', step, ms: 100 * step })),
      { kind: 'validation', step: 2, metrics: { 'nDCG@10': 0.5 } },
      { kind: 'validation', step: 4, metrics: { 'nDCG@10': 0.58 } },
      { kind: 'validation', step: 6, metrics: { 'nDCG@10': 0.6 } },
    ];
    expect(timeToQuality(log)).toEqual({ best: 0.6, step: 4, seconds: 1.0 }); // 0.58 >= 0.57; 100+200+300+400 ms
    expect(timeToQuality(log.filter((e) => e.kind === 'train'))).toBeNull();
  });

  it('rows: seeds grouped, per set and metric, s/step from the median step times', () => {
    const result = (seed: number, ndcg: number, ms: number): CellResult => ({
      cell: {
        id: `x-s${seed}`,
        experiment: 'E1',
        row: 'SDAM adaptive',
        main: true,
        seed,
        recipe: { kind: 'sdam', target: 'adaptive' },
        steps: 2,
        validation: true,
      },
      dir: 'unused',
      metrics: {
        steps: 2,
        triplesSeen: 32,
        epochs: 0.1,
        trainTriples: 300,
        medianStepMs: ms,
        msPerStep: ms,
        final: [
          { name: 'faq', queries: 10, documents: 10, metrics: { 'nDCG@10': ndcg, 'MRR@10': ndcg / 2 }, seconds: 1 },
        ],
      },
    });
    const [row] = summarizeRows([result(0, 0.2, 1000), result(1, 0.4, 3000)]);
    expect(row.seeds).toBe(2);
    expect(row.sets.faq['nDCG@10'].mean).toBeCloseTo(0.3, 12);
    expect(row.sets.faq['MRR@10'].mean).toBeCloseTo(0.15, 12);
    expect(row.secondsPerStep!.mean).toBe(2);
  });
});

describe('scripts/sdam_experiments.ts end to end', () => {
  let dataDir = '';
  let modelDir = '';
  beforeAll(async () => {
    ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
  });
  const out = join(work, 'exp');
  const run = (...extra: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx/esm',
        'scripts/sdam_experiments.ts',
        '--model',
        modelDir,
        '--data',
        dataDir,
        '--out',
        out,
        '--teacher-model',
        CE,
        '--teacher-max-length',
        '40',
        '--eval',
        `${dataDir}:test`,
        '--validation',
        `${dataDir}:test`,
        '--steps',
        '2',
        '--batch-size',
        '8',
        '--seeds',
        '2',
        '--eval-queries',
        '6',
        '--eval-every',
        '1',
        '--internals-every',
        '1',
        '--query-length',
        '8',
        '--doc-length',
        '24',
        '--static',
        '0.3',
        '--fractions',
        '50,100',
        '--e2-steps',
        '2',
        ...extra,
      ],
      { encoding: 'utf8', env: { ...process.env, RETROGRAD_PROGRESS_SECONDS: '3600' } },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('runs every cell, writes results, report and figure; a rerun trains nothing', () => {
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { cells: { id: string }[] };
    for (const c of plan.cells) expect(existsSync(join(out, 'cells', c.id, 'metrics.json')), c.id).toBe(true);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Record<string, unknown>;
    const e1 = results.E1 as { rows: { row: string; seeds: number; teacherScale?: number }[] };
    expect(e1.rows.find((r) => r.row === 'Margin-MSE, cross-encoder')).toMatchObject({ seeds: 2 });
    expect(e1.rows.find((r) => r.row === 'Margin-MSE, cross-encoder')!.teacherScale).toBeGreaterThan(0);
    expect((results.E3 as { row: string }[]).map((r) => r.row)).toEqual([
      'SDAM adaptive',
      'Margin-MSE, cross-encoder',
      'Margin-MSE, BM25',
      'InfoNCE',
    ]);
    expect((results.E4 as { row: string }[]).map((r) => r.row)).toEqual([
      'SDAM adaptive',
      'SDAM adaptive, detached target',
      'Margin-MSE, cross-encoder',
      'InfoNCE',
    ]);
    expect((results.E2 as unknown[]).length).toBe(3);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    for (const h of ['## E1', '## E2', '## E3', '## E4', 'Command: `npx tsx scripts/sdam_experiments.ts'])
      expect(report).toContain(h);
    expect(statSync(join(out, 'figures', 'e4-internals.png')).size).toBeGreaterThan(1000);

    const mtimes = plan.cells.map((c) => statSync(join(out, 'cells', c.id, 'metrics.json')).mtimeMs);
    const again = run();
    expect(again.status, again.stderr).toBe(0);
    expect(plan.cells.map((c) => statSync(join(out, 'cells', c.id, 'metrics.json')).mtimeMs)).toEqual(mtimes);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(report);
    // the same --out with another budget: the finished cells are not reused
    const other = run('--lr', '2e-4');
    expect(other.status).toBe(1);
    expect(other.stderr.trim().split('\n').at(-1)).toMatch(
      /^sdam_experiments: .*e1-sdam-adaptive-s0\.json: cell e1-sdam-adaptive-s0 was run with other settings \(model, budget or teacher\); use another --out$/,
    );
    // other weights behind the same --model path (a newer checkpoint committed there): refused too
    const weights = join(modelDir, 'model.safetensors');
    const original = readFileSync(weights);
    const changed = Buffer.from(original);
    changed[changed.length - 1] ^= 1; // the last byte of the last tensor's data
    writeFileSync(weights, changed);
    try {
      const newer = run();
      expect(newer.status).toBe(1);
      expect(newer.stderr.trim().split('\n').at(-1)).toMatch(/e1-sdam-adaptive-s0 was run with other settings/);
    } finally {
      writeFileSync(weights, original);
    }
    expect(run().status).toBe(0);
  }, 600_000);

  it('fails in one line naming the option on a bad flag value, writing nothing', () => {
    for (const [flag, value, message] of [
      ['--only', 'E5', `option '--only <list>' argument 'E5' is invalid. item "E5": expected one of E1, E2, E3, E4`],
      ['--batch-size', '1', "option '--batch-size <n>' argument '1' is invalid. expected an integer >= 2"],
      [
        '--fractions',
        '0,50',
        `option '--fractions <list>' argument '0,50' is invalid. item "0": expected a number in (0, 100]`,
      ],
      [
        '--validation',
        'data/pkgdesc-dev',
        "option '--validation <set>' argument 'data/pkgdesc-dev' is invalid. expected DIR:SPLIT",
      ],
    ]) {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx/esm', 'scripts/sdam_experiments.ts', '--out', join(work, 'never'), flag, value],
        { encoding: 'utf8' },
      );
      expect(r.status, flag).toBe(1);
      expect(r.stderr.trim().split('\n'), flag).toHaveLength(1);
      expect(r.stderr.startsWith(`sdam_experiments: ${message}`), r.stderr).toBe(true);
    }
    expect(existsSync(join(work, 'never'))).toBe(false);
  }, 60_000);

  it('--report-only lists unfinished cells and --write-docs refuses them; with every cell done it writes the docs', () => {
    const docs = join(work, 'docs');
    const done = run('--report-only', '--write-docs', '--docs-dir', docs);
    expect(done.status, done.stderr).toBe(0);
    expect(readdirSync(join(docs, 'figures')).sort()).toEqual(['sdam-e4-internals.png', 'sdam-e4-internals.svg']);
    const written = readFileSync(join(docs, 'sdam-experiments.md'), 'utf8');
    expect(written).toContain('figures/sdam-e4-internals.png');
    expect(written).toMatch(/\| BM25 \| — \| [0-9.]+ \|/); // the baselines, read back without recomputing
    const partial = run('--report-only', '--seeds', '3', '--write-docs', '--docs-dir', docs);
    expect(partial.status).toBe(1);
    expect(partial.stderr.trim().split('\n').at(-1)).toMatch(
      /^sdam_experiments: --write-docs: 4 planned cells are unfinished \(e1-sdam-adaptive-s2, \.\.\.\); run without --report-only first$/,
    );
  }, 600_000);
});
