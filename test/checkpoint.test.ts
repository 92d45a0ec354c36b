// Training checkpoints (src/train/checkpoint.ts): a save is crash-safe at every moment — a real child
// process is killed with SIGKILL at each phase of a save, after which `latest` names a complete
// checkpoint holding either the old or the new weights — dead temporary directories are cleaned by
// the next save, non-finite weights are refused, and a damaged trainer_state.json is named.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator } from '../src/index.js';
import { BertModel } from '../src/nn/bert.js';
import { loadModelDir } from '../src/nn/model-dir.js';
import { setParameterData } from '../src/nn/module.js';
import { AdamW } from '../src/train/optim.js';
import {
  firstNonFinite,
  latestCheckpoint,
  readTrainerState,
  saveCheckpoint,
  type SavePhase,
} from '../src/train/checkpoint.js';
import { CHECKPOINT_CONFIG, CHECKPOINT_TOKENIZER } from './util/checkpoint-model.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-checkpoint-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CHILD = new URL('./util/save-checkpoint-and-die.ts', import.meta.url).pathname;
const PHASES: SavePhase[] = ['built', 'pointed-at-temporary', 'removed-old', 'renamed', 'pointed'];

function model(seed: number): BertModel {
  return new BertModel(CHECKPOINT_CONFIG, { device: 'cpu-ref', generator: new Generator(seed) });
}

async function save(runDir: string, step: number, seed: number): Promise<void> {
  const m = model(seed);
  await saveCheckpoint(
    runDir,
    m,
    new AdamW(m.parameters()),
    { step, optimizerStep: 0 },
    { tokenizer: CHECKPOINT_TOKENIZER },
  );
}

/** Save (step, seed) in a child process that SIGKILLs itself at `phase`; resolves with its exit signal. */
function saveAndDie(runDir: string, step: number, seed: number, phase: SavePhase): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, runDir, String(step), String(seed), phase], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code, signal) =>
      code === null ? resolve(signal) : reject(new Error(`child exited ${code}: ${stderr}`)),
    ),
  );
}

/** The first embedding weight of the model `latest` names, compared with what seeds give. */
async function latestWeights(runDir: string): Promise<{ dir: string; first: number }> {
  const dir = latestCheckpoint(runDir)!;
  readTrainerState(dir);
  const loaded = loadModelDir(dir, { device: 'cpu-ref' });
  const first = (await loaded.model.embeddings.word_embeddings.weight.data())[0];
  loaded.model.dispose();
  return { dir, first };
}

async function firstWeight(seed: number): Promise<number> {
  const m = model(seed);
  const w = (await m.embeddings.word_embeddings.weight.data())[0];
  m.dispose();
  return w;
}

describe('saveCheckpoint under SIGKILL', () => {
  it.each(PHASES)(
    're-saving an existing step, killed at "%s", leaves latest naming a complete checkpoint, old or new',
    async (phase) => {
      const runDir = join(work, `resave-${phase}`);
      await save(runDir, 5, 1);
      expect(await saveAndDie(runDir, 5, 2, phase)).toBe('SIGKILL');
      const { dir, first } = await latestWeights(runDir);
      expect([await firstWeight(1), await firstWeight(2)]).toContain(first);
      expect(readTrainerState(dir).step).toBe(5);
      // The next save cleans what the dead process left and leaves only complete checkpoints.
      await save(runDir, 6, 3);
      expect(readdirSync(join(runDir, 'checkpoints')).sort()).toEqual(['latest', 'step-0000005', 'step-0000006']);
      expect((await latestWeights(runDir)).first).toBe(await firstWeight(3));
    },
    60_000,
  );

  it('saving a new step, killed before `latest` moves, keeps the previous checkpoint as latest', async () => {
    const runDir = join(work, 'new-step');
    await save(runDir, 5, 1);
    expect(await saveAndDie(runDir, 6, 2, 'renamed')).toBe('SIGKILL');
    const { dir, first } = await latestWeights(runDir);
    expect(dir).toMatch(/step-0000005$/);
    expect(first).toBe(await firstWeight(1));
  }, 60_000);
});

describe('checkpoint integrity', () => {
  it('refuses to save a non-finite weight, naming it, and leaves latest alone', async () => {
    const runDir = join(work, 'non-finite');
    await save(runDir, 1, 1);
    const m = model(2);
    const bias = m.pooler!.dense.bias!;
    const values = new Float32Array(bias.size);
    values[3] = Infinity;
    setParameterData(bias, values);
    expect(await firstNonFinite(m.namedParameters())).toEqual({ name: 'pooler.dense.bias', index: 3, value: Infinity });
    await expect(
      saveCheckpoint(
        runDir,
        m,
        new AdamW(m.parameters()),
        { step: 2, optimizerStep: 0 },
        { tokenizer: CHECKPOINT_TOKENIZER },
      ),
    ).rejects.toThrow(/step-0000002: not saved, pooler\.dense\.bias holds Infinity at index 3$/);
    expect(readFileSync(join(runDir, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-0000001');
    expect(readdirSync(join(runDir, 'checkpoints')).sort()).toEqual(['latest', 'step-0000001']);
  });

  it('names a truncated or malformed trainer_state.json', () => {
    const dir = join(work, 'state');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'trainer_state.json'), '{"step": 3, "optim');
    expect(() => readTrainerState(dir)).toThrow(/state\/trainer_state\.json: not a valid trainer state \(.*JSON/);
    writeFileSync(join(dir, 'trainer_state.json'), 'null');
    expect(() => readTrainerState(dir)).toThrow(/trainer_state\.json: "step" and "optimizerStep" must be integers/);
  });
});
