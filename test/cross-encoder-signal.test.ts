// A `retrograd train-cross-encoder` process on the small synthetic BEIR set (test/util/synthetic-retrieval.ts)
// stops on SIGTERM between steps: the model so far is saved and loads as a cross-encoder, evaluation is
// skipped, metrics.json says `interrupted`, and the exit status is 143.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder } from '../src/nn/cross-encoder.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-ce-signal-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';

beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
});

describe('retrograd train-cross-encoder and signals', () => {
  it('`retrograd train-cross-encoder` stops on SIGTERM between steps, saves its model and exits 143', async () => {
    const out = join(work, 'ce-signal');
    const root = join(import.meta.dirname, '..');
    const args = [
      join(root, 'bin', 'retrograd.mjs'),
      'train-cross-encoder',
      '--model',
      modelDir,
      '--data',
      dataDir,
      '--out',
      out,
      '--steps',
      '100000',
      '--batch-size',
      '4',
      '--max-length',
      '32',
      '--threads',
      '1',
    ];
    const child = spawn(process.execPath, args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RETROGRAD_PROGRESS_SECONDS: '1000' },
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const logPath = join(out, 'log.jsonl');
    const deadline = Date.now() + 60_000;
    while (!(existsSync(logPath) && readFileSync(logPath, 'utf8').split('\n').length > 3)) {
      if (Date.now() > deadline) throw new Error('train-cross-encoder did not start logging within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as {
      steps: number;
      interrupted: string;
      final?: unknown;
    };
    expect(metrics.interrupted).toBe('SIGTERM');
    expect(metrics.steps).toBeGreaterThanOrEqual(2);
    expect(metrics.final).toBeUndefined();
    const saved = CrossEncoder.load(join(out, 'model'));
    expect(saved.report!.fresh).toEqual([]);
    saved.dispose();
  }, 90_000);
});
