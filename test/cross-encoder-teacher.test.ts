// The cross-encoder as a teacher, on the small synthetic BEIR set (test/util/synthetic-retrieval.ts)
// with the tiny PyTorch-fixture cross-encoder (test/fixtures/cross-encoder/tiny; its vocabulary spells
// any text with letters): `retrograd score` writes teacher_pos / teacher_neg into the triples (other
// fields kept), the library reads them back as a Margin-MSE teacher (offline from the file) or scores
// inside each step (online, the same numbers), a biencoder trains on them, and `retrograd rerank`
// prints BM25's and the reranked metrics.

import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docText, loadBeir, readJsonlArray, readTriples } from '../src/data/beir.js';
import { CrossEncoder } from '../src/nn/cross-encoder.js';
import { crossEncoderTeacher, readScoredTriples, triplesTeacher } from '../src/train/teachers.js';
import { trainBiencoder } from '../src/train/retrieval.js';
import { registerCrossEncoder } from '../src/cli/cross-encoder.js';
import { registerScore } from '../src/cli/score.js';
import { runCli } from './util/cli.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const CE = join(import.meta.dirname, 'fixtures', 'cross-encoder', 'tiny');
const work = mkdtempSync(join(tmpdir(), 'retrograd-ce-teacher-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelDir = '';
let dataDir = '';

beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(work));
});

describe('retrograd score / rerank and the triples teacher', () => {
  it('score writes teacher_pos and teacher_neg into every line; the teacher reads them back', async () => {
    const out = join(work, 'scored.jsonl.gz');
    const printed = await runCli(
      [registerScore],
      ['score', '--model', CE, '--data', dataDir, '--out', out, '--max-length', '40'],
    );
    const summary = JSON.parse(printed) as { lines: number; pairs: number };
    const input = await readTriples(join(dataDir, 'triples', 'train.jsonl.gz'));
    expect(summary.lines).toBe(input.length);
    const rows = await readJsonlArray(out);
    expect(rows.map((r) => [r.qid, r.pos, r.neg])).toEqual(input.map((t) => [t.qid, t.pos, t.neg]));
    const scored = await readScoredTriples(out);

    // The same numbers as the cross-encoder's own scorer.
    const ce = CrossEncoder.load(CE);
    const { queries, corpus } = await loadBeir(dataDir, 'train');
    const expected = await ce.scorer(40)(
      scored.map((t) => queries.get(t.qid)!),
      scored.map((t) => docText(corpus.get(t.pos)!)),
    );
    ce.dispose();
    expect(scored.map((t) => t.teacherPos)).toEqual([...expected]);

    const teacher = await triplesTeacher(dataDir, 'train', out);
    const t = scored[3];
    expect(await teacher([queries.get(t.qid)!, queries.get(t.qid)!], [t.pos, t.neg])).toEqual([
      t.teacherPos,
      t.teacherNeg,
    ]);
    expect(() => teacher(['no such query'], [t.pos])).toThrow(
      /scored\.jsonl\.gz: no teacher score for query "no such query"/,
    );
  }, 30_000);

  it('a triples file without teacher scores is rejected, naming the file and line', async () => {
    await expect(readScoredTriples(join(dataDir, 'triples', 'train.jsonl.gz'))).rejects.toThrow(
      /^train\.jsonl\.gz line 1: "teacher_pos" must be a finite number \(score the file with `retrograd score`\)$/,
    );
  });

  it("rerank prints BM25's and the reranked metrics on the same queries", async () => {
    const printed = await runCli(
      [registerCrossEncoder],
      ['rerank', '--model', CE, '--data', dataDir, '--split', 'test', '--json', '--max-length', '40'],
    );
    const report = JSON.parse(printed) as {
      queries: number;
      bm25: Record<string, number>;
      rerank: Record<string, number>;
      bm25_top: number;
    };
    expect(report.queries).toBe(12);
    expect(report.bm25_top).toBe(100);
    expect(report.rerank['R@100']).toBe(report.bm25['R@100']);
    for (const m of ['nDCG@10', 'MRR@10']) expect(report.rerank[m]).toBeGreaterThanOrEqual(0);
  }, 30_000);

  it("the online teacher gives the scored file's numbers, and Margin-MSE trains a biencoder with it inside the step", async () => {
    const scoredDir = join(work, 'scored-data');
    cpSync(dataDir, scoredDir, { recursive: true });
    await runCli(
      [registerScore],
      [
        'score',
        '--model',
        CE,
        '--data',
        scoredDir,
        '--out',
        join(scoredDir, 'triples', 'train.jsonl.gz'),
        '--max-length',
        '40',
      ],
    );
    const offline = await triplesTeacher(scoredDir);
    const online = await crossEncoderTeacher(CE, dataDir, { device: 'cpu', maxLength: 40 });
    const { queries } = await loadBeir(dataDir, 'train');
    const scored = await readScoredTriples(join(scoredDir, 'triples', 'train.jsonl.gz'));
    const q = scored.map((t) => queries.get(t.qid)!);
    expect(
      await online(
        q,
        scored.map((t) => t.pos),
      ),
    ).toEqual(
      offline(
        q,
        scored.map((t) => t.pos),
      ),
    );
    const losses: number[] = [];
    await trainBiencoder({
      model: modelDir,
      data: scoredDir,
      out: join(work, 'mmse-online'),
      loss: { kind: 'margin-mse', teacher: online, teacherName: 'cross-encoder' },
      pooling: 'mean',
      batchSize: 8,
      queryLength: 8,
      docLength: 24,
      lr: 5e-3,
      gamma: 0.999,
      weightDecay: 1e-6,
      clip: 1,
      steps: 3,
      seed: 1,
      evalEvery: 0,
      patience: 1,
      evalSets: [],
      internalsEvery: 0,
      device: 'cpu',
      progress: false,
      onLog: (e) => {
        if (e.kind === 'train') losses.push(e.loss as number);
      },
    });
    expect(losses).toHaveLength(3);
    for (const l of losses) expect(Number.isFinite(l) && l > 0).toBe(true);
  }, 30_000);
});
