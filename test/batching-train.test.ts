// Contextual batches and masked in-batch losses in training (src/train/batching/negatives.ts,
// schedule.ts, cache.ts, plan.ts; losses.ts masks): the mask of each column layout, masked InfoNCE
// and in-batch SDAM against a float64 reference written here (log-sum-exp over the kept columns; a
// mean over the kept cells) and a directional gradcheck (the PyTorch fixtures are in
// torch-fixtures.test.ts), duplicates of the gold never in the softmax, epoch batches per (seed,
// epoch), the cache reused and invalidated, and trainBiencoder / trainContextual end to end on a
// synthetic set whose triples share positives, with an exact resume in the middle of an epoch.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, randn, type Tensor } from '../src/index.js';
import { fromArray } from '../src/tensor/tensor.js';
import { infoNCE, sdamLoss } from '../src/train/losses.js';
import { inBatchMask } from '../src/train/batching/negatives.js';
import { clusterPairs, epochBatches } from '../src/train/batching/schedule.js';
import { BatchPlan, parseFilter } from '../src/train/batching/plan.js';
import { loadBeir, readTriples, writeBeir, docText, type Triple } from '../src/data/beir.js';
import { trainBiencoder, type TrainBiencoderOptions } from '../src/train/retrieval.js';
import { trainContextual } from '../src/train/contextual.js';
import { gradcheck } from './util/gradcheck.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-batching-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const gen = new Generator(7);
const r = (...shape: number[]): Tensor => randn(shape, { dtype: 'float64', generator: gen });

function rows(t: Tensor): number[][] {
  const [b, h] = t.shape;
  const a = t.toArray();
  return Array.from({ length: b }, (_, i) => Array.from({ length: h }, (_, k) => a[i * h + k]));
}
const cos = (a: number[], b: number[]): number => {
  const dot = a.reduce((s, x, k) => s + x * b[k], 0);
  return dot / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
};

/** InfoNCE in float64 with the masked columns left out of each row's log-sum-exp. */
function infoNceReference(q: number[][], docs: number[][], scale: number, mask: Uint8Array): number {
  const cols = docs.length;
  let total = 0;
  q.forEach((qi, i) => {
    const kept = docs
      .map((d, j) => (mask[i * cols + j] ? null : scale * cos(qi, d)))
      .filter((x): x is number => x !== null);
    const m = Math.max(...kept);
    total += m + Math.log(kept.reduce((s, x) => s + Math.exp(x - m), 0)) - scale * cos(qi, docs[i]);
  });
  return total / q.length;
}

describe('in-batch masks', () => {
  const batch = [
    { pos: 'a', neg: 'x' },
    { pos: 'b', neg: 'a' },
    { pos: 'a', neg: 'y' },
  ];

  it('mask duplicates of the gold in every layout, without a surrogate', () => {
    const p = inBatchMask(batch, 'positives');
    expect([...p.mask]).toEqual([0, 0, 1, 0, 0, 0, 1, 0, 0]);
    expect([p.duplicates, p.filtered, p.cells]).toEqual([2, 0, 6]);
    const pn = inBatchMask(batch, 'positives+negatives');
    // row 0 (gold a): p_2 = a and n_1 = a; row 2: p_0 and n_1
    expect([...pn.mask]).toEqual([0, 0, 1, 0, 1, 0, /**/ 0, 0, 0, 0, 0, 0, /**/ 1, 0, 0, 0, 1, 0]);
    const n = inBatchMask(batch, 'negatives');
    expect([...n.mask]).toEqual([0, 1, 0, 0, 0, 0, 0, 1, 0]);
    expect(n.cells).toBe(9);
  });

  it('filter what the surrogate scores at least as high as the gold, the own negative exempt', () => {
    // scores over [p | n] (3 x 6); the gold score of row i is column i
    const s = [
      0.5,
      0.5,
      0.1,
      0.9,
      0.2,
      0.4, // row 0: p_1 ties (filtered), n_0 exempt, n_1 = a is a duplicate
      0.3,
      0.4,
      0.2,
      0.1,
      0.4,
      0.1, // row 1: n_1 ties but is its own negative
      0.2,
      0.1,
      0.3,
      0.5,
      0.0,
      0.3, // row 2: p_0 duplicate, n_0 filtered, n_2 exempt
    ];
    const pn = inBatchMask(batch, 'positives+negatives', s);
    expect([...pn.mask]).toEqual([0, 1, 1, 0, 1, 0, /**/ 0, 0, 0, 0, 0, 0, /**/ 1, 0, 0, 1, 1, 0]);
    expect([pn.duplicates, pn.filtered, pn.cells]).toEqual([4, 2, 15]);
    const n = inBatchMask(batch, 'negatives', s);
    // threshold f(q_i, p_i); columns are n_0..n_2; row 0: n_0 exempt; row 2: n_0 0.5 >= 0.3
    expect([...n.mask]).toEqual([0, 1, 0, 0, 0, 0, 1, 1, 0]);
    expect(() => inBatchMask(batch, 'positives', s)).toThrow(/18 surrogate scores for 3 queries and 3 documents/);
  });

  it('parses --filter', () => {
    expect(parseFilter('model:runs/x')).toEqual({ kind: 'model', dir: 'runs/x' });
    expect(parseFilter('tfidf', 16)).toEqual({ kind: 'tfidf', dims: 16 });
    expect(() => parseFilter('model:')).toThrow(/^--filter must be none, tfidf or model:DIR, got model:$/);
  });
});

