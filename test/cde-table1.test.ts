// examples/cde_table1.ts (CDE's Table 1 in miniature) end to end on the synthetic retrieval set and a
// tiny BERT: every cell trained in its own process, the table, results and figure written; a rerun
// reuses every finished cell and writes the same table; changed settings are refused for the cells
// they touch, with one line, before any work; a bad flag value fails with one line naming the option.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/cde_table1.ts', ...args], {
    encoding: 'utf8',
    timeout: 400_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('examples/cde_table1.ts', () => {
  it('trains the four variants and the cluster-size sweep, writes table, results and figure, and reuses finished cells', async () => {
    const work = mkdtempSync(join(tmpdir(), 'retrograd-cde-table1-'));
    try {
      const { dataDir, modelDir } = await writeSyntheticRetrieval(work, { maxPositions: 128 }); // documents are truncated to 128 tokens
      const out = join(work, 'run');
      const args = [
        '--model',
        modelDir,
        '--data',
        dataDir,
        '--eval',
        `${dataDir}:test`,
        '--steps',
        '5',
        '--batch-size',
        '6',
        '--seeds',
        '1',
        '--context-size',
        '4',
        '--chunk-size',
        '4',
        '--dims',
        '8',
        '--cluster-sizes',
        '6,24',
        '--out',
        out,
        '--cache-dir',
        join(work, 'cache'),
      ];
      const first = run(args);
      expect(first.status, first.stderr).toBe(0);
      for (const name of ['a-s0', 'b-s0', 'c-s0', 'd-s0', 'b-c24-s0'])
        expect(existsSync(join(out, 'cells', name, 'run', 'metrics.json')), name).toBe(true);
      expect(first.stderr).toMatch(/cell 5\/5 b-c24-s0 done in \d+ s/);
      const table = readFileSync(join(out, 'table.md'), 'utf8');
      for (const label of [
        '(a) biencoder, random batches',
        '(b) biencoder, contextual batches + filter',
        '(c) contextual architecture, random batches',
        '(d) contextual architecture and batches + filter',
      ]) {
        expect(table).toMatch(
          new RegExp(
            `\\| ${label.replace(/[()+]/g, '\\$&')} \\| 0\\.\\d{3} \\| 0\\.\\d{3} \\| 0\\.\\d{3} \\| \\d\\.\\d{2} \\| \\d+ MiB \\|`,
          ),
        );
      }
      expect(table).toContain('J = 4');
      expect(table).toMatch(
        /\| random \| 0\.\d{3} \| 0\.\d{3} \|\n\| cluster size 24 \| 0\.\d{3} \| 0\.\d{3} \|\n\| cluster size 6 \| 0\.\d{3} \| 0\.\d{3} \|/,
      );
      const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
      expect(results.cells).toHaveLength(5);
      expect(results.rows.map((r: { variant: string }) => r.variant)).toEqual(['a', 'b', 'c', 'd']);
      // (b) at the batch size is harder than random batches of the same seed.
      const b = results.cells.find((c: { spec: { name: string } }) => c.spec.name === 'b-s0');
      expect(b.hardness.contextual).toBeGreaterThan(b.hardness.random);
      expect(results.hardness.points.length).toBe(3);
      expect(readFileSync(join(out, 'hardness-vs-ndcg.png')).subarray(1, 4).toString()).toBe('PNG');

      const again = run(args);
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr.match(/finished earlier, reused/g)).toHaveLength(5);
      expect(readFileSync(join(out, 'table.md'), 'utf8')).toBe(table);

      // A different J touches only the contextual cells: refused, naming the first of them.
      const changed = run([...args.slice(0, -4), '--context-size', '3', '--out', out]);
      expect(changed.status).toBe(1);
      expect(changed.stderr.trim()).toMatch(
        /^cde_table1: .*cells\/c-s0\/cell\.json: the cell was made with contextSize=4, now 3; use another --out$/,
      );
      // Other weights behind the same --model path (a newer checkpoint committed there): every cell refused.
      const weights = join(modelDir, 'model.safetensors');
      const changedWeights = readFileSync(weights);
      changedWeights[changedWeights.length - 1] ^= 1; // the last byte of the last tensor's data
      writeFileSync(weights, changedWeights);
      const newer = run(args);
      expect(newer.status).toBe(1);
      expect(newer.stderr.trim()).toMatch(
        /^cde_table1: .*cells\/a-s0\/cell\.json: the cell was made with modelSha256="[0-9a-f]{64}", now "[0-9a-f]{64}"; use another --out$/,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 600_000);

  it('fails in one line naming the option on a bad flag value, before any work', () => {
    const out = join(tmpdir(), `retrograd-cde-table1-never-${process.pid}`);
    for (const [flag, value, message] of [
      ['--steps', '0', "option '--steps <n>' argument '0' is invalid. expected a positive integer"],
      [
        '--order',
        'nearest',
        "option '--order <order>' argument 'nearest' is invalid. Allowed choices are random, tsp.",
      ],
      ['--batch-size', '1', "option '--batch-size <n>' argument '1' is invalid. expected an integer >= 2"],
      ['--filter', 'bm25', "option '--filter <f>' argument 'bm25' is invalid. expected none, tfidf or model:DIR"],
    ]) {
      const bad = run([flag, value, '--out', out]);
      expect(bad.status, flag).toBe(1);
      expect(bad.stderr, flag).toBe(`cde_table1: ${message}\n`);
      expect(bad.stdout, flag).toBe('');
    }
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
