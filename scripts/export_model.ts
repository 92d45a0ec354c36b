// Export a pretraining run as the shipped model directory, with a model card and its lineage.
//
//   npx tsx scripts/export_model.ts --run runs/mlm-main --out models/bert-mini-retrograd \
//       [--checkpoint DIR] [--dtype F16|BF16|F32] [--min-gain 0.03] [--baseline RUN_DIR] [--ab runs/ab] \
//       [--date YYYY-MM-DD] [--hardware TEXT] [--note TEXT] [--recipe-note TEXT] [--name bert-mini-retrograd]
//   npx tsx scripts/export_model.ts --recipe-only --ab runs/ab --out models/bert-mini-retrograd [--recipe-note TEXT]
//   npx tsx scripts/export_model.ts --card-only --out models/bert-mini-retrograd
//
// The shipped weights are trained in segments, one or more per session: a segment starts from the
// committed weights (`retrograd pretrain --init`) or from scratch. `pretraining.json` in the model
// directory is the lineage: every segment's corpus, arguments, tokens and held-out evaluations, plus
// the A/B runs that chose the recipe. This script appends the run's segment to the lineage of the
// weights it started from, renders README.md from the whole lineage, and writes config.json,
// model.safetensors (F16 by default; the loader widens to float32), vocab.txt, tokenizer_config.json,
// pretraining-curve.png (the card's figure: held-out accuracy against tokens over the lineage) and
// the corpus PROVENANCE.md (as PRETRAINING_CORPUS.md), all into a temporary folder renamed into
// place. --card-only redraws the card and its figure from the lineage already there.
//
// Weights are committed only when they are clearly better: a segment from other weights must raise
// held-out masked-token accuracy by --min-gain (3 points) over its own step-0 evaluation of those
// weights (the same held-out set), or nothing is written. When the segment started from weights that
// were never committed, --baseline RUN_DIR names a run whose step-0 evaluation is of the committed
// weights on the same held-out set (same corpus file, seed and stream arguments, checked).
// --ab DIR adds the final evaluation of each A/B run under DIR (equal budgets, the same held-out
// set) to the recipe table.

import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Option } from 'commander';
import { nonNegativeNumberOption, scriptProgram } from '../src/cli/options.js';
import { loadModelDir, saveModelDir } from '../src/nn/model-dir.js';
import { latestCheckpoint, readTrainerState } from '../src/train/checkpoint.js';
import { replaceDirectory, tempSibling, writeFileAtomic } from '../src/io/atomic.js';
import type { BertConfig } from '../src/nn/bert.js';
import type { TopLevelSpec } from 'vega-lite';
import { pngFonts, renderSvg, svgToPng } from '../src/plot/render.js';

interface Eval {
  step: number;
  loss: number;
  accuracy: number;
}
interface Segment {
  run: string;
  date: string;
  from: 'scratch' | 'init';
  init: string | null;
  /** Where the segment's data stream started: another run's position (`pretrain --data-from`). */
  dataFrom?: { run: string; epoch: number; cursor: number };
  corpusSha256: string;
  corpusTokens: number;
  steps: number;
  stepsPlanned: number;
  batchSize: number;
  seqLen: number;
  tokens: number;
  args: Record<string, unknown>;
  hardware: string;
  /** Held-out evaluations; a step-0 entry is the starting weights on this segment's held-out set. */
  evals: Eval[];
  note?: string;
}
interface RecipeRow {
  name: string;
  tokens: number;
  args: Record<string, unknown>;
  loss: number;
  accuracy: number;
  baseline?: Eval;
}
interface Lineage {
  model: string;
  segments: Segment[];
  recipe: RecipeRow[];
  recipeNote?: string;
}
type Entry = {
  kind: string;
  step: number;
  loss: number;
  accuracy?: number;
  from?: string;
  source?: string;
  dataFrom?: { run: string; epoch: number; cursor: number };
};