describe('masked in-batch losses', () => {
  it('InfoNCE equals a float64 reference that leaves the masked columns out, and duplicates add nothing', () => {
    const [q, p, n] = [r(4, 6), r(4, 6), r(4, 6)];
    const triples = [
      { pos: 'a', neg: 'x' },
      { pos: 'b', neg: 'y' },
      { pos: 'a', neg: 'z' },
      { pos: 'c', neg: 'b' },
    ];
    const { mask } = inBatchMask(triples, 'positives+negatives');
    const docs = [...rows(p), ...rows(n)];
    expect(infoNCE(q, p, 20, n, mask).item()).toBeCloseTo(infoNceReference(rows(q), docs, 20, mask), 12);
    // Row 0's loss does not move when its duplicate column p_2 moves: that column is not in its softmax.
    const row0 = (p2: number[]): number => {
      const pp = rows(p);
      pp[2] = p2;
      const m = Uint8Array.from(mask.subarray(0, 8));
      return infoNCE(q.narrow(0, 0, 1), fromArray(pp.flat(), [4, 6], { dtype: 'float64' }), 20, n, m).item();
    };
    expect(row0(rows(p)[2].map((x) => x * 3 + 1))).toBe(row0(rows(p)[2]));
  });

  it('in-batch SDAM averages over the kept cells only', () => {
    const [q, p, n] = [r(3, 5), r(3, 5), r(3, 5)];
    const mask = Uint8Array.from([0, 1, 0, 0, 0, 1, 1, 1, 0]);
    const [qq, pp, nn] = [rows(q), rows(p), rows(n)];
    let sum = 0;
    let kept = 0;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        if (mask[i * 3 + j]) continue;
        const e = cos(qq[i], pp[i]) - cos(qq[i], nn[j]) - (0.5 + cos(pp[i], nn[j]) / 2);
        sum += e * e;
        kept++;
      }
    }
    expect(sdamLoss(q, p, n, { inBatch: true, mask }).loss.item()).toBeCloseTo(sum / kept, 12);
    expect(() => sdamLoss(q, p, n, { mask })).toThrow(/a mask needs in-batch margins/);
  });

  it('gradcheck (float64): masked InfoNCE and in-batch SDAM', () => {
    const mask = Uint8Array.from([0, 1, 0, 0, 1, 0, /**/ 0, 0, 0, 1, 0, 0, /**/ 1, 1, 0, 0, 0, 1]);
    gradcheck((q, p, n) => infoNCE(q, p, 20, n, mask), [r(3, 4), r(3, 4), r(3, 4)], { label: 'masked infoNCE' });
    const cells = Uint8Array.from([0, 1, 0, 1, 0, 0, 0, 1, 0]);
    gradcheck((q, p, n) => sdamLoss(q, p, n, { inBatch: true, mask: cells }).loss, [r(3, 4), r(3, 4), r(3, 4)], {
      label: 'masked sdam',
    });
    gradcheck(
      (q, p, n) => sdamLoss(q, p, n, { inBatch: true, error: 'soft', marginMode: 'as-released', mask: cells }).loss,
      [r(3, 4), r(3, 4), r(3, 4)],
      { label: 'masked sdam soft' },
    );
  });

  it('refuses a mask on the gold column', () => {
    const mask = Uint8Array.from([1, 0, 0, 0]);
    expect(() => infoNCE(r(2, 3), r(2, 3), 20, undefined, mask)).toThrow(
      /^infoNCE: the mask removes query 0's positive$/,
    );
  });
});

