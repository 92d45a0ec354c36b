// Reader for the JSON Lines logs of a training run directory, for `retrograd plot`.
//
// Two run kinds, told apart by their entries:
//   pretrain   (`retrograd pretrain`, src/train/pretrain.ts): log.jsonl with "train" entries that carry
//              "tokensPerSec" and held-out "eval" entries.
//   biencoder  (`retrograd train`, src/train/retrieval.ts): log.jsonl with "train" entries that carry
//              "msPerStep", "validation", "initial" and "final" entries, plus internals.jsonl (loss
//              internals per recorded step) when the run recorded them.
// Only the fields the charts use are checked; others are ignored. Every malformed line fails with one
// line naming the file and line ("run/log.jsonl line 7: "loss" must be a number, got "abc"").
// NaN is written as null by JSON.stringify, so gradient norms and correlations may be null.
//
// In-batch loss internals (target or margin with B*B entries, row-major [B, B]) are reduced to their
// diagonal, entry k being triple k's own (query, positive, negative); a distributed SDAM target
// (`distributedTarget: true`, T[i, j] = (1 + s(p_i, n_j)) / 2) to its column means, mean_i T[i, j]
// being what triple j's margin regresses onto; a static target (one entry) is repeated per triple.
// Every internals array below therefore has one entry per triple. Per-triple gradient norms come as
// `gradNorms` (per-example: the loss has one term per triple) or `totalGradNorms` (in-batch and
// distributed losses, whose terms couple triples: the norm includes the other triples' terms).
//
// This file draws nothing (src/plot/charts.ts does) and never writes.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TrainEntry {
  step: number;
  loss: number;
  lr: number;
  /** Global gradient norm before clipping; null in runs that logged it only when clipping (NaN). */
  gradNorm: number | null;
}

export interface PretrainEvalEntry {
  step: number;
  loss: number;
  accuracy: number;
  perplexity: number;
}

export interface ValidationEntry {
  step: number;
  name: string;
  metrics: Record<string, number>;
}

/** Where a per-triple internals array came from. */
export type InternalsLayout = 'per-triple' | 'in-batch diagonal' | 'distributed mean' | 'constant';

export interface InternalsRecord {
  step: number;
  loss: number;
  /** Per triple: norm of the loss gradient w.r.t. the triple's three embeddings. */
  gradNorms: number[];
  /** 'per-example' (logged as gradNorms) or 'total' (totalGradNorms: other triples' loss terms included). */
  gradNormKind: 'per-example' | 'total';
  /** Per triple: cosine s(p_k, n_k), the negative's hardness. */
  pairSimilarity: number[];
  target: { values: number[]; layout: InternalsLayout } | null;
  margin: { values: number[]; layout: InternalsLayout } | null;
  /** Pearson correlation of pairSimilarity and gradNorms over the batch, as logged (null: NaN). */
  hardnessGradCorrelation: number | null;
}

export interface PretrainRun {
  kind: 'pretrain';
  dir: string;
  train: TrainEntry[];
  eval: PretrainEvalEntry[];
}

export interface BiencoderRun {
  kind: 'biencoder';
  dir: string;
  train: TrainEntry[];
  validation: ValidationEntry[];
  /** Empty when the run has no internals.jsonl. */
  internals: InternalsRecord[];
  hasInternalsFile: boolean;
}

export type Run = PretrainRun | BiencoderRun;

type Json = Record<string, unknown>;

interface Line {
  /** "path line N", the prefix of every error about this line. */
  where: string;
  entry: Json;
}