const program = scriptProgram(
  'export_model',
  'Export a pretraining run as the shipped model directory, with a model card and its lineage',
)
  .option('--run <dir>', 'the pretraining run to export (required unless --recipe-only)')
  .requiredOption('--out <dir>', 'the model directory to write')
  .option('--checkpoint <dir>', "the run's checkpoint to export (default: its latest)")
  .addOption(
    new Option('--dtype <dtype>', 'weights dtype of model.safetensors').choices(['F16', 'BF16', 'F32']).default('F16'),
  )
  .option('--name <name>', 'model name (a new lineage)', 'bert-mini-retrograd')
  .option(
    '--min-gain <x>',
    'held-out masked-token accuracy a segment from other weights must gain to be written',
    nonNegativeNumberOption,
    0.03,
  )
  .option('--ab <dir>', 'A/B runs for the recipe table (each subfolder a run)')
  .option('--date <yyyy-mm-dd>', "the segment's date", new Date().toISOString().slice(0, 10))
  .option('--hardware <text>', 'what the segment trained on', '2 CPU cores (cpu device: WebAssembly SIMD)')
  .option('--recipe-only', 'only rewrite the recipe table from --ab (weights and lineage unchanged)', false)
  .option('--card-only', "only redraw --out's model card and its curve from its lineage (weights unchanged)", false)
  .option('--recipe-note <text>', 'a note under the recipe table')
  .option('--note <text>', 'a note on the segment')
  .option('--baseline <dir>', "a run whose step-0 evaluation is of the committed weights on the run's held-out set")
  .parse();
const args = program.opts<{
  run?: string;
  out: string;
  checkpoint?: string;
  dtype: 'F16' | 'BF16' | 'F32';
  name: string;
  minGain: number;
  ab?: string;
  date: string;
  hardware: string;
  recipeOnly: boolean;
  cardOnly: boolean;
  recipeNote?: string;
  note?: string;
  baseline?: string;
}>();
if (!args.recipeOnly && !args.cardOnly && args.run === undefined)
  program.error('--run RUN_DIR is required (or --recipe-only --ab DIR, or --card-only)');
if (args.recipeOnly && args.ab === undefined) program.error('--recipe-only needs --ab DIR');
const dtype = args.dtype;
const minGain = args.minGain;

function fail(message: string): never {
  console.error(`export_model: ${message}`);
  process.exit(1);
}

