// The examples are documentation that runs: each executes here and its key claims are checked.

import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

function runExample(file: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 120_000 });
}

describe('examples', () => {
  it('tour.ts walks tensor -> op -> gradient -> kernel -> training step -> BERT -> CDE', () => {
    const out = runExample('examples/tour.ts');
    expect(out).toContain('a.T shares storage: true');
    expect(out).toMatch(/dy\/dx = \[ 1, -2, 4 \]/);
    expect(out).toMatch(/computed by kernel wasm\.matmul/);
    expect(out).toMatch(/reference matmul launches: 1/);
    const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(5);
    expect(losses[4]).toBeLessThan(losses[0]);
    const live = new Set([...out.matchAll(/live buffers (\d+)/g)].map((m) => m[1]));
    expect(live.size).toBe(1);
    expect(out).toContain('pieces: tensor ##s flow backwards .');
    expect(out).toContain('first parameters: embeddings.word_embeddings.weight');
    expect(out).toMatch(/embeddings \[ 2, 256 \]  cosine of the two texts: 0\.\d{4}/);
    expect(out).toContain('== 6. contextual document embeddings (CDE) ==');
    expect(out).toContain('context of a corpus (first stage, computed once): [ 4, 32 ]');
    expect(out).toMatch(/second stage reads 4 context \+ 8 prompt \+ \d+ text positions/);
    const contextCosine = Number(out.match(/the query in two corpora: dims 32  cosine (\d\.\d+)/)?.[1]);
    expect(contextCosine).toBeGreaterThan(0);
    expect(contextCosine).toBeLessThan(1);
  });

  it('train_sdam.ts (the main job) trains, evaluates and prints the metrics table', async () => {
    const work = mkdtempSync(join(tmpdir(), 'retrograd-example-'));
    try {
      const { dataDir, modelDir } = await writeSyntheticRetrieval(work, { maxPositions: 128 }); // the main job truncates documents to 128 tokens
      const out = join(work, 'run');
      const stdout = execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'examples/train_sdam.ts',
          '--model',
          modelDir,
          '--data',
          dataDir,
          '--out',
          out,
          '--eval',
          `${dataDir}:test`,
          '--steps',
          '4',
          '--batch-size',
          '8',
          '--pooling',
          'mean',
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect(stdout).toMatch(/SDAM \(adaptive target\) from .*: 4 steps/);
      expect(stdout).toMatch(/data: 12 queries, 36 documents/);
      for (const name of ['BM25 \\(k1 0.9, b 0.4\\)', 'pretrained, no fine-tuning', 'SDAM fine-tuned']) {
        expect(stdout).toMatch(new RegExp(`${name}\\s+(\\d\\.\\d{3}\\s+){3}\\d\\.\\d{3}`));
      }
      const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as {
        steps: number;
        final: unknown[];
      };
      expect(metrics.steps).toBe(4);
      expect(existsSync(join(out, 'model', 'model.safetensors'))).toBe(true);
      const bad = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'examples/train_sdam.ts', '--model', modelDir, '--steps', 'x'],
        { encoding: 'utf8' },
      );
      expect(bad.status).toBe(1);
      expect(bad.stderr.trim()).toBe(
        "train_sdam: option '--steps <n>' argument 'x' is invalid. expected a positive integer",
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});
