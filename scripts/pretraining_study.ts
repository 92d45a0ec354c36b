// How much language modelling does self-distillation need? SDAM and InfoNCE fine-tuned with equal
// budgets (the main job's: 200 steps of 16 triples, lr 1e-4, mean pooling, AdamW decayed 0.99999 per
// step, no clipping) from checkpoints of one pretraining lineage at increasing token counts, plus
// a randomly initialised encoder as the zero point; nDCG@10 / MRR@10 in-domain (pkgdesc-test) and
// out-of-domain (faq), with the untuned checkpoint beside them (issue 8, §5).
//
//   npx tsx scripts/pretraining_study.ts                                 # the default lineage points
//   npx tsx scripts/pretraining_study.ts --steps 50 --eval-queries 200   # a quick look
//   npx tsx scripts/pretraining_study.ts --docs                          # also write the figure into docs/figures
//   flags: --checkpoints TOKENS=SOURCE,... (SOURCE: random | git:REV (models/bert-mini-retrograd at REV) | DIR)
//          --out DIR (runs/pretraining-study) --losses sdam,infonce --seeds N (1) --steps (200) --batch-size (16)
//          --lr (1e-4) --temperature (InfoNCE, 0.05) --eval-queries N (all) --docs
//
// Every cell (checkpoint x loss x seed) is a `retrograd train` run directory under --out/cells; a cell
// with metrics.json is read back, an interrupted one resumes, so rerunning the command continues the
// study. Results: --out/results.json, --out/table.md, --out/pretraining-study.{svg,png}.

import { InvalidArgumentError } from 'commander';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { initDevice } from '../src/tensor/device.js';
import { Generator } from '../src/tensor/random.js';
import { BertForMaskedLM } from '../src/nn/bert.js';
import { readBertConfig, readTokenizer, saveModelDir } from '../src/nn/model-dir.js';
import { trainBiencoder, type EvalSet, type LossSpec, type TrainBiencoderResult } from '../src/train/retrieval.js';
import { ensureDirectory, tempSibling, writeFileAtomic } from '../src/io/atomic.js';
import { pngFonts, renderSvg, svgToPng } from '../src/plot/render.js';
import { Biencoder } from '../src/nn/biencoder.js';
import { docText, readCorpus, findJsonl } from '../src/data/beir.js';
import {
  choiceOption,
  listOption,
  parsedOption,
  positiveIntOption,
  positiveNumberOption,
  scriptProgram,
} from '../src/cli/options.js';

const ROOT = join(import.meta.dirname, '..');
const SHIPPED = join(ROOT, 'models', 'bert-mini-retrograd');
const MODEL_FILES = ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json'];

/** The lineage of models/bert-mini-retrograd as committed: tokens seen -> the commit that shipped them. */
const LINEAGE_COMMITS: [number, string][] = [
  [5_324_800, 'ee9b7a7'], // segment 1 (masked-token accuracy 14%)
  [11_612_160, '6e935c4'], // segments 1-3 (16.0%)
  [34_549_760, '8c9c319'], // segments 1-5 (28.2%)
  [46_018_560, '75d96d8'], // segments 1-6 (41.9%)
];

const LOSSES = ['sdam', 'infonce'] as const;
type Loss = (typeof LOSSES)[number];

const args = scriptProgram(
  'pretraining_study',
  'SDAM and InfoNCE fine-tuned from checkpoints of one pretraining lineage',
)
  .option(
    '--checkpoints <list>',
    'TOKENS=SOURCE,... (SOURCE: random | git:REV (models/bert-mini-retrograd at REV) | DIR) (default: the lineage points)',
    parseCheckpoints,
  )
  .option('--out <dir>', 'study folder', join(ROOT, 'runs', 'pretraining-study'))
  .addOption(
    parsedOption('--losses <list>', 'losses to fine-tune with', listOption(choiceOption(LOSSES)), LOSSES.join(',')),
  )
  .option('--seeds <n>', 'seeds per cell (0 .. n-1)', positiveIntOption, 1)
  .option('--steps <n>', 'fine-tuning steps', positiveIntOption, 200)
  .option('--batch-size <n>', 'triples per step', positiveIntOption, 16)
  .option('--lr <x>', 'learning rate', positiveNumberOption, 1e-4)
  .option('--temperature <x>', 'InfoNCE temperature', positiveNumberOption, 0.05)
  .option('--eval-queries <n>', 'evaluation queries per set (seeded subsample; default: all)', positiveIntOption)
  .option('--docs', 'also write the figure into docs/figures', false)
  .parse()
  .opts<{
    checkpoints?: { tokens: number; source: string }[];
    out: string;
    losses: Loss[];
    seeds: number;
    steps: number;
    batchSize: number;
    lr: number;
    temperature: number;
    evalQueries?: number;
    docs: boolean;
  }>();