// A synthetic set whose triples share positives: each topic's document 0 is also the positive of
// the topic's second query (as in data/pkgdesc-train, where one document is the positive of many).
let dataDir = '';
let modelDir = '';
let dupDir = '';
beforeAll(async () => {
  ({ dataDir, modelDir } = await writeSyntheticRetrieval(join(work, 'synthetic')));
  const train = await loadBeir(dataDir, 'train');
  const test = await loadBeir(dataDir, 'test');
  const triples = await readTriples(join(dataDir, 'triples', 'train.jsonl.gz'));
  const extra: Triple[] = triples
    .filter((t) => t.pos.endsWith('-0'))
    .map((t) => ({ qid: `q:${t.pos.slice(0, -2)}-1`, pos: t.pos, neg: t.neg }));
  dupDir = join(work, 'dup');
  await writeBeir(dupDir, {
    corpus: new Map([...train.corpus].map(([id, d]) => [id, { title: d.title, text: d.text }])),
    queries: new Map([...train.queries, ...test.queries]),
    qrels: { train: train.qrels, test: test.qrels },
    triples: { train: [...triples, ...extra] },
  });
}, 60_000);

describe('contextual batches per epoch, and the cache', () => {
  it('are deterministic per (seed, epoch), differ across epochs, and hold each pair at most once', async () => {
    const data = await loadBeir(dupDir, 'train');
    const triples = await readTriples(join(dupDir, 'triples', 'train.jsonl.gz'));
    const pairs = triples.map((t) => ({ query: data.queries.get(t.qid)!, doc: docText(data.corpus.get(t.pos)!) }));
    const c = clusterPairs(pairs, { clusterSize: 6, dims: 8, seed: 3 });
    for (const order of ['random', 'tsp'] as const) {
      const o = { batchSize: 6, order, seed: 3 };
      const e0 = epochBatches(c, 0, o);
      expect(epochBatches(c, 0, o)).toEqual(e0);
      expect(epochBatches(c, 1, o)).not.toEqual(e0);
      expect(epochBatches(c, 0, { ...o, seed: 4 })).not.toEqual(e0);
      expect(e0).toHaveLength(6);
      const seen = e0.flat();
      expect(new Set(seen).size).toBe(36);
      expect(e0.every((b) => b.length === 6)).toBe(true);
    }
  });

  it('are reused from the cache on a second run and recomputed when the data change', async () => {
    const data = await loadBeir(dupDir, 'train');
    const triples = await readTriples(join(dupDir, 'triples', 'train.jsonl.gz'));
    const cacheDir = join(work, 'cache');
    const create = (ts: Triple[]): BatchPlan =>
      BatchPlan.create(ts, {
        batching: {
          kind: 'contextual',
          clusterSize: 6,
          order: 'tsp',
          dims: 8,
          iterations: 20,
          restarts: 2,
          init: 'random',
        },
        filter: { kind: 'tfidf', dims: 8 },
        layout: 'positives',
        batchSize: 6,
        seed: 1,
        queryText: (id) => data.queries.get(id)!,
        docText: (id) => docText(data.corpus.get(id)!),
        cacheDir,
        queryLength: 8,
        docLength: 24,
      });
    const first = create(triples);
    expect(first.cached).toEqual({ clustering: false, tfidf: false });
    const second = create(triples);
    expect(second.cached).toEqual({ clustering: true, tfidf: true });
    expect(second.clustering).toEqual({ ...first.clustering, cached: true });
    expect(second.batches(2)).toEqual(first.batches(2));
    const batch = second.batches(0)![0].map((i) => triples[i]);
    expect(second.mask(batch)).toEqual(first.mask(batch));
    const changed = create(triples.slice(1));
    expect(changed.cached).toEqual({ clustering: false, tfidf: false });
  });
});

