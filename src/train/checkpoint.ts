// Training checkpoints: everything needed to continue a run exactly where it stopped.
//
// A checkpoint is a directory `<run>/checkpoints/step-<N>/` holding
//   config.json, model.safetensors, vocab.txt, tokenizer_config.json   the model, Hugging Face layout
//   optimizer.safetensors   AdamW moments, keys `<param name>.exp_avg` / `.exp_avg_sq` (none for plain SGD)
//   trainer_state.json      step, data position, seeds, the run's arguments, the optimizer's step count
// `<run>/checkpoints/latest` is a one-line file naming the newest complete checkpoint directory.
// A save is crash-safe at every moment (tested by killing a process between each of its phases):
// the new checkpoint is built under a temporary name; when `step-<N>` already exists, `latest` is
// first pointed at the complete temporary directory, the old one removed and the new one renamed in
// (`latestCheckpoint` follows a pointer to a temporary name that has been renamed since); then
// `latest` is replaced atomically. Non-finite weights are never saved. Older checkpoints beyond
// `keepLast` and temporary directories of dead processes are deleted afterwards.

import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { ensureDirectory, writeFileAtomic } from '../io/atomic.js';
import { tidy } from '../tensor/memory.js';
import { noGrad } from '../autograd/engine.js';
import { sum } from '../autograd/ops.js';
import type { BertForMaskedLM, BertModel } from '../nn/bert.js';
import type { BertTokenizer } from '../nn/tokenizer.js';
import type { PoolingConfig } from '../nn/pooling.js';
import { saveModelDir } from '../nn/model-dir.js';
import { readSafetensors, serializeSafetensors, type SafetensorsTensorInput } from '../nn/safetensors.js';
import type { AdamW } from './optim.js';

/** The first tensor (in the given order) holding NaN or Infinity, with the first such value; null when all are finite. */
export async function firstNonFinite(
  named: Iterable<readonly [string, Tensor]>,
): Promise<{ name: string; index: number; value: number } | null> {
  const list = [...named];
  if (list.length === 0) return null;
  // x * 0 is 0 for finite x and NaN otherwise, so one device reduction answers for every tensor without overflow.
  const total = noGrad(() =>
    tidy(() => {
      let acc = sum(list[0][1].mul(0));
      for (const [, t] of list.slice(1)) acc = acc.add(sum(t.mul(0)));
      return acc;
    }),
  );
  const ok = Number.isFinite((await total.data())[0]);
  total.dispose();
  if (ok) return null;
  for (const [name, t] of list) {
    const data = await t.data();
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return { name, index: i, value: data[i] };
  }
  return null;
}

/** The gradients of a model's parameters, named `<param>.grad`. */
export function gradients(model: { namedParameters(): Iterable<[string, Tensor]> }): [string, Tensor][] {
  return [...model.namedParameters()].flatMap(([name, p]) =>
    p.grad ? [[`${name}.grad`, p.grad] as [string, Tensor]] : [],
  );
}

/**
 * The error that stops a run at a non-finite loss, gradient norm or weight: names the step, the
 * first non-finite tensor and the checkpoint a resume would start from.
 */
export function divergedError(
  runDir: string,
  step: number,
  what: string,
  tensor: { name: string; index: number; value: number } | null = null,
): Error {
  const last = latestCheckpoint(runDir);
  const first = tensor ? ` (first: ${tensor.name}[${tensor.index}] = ${tensor.value})` : '';
  return new Error(
    `step ${step}: ${what}${first}; stopped, ${last ? `${last} is the last finite checkpoint` : 'no checkpoint was saved'}`,
  );
}

/**
 * Rewrite a JSONL log atomically with `head` first, then the entries `keep` accepts (those a
 * resumed run has not yet reached are dropped), and return the kept entries (without `head`). A
 * last line cut short by a crash is dropped; any other malformed line is an error naming it.
 */
export function rewriteLog(
  path: string,
  keep: (entry: Record<string, unknown>) => boolean,
  head: readonly object[] = [],
): Record<string, unknown>[] {
  const kept = head.map((e) => JSON.stringify(e));
  const entries: Record<string, unknown>[] = [];
  if (existsSync(path)) {
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    lines.forEach((line, i) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        if (i === lines.length - 1) return;
        throw new Error(`${path} line ${i + 1}: not valid JSON`);
      }
      if (keep(entry)) {
        kept.push(line);
        entries.push(entry);
      }
    });
  }
  writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''));
  return entries;
}

