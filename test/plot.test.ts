// `retrograd plot` (src/cli/plot.ts, src/plot/*) on the hand-made run directories in
// test/fixtures/plot (see its README.md): run-kind detection and the in-batch diagonal, the chart
// data checked value by value against the logs through --spec-out, the SVGs parsed as XML (root
// element, axis titles, one drawn symbol per logged point), the PNGs' size, byte-identical reruns,
// the smoothing / correlation / phase helpers on hand-computed cases, the DejaVu Sans width table
// against the font file, and one-line errors naming the file and line for bad logs.

import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './util/cli.js';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { registerPlot, runPlot } from '../src/cli/plot.js';
import { readRun, type BiencoderRun, type PretrainRun } from '../src/plot/runlog.js';
import { ema, evenlySpaced, pearson, phases } from '../src/plot/stats.js';
import { DEJAVU_SANS, DEJAVU_SANS_BOLD, MEASURED_CHARS, UNITS_PER_EM, textWidth } from '../src/plot/text-width.js';
import { advanceWidths } from '../src/plot/ttf.js';
import { DEFAULT_FONT } from '../src/plot/render.js';
import { assertClose, TOL } from './util/close.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'plot');
const PRETRAIN = join(FIXTURES, 'pretrain-run');
const BIENCODER = join(FIXTURES, 'biencoder-run');
const INBATCH = join(FIXTURES, 'biencoder-inbatch');
const work = mkdtempSync(join(tmpdir(), 'retrograd-plot-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Row = Record<string, unknown>;
type Specs = Record<string, Row>;

function jsonLines(path: string): Row[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Row);
}

const cli = (args: string[]): Promise<string> => runCli([registerPlot], args);

interface Element {
  tag: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

/** Parse an SVG document into a plain element tree (fails the test on malformed XML). */
function parseSvg(svg: string): Element {
  const valid = XMLValidator.validate(svg);
  expect(valid, 'well-formed XML').toBe(true);
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    trimValues: false,
  });
  const convert = (node: Row): Element | null => {
    const tag = Object.keys(node).find((k) => k !== ':@')!;
    if (tag === '#text') return null;
    const kids = (node[tag] as Row[]).map(convert);
    const text = (node[tag] as Row[]).map((k) => ('#text' in k ? String(k['#text']) : '')).join('');
    return {
      tag,
      attrs: (node[':@'] ?? {}) as Record<string, string>,
      children: kids.filter((k): k is Element => k !== null),
      text,
    };
  };
  const roots = (parser.parse(svg) as Row[]).map(convert).filter((e): e is Element => e !== null);
  expect(roots.length).toBe(1);
  return roots[0];
}

function all(e: Element): Element[] {
  return [e, ...e.children.flatMap(all)];
}

/** Every <text> element's content, tspans joined with a space. */
function texts(root: Element): string[] {
  return all(root)
    .filter((e) => e.tag === 'text')
    .map((e) => [e.text, ...e.children.map((c) => c.text)].filter((s) => s !== '').join(' '));
}

/** Drawn elements of the data marks (not axes, legends or titles) of one mark type. */
function markItems(root: Element, markType: string): Element[] {
  return all(root)
    .filter(
      (e) =>
        e.tag === 'g' &&
        (e.attrs.class ?? '').split(' ').includes(`mark-${markType}`) &&
        (e.attrs.class ?? '').includes('role-mark'),
    )
    .flatMap((g) => g.children);
}