/** Parse a JSON Lines file into objects; blank lines are skipped. */
export function readJsonLines(path: string): Line[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const lines: Line[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') continue;
    const where = `${path} line ${i + 1}`;
    let entry: unknown;
    try {
      entry = JSON.parse(raw);
    } catch (err) {
      throw new Error(`${where}: invalid JSON (${(err as Error).message})`);
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw new Error(`${where}: expected a JSON object`);
    lines.push({ where, entry: entry as Json });
  }
  return lines;
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function num(line: Line, key: string): number {
  const v = line.entry[key];
  if (v === undefined) throw new Error(`${line.where}: missing "${key}"`);
  if (typeof v !== 'number') throw new Error(`${line.where}: "${key}" must be a number, got ${show(v)}`);
  return v;
}

function numOrNull(line: Line, key: string): number | null {
  return line.entry[key] === null ? null : num(line, key);
}

function stepOf(line: Line): number {
  const step = num(line, 'step');
  if (!Number.isSafeInteger(step) || step < 0)
    throw new Error(`${line.where}: "step" must be an integer >= 0, got ${step}`);
  return step;
}

function numbers(line: Line, key: string): number[] {
  const v = line.entry[key];
  if (v === undefined) throw new Error(`${line.where}: missing "${key}"`);
  if (!Array.isArray(v)) throw new Error(`${line.where}: "${key}" must be an array of numbers`);
  for (const [i, x] of v.entries()) {
    if (typeof x !== 'number') throw new Error(`${line.where}: "${key}"[${i}] must be a number, got ${show(x)}`);
  }
  return v as number[];
}

/** Steps of one series must increase: a log that goes back in steps was concatenated or corrupted. */
class StepOrder {
  private last = new Map<string, number>();

  check(line: Line, series: string, step: number): void {
    const prev = this.last.get(series);
    if (prev !== undefined && step <= prev)
      throw new Error(`${line.where}: step ${step} of a "${series}" entry after step ${prev}; steps must increase`);
    this.last.set(series, step);
  }
}

function trainEntry(line: Line): TrainEntry {
  return { step: stepOf(line), loss: num(line, 'loss'), lr: num(line, 'lr'), gradNorm: numOrNull(line, 'gradNorm') };
}

const PRETRAIN_ONLY = new Set(['eval', 'start']);
const BIENCODER_ONLY = new Set(['validation', 'initial', 'final', 'batching', 'teacher-scale']);

/** The run kind an entry proves, or null when it fits both. */
function kindOf(line: Line): Run['kind'] | null {
  const kind = line.entry.kind;
  if (typeof kind !== 'string') throw new Error(`${line.where}: missing "kind"`);
  if (PRETRAIN_ONLY.has(kind)) return 'pretrain';
  if (BIENCODER_ONLY.has(kind)) return 'biencoder';
  if (kind !== 'train')
    throw new Error(
      `${line.where}: unknown kind ${JSON.stringify(kind)} (expected train, eval, validation, initial, final, batching or teacher-scale)`,
    );
  if ('tokensPerSec' in line.entry) return 'pretrain';
  if ('msPerStep' in line.entry) return 'biencoder';
  return null;
}

function readPretrain(dir: string, lines: Line[]): PretrainRun {
  const run: PretrainRun = { kind: 'pretrain', dir, train: [], eval: [] };
  const order = new StepOrder();
  for (const line of lines) {
    const kind = line.entry.kind as string;
    if (kind === 'train') {
      const e = trainEntry(line);
      order.check(line, kind, e.step);
      run.train.push(e);
    } else if (kind === 'eval') {
      const e = {
        step: stepOf(line),
        loss: num(line, 'loss'),
        accuracy: num(line, 'accuracy'),
        perplexity: num(line, 'perplexity'),
      };
      order.check(line, kind, e.step);
      run.eval.push(e);
    } else if (kind === 'start') {
      // where the weights came from (a resume or a restart from committed weights): not plotted
    } else {
      throw new Error(`${line.where}: a "${kind}" entry in a pretraining log (expected train or eval)`);
    }
  }
  return run;
}

function readValidation(line: Line): ValidationEntry {
  const name = line.entry.name;
  if (typeof name !== 'string' || name === '')
    throw new Error(`${line.where}: "name" must be a non-empty string, got ${show(name)}`);
  const metrics = line.entry.metrics;
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics))
    throw new Error(`${line.where}: "metrics" must be an object of numbers`);
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v !== 'number') throw new Error(`${line.where}: metrics["${k}"] must be a number, got ${show(v)}`);
  }
  if (!('nDCG@10' in metrics)) throw new Error(`${line.where}: metrics has no "nDCG@10"`);
  return { step: stepOf(line), name, metrics: metrics as Record<string, number> };
}

function perTriple(
  line: Line,
  key: string,
  values: number[],
  batch: number,
  allowConstant: boolean,
): { values: number[]; layout: InternalsLayout } {
  if (values.length === batch) return { values, layout: 'per-triple' };
  if (values.length === batch * batch)
    return { values: Array.from({ length: batch }, (_, k) => values[k * batch + k]), layout: 'in-batch diagonal' };
  if (allowConstant && values.length === 1)
    return { values: new Array<number>(batch).fill(values[0]), layout: 'constant' };
  const expected = `${allowConstant ? '0, 1, ' : ''}B=${batch} or B*B=${batch * batch}`;
  throw new Error(`${line.where}: "${key}" has ${values.length} entries; expected ${expected} (B from "gradNorms")`);
}

/** Column means of a row-major [B, B] distributed target: entry j is mean_i T[i, j]. */
function distributedMean(line: Line, values: number[], batch: number): { values: number[]; layout: InternalsLayout } {
  if (values.length !== batch * batch)
    throw new Error(
      `${line.where}: "target" has ${values.length} entries; a distributed target has B*B=${batch * batch}`,
    );
  const sums = new Array<number>(batch).fill(0);
  for (let i = 0; i < batch; i++) for (let j = 0; j < batch; j++) sums[j] += values[i * batch + j];
  return { values: sums.map((x) => x / batch), layout: 'distributed mean' };
}