interface Checkpoint {
  tokens: number;
  source: string;
  dir: string;
}
interface Row {
  tokens: number;
  source: string;
  loss: string;
  seed: number;
  set: string;
  untuned: Record<string, number>;
  tuned: Record<string, number>;
  msPerStep: number | null;
}

const EVAL_SETS: EvalSet[] = [
  { name: 'pkgdesc-test', dir: join(ROOT, 'data', 'pkgdesc-test'), split: 'test' },
  { name: 'faq', dir: join(ROOT, 'data', 'faq'), split: 'test' },
];

/** Tokens of the shipped weights: the sum over the lineage's segments (pretraining.json). */
function shippedTokens(): number {
  const lineage = JSON.parse(readFileSync(join(SHIPPED, 'pretraining.json'), 'utf8')) as {
    segments: { tokens: number }[];
  };
  return lineage.segments.reduce((s, seg) => s + seg.tokens, 0);
}

function defaultCheckpoints(): string {
  const points = [`0=random`, ...LINEAGE_COMMITS.map(([t, rev]) => `${t}=git:${rev}`)];
  const now = shippedTokens();
  if (!LINEAGE_COMMITS.some(([t]) => t === now)) points.push(`${now}=${SHIPPED}`);
  return points.join(',');
}

/** Materialise a checkpoint source as a model directory under --out/checkpoints (atomically). */
async function materialise(tokens: number, source: string, out: string): Promise<string> {
  if (source !== 'random' && !source.startsWith('git:')) {
    if (!existsSync(join(source, 'config.json')))
      throw new Error(`--checkpoints: ${source} is not a model directory (no config.json)`);
    return source;
  }
  const dir = join(out, 'checkpoints', `${tokens}`);
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  ensureDirectory(join(out, 'checkpoints'));
  const tmp = tempSibling(dir);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    if (source === 'random') {
      // The shipped architecture and vocabulary with BERT's initialisation (seed 0): no pretraining.
      const config = readBertConfig(SHIPPED);
      const model = new BertForMaskedLM(config, { device: 'cpu', generator: new Generator(0) });
      rmSync(tmp, { recursive: true, force: true });
      await saveModelDir(tmp, model, { tokenizer: readTokenizer(SHIPPED, config.vocab_size), weightsDtype: 'F16' });
    } else {
      const rev = source.slice(4);
      for (const file of MODEL_FILES) {
        const bytes = execFileSync('git', ['-C', ROOT, 'show', `${rev}:models/bert-mini-retrograd/${file}`], {
          maxBuffer: 1 << 27,
        });
        writeFileSync(join(tmp, file), bytes);
      }
    }
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`--checkpoints ${tokens}=${source}: cannot materialise (${(err as Error).message.split('\n')[0]})`);
  }
  return dir;
}

function parseCheckpoints(spec: string): { tokens: number; source: string }[] {
  return spec.split(',').map((item) => {
    const eq = item.indexOf('=');
    const tokens = Number(item.slice(0, eq));
    if (eq < 0 || !Number.isSafeInteger(tokens) || tokens < 0)
      throw new InvalidArgumentError(`"${item}" is not TOKENS=SOURCE with a whole number of tokens`);
    return { tokens, source: item.slice(eq + 1) };
  });
}