describe('training with contextual batches and masked losses', () => {
  const options = (out: string, extra: Partial<TrainBiencoderOptions> = {}): TrainBiencoderOptions => ({
    model: modelDir,
    data: dupDir,
    out: join(work, out),
    loss: { kind: 'infonce', scale: 20, ownNegatives: true },
    pooling: 'mean',
    batchSize: 6,
    queryLength: 8,
    docLength: 24,
    lr: 5e-3,
    gamma: 0.999,
    weightDecay: 1e-6,
    clip: 1,
    steps: 9,
    seed: 1,
    evalEvery: 0,
    patience: 2,
    evalSets: [],
    internalsEvery: 0,
    saveEvery: 2,
    device: 'cpu',
    progress: false,
    cacheDir: join(work, 'train-cache'),
    batching: {
      kind: 'contextual',
      clusterSize: 6,
      order: 'tsp',
      dims: 8,
      iterations: 20,
      restarts: 2,
      init: 'random',
    },
    filter: { kind: 'tfidf', dims: 8 },
    ...extra,
  });
  const log = (out: string): Record<string, unknown>[] =>
    readFileSync(join(work, out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('logs hardness per epoch and the masked fractions per step; a resume mid-epoch is exact', async () => {
    await trainBiencoder(options('whole'));
    const whole = log('whole');
    const batching = whole.filter((e) => e.kind === 'batching');
    expect(batching.map((e) => [e.step, e.epoch])).toEqual([
      [1, 0],
      [7, 1],
    ]);
    for (const e of batching) expect(e.contextual as number).toBeGreaterThan(e.random as number);
    const masked = whole
      .filter((e) => e.kind === 'train')
      .map((e) => e.masked as { duplicates: number; filtered: number });
    expect(masked).toHaveLength(9);
    expect(masked.some((m) => m.duplicates > 0)).toBe(true);
    expect(masked.some((m) => m.filtered > 0)).toBe(true);

    await trainBiencoder(options('split', { steps: 3 }));
    rmSync(join(work, 'split', 'metrics.json'));
    await trainBiencoder(options('split'));
    const split = log('split');
    const strip = (entries: Record<string, unknown>[]) =>
      entries.filter((e) => e.kind !== 'final').map(({ ms, msPerStep, ...rest }) => rest);
    expect(strip(split)).toEqual(strip(whole));
    expect(
      readFileSync(join(work, 'split', 'model', 'model.safetensors')).equals(
        readFileSync(join(work, 'whole', 'model', 'model.safetensors')),
      ),
    ).toBe(true);
    rmSync(join(work, 'split', 'metrics.json'));
    await expect(trainBiencoder(options('split', { steps: 12, filter: { kind: 'none' } }))).rejects.toThrow(
      /resuming needs filter=\{"kind":"tfidf","dims":8\}, got \{"kind":"none"\}$/,
    );
  }, 240_000);

  it('in-batch SDAM with the model surrogate, and --filter refused for a loss without in-batch negatives', async () => {
    await trainBiencoder(
      options('sdam', {
        loss: { kind: 'sdam', options: { inBatch: true } },
        filter: { kind: 'model', dir: modelDir },
        steps: 3,
      }),
    );
    const masked = log('sdam')
      .filter((e) => e.kind === 'train')
      .map((e) => e.masked as { duplicates: number; filtered: number });
    expect(masked).toHaveLength(3);
    expect(masked.some((m) => m.filtered > 0)).toBe(true);
    await expect(trainBiencoder(options('mmse', { loss: { kind: 'sdam', options: {} }, steps: 1 }))).rejects.toThrow(
      /^--filter needs a loss with in-batch negatives \(infonce, or sdam --in-batch\)$/,
    );
  }, 120_000);

  it('trainContextual takes contextual batches and masks', async () => {
    const out = join(work, 'cde');
    await trainContextual({
      model: modelDir,
      config: { context_size: 8 },
      data: dupDir,
      out,
      batchSize: 6,
      negatives: true,
      queryLength: 8,
      docLength: 24,
      lr: 1e-3,
      gamma: 0.999,
      weightDecay: 0,
      clip: 1,
      steps: 2,
      seed: 1,
      chunkSize: 4,
      evalSets: [],
      device: 'cpu',
      progress: false,
      cacheDir: join(work, 'train-cache'),
      batching: {
        kind: 'contextual',
        clusterSize: 6,
        order: 'tsp',
        dims: 8,
        iterations: 20,
        restarts: 2,
        init: 'random',
      },
      filter: { kind: 'tfidf', dims: 8 },
    });
    const entries = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.filter((e) => e.kind === 'batching')).toHaveLength(1);
    const train = entries.filter((e) => e.kind === 'train');
    expect(train).toHaveLength(2);
    for (const e of train) expect(Number.isFinite(e.loss)).toBe(true);
    expect(train.some((e) => (e.masked as { duplicates: number }).duplicates > 0)).toBe(true);
  }, 120_000);
});