function readInternals(line: Line): InternalsRecord {
  const hasPerExample = line.entry.gradNorms !== undefined;
  if (hasPerExample && line.entry.totalGradNorms !== undefined)
    throw new Error(`${line.where}: both "gradNorms" and "totalGradNorms"`);
  const gradKey = hasPerExample || line.entry.totalGradNorms === undefined ? 'gradNorms' : 'totalGradNorms';
  const gradNorms = numbers(line, gradKey);
  const batch = gradNorms.length;
  if (batch === 0) throw new Error(`${line.where}: "${gradKey}" is empty`);
  const pairSimilarity = numbers(line, 'pairSimilarity');
  if (pairSimilarity.length !== batch)
    throw new Error(`${line.where}: "pairSimilarity" has ${pairSimilarity.length} entries, "${gradKey}" ${batch}`);
  const distributed = line.entry.distributedTarget;
  if (distributed !== undefined && typeof distributed !== 'boolean')
    throw new Error(`${line.where}: "distributedTarget" must be true or false, got ${show(distributed)}`);
  let target: InternalsRecord['target'] = null;
  if (line.entry.target !== undefined) {
    const values = numbers(line, 'target');
    if (values.length > 0)
      target = distributed ? distributedMean(line, values, batch) : perTriple(line, 'target', values, batch, true);
  }
  const margin =
    line.entry.margin === undefined ? null : perTriple(line, 'margin', numbers(line, 'margin'), batch, false);
  return {
    step: stepOf(line),
    loss: num(line, 'loss'),
    gradNorms,
    gradNormKind: gradKey === 'gradNorms' ? 'per-example' : 'total',
    pairSimilarity,
    target,
    margin,
    hardnessGradCorrelation: numOrNull(line, 'hardnessGradCorrelation'),
  };
}

function readBiencoder(dir: string, lines: Line[]): BiencoderRun {
  const internalsPath = join(dir, 'internals.jsonl');
  const hasInternalsFile = existsSync(internalsPath);
  const run: BiencoderRun = { kind: 'biencoder', dir, train: [], validation: [], internals: [], hasInternalsFile };
  const order = new StepOrder();
  for (const line of lines) {
    const kind = line.entry.kind as string;
    if (kind === 'train') {
      const e = trainEntry(line);
      order.check(line, kind, e.step);
      run.train.push(e);
    } else if (kind === 'validation') {
      const e = readValidation(line);
      order.check(line, `validation ${e.name}`, e.step);
      run.validation.push(e);
    } else if (kind !== 'initial' && kind !== 'final' && kind !== 'batching' && kind !== 'teacher-scale') {
      throw new Error(
        `${line.where}: a "${kind}" entry in a biencoder training log (expected train, validation, initial, final, batching or teacher-scale)`,
      );
    }
  }
  if (hasInternalsFile) {
    const internalsOrder = new StepOrder();
    for (const line of readJsonLines(internalsPath)) {
      const record = readInternals(line);
      internalsOrder.check(line, 'internals', record.step);
      const kind = run.internals[0]?.gradNormKind;
      if (kind !== undefined && record.gradNormKind !== kind)
        throw new Error(
          `${line.where}: ${record.gradNormKind} gradient norms after ${kind} ones; one run logs one kind`,
        );
      run.internals.push(record);
    }
  }
  return run;
}

/** Read a run directory and tell its kind from the entries of log.jsonl. */
export function readRun(dir: string): Run {
  const logPath = join(dir, 'log.jsonl');
  if (!existsSync(logPath))
    throw new Error(`${logPath}: not found (is ${dir} a run directory of retrograd pretrain or train?)`);
  const lines = readJsonLines(logPath);
  if (lines.length === 0) throw new Error(`${logPath}: no entries`);
  let kind: Run['kind'] | null = null;
  let decidedBy = '';
  for (const line of lines) {
    const k = kindOf(line);
    if (k === null) continue;
    if (kind === null) {
      kind = k;
      decidedBy = line.where;
    } else if (k !== kind) {
      throw new Error(`${line.where}: a ${k} entry, but ${decidedBy} is from a ${kind} run`);
    }
  }
  if (kind === null) kind = existsSync(join(dir, 'internals.jsonl')) ? 'biencoder' : null;
  if (kind === null)
    throw new Error(`${logPath}: cannot tell the run kind (no "tokensPerSec", "msPerStep", eval or validation entry)`);
  const run = kind === 'pretrain' ? readPretrain(dir, lines) : readBiencoder(dir, lines);
  if (run.train.length === 0) throw new Error(`${logPath}: no "train" entries`);
  return run;
}