export interface TrainerState {
  /** Completed optimizer updates. */
  step: number;
  /** Optimizer's own step count (bias correction). */
  optimizerStep: number;
  [key: string]: unknown;
}

/** The moments of a save, in order; `onPhase` (crash tests) is called as each is reached. */
export type SavePhase = 'built' | 'pointed-at-temporary' | 'removed-old' | 'renamed' | 'pointed';

/** What a checkpoint needs of a model besides its writer: its parameters by name (AdamW moments, finiteness). */
export interface CheckpointModel {
  namedParameters(): Iterable<[string, Tensor]>;
}

export interface SaveCheckpointOptions {
  /** Writes the model into a new directory instead of saveModelDir (models that are not one BERT, e.g. contextual). */
  writeModel?: (dir: string) => Promise<void>;
  tokenizer?: BertTokenizer;
  /** Also write sentence-transformers pooling files (biencoder checkpoints). */
  pooling?: PoolingConfig;
  keepLast?: number;
  onPhase?: (phase: SavePhase) => void;
}

const TEMPORARY = /^\.(.+)\.tmp-(\d+)(-[a-z0-9]+)?$/;

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove temporary files and directories left in `root` by processes that died mid-save. */
function removeDeadTemporaries(root: string, keep: string | null): void {
  for (const entry of readdirSync(root)) {
    const m = TEMPORARY.exec(entry);
    if (m && entry !== keep && !processAlive(Number(m[2]))) rmSync(join(root, entry), { recursive: true, force: true });
  }
}

function pointerName(root: string): string | null {
  const pointer = join(root, 'latest');
  return existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() : null;
}

/** Finish a re-save that died while `latest` named its temporary directory: move that directory into place. */
function settle(root: string): void {
  const name = pointerName(root);
  const m = name === null ? null : TEMPORARY.exec(name);
  if (!m || !existsSync(join(root, name!))) return;
  rmSync(join(root, m[1]), { recursive: true, force: true });
  renameSync(join(root, name!), join(root, m[1]));
  writeFileAtomic(join(root, 'latest'), `${m[1]}\n`);
}

/**
 * Write `<run>/checkpoints/step-<N>` and point `latest` at it. Returns the checkpoint directory.
 * `optimizer` null: a stateless optimizer (plain SGD), no moments saved.
 * Refuses (naming the tensor) a model with a non-finite weight, leaving the previous checkpoint as `latest`.
 */