/** Width and height of a PNG from its IHDR chunk (after checking the signature). */
function pngSize(png: Buffer): [number, number] {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

function data(spec: Row): Row[] {
  return (spec.data as { values: Row[] }).values;
}

describe('plot helpers', () => {
  it('ema is the bias-corrected exponential moving average', () => {
    // w = 0.5 on [1, 2, 3]: (0.5·1)/0.5 = 1; (0.25 + 1)/0.75 = 5/3; (0.625 + 1.5)/0.875 = 17/7.
    assertClose(ema([1, 2, 3], 0.5), [1, 5 / 3, 17 / 7], TOL.f64);
    expect(ema([4, -1, 7], 0)).toEqual([4, -1, 7]);
    expect(() => ema([1], 1)).toThrow(/\[0, 1\)/);
  });

  it('pearson on exact and degenerate cases', () => {
    assertClose(pearson([1, 2, 3, 4], [3, 5, 7, 9])!, 1, TOL.f64);
    assertClose(pearson([1, 2, 3, 4], [8, 6, 4, 2])!, -1, TOL.f64);
    // x = [1, 2, 3], y = [1, 3, 2]: sxy = 1, sxx = 2, syy = 2 -> r = 0.5.
    assertClose(pearson([1, 2, 3], [1, 3, 2])!, 0.5, TOL.f64);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(pearson([1], [2])).toBeNull();
  });

  it('phases split recorded steps into early / middle / late by count', () => {
    expect(phases([1, 5, 10, 15, 20, 25, 30])).toEqual([
      { label: 'early (steps 1–5)', start: 0, end: 2 },
      { label: 'middle (steps 10–15)', start: 2, end: 4 },
      { label: 'late (steps 20–30)', start: 4, end: 7 },
    ]);
    expect(phases([3, 9]).map((p) => p.label)).toEqual(['early (step 3)', 'late (step 9)']);
    expect(phases([7]).map((p) => p.label)).toEqual(['all (step 7)']);
    expect(phases([])).toEqual([]);
  });

  it('evenlySpaced keeps the ends and spreads the rest', () => {
    expect(evenlySpaced(7, 2)).toEqual([0, 6]);
    expect(evenlySpaced(7, 3)).toEqual([0, 3, 6]);
    expect(evenlySpaced(10, 4)).toEqual([0, 3, 6, 9]);
    expect(evenlySpaced(3, 5)).toEqual([0, 1, 2]);
    expect(evenlySpaced(5, 1)).toEqual([4]);
  });

  it('the DejaVu Sans width table matches the font files', () => {
    const codes = [...MEASURED_CHARS].map((c) => c.codePointAt(0)!);
    expect(DEJAVU_SANS.length).toBe(codes.length);
    expect(DEJAVU_SANS_BOLD.length).toBe(codes.length);
    expect(advanceWidths(DEFAULT_FONT, codes).map((w) => Math.round(w * UNITS_PER_EM))).toEqual([...DEJAVU_SANS]);
    expect(
      advanceWidths(DEFAULT_FONT.replace('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'), codes).map((w) =>
        Math.round(w * UNITS_PER_EM),
      ),
    ).toEqual([...DEJAVU_SANS_BOLD]);
    // "ll" at 10 px: 2 · 569/2048 em; unknown characters count 0.6 em.
    assertClose(textWidth('ll', 10), (2 * 569 * 10) / 2048, TOL.f64);
    assertClose(textWidth('✓', 10), 6, TOL.f64);
    expect(textWidth('loss', 12, true)).toBeGreaterThan(textWidth('loss', 12));
  });
});

describe('run logs', () => {
  it('tells a pretraining run from its entries', () => {
    const run = readRun(PRETRAIN) as PretrainRun;
    expect(run.kind).toBe('pretrain');
    const log = jsonLines(join(PRETRAIN, 'log.jsonl'));
    expect(run.train.map((e) => e.loss)).toEqual(log.filter((e) => e.kind === 'train').map((e) => e.loss));
    expect(run.eval.map((e) => [e.step, e.accuracy])).toEqual(
      log.filter((e) => e.kind === 'eval').map((e) => [e.step, e.accuracy]),
    );
  });

  it('tells a biencoder run and reads its internals', () => {
    const run = readRun(BIENCODER) as BiencoderRun;
    expect(run.kind).toBe('biencoder');
    expect(run.train.length).toBe(30);
    expect(run.validation.map((v) => v.step)).toEqual([10, 20, 30]);
    const internals = jsonLines(join(BIENCODER, 'internals.jsonl'));
    expect(run.internals.map((r) => r.step)).toEqual([1, 5, 10, 15, 20, 25, 30]);
    expect(run.internals.map((r) => r.target!.values)).toEqual(internals.map((r) => r.target));
    expect(run.internals.every((r) => r.target!.layout === 'per-triple' && r.margin!.layout === 'per-triple')).toBe(
      true,
    );
  });

  it('reduces in-batch [B, B] targets and margins to their diagonal', () => {
    const run = readRun(INBATCH) as BiencoderRun;
    const internals = jsonLines(join(INBATCH, 'internals.jsonl'));
    for (const [i, r] of run.internals.entries()) {
      const target = internals[i].target as number[];
      const margin = internals[i].margin as number[];
      expect(target.length).toBe(9);
      expect(r.target).toEqual({ values: [target[0], target[4], target[8]], layout: 'in-batch diagonal' });
      expect(r.margin).toEqual({ values: [margin[0], margin[4], margin[8]], layout: 'in-batch diagonal' });
    }
    expect(run.train.every((e) => e.gradNorm === null)).toBe(true);
  });

  it('repeats a static target per triple and treats [] as no target', () => {
    const dir = join(work, 'static-target');
    cpSync(BIENCODER, dir, { recursive: true });
    const rows = jsonLines(join(dir, 'internals.jsonl'));
    rows[0].target = [0.3];
    rows[1].target = [];
    writeFileSync(join(dir, 'internals.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const run = readRun(dir) as BiencoderRun;
    expect(run.internals[0].target).toEqual({ values: [0.3, 0.3, 0.3, 0.3], layout: 'constant' });
    expect(run.internals[1].target).toBeNull();
  });
});

describe('retrograd plot', () => {
  const outputs: Record<string, { out: string; specs: Specs; summary: Row }> = {};
  const plot = async (
    name: string,
    dir: string,
    extra: string[] = [],
  ): Promise<{ out: string; specs: Specs; summary: Row }> => {
    if (outputs[name]) return outputs[name];
    const out = join(work, name);
    const specOut = join(work, `${name}.specs.json`);
    const summary = JSON.parse(await cli(['plot', '--run', dir, '--out', out, '--spec-out', specOut, ...extra])) as Row;
    outputs[name] = { out, specs: JSON.parse(readFileSync(specOut, 'utf8')) as Specs, summary };
    return outputs[name];
  };

  it('pretraining: loss, accuracy, learning rate and gradient norm, as SVG and PNG', async () => {
    const { out, specs, summary } = await plot('pretrain', PRETRAIN);
    const charts = ['loss', 'accuracy', 'lr', 'grad-norm'];
    expect(summary.kind).toBe('pretrain');
    expect(readdirSync(out).sort()).toEqual(charts.flatMap((c) => [`${c}.png`, `${c}.svg`]).sort());
    expect(Object.keys(specs)).toEqual(charts);

    const log = jsonLines(join(PRETRAIN, 'log.jsonl'));
    const train = log.filter((e) => e.kind === 'train');
    const evals = log.filter((e) => e.kind === 'eval');
    const loss = data(specs.loss);
    const series = (s: string): Row[] => loss.filter((r) => r.series === s);
    expect(series('training loss').map((r) => [r.step, r.value])).toEqual(train.map((e) => [e.step, e.loss]));
    expect(series('held-out loss').map((r) => [r.step, r.value])).toEqual(evals.map((e) => [e.step, e.loss]));
    assertClose(
      series('training loss, smoothed (EMA 0.9)').map((r) => r.value as number),
      ema(
        train.map((e) => e.loss as number),
        0.9,
      ),
      TOL.f64,
    );
    expect(data(specs.accuracy)).toEqual(evals.map((e) => ({ step: e.step, accuracy: e.accuracy })));
    expect(data(specs.lr)).toEqual(train.map((e) => ({ step: e.step, lr: e.lr })));

    const svg = parseSvg(readFileSync(join(out, 'loss.svg'), 'utf8'));
    expect(svg.tag).toBe('svg');
    const all = texts(svg);
    for (const title of [
      'Masked-LM pretraining loss',
      'optimizer step',
      'cross-entropy (nats per masked token)',
      'training loss',
      'held-out loss',
    ])
      expect(all).toContain(title);
    expect(markItems(svg, 'line').length).toBe(3); // raw, smoothed, held-out
    expect(markItems(svg, 'symbol').length).toBe(evals.length); // one point per held-out evaluation

    const accuracy = parseSvg(readFileSync(join(out, 'accuracy.svg'), 'utf8'));
    expect(texts(accuracy)).toContain('masked tokens predicted exactly (%)');
    expect(markItems(accuracy, 'symbol').length).toBe(evals.length);

    for (const chart of charts) {
      const root = parseSvg(readFileSync(join(out, `${chart}.svg`), 'utf8'));
      const [w, h] = [Number(root.attrs.width), Number(root.attrs.height)];
      expect(w).toBeGreaterThan(300);
      expect(pngSize(readFileSync(join(out, `${chart}.png`)))).toEqual([2 * w, 2 * h]);
    }
  });

  it('biencoder: loss with validation nDCG@10, hardness vs gradient, correlation, distributions', async () => {
    const { out, specs, summary } = await plot('biencoder', BIENCODER);
    const charts = [
      'loss',
      'lr',
      'grad-norm',
      'hardness-vs-gradient',
      'hardness-gradient-correlation',
      'internals-distributions',
    ];
    expect(summary.kind).toBe('biencoder');
    expect(summary.skipped).toEqual([]);
    expect(Object.keys(specs)).toEqual(charts);
    for (const chart of charts)
      expect(existsSync(join(out, `${chart}.svg`)) && existsSync(join(out, `${chart}.png`))).toBe(true);

    const log = jsonLines(join(BIENCODER, 'log.jsonl'));
    const validation = log.filter((e) => e.kind === 'validation');
    const panels = specs.loss.vconcat as Row[];
    expect(data(panels[1])).toEqual(
      validation.map((v) => ({ step: v.step, nDCG10: (v.metrics as Row)['nDCG@10'], set: 'pkgdesc-dev' })),
    );

    const internals = jsonLines(join(BIENCODER, 'internals.jsonl'));
    const scatter = data((specs['hardness-vs-gradient'].layer as Row[])[0]);
    expect(scatter.map((p) => [p.step, p.hardness, p.gradNorm])).toEqual(
      internals.flatMap((r) => (r.pairSimilarity as number[]).map((s, k) => [r.step, s, (r.gradNorms as number[])[k]])),
    );
    expect([...new Set(scatter.map((p) => p.phase))]).toEqual([
      'early (steps 1–5)',
      'middle (steps 10–15)',
      'late (steps 20–30)',
    ]);
    // The fitted line of a phase passes through the phase's mean point with the least-squares slope.
    const fits = data((specs['hardness-vs-gradient'].layer as Row[])[1]);
    const late = internals.slice(4);
    const xs = late.flatMap((r) => r.pairSimilarity as number[]);
    const ys = late.flatMap((r) => r.gradNorms as number[]);
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    const lateFit = fits.filter((f) => f.phase === 'late (steps 20–30)');
    expect(lateFit.map((f) => f.hardness)).toEqual([Math.min(...xs), Math.max(...xs)]);
    assertClose(
      lateFit.map((f) => f.gradNorm as number),
      lateFit.map((f) => my + slope * ((f.hardness as number) - mx)),
      TOL.f64,
    );

    const correlation = data((specs['hardness-gradient-correlation'].layer as Row[])[1]);
    expect(correlation).toEqual(internals.map((r) => ({ step: r.step, r: r.hardnessGradCorrelation })));

    const distributions = data(specs['internals-distributions']);
    const values = (q: string): number[] => distributions.filter((d) => d.quantity === q).map((d) => d.value as number);
    expect(values('negative hardness s(d+, d−)')).toEqual(internals.flatMap((r) => r.pairSimilarity as number[]));
    expect(values('target margin')).toEqual(internals.flatMap((r) => r.target as number[]));
    expect(values('student margin s(q, d+) − s(q, d−)')).toEqual(internals.flatMap((r) => r.margin as number[]));

    const svg = parseSvg(readFileSync(join(out, 'hardness-vs-gradient.svg'), 'utf8'));
    const words = texts(svg);
    expect(words).toContain('negative hardness s(d+, d−) (cosine of positive and negative)');
    expect(words).toContain('gradient norm w.r.t. (q, d+, d−) embeddings (L2)');
    expect(words).toContain('training phase');
    expect(markItems(svg, 'symbol').length).toBe(internals.length * 4); // one circle per triple
    expect(markItems(svg, 'line').length).toBe(3); // one fit per phase

    const boxes = parseSvg(readFileSync(join(out, 'internals-distributions.svg'), 'utf8'));
    expect(texts(boxes)).toContain('target margin');
    expect(markItems(boxes, 'rect').length).toBe(2 * 3 * 3); // box + median tick, 3 phases, 3 quantities
    const lossSvg = parseSvg(readFileSync(join(out, 'loss.svg'), 'utf8'));
    expect(texts(lossSvg)).toContain('validation nDCG@10');
  });

  it('in-batch internals: diagonal noted, no validation panel, no gradient norm chart', async () => {
    const { specs, summary } = await plot('inbatch', INBATCH);
    expect(Object.keys(specs)).toEqual([
      'loss',
      'lr',
      'hardness-vs-gradient',
      'hardness-gradient-correlation',
      'internals-distributions',
    ]);
    expect(summary.skipped).toEqual([
      'grad-norm: no gradient norms logged (runs before 2026-12-07 logged them only when clipping)',
    ]);
    expect('vconcat' in specs.loss).toBe(false);
    const subtitle = (specs['internals-distributions'].title as Row).subtitle as string[];
    expect(subtitle).toContain("target: in-batch [B, B] matrix shown by its diagonal (each triple's own pair)");
    const internals = jsonLines(join(INBATCH, 'internals.jsonl'));
    const targets = data(specs['internals-distributions'])
      .filter((d) => d.quantity === 'target margin')
      .map((d) => d.value);
    expect(targets).toEqual(internals.flatMap((r) => [0, 4, 8].map((i) => (r.target as number[])[i])));
  });

  it('thins the scatter to --max-points but fits on every triple', async () => {
    const { specs } = await plot('thinned', BIENCODER, ['--max-points', '8', '--no-png']);
    const full = outputs.biencoder?.specs ?? (await plot('biencoder', BIENCODER)).specs;
    const layer = specs['hardness-vs-gradient'].layer as Row[];
    expect([...new Set(data(layer[0]).map((p) => p.step))]).toEqual([1, 30]);
    expect(data(layer[1])).toEqual(data((full['hardness-vs-gradient'].layer as Row[])[1]));
    expect(((specs['hardness-vs-gradient'].title as Row).subtitle as string[]).at(-1)).toBe(
      'points of 2 of the 7 recorded steps shown (evenly spaced); fits and r use all',
    );
    expect(readdirSync(join(work, 'thinned')).every((f) => f.endsWith('.svg'))).toBe(true);
  });

  it('writes byte-identical files for the same run', async () => {
    const first = await plot('biencoder', BIENCODER);
    const again = join(work, 'again');
    await runPlot({ run: BIENCODER, out: again, specOut: join(work, 'again.specs.json') });
    for (const f of readdirSync(first.out))
      expect(readFileSync(join(again, f)).equals(readFileSync(join(first.out, f))), f).toBe(true);
    expect(readFileSync(join(work, 'again.specs.json'), 'utf8')).toBe(
      readFileSync(join(work, 'biencoder.specs.json'), 'utf8'),
    );
  });

  it('a pretraining run before its first evaluation: no held-out layer, no accuracy chart', async () => {
    const dir = join(work, 'no-eval');
    cpSync(PRETRAIN, dir, { recursive: true });
    const train = jsonLines(join(dir, 'log.jsonl')).filter((e) => e.kind === 'train');
    writeFileSync(join(dir, 'log.jsonl'), train.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const { out, specs, summary } = await plot('no-eval', dir, ['--no-png']);
    expect(summary.skipped).toEqual(['accuracy: no held-out eval entries']);
    expect((specs.loss.layer as Row[]).length).toBe(1);
    const svg = parseSvg(readFileSync(join(out, 'loss.svg'), 'utf8'));
    expect(markItems(svg, 'line').length).toBe(2);
    expect(markItems(svg, 'symbol').length).toBe(0);
  });

  it('internals with no spread in hardness: no fit lines, no correlation chart', async () => {
    const dir = join(work, 'flat');
    cpSync(BIENCODER, dir, { recursive: true });
    const rows = jsonLines(join(dir, 'internals.jsonl')).map((r) => ({
      ...r,
      pairSimilarity: [0.5, 0.5, 0.5, 0.5],
      hardnessGradCorrelation: null,
    }));
    writeFileSync(join(dir, 'internals.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const { specs, summary } = await plot('flat', dir, ['--no-png']);
    expect(summary.skipped).toEqual(['hardness-gradient-correlation: every logged correlation is null']);
    const scatter = specs['hardness-vs-gradient'];
    expect((scatter.layer as Row[]).length).toBe(1);
    expect(((scatter.title as Row).subtitle as string[])[1]).toBe(
      'Pearson r pooled per phase: early n/a, middle n/a, late n/a',
    );
  });

  it('defaults --out to RUN/plots', async () => {
    const dir = join(work, 'default-out');
    cpSync(PRETRAIN, dir, { recursive: true });
    const summary = JSON.parse(await cli(['plot', '--run', dir, '--no-png'])) as Row;
    expect(summary.out).toBe(join(dir, 'plots'));
    expect(readdirSync(join(dir, 'plots')).sort()).toEqual(['accuracy.svg', 'grad-norm.svg', 'loss.svg', 'lr.svg']);
  });
});

describe('bad input', () => {
  /** A copy of a fixture run with line `line` (1-based) of `file` replaced. */
  function corrupt(name: string, from: string, file: string, line: number, text: string): string {
    const dir = join(work, `bad-${name}`);
    cpSync(from, dir, { recursive: true });
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    lines[line - 1] = text;
    writeFileSync(join(dir, file), lines.join('\n'));
    return dir;
  }

  const cases: [string, string, string, number, string, RegExp][] = [
    ['json', PRETRAIN, 'log.jsonl', 3, '{"kind":"train",', /log\.jsonl line 3: invalid JSON/],
    ['array', PRETRAIN, 'log.jsonl', 2, '[1, 2]', /log\.jsonl line 2: expected a JSON object/],
    [
      'loss',
      PRETRAIN,
      'log.jsonl',
      4,
      '{"kind":"train","step":35,"loss":"abc","lr":0.001,"gradNorm":1,"tokensPerSec":1}',
      /log\.jsonl line 4: "loss" must be a number, got "abc"/,
    ],
    [
      'step',
      PRETRAIN,
      'log.jsonl',
      5,
      '{"kind":"train","step":5,"loss":7,"lr":0.001,"gradNorm":1,"tokensPerSec":1}',
      /log\.jsonl line 5: step 5 of a "train" entry after step 40; steps must increase/,
    ],
    ['kind', PRETRAIN, 'log.jsonl', 2, '{"kind":"test","step":20}', /log\.jsonl line 2: unknown kind "test"/],
    [
      'mixed',
      PRETRAIN,
      'log.jsonl',
      2,
      '{"kind":"validation","step":20,"name":"x","metrics":{"nDCG@10":0.1}}',
      /log\.jsonl line 2: a biencoder entry, but .*log\.jsonl line 1 is from a pretrain run/,
    ],
    [
      'missing',
      BIENCODER,
      'log.jsonl',
      3,
      '{"kind":"train","step":2,"lr":0.1,"gradNorm":1,"msPerStep":3}',
      /log\.jsonl line 3: missing "loss"/,
    ],
    [
      'ndcg',
      BIENCODER,
      'log.jsonl',
      12,
      '{"kind":"validation","step":10,"name":"dev","metrics":{"MRR@10":0.3}}',
      /log\.jsonl line 12: metrics has no "nDCG@10"/,
    ],
    [
      'target',
      BIENCODER,
      'internals.jsonl',
      2,
      '{"step":5,"loss":0.1,"gradNorms":[1,2,3,4],"pairSimilarity":[0.1,0.2,0.3,0.4],"target":[1,2,3],"hardnessGradCorrelation":1}',
      /internals\.jsonl line 2: "target" has 3 entries; expected 0, 1, B=4 or B\*B=16/,
    ],
    [
      'pairs',
      BIENCODER,
      'internals.jsonl',
      3,
      '{"step":10,"loss":0.1,"gradNorms":[1,2,3,4],"pairSimilarity":[0.1,0.2],"hardnessGradCorrelation":1}',
      /internals\.jsonl line 3: "pairSimilarity" has 2 entries, "gradNorms" 4/,
    ],
    [
      'element',
      BIENCODER,
      'internals.jsonl',
      1,
      '{"step":1,"loss":0.1,"gradNorms":[1,"x",3,4],"pairSimilarity":[0.1,0.2,0.3,0.4],"hardnessGradCorrelation":1}',
      /internals\.jsonl line 1: "gradNorms"\[1\] must be a number, got "x"/,
    ],
  ];

  it.each(cases)('%s: one line naming the file and line', async (name, from, file, line, text, message) => {
    const dir = corrupt(name, from, file, line, text);
    const out = join(dir, 'plots');
    const err = await runPlot({ run: dir, out }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(message);
    expect(err!.message).toContain(join(dir, file));
    expect(err!.message).not.toContain('\n');
    expect(existsSync(out)).toBe(false); // nothing written
  });

  it('the line numbers count blank lines', () => {
    const dir = join(work, 'bad-blank');
    cpSync(PRETRAIN, dir, { recursive: true });
    const lines = readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n');
    writeFileSync(join(dir, 'log.jsonl'), ['', lines[0], '', '{"kind":"eval","step":50}'].join('\n'));
    expect(() => readRun(dir)).toThrow(`${join(dir, 'log.jsonl')} line 4: missing "loss"`);
  });

  it('a folder without log.jsonl, an empty log, a missing font, bad options', async () => {
    await expect(runPlot({ run: work })).rejects.toThrow(`${join(work, 'log.jsonl')}: not found`);
    const empty = join(work, 'empty-run');
    cpSync(PRETRAIN, empty, { recursive: true });
    writeFileSync(join(empty, 'log.jsonl'), '\n');
    await expect(runPlot({ run: empty })).rejects.toThrow(`${join(empty, 'log.jsonl')}: no entries`);
    await expect(runPlot({ run: PRETRAIN, out: join(work, 'nofont'), font: join(work, 'none.ttf') })).rejects.toThrow(
      `${join(work, 'none.ttf')}: font file not found`,
    );
    expect(existsSync(join(work, 'nofont'))).toBe(false);
    await expect(cli(['plot', '--run', PRETRAIN, '--smoothing', '1'])).rejects.toThrow(/expected a number in \[0, 1\)/);
    await expect(cli(['plot', '--run', PRETRAIN, '--max-points', '0'])).rejects.toThrow(/expected a positive integer/);
  });
});