function readJson<T>(path: string): T {
  if (!existsSync(path)) fail(`${path}: missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    fail(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

function readLog(run: string, upTo: number): Entry[] {
  const path = join(run, 'log.jsonl');
  if (!existsSync(path)) fail(`${path}: missing`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as Entry;
      } catch {
        fail(`${path} line ${i + 1}: not valid JSON`);
      }
    })
    .filter((e) => e.step <= upTo);
}

/** The last segment of a run's log: entries from its last start entry on. */
function segmentEntries(log: Entry[]): { start: Entry | undefined; evals: Eval[] } {
  let first = 0;
  log.forEach((e, i) => {
    if (e.kind === 'start' && e.from !== 'checkpoint') first = i;
  });
  const entries = log.slice(first);
  const start = entries.find((e) => e.kind === 'start');
  const evals = entries
    .filter((e) => e.kind === 'eval')
    .map((e) => ({ step: e.step, loss: round(e.loss), accuracy: round(e.accuracy ?? NaN) }));
  return { start, evals: evals.filter((e, i) => evals.findIndex((f) => f.step === e.step) === i) };
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const millions = (x: number): string => `${(x / 1e6).toFixed(1)}M`;

// --- the run's segment, appended to the lineage of the weights it started from -------------------
function appendSegment(run: string): { lineage: Lineage; checkpoint: string; accuracy: number; corpusSource: string } {
  const checkpoint = args.checkpoint ?? latestCheckpoint(run) ?? fail(`${run}: no checkpoint`);
  const state = readTrainerState(checkpoint);
  const a = state.args as Record<string, unknown>;
  const corpusInfo = readJson<{ source: string; sourceSha256: string; documents: number; tokens: number }>(
    join(run, 'tokens.json'),
  );
  const { start, evals } = segmentEntries(readLog(run, state.step));
  if (start === undefined) fail(`${run}/log.jsonl: no start entry (a run from before lineages: export it by hand)`);
  const last = evals.filter((e) => e.step > 0).at(-1) ?? fail(`${run}/log.jsonl: no held-out evaluation after step 0`);
  let lineage: Lineage = { model: args.name, segments: [], recipe: [] };
  if (start.from === 'init') {
    const initDir = start.source!;
    lineage = readJson<Lineage>(join(initDir, 'pretraining.json'));
    const baseline = args.baseline
      ? baselineEval(args.baseline, corpusInfo.sourceSha256, a)
      : (evals.find((e) => e.step === 0) ??
        fail(`${run}/log.jsonl: a segment from ${initDir} has no step-0 evaluation of its starting weights`));
    const gain = last.accuracy - baseline.accuracy;
    if (gain < minGain) {
      fail(
        `not exported: held-out accuracy ${pct(baseline.accuracy)} -> ${pct(last.accuracy)} at step ${last.step} (+${(100 * gain).toFixed(1)} points; committing weights needs +${(100 * minGain).toFixed(1)})`,
      );
    }
  }
  lineage.segments.push({
    run,
    date: args.date,
    from: start.from === 'init' ? 'init' : 'scratch',
    init: start.from === 'init' ? start.source! : null,
    ...(start.dataFrom ? { dataFrom: start.dataFrom } : {}),
    corpusSha256: corpusInfo.sourceSha256,
    corpusTokens: corpusInfo.tokens,
    steps: state.step,
    stepsPlanned: a.steps as number,
    batchSize: a.batchSize as number,
    seqLen: a.seqLen as number,
    tokens: state.step * (a.batchSize as number) * (a.seqLen as number),
    args: {
      lr: a.lr,
      warmup: a.warmup,
      schedule: a.schedule,
      weightDecay: a.weightDecay,
      clip: a.clip,
      dropout: a.dropout ?? null,
      maskRate: a.maskRate ?? 0.15,
      seed: a.seed,
    },
    hardware: args.hardware,
    evals,
    ...(args.note ? { note: args.note } : {}),
  });
  return { lineage, checkpoint, accuracy: last.accuracy, corpusSource: corpusInfo.source };
}

/**
 * The step-0 evaluation of another run (--baseline: e.g. the last committed weights evaluated by a
 * one-step run) on the same held-out set: the same corpus file and the same stream arguments.
 */
function baselineEval(dir: string, corpusSha256: string, a: Record<string, unknown>): Eval {
  const info = readJson<{ sourceSha256: string }>(join(dir, 'tokens.json'));
  if (info.sourceSha256 !== corpusSha256)
    fail(`${dir}: --baseline ran on another corpus (sha256 ${info.sourceSha256.slice(0, 12)})`);
  const ckpt = latestCheckpoint(dir) ?? fail(`${dir}: --baseline has no checkpoint (its arguments are read from one)`);
  const b = readTrainerState(ckpt).args as Record<string, unknown>;
  for (const key of ['seed', 'valSequences', 'seqLen', 'batchSize']) {
    if (b[key] !== a[key])
      fail(`${dir}: --baseline has ${key}=${String(b[key])}, the run ${String(a[key])}: not the same held-out set`);
  }
  return (
    segmentEntries(readLog(dir, Infinity)).evals.find((e) => e.step === 0) ??
    fail(`${dir}/log.jsonl: --baseline has no step-0 evaluation`)
  );
}

// --- A/B runs for the recipe table -------------------------------------------------------------
function addRecipe(lineage: Lineage, abDir: string): void {
  for (const name of readdirSync(abDir).sort()) {
    const dir = join(abDir, name);
    const ckpt = existsSync(join(dir, 'checkpoints')) ? latestCheckpoint(dir) : null;
    if (!ckpt) continue; // not an A/B run (or one that never saved)
    const s = readTrainerState(ckpt);
    const sa = s.args as Record<string, unknown>;
    const ev = segmentEntries(readLog(dir, s.step)).evals;
    const end = ev.filter((e) => e.step === s.step).at(-1);
    if (end === undefined) continue; // stopped before its final evaluation
    const row: RecipeRow = {
      name,
      tokens: s.step * (sa.batchSize as number) * (sa.seqLen as number),
      args: {
        lr: sa.lr,
        warmup: sa.warmup,
        schedule: sa.schedule,
        dropout: sa.dropout ?? null,
        maskRate: sa.maskRate ?? 0.15,
        batchSize: sa.batchSize,
        seqLen: sa.seqLen,
      },
      loss: end.loss,
      accuracy: end.accuracy,
      ...(ev[0]?.step === 0 ? { baseline: ev[0] } : {}),
    };
    lineage.recipe = [...lineage.recipe.filter((r) => r.name !== name), row];
  }
}

// --- the curve ---------------------------------------------------------------------------------
/** The card's figure: held-out accuracy of every evaluation against tokens seen in all, by segment. */
const CURVE = 'pretraining-curve.png';

async function renderCurve(lineage: Lineage): Promise<Uint8Array> {
  let before = 0;
  const values: { tokens: number; accuracy: number; segment: string }[] = [];
  for (const [i, g] of lineage.segments.entries()) {
    for (const e of g.evals)
      values.push({
        tokens: (before + e.step * g.batchSize * g.seqLen) / 1e6,
        accuracy: 100 * e.accuracy,
        segment: String(i + 1),
      });
    before += g.tokens;
  }
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${args.name}: held-out masked-token accuracy`,
      subtitle:
        'each segment on its own held-out set; a segment starts with an evaluation of the weights it starts from',
    },
    width: 560,
    height: 280,
    data: { values },
    mark: { type: 'line', point: { size: 30 } },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', title: 'tokens seen in all (millions)' },
      y: { field: 'accuracy', type: 'quantitative', title: 'accuracy (%)', scale: { zero: false } },
      color: { field: 'segment', type: 'nominal', title: 'segment' },
    },
    config: { font: 'DejaVu Sans', background: 'white' },
  };
  return svgToPng(await renderSvg(spec, 'pretraining-curve'), { fontFiles: pngFonts() });
}