function lossSpec(name: Loss): LossSpec {
  if (name === 'sdam') return { kind: 'sdam', options: { target: 'adaptive' } };
  return { kind: 'infonce', scale: 1 / args.temperature, ownNegatives: true };
}

async function runCell(ck: Checkpoint, loss: Loss, seed: number, out: string): Promise<TrainBiencoderResult> {
  const dir = join(out, 'cells', `${ck.tokens}-${loss}-s${seed}`);
  const done = join(dir, 'metrics.json');
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as TrainBiencoderResult;
  console.error(`pretraining-study: ${ck.tokens} tokens (${ck.source}), ${loss}, seed ${seed} -> ${dir}`);
  return trainBiencoder({
    model: ck.dir,
    data: join(ROOT, 'data', 'pkgdesc-train'),
    out: dir,
    loss: lossSpec(loss),
    pooling: 'mean',
    batchSize: args.batchSize,
    queryLength: 32,
    docLength: 128,
    lr: args.lr,
    gamma: 0.99999,
    weightDecay: 1e-6,
    clip: 0,
    steps: args.steps,
    seed,
    evalEvery: 0,
    patience: 1,
    evalSets: EVAL_SETS,
    evalInitial: true,
    evalQueries: args.evalQueries,
    internalsEvery: 0,
    device: 'cpu',
  });
}

/**
 * Anisotropy of a checkpoint's untuned embeddings: the mean cosine similarity over all pairs of the
 * mean-pooled embeddings of the first `n` pkgdesc-test documents (0 for directions spread evenly,
 * 1 when every document points the same way). A space where everything is already close leaves a
 * contrastive fine-tune little room per step.
 */