export async function saveCheckpoint(
  runDir: string,
  model: BertModel | BertForMaskedLM | CheckpointModel,
  optimizer: AdamW | null,
  state: TrainerState,
  opts: SaveCheckpointOptions = {},
): Promise<string> {
  if (!opts.writeModel && !('config' in model))
    throw new Error('saveCheckpoint: a model that is not a BERT needs opts.writeModel');
  const root = join(runDir, 'checkpoints');
  const name = `step-${String(state.step).padStart(7, '0')}`;
  const final = join(root, name);
  const bad = await firstNonFinite(model.namedParameters());
  if (bad) throw new Error(`${final}: not saved, ${bad.name} holds ${bad.value} at index ${bad.index}`);
  ensureDirectory(root);
  settle(root);
  const tmpName = `.${name}.tmp-${process.pid}`;
  const tmp = join(root, tmpName);
  const phase = opts.onPhase ?? (() => {});
  rmSync(tmp, { recursive: true, force: true });
  try {
    if (opts.writeModel) await opts.writeModel(tmp);
    else
      await saveModelDir(tmp, model as BertModel | BertForMaskedLM, {
        tokenizer: opts.tokenizer,
        pooling: opts.pooling,
      });
    const moments = new Map<string, SafetensorsTensorInput>();
    for (const [key, p] of model.namedParameters()) {
      const s = optimizer?.stateOf(p);
      if (!s) continue;
      moments.set(`${key}.exp_avg`, { dtype: 'F32', shape: [...p.shape], data: Float32Array.from(await s.m.data()) });
      moments.set(`${key}.exp_avg_sq`, {
        dtype: 'F32',
        shape: [...p.shape],
        data: Float32Array.from(await s.v.data()),
      });
    }
    writeFileSync(join(tmp, 'optimizer.safetensors'), serializeSafetensors(moments));
    writeFileSync(join(tmp, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`); // last: marks it complete
    phase('built');
    if (existsSync(final)) {
      // Re-saving a step: `latest` names the complete temporary directory while the old one is replaced.
      writeFileAtomic(join(root, 'latest'), `${tmpName}\n`);
      phase('pointed-at-temporary');
      rmSync(final, { recursive: true, force: true });
      phase('removed-old');
    }
    renameSync(tmp, final);
    phase('renamed');
  } catch (err) {
    if (pointerName(root) !== tmpName) rmSync(tmp, { recursive: true, force: true });
    throw new Error(`${final}: cannot save checkpoint (${(err as Error).message})`);
  }
  writeFileAtomic(join(root, 'latest'), `${name}\n`);
  phase('pointed');
  const keepLast = opts.keepLast ?? 2;
  const steps = readdirSync(root)
    .filter((d) => /^step-\d+$/.test(d))
    .sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keepLast))) {
    if (old !== name) rmSync(join(root, old), { recursive: true, force: true });
  }
  removeDeadTemporaries(root, name);
  return final;
}

/**
 * The directory `latest` names, or null when the run has no checkpoint yet. A pointer to a
 * temporary `.step-<N>.tmp-<pid>` that no longer exists was left by a re-save interrupted after
 * the rename: `step-<N>` is then the checkpoint.
 */
export function latestCheckpoint(runDir: string): string | null {
  const root = join(runDir, 'checkpoints');
  const pointer = join(root, 'latest');
  const name = pointerName(root);
  if (name === null) return null;
  let dir = join(root, name);
  const tmp = TEMPORARY.exec(name);
  if (tmp && !existsSync(dir)) dir = join(root, tmp[1]);
  if (!existsSync(join(dir, 'trainer_state.json')))
    throw new Error(`${pointer}: names ${dir}, which is not a complete checkpoint`);
  return dir;
}

export function readTrainerState(dir: string): TrainerState {
  const path = join(dir, 'trainer_state.json');
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as TrainerState;
  } catch (err) {
    throw new Error(`${path}: not a valid trainer state (${(err as Error).message})`);
  }
  if (
    typeof state !== 'object' ||
    state === null ||
    !Number.isSafeInteger(state.step) ||
    !Number.isSafeInteger(state.optimizerStep)
  ) {
    throw new Error(`${path}: "step" and "optimizerStep" must be integers`);
  }
  return state;
}

/**
 * The checkpoint a run directory resumes from, or null for a fresh run (the directory is created).
 * Refuses a directory holding files but no checkpoint, a finished run (metrics.json), and a
 * checkpoint saved with other `args` (every key of `args` must equal the saved one; `steps` is
 * left out by the trainers, so a run may be extended).
 */
export function resumeCheckpoint(out: string, args: Record<string, unknown>): string | null {
  ensureDirectory(out);
  const resumeDir = latestCheckpoint(out);
  if (resumeDir === null) {
    const others = readdirSync(out).filter((e) => e !== 'checkpoints');
    if (others.length > 0)
      throw new Error(`${out}: holds ${others.join(', ')} but no checkpoint; train into a new --out`);
    return null;
  }
  if (existsSync(join(out, 'metrics.json')))
    throw new Error(`${out}: the run is finished (metrics.json); train into a new --out`);
  const saved = readTrainerState(resumeDir).args as Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(args)) {
    if (JSON.stringify(saved?.[key]) !== JSON.stringify(value)) {
      throw new Error(
        `${resumeDir}: resuming needs ${key}=${JSON.stringify(saved?.[key])}, got ${JSON.stringify(value)}`,
      );
    }
  }
  return resumeDir;
}

/** Restore AdamW's moments and step count from a checkpoint directory (model weights load separately). */
export function loadOptimizerState(dir: string, model: CheckpointModel, optimizer: AdamW, state: TrainerState): void {
  const path = join(dir, 'optimizer.safetensors');
  const file = readSafetensors(path);
  const params = new Map<string, Tensor>(model.namedParameters());
  for (const [key, p] of params) {
    const m = file.tensors.get(`${key}.exp_avg`);
    const v = file.tensors.get(`${key}.exp_avg_sq`);
    if (!m && !v) continue;
    if (!m || !v) throw new Error(`${path}: ${key} has only one of exp_avg / exp_avg_sq`);
    optimizer.setStateOf(p, m.data as Float32Array, v.data as Float32Array);
  }
  optimizer.stepCount = state.optimizerStep;
}
