// Training checkpoints: everything needed to continue a run exactly where it stopped.
//
// A checkpoint is a directory `<run>/checkpoints/step-<N>/` holding
//   config.json, model.safetensors, vocab.txt, tokenizer_config.json   the model, Hugging Face layout
//   optimizer.safetensors   AdamW moments, keys `<param name>.exp_avg` / `.exp_avg_sq`
//   trainer_state.json      step, data position, seeds, the run's arguments, the optimizer's step count
// It is built under a temporary name and renamed into place, then `<run>/checkpoints/latest` (a
// one-line file naming the directory) is replaced atomically, so a crash at any point leaves the
// previous checkpoint intact and `latest` pointing at a complete one. Older checkpoints beyond
// `keepLast` are deleted afterwards.

import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import type { BertForMaskedLM, BertModel } from '../nn/bert.js';
import type { BertTokenizer } from '../nn/tokenizer.js';
import { saveModelDir } from '../nn/model-dir.js';
import { readSafetensors, serializeSafetensors, type SafetensorsTensorInput } from '../nn/safetensors.js';
import type { AdamW } from './optim.js';

/** Write a file by temp file + rename in the same folder. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export interface TrainerState {
  /** Completed optimizer updates. */
  step: number;
  /** Optimizer's own step count (bias correction). */
  optimizerStep: number;
  [key: string]: unknown;
}

export interface SaveCheckpointOptions {
  tokenizer?: BertTokenizer;
  keepLast?: number;
}

/** Write `<run>/checkpoints/step-<N>` and point `latest` at it. Returns the checkpoint directory. */
export async function saveCheckpoint(
  runDir: string,
  model: BertModel | BertForMaskedLM,
  optimizer: AdamW,
  state: TrainerState,
  opts: SaveCheckpointOptions = {},
): Promise<string> {
  const root = join(runDir, 'checkpoints');
  mkdirSync(root, { recursive: true });
  const name = `step-${String(state.step).padStart(7, '0')}`;
  const final = join(root, name);
  const tmp = join(root, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    await saveModelDir(tmp, model, { tokenizer: opts.tokenizer });
    const moments = new Map<string, SafetensorsTensorInput>();
    for (const [key, p] of model.namedParameters()) {
      const s = optimizer.stateOf(p);
      if (!s) continue;
      moments.set(`${key}.exp_avg`, { dtype: 'F32', shape: [...p.shape], data: Float32Array.from(await s.m.data()) });
      moments.set(`${key}.exp_avg_sq`, { dtype: 'F32', shape: [...p.shape], data: Float32Array.from(await s.v.data()) });
    }
    writeFileSync(join(tmp, 'optimizer.safetensors'), serializeSafetensors(moments));
    writeFileSync(join(tmp, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`);
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`${final}: cannot save checkpoint (${(err as Error).message})`);
  }
  writeFileAtomic(join(root, 'latest'), `${name}\n`);
  const keepLast = opts.keepLast ?? 2;
  const steps = readdirSync(root).filter((d) => /^step-\d+$/.test(d)).sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keepLast))) {
    if (old !== name) rmSync(join(root, old), { recursive: true, force: true });
  }
  return final;
}

/** The directory `latest` names, or null when the run has no checkpoint yet. */
export function latestCheckpoint(runDir: string): string | null {
  const pointer = join(runDir, 'checkpoints', 'latest');
  if (!existsSync(pointer)) return null;
  const dir = join(runDir, 'checkpoints', readFileSync(pointer, 'utf8').trim());
  if (!existsSync(join(dir, 'trainer_state.json'))) throw new Error(`${pointer}: names ${dir}, which is not a complete checkpoint`);
  return dir;
}

export function readTrainerState(dir: string): TrainerState {
  const path = join(dir, 'trainer_state.json');
  const state = JSON.parse(readFileSync(path, 'utf8')) as TrainerState;
  if (!Number.isSafeInteger(state.step) || !Number.isSafeInteger(state.optimizerStep)) {
    throw new Error(`${path}: "step" and "optimizerStep" must be integers`);
  }
  return state;
}

/** Restore AdamW's moments and step count from a checkpoint directory (model weights load separately). */
export function loadOptimizerState(dir: string, model: BertModel | BertForMaskedLM, optimizer: AdamW, state: TrainerState): void {
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