async function anisotropy(dir: string, n = 500): Promise<number> {
  const corpus = await readCorpus(findJsonl(EVAL_SETS[0].dir, 'corpus'));
  const texts = [...corpus.values()].slice(0, n).map(docText);
  const bi = Biencoder.load(dir, { device: 'cpu', pooling: { mode: 'mean', normalize: false } });
  try {
    const rows = (await bi.encoder(128)(texts)).map((v) => {
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
    let sum = 0;
    for (let i = 0; i < rows.length; i++)
      for (let j = i + 1; j < rows.length; j++) {
        let dot = 0;
        for (let k = 0; k < rows[i].length; k++) dot += rows[i][k] * rows[j][k];
        sum += dot;
      }
    return sum / ((rows.length * (rows.length - 1)) / 2);
  } finally {
    bi.dispose();
  }
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function figure(rows: Row[]): TopLevelSpec {
  // one point per (checkpoint, set, curve): the untuned checkpoint and each loss, seeds averaged
  const points: { tokens: number; set: string; curve: string; ndcg: number }[] = [];
  const key = (r: Row): string => `${r.tokens}|${r.set}`;
  for (const k of new Set(rows.map(key))) {
    const group = rows.filter((r) => key(r) === k);
    const [tokens, set] = [group[0].tokens, group[0].set];
    points.push({ tokens: tokens / 1e6, set, curve: 'untuned', ndcg: mean(group.map((r) => r.untuned['nDCG@10'])) });
    for (const loss of new Set(group.map((r) => r.loss))) {
      points.push({
        tokens: tokens / 1e6,
        set,
        curve: loss === 'sdam' ? 'SDAM (adaptive)' : 'InfoNCE',
        ndcg: mean(group.filter((r) => r.loss === loss).map((r) => r.tuned['nDCG@10'])),
      });
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Fine-tuning from checkpoints at increasing pretraining tokens',
      subtitle: `equal budgets: ${args.steps} steps of ${args.batchSize} triples, lr ${args.lr.toExponential()}; nDCG@10`,
    },
    data: { values: points },
    facet: { column: { field: 'set', type: 'nominal', title: null, sort: EVAL_SETS.map((s) => s.name) } },
    spec: {
      width: 300,
      height: 240,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'tokens', type: 'quantitative', title: 'pretraining tokens (millions)' },
        y: { field: 'ndcg', type: 'quantitative', title: 'nDCG@10' },
        color: {
          field: 'curve',
          type: 'nominal',
          title: null,
          scale: { domain: ['untuned', 'SDAM (adaptive)', 'InfoNCE'], range: ['#999999', '#d62728', '#1f77b4'] },
        },
      },
    },
    config: { background: 'white', font: 'DejaVu Sans, sans-serif' },
  } as TopLevelSpec;
}

function table(rows: Row[]): string {
  const lines = [
    '| pretraining tokens | set | untuned | loss | nDCG@10 | MRR@10 | seeds | s/step |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const groups = new Map<string, Row[]>();
  for (const r of rows)
    groups.set(`${r.tokens}|${r.set}|${r.loss}`, [...(groups.get(`${r.tokens}|${r.set}|${r.loss}`) ?? []), r]);
  for (const g of groups.values()) {
    const spread = (k: string): string => {
      const xs = g.map((r) => r.tuned[k]);
      return g.length > 1
        ? `${mean(xs).toFixed(3)} ± ${((Math.max(...xs) - Math.min(...xs)) / 2).toFixed(3)}`
        : xs[0].toFixed(3);
    };
    const step = g.map((r) => r.msPerStep).filter((x): x is number => x !== null);
    lines.push(
      `| ${(g[0].tokens / 1e6).toFixed(1)}M | ${g[0].set} | ${mean(g.map((r) => r.untuned['nDCG@10'])).toFixed(3)} | ${g[0].loss} | ${spread('nDCG@10')} | ${spread('MRR@10')} | ${g.length} | ${step.length ? (mean(step) / 1000).toFixed(2) : '-'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const out = args.out;
  const checkpointsSpec = args.checkpoints ?? parseCheckpoints(defaultCheckpoints());
  const losses = args.losses;
  const seeds = args.seeds;
  await initDevice('cpu');

  const rows: Row[] = [];
  const anisotropies: { tokens: number; source: string; meanCosine: number }[] = [];
  for (const { tokens, source } of checkpointsSpec) {
    const ck = { tokens, source, dir: await materialise(tokens, source, out) };
    anisotropies.push({ tokens, source, meanCosine: await anisotropy(ck.dir) });
    for (const loss of losses) {
      for (let seed = 0; seed < seeds; seed++) {
        const r = await runCell(ck, loss, seed, out);
        if (r.interrupted) throw new Error(`interrupted by ${r.interrupted}; rerun the command to continue`);
        EVAL_SETS.forEach((set, i) =>
          rows.push({
            tokens,
            source,
            loss,
            seed,
            set: set.name,
            untuned: r.initial![i].metrics,
            tuned: r.final[i].metrics,
            msPerStep: r.medianStepMs,
          }),
        );
      }
    }
  }

  const settings = {
    steps: args.steps,
    batchSize: args.batchSize,
    lr: args.lr,
    temperature: args.temperature,
    evalQueries: args.evalQueries ?? 'all',
    seeds,
  };
  writeFileAtomic(join(out, 'results.json'), `${JSON.stringify({ settings, anisotropies, rows }, null, 1)}\n`);
  const md = `${table(rows)}\nUntuned embeddings, mean pairwise cosine of the first 500 pkgdesc-test documents: ${anisotropies
    .map((a) => `${(a.tokens / 1e6).toFixed(1)}M ${a.meanCosine.toFixed(3)}`)
    .join(', ')}\n`;
  writeFileAtomic(join(out, 'table.md'), md);
  const svg = await renderSvg(figure(rows), 'pretraining-study');
  const png = svgToPng(svg, { fontFiles: pngFonts() });
  writeFileAtomic(join(out, 'pretraining-study.svg'), svg);
  writeFileAtomic(join(out, 'pretraining-study.png'), png);
  if (args.docs) writeFileAtomic(join(ROOT, 'docs', 'figures', 'pretraining-study.png'), png);
  console.log(md);
  console.log(`results: ${join(out, 'results.json')}, figure: ${join(out, 'pretraining-study.png')}`);
}

try {
  await main();
} catch (err) {
  console.error(`pretraining_study: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