// --- the card ----------------------------------------------------------------------------------
function renderCard(lineage: Lineage, c: BertConfig, numParameters: number): string {
  const total = lineage.segments.reduce((s, g) => s + g.tokens, 0);
  let before = 0;
  const evalRows: string[] = [];
  for (const [i, g] of lineage.segments.entries()) {
    for (const e of g.evals) {
      evalRows.push(
        `| ${i + 1} | ${e.step} | ${millions(before + e.step * g.batchSize * g.seqLen)} | ${e.loss.toFixed(3)} | ${pct(e.accuracy)} |`,
      );
    }
    before += g.tokens;
  }
  const segmentRows = lineage.segments.map((g, i) => {
    const ga = g.args;
    return `| ${i + 1} | ${g.date} | ${g.from === 'init' ? `init ${g.init}` : 'scratch'}${g.dataFrom ? `, data read on from ${g.dataFrom.run} (epoch ${g.dataFrom.epoch}, sequence ${g.dataFrom.cursor})` : ''} | ${g.corpusSha256.slice(0, 12)} (${millions(g.corpusTokens)} tokens) | ${g.steps} of ${g.stepsPlanned} x ${g.batchSize} x ${g.seqLen} = ${millions(g.tokens)} | lr ${ga.lr}, ${ga.warmup} warm-up, ${ga.schedule}, dropout ${ga.dropout ?? 'config'}, mask ${ga.maskRate} | ${g.hardware}${g.note ? `; ${g.note}` : ''} |`;
  });
  const recipeRows = lineage.recipe.map((r) => {
    const ra = r.args;
    return `| ${r.name} | lr ${ra.lr}, dropout ${ra.dropout ?? 'config (0.1)'}, mask ${ra.maskRate}, ${ra.batchSize} x ${ra.seqLen}, ${ra.warmup} warm-up, ${ra.schedule} to 0 | ${millions(r.tokens)} | ${r.loss.toFixed(3)} | ${pct(r.accuracy)} |`;
  });
  const lastSegment = lineage.segments.at(-1)!;
  const finalEval = lastSegment.evals.at(-1)!;
  return `# ${args.name}

A BERT-mini (${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${c.num_attention_heads} heads, FFN ${c.intermediate_size},
${(numParameters / 1e6).toFixed(1)}M parameters with the tied MLM head) pretrained from random initialisation by
retrograd's own masked-language-model trainer (\`retrograd pretrain\`, src/train/pretrain.ts). No
pretrained weights were used: none can be obtained on the machines this project runs on.

Hugging Face layout (\`BertForMaskedLM\`: \`bert.*\` + \`cls.predictions.*\`), bert-base-uncased
WordPiece vocabulary (assets/bert-base-uncased, byte-identical to Google's), weights stored as
${dtype} (the loader widens them to float32). The config keeps BERT's dropout 0.1 for fine-tuning;
pretraining segments may override it (column "dropout").

## Pretraining

${millions(total)} tokens seen in ${lineage.segments.length} segment(s) (lineage in \`pretraining.json\`). Held-out masked-LM
evaluation of the last segment: loss ${finalEval.loss.toFixed(3)}, accuracy ${pct(finalEval.accuracy)} at its step ${finalEval.step}.
Objective: MLM over packed sequences; 80% of the selected tokens become [MASK], 10% a random token,
10% stay; evaluation always selects 15%. Optimiser: AdamW (betas 0.9/0.999, eps 1e-6), weight decay
not on biases and LayerNorm. Every source of randomness is a function of the segment's seed.

| segment | date | start | corpus sha256 | steps x batch x length = tokens | recipe | hardware |
|---|---|---|---|---|---|---|
${segmentRows.join('\n')}

Held-out evaluations (each segment on its own held-out sequences of its corpus; a step-0 row is the
segment's starting weights on that set, which is how a segment's gain is measured):

| segment | step | tokens seen in all | loss | accuracy |
|---|---|---|---|---|
${evalRows.join('\n')}

![held-out masked-token accuracy against tokens seen, by segment](${CURVE})
${
  recipeRows.length === 0
    ? ''
    : `
## Recipe, decided by A/B runs

Short runs from the same starting weights at an equal token budget (linear warm-up, then linear
decay to zero), scored on the same held-out set (masked-token accuracy, 15% masking):

| run | recipe | tokens | held-out loss | accuracy |
|---|---|---|---|---|
${recipeRows.join('\n')}
${lineage.recipeNote ? `\n${lineage.recipeNote}\n` : ''}`
}
## Use

Fine-tune as a biencoder: \`npx tsx examples/train_sdam.ts\` or \`npx retrograd train --model ${args.out} ...\`.
Continue pretraining: \`bash scripts/pretrain-background.sh\` (resumes its run folder, or starts a new
segment from these weights), or \`npx retrograd pretrain --init ${args.out} ...\`.

## Licence

The weights are released under the project's MIT licence. They were learned from texts under their
own licences; see PRETRAINING_CORPUS.md for each source and its licence.
`;
}

