// A `retrograd train-cross-encoder` process on the small synthetic BEIR set (test/util/synthetic-retrieval.ts)
// stops on SIGTERM between steps: a checkpoint of the model so far is saved and loads as a
// cross-encoder, evaluation is skipped, the printed result says `interrupted`, the exit status is 143,
// and the same command again resumes from that checkpoint. (Exact resume after a crash:
// test/cross-encoder-train.test.ts.)

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder } from '../src/nn/cross-encoder.js';
import { latestCheckpoint, readTrainerState } from '../src/train/checkpoint.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-ce-signal-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';

beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
});

describe('retrograd train-cross-encoder and signals', () => {
  it('`retrograd train-cross-encoder` stops on SIGTERM between steps with a checkpoint, exits 143 and resumes', async () => {
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
    const logPath = join(out, 'log.jsonl');
    const logLines = (): string[] =>
      existsSync(logPath)
        ? readFileSync(logPath, 'utf8')
            .split('\n')
            .filter((l) => l.length > 0)
        : [];
    // Start the command, wait until `ready` holds of its log, stop it with SIGTERM.
    const runUntil = async (ready: (lines: string[]) => boolean): Promise<{ code: number | null; stdout: string }> => {
      const child = spawn(process.execPath, args, {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, RETROGRAD_PROGRESS_SECONDS: '1000' },
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 60_000;
      while (!ready(logLines())) {
        if (Date.now() > deadline)
          throw new Error('train-cross-encoder did not reach the expected log line within 60 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGTERM');
      return { code: await exited, stdout };
    };

    const first = await runUntil((lines) => lines.length > 3);
    expect(first.code).toBe(143);
    const result = JSON.parse(first.stdout) as { steps: number; interrupted: string; final?: unknown };
    expect(result.interrupted).toBe('SIGTERM');
    expect(result.steps).toBeGreaterThanOrEqual(2);
    expect(result.final).toBeUndefined();
    expect(existsSync(join(out, 'metrics.json'))).toBe(false); // the run is not finished
    const checkpoint = latestCheckpoint(out)!;
    expect(readTrainerState(checkpoint).step).toBe(result.steps);
    const saved = CrossEncoder.load(checkpoint);
    expect(saved.report!.fresh).toEqual([]);
    saved.dispose();

    const second = await runUntil((lines) => lines.some((l) => l.includes('"kind":"resume"')));
    expect(second.code).toBe(143);
    const resume = logLines()
      .map((l) => JSON.parse(l) as { kind: string; step?: number })
      .find((e) => e.kind === 'resume')!;
    expect(resume.step).toBe(result.steps);
  }, 150_000);
});
