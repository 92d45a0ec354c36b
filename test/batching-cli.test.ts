// `retrograd cluster` (src/cli/cluster.ts), run in-process through commander on 40 real Debian
// package descriptions in five topical groups (test/fixtures/batching/pkgdesc-groups): the summary,
// the batch file (every triple exactly once, ids matching the triples file, byte-identical on a
// rerun), the drop / keep-last rule, qrels input without triples, contextual batches harder than
// random ones, and one-line errors for bad options and bad input.

import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './util/cli.js';
import { registerCluster } from '../src/cli/cluster.js';
import { readJsonlArray, readTriples } from '../src/data/beir.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'batching', 'pkgdesc-groups');
const work = mkdtempSync(join(tmpdir(), 'retrograd-cluster-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cli = async (args: string[]): Promise<Record<string, any>> =>
  JSON.parse(await runCli([registerCluster], ['cluster', ...args]));

describe('retrograd cluster', () => {
  it('writes contextual batches of the triples and a summary comparing their hardness with random batches', async () => {
    const out = join(work, 'tsp.jsonl');
    const summary = await cli([
      '--data',
      FIXTURE,
      '--batch-size',
      '8',
      '--cluster-size',
      '8',
      '--order',
      'tsp',
      '--dims',
      '16',
      '--seed',
      '3',
      '--out',
      out,
    ]);
    expect(Object.keys(summary)).toEqual([
      'data',
      'split',
      'source',
      'examples',
      'out',
      'order',
      'seed',
      'dims',
      'embedder',
      'clusters',
      'batches',
      'batch_size',
      'dropped',
      'hardness',
      'false_negatives',
      'seconds',
    ]);
    expect([summary.split, summary.source, summary.examples, summary.order, summary.seed, summary.dims]).toEqual([
      'train',
      'triples',
      40,
      'tsp',
      3,
      16,
    ]);
    expect([summary.clusters.k, summary.batches, summary.batch_size, summary.dropped]).toEqual([5, 5, 8, 0]);
    expect(summary.embedder.texts).toBe(80);
    expect(Object.keys(summary.seconds)).toEqual(['load', 'embed', 'cluster', 'order', 'pack', 'hardness', 'total']);
    // Five topical groups of eight: batches drawn from clusters are harder than random ones.
    expect(summary.hardness.contextual).toBeGreaterThan(summary.hardness.random);

    const triples = await readTriples(join(FIXTURE, 'triples', 'train.jsonl'));
    const rows = await readJsonlArray(out);
    expect(rows.map((r) => r.batch)).toEqual([0, 1, 2, 3, 4]);
    const seen = rows.flatMap((r) => r.triples as number[]);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(['batch', 'clusters', 'qids', 'pos', 'triples']);
      expect(r.qids).toEqual((r.triples as number[]).map((t) => triples[t].qid));
      expect(r.pos).toEqual((r.triples as number[]).map((t) => triples[t].pos));
      expect((r.clusters as number[]).length).toBeGreaterThanOrEqual(1);
    }
    const again = join(work, 'tsp-again.jsonl');
    await cli([
      '--data',
      FIXTURE,
      '--batch-size',
      '8',
      '--cluster-size',
      '8',
      '--order',
      'tsp',
      '--dims',
      '16',
      '--seed',
      '3',
      '--out',
      again,
    ]);
    expect(readFileSync(again)).toEqual(readFileSync(out));
  });

  it('drops the last partial batch unless --keep-last; without --out it only prints the summary', async () => {
    const base = ['--data', FIXTURE, '--batch-size', '12', '--cluster-size', '10', '--dims', '12'];
    const dropped = await cli(base);
    expect([dropped.batches, dropped.dropped, dropped.out, dropped.order]).toEqual([3, 4, null, 'random']);
    const out = join(work, 'kept.jsonl.gz');
    const kept = await cli([...base, '--keep-last', '--out', out]);
    expect([kept.batches, kept.dropped]).toEqual([4, 0]);
    const rows = await readJsonlArray(out);
    expect(rows.map((r) => (r.triples as number[]).length).sort((a, b) => a - b)).toEqual([4, 12, 12, 12]);
  });

  it('batches the judged pairs of qrels when the split has no triples file', async () => {
    const dir = join(work, 'no-triples');
    cpSync(FIXTURE, dir, { recursive: true });
    rmSync(join(dir, 'triples'), { recursive: true });
    const out = join(work, 'qrels.jsonl');
    const summary = await cli([
      '--data',
      dir,
      '--batch-size',
      '10',
      '--cluster-size',
      '10',
      '--dims',
      '8',
      '--out',
      out,
    ]);
    expect([summary.source, summary.examples, summary.batches]).toEqual(['qrels', 40, 4]);
    const rows = await readJsonlArray(out);
    expect(Object.keys(rows[0])).toEqual(['batch', 'clusters', 'qids', 'pos']);
    expect(rows.flatMap((r) => r.qids as string[]).sort()).toHaveLength(40);
  });

  it('fails with one clear line on bad options and bad input', async () => {
    const run = (args: string[]): Promise<unknown> => cli(['--batch-size', '8', '--cluster-size', '8', ...args]);
    await expect(run(['--data', join(work, 'missing')])).rejects.toThrow(
      `--data ${join(work, 'missing')}: no such directory`,
    );
    await expect(run(['--data', FIXTURE, '--order', 'nearest'])).rejects.toThrow(
      "option '--order <order>' argument 'nearest' is invalid. Allowed choices are random, tsp.",
    );
    await expect(cli(['--data', FIXTURE, '--batch-size', '0', '--cluster-size', '8'])).rejects.toThrow(
      "option '--batch-size <n>' argument '0' is invalid. expected a positive integer",
    );
    await expect(run(['--data', FIXTURE, '--split', 'test'])).rejects.toThrow(`split "test" has no qrels/test.tsv`);
    await expect(cli(['--data', FIXTURE, '--batch-size', '41', '--cluster-size', '8'])).rejects.toThrow(
      '--batch-size 41 exceeds the 40 examples of split "train": no full batch (use a smaller batch size or --keep-last)',
    );
    await expect(run(['--data', FIXTURE])).rejects.toThrow(
      /^embed: --dims 128 exceeds what 80 distinct texts over \d+ terms \(df >= 2\) allow \(at most \d+\)$/,
    );

    const bad = join(work, 'bad-triples');
    cpSync(FIXTURE, bad, { recursive: true });
    const lines = readFileSync(join(bad, 'triples', 'train.jsonl'), 'utf8').split('\n');
    lines[2] = JSON.stringify({ qid: 'q:no-such-package', pos: 'fonts-adf-berenis', neg: 'asmixer' });
    writeFileSync(join(bad, 'triples', 'train.jsonl'), lines.join('\n'));
    await expect(run(['--data', bad, '--dims', '8'])).rejects.toThrow(
      'triples/train.jsonl entry 3: qid "q:no-such-package" is not a query of split "train"',
    );
  });
});