// --- writing ----------------------------------------------------------------------------------
const out = args.out;
if (args.recipeOnly || args.cardOnly) {
  // Only the card changes (and with --recipe-only its recipe table): the weights and their lineage stay.
  const lineage = readJson<Lineage>(join(out, 'pretraining.json'));
  if (args.recipeOnly) addRecipe(lineage, args.ab!);
  if (args.recipeNote) lineage.recipeNote = args.recipeNote;
  const current = loadModelDir(out, { head: 'mlm' });
  const curve = await renderCurve(lineage);
  writeFileAtomic(join(out, 'pretraining.json'), `${JSON.stringify(lineage, null, 2)}\n`);
  writeFileAtomic(join(out, CURVE), curve);
  writeFileAtomic(join(out, 'README.md'), renderCard(lineage, current.config, current.mlm!.numParameters()));
  current.mlm!.dispose();
  console.log(
    args.recipeOnly
      ? `${out}: recipe table of ${lineage.recipe.length} A/B runs; weights unchanged`
      : `${out}: card and ${CURVE} redrawn; weights unchanged`,
  );
} else {
  const { lineage, checkpoint, accuracy, corpusSource } = appendSegment(args.run!);
  if (args.ab) addRecipe(lineage, args.ab);
  if (args.recipeNote) lineage.recipeNote = args.recipeNote;
  const corpusProvenance = join(dirname(corpusSource), 'PROVENANCE.md');
  if (!existsSync(corpusProvenance)) fail(`${corpusProvenance}: missing (the model card points to it)`);
  const loaded = loadModelDir(checkpoint, { head: 'mlm' });
  const tmp = tempSibling(out);
  rmSync(tmp, { recursive: true, force: true });
  await saveModelDir(tmp, loaded.mlm!, { tokenizer: loaded.tokenizer!, weightsDtype: dtype });
  writeFileSync(join(tmp, 'README.md'), renderCard(lineage, loaded.config, loaded.mlm!.numParameters()));
  writeFileSync(join(tmp, 'pretraining.json'), `${JSON.stringify(lineage, null, 2)}\n`);
  writeFileSync(join(tmp, CURVE), await renderCurve(lineage));
  copyFileSync(corpusProvenance, join(tmp, 'PRETRAINING_CORPUS.md'));
  replaceDirectory(tmp, out);
  loaded.mlm!.dispose();
  const total = lineage.segments.reduce((sum, g) => sum + g.tokens, 0);
  console.log(
    `${out}: segment ${lineage.segments.length}, ${millions(total)} tokens in all, ${dtype} weights, held-out accuracy ${pct(accuracy)}`,
  );
}
