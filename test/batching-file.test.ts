// `retrograd train --batches FILE` (src/train/batching/file.ts, plan.ts): the batches `retrograd
// cluster --out` wrote are the trainer's epoch 0, in order, and the same batches reordered in later
// epochs; both model types train on them from the command line; a file that does not fit the data
// (another data set's ids, another batch size, a qrels-only file, a changed file, a missing one)
// fails with one line naming it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCli } from './util/cli.js';
import { registerCluster } from '../src/cli/cluster.js';
import { registerTrain } from '../src/cli/train.js';
import { readJsonlArray, readTriples, type Triple } from '../src/data/beir.js';
import { BatchPlan } from '../src/train/batching/plan.js';
import { fileSha256, readBatchFile } from '../src/train/batching/file.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-batch-file-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dataDir = '';
let modelDir = '';
let file = '';
let triples: Triple[] = [];
beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(join(work, 'synthetic')));
  file = join(work, 'batches.jsonl.gz');
  await runCli(
    [registerCluster],
    [
      'cluster',
      '--data',
      dataDir,
      '--batch-size',
      '6',
      '--cluster-size',
      '6',
      '--dims',
      '8',
      '--seed',
      '2',
      '--out',
      file,
    ],
  );
  triples = await readTriples(join(dataDir, 'triples', 'train.jsonl.gz'));
}, 60_000);

const plan = (path: string, batchSize = 6, sha256?: string): BatchPlan =>
  BatchPlan.create(triples, {
    batching: { kind: 'file', path, sha256 },
    filter: { kind: 'none' },
    layout: 'positives',
    batchSize,
    seed: 1,
    queryText: () => '',
    docText: () => '',
    queryLength: 8,
    docLength: 8,
  });

describe('batches from a file', () => {
  it('are epoch 0 as written, then the same batches in a seeded order per epoch', async () => {
    const rows = await readJsonlArray(file);
    const written = rows.map((r) => r.triples as number[]);
    expect(written).toHaveLength(4);
    const p = plan(file, 6, fileSha256(file));
    expect(p.batches(0)).toEqual(written);
    const e1 = p.batches(1)!;
    expect(e1).not.toEqual(written);
    expect([...e1].sort((a, b) => a[0] - b[0])).toEqual([...written].sort((a, b) => a[0] - b[0]));
    expect(p.batches(1)).toEqual(e1);
    expect(p.hardness(0)).toBeNull();
  });

  it('fail with one line when they do not fit the data', async () => {
    const rows = await readJsonlArray(file);
    const write = (name: string, rs: unknown[]): string => {
      const path = join(work, name);
      writeFileSync(path, rs.map((r) => `${JSON.stringify(r)}\n`).join(''));
      return path;
    };
    const other = write(
      'other.jsonl',
      rows.map((r, i) => (i === 1 ? { ...r, qids: ['q:elsewhere', ...(r.qids as string[]).slice(1)] } : r)),
    );
    expect(() => plan(other)).toThrow(
      /other\.jsonl line 2: triple \d+ is \(q:[\w-]+, [\w-]+\) in the data, the file says \(q:elsewhere, [\w-]+\): written for other data\?$/,
    );
    expect(() => plan(file, 4)).toThrow(
      /batches\.jsonl\.gz line 1: a batch of 6 triples, the batch size is 4 \(cluster --batch-size must match\)$/,
    );
    const qrelsOnly = write(
      'qrels.jsonl',
      rows.map(({ triples: _t, ...r }) => r),
    );
    expect(() => plan(qrelsOnly)).toThrow(/qrels\.jsonl line 1: no "triples" list/);
    const twice = write('twice.jsonl', [rows[0], rows[0], rows[2], rows[3]]);
    expect(() => plan(twice)).toThrow(/twice\.jsonl line 2: triple \d+ is already in the batch of line 1$/);
    const short = write('short.jsonl', rows.slice(0, 3));
    expect(() => plan(short)).toThrow(/short\.jsonl: 3 batches of 6, the data's 24 triples make 4/);
    const range = write('range.jsonl', [{ triples: [0, 1, 2, 3, 4, 99] }]);
    expect(() => plan(range)).toThrow(/range\.jsonl line 1: triple index 99 is outside the data's 24 triples$/);
    const plain = join(work, 'plain.jsonl');
    writeFileSync(plain, gunzipSync(readFileSync(file)));
    expect(readBatchFile(plain, triples, 6)).toEqual(rows.map((r) => r.triples));
    expect(() => plan(plain, 6, '0'.repeat(64))).toThrow(
      /plain\.jsonl: the file changed \(SHA-256 differs from the run's\)$/,
    );
    const broken = join(work, 'broken.jsonl.gz');
    writeFileSync(broken, readFileSync(file).subarray(0, 20));
    expect(() => plan(broken)).toThrow(/broken\.jsonl\.gz: not valid gzip data/);
    expect(() => fileSha256(join(work, 'missing.jsonl'))).toThrow(/^--batches .*missing\.jsonl: no such file$/);
  });

  it('train --batches FILE runs both model types, and refuses --batching contextual beside it', async () => {
    const base = [
      'train',
      '--model',
      modelDir,
      '--data',
      dataDir,
      '--loss',
      'infonce',
      '--batches',
      file,
      '--batch-size',
      '6',
      '--steps',
      '5',
      '--query-length',
      '8',
      '--doc-length',
      '24',
      '--save-every',
      '2',
    ];
    await runCli([registerTrain], [...base, '--out', join(work, 'bi')]);
    await runCli(
      [registerTrain],
      [...base, '--out', join(work, 'cde'), '--model-type', 'contextual', '--context-size', '4', '--chunk-size', '4'],
    );
    for (const run of ['bi', 'cde']) {
      const log = readFileSync(join(work, run, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(log.filter((e) => e.kind === 'train')).toHaveLength(5);
      expect(log.filter((e) => e.kind === 'batching').map((e) => e.epoch)).toEqual([0, 1]);
    }
    await expect(
      runCli([registerTrain], [...base, '--out', join(work, 'both'), '--batching', 'contextual']),
    ).rejects.toThrow(/^--batches FILE replaces --batching; give one of them$/);
  }, 180_000);
});
