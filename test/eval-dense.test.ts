// src/eval/dense.ts: exact dense top-k against a brute-force sort of the full score matrix, on cpu
// and cpu-ref, for several chunk sizes; exact ties (integer embeddings, duplicated documents) broken by
// docid; scores against float64 dot products / cosines; no leaked buffers; and the embedding driver
// (batches, encoder results as arrays or tensors, bad encoder output) and denseRetrieve end to end
// on the Debian package-description fixture.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { docText, loadBeir } from '../src/data/beir.js';
import { Analyzer } from '../src/eval/bm25.js';
import { denseRetrieve, denseSearch, embedTexts } from '../src/eval/dense.js';
import { evaluate } from '../src/eval/metrics.js';
import { rankDocs } from '../src/eval/run.js';
import { Generator, fromArray, liveStorages } from '../src/index.js';
import { assertClose, TOL } from './util/close.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'eval', 'pkgdesc-mini');
const Q = 13;
const D = 150;
const H = 8;

function ids(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

/** Random rows; with `ints`, small integers (exact float32 dot products, so many exact ties). */
function rows(n: number, seed: number, ints: boolean): Float32Array {
  const g = new Generator(seed);
  return Float32Array.from({ length: n * H }, () => (ints ? g.int(3) - 1 : g.normal()));
}

/** Brute force in float64: every score, sorted by the shared order, cut at k. */
function bruteForce(
  q: Float32Array,
  d: Float32Array,
  docIds: string[],
  k: number,
  cos: boolean,
): { docid: string; score: number }[][] {
  const norm = (x: Float32Array, i: number) =>
    Math.sqrt(Array.from(x.subarray(i * H, (i + 1) * H), (v) => v * v).reduce((a, b) => a + b, 0));
  return Array.from({ length: q.length / H }, (_, i) => {
    const scores = new Map<string, number>();
    docIds.forEach((id, j) => {
      let s = 0;
      for (let h = 0; h < H; h++) s += q[i * H + h] * d[j * H + h];
      scores.set(id, cos ? s / Math.max(norm(q, i) * norm(d, j), 1e-300) : s);
    });
    return rankDocs(scores).slice(0, k);
  });
}

describe.each(['cpu', 'cpu-ref'])('denseSearch on %s', (device) => {
  it('dot product, integer embeddings with exact ties: identical to the brute-force sort for every chunk size', async () => {
    const q = rows(Q, 1, true);
    const d = rows(D, 2, true);
    const docIds = ids('d', D);
    const expected = bruteForce(q, d, docIds, 20, false);
    const qt = fromArray(q, [Q, H], { device });
    const dt = fromArray(d, [D, H], { device });
    for (const chunkSize of [1, 4, Q, undefined]) {
      const run = await denseSearch(qt, ids('q', Q), dt, docIds, { k: 20, similarity: 'dot', chunkSize });
      expect([...run.keys()]).toEqual(ids('q', Q));
      ids('q', Q).forEach((qid, i) => {
        expect([...run.get(qid)!.entries()], `${qid} chunk ${chunkSize}`).toEqual(
          expected[i].map((e) => [e.docid, e.score]),
        );
      });
    }
    // ties really happen at the cut
    expect(expected.some((list) => list[19].score === list[18].score)).toBe(true);
    qt.dispose();
    dt.dispose();
  });

  it('cosine on random embeddings with a duplicated document: scores within float32 tolerance, the tie by docid', async () => {
    const q = rows(Q, 3, false);
    const d = rows(D, 4, false);
    d.copyWithin(77 * H, 5 * H, 6 * H); // d77 = d5
    const docIds = ids('d', D);
    const before = liveStorages();
    const qt = fromArray(q, [Q, H], { device });
    const dt = fromArray(d, [D, H], { device });
    const run = await denseSearch(qt, ids('q', Q), dt, docIds, { k: D + 50, chunkSize: 5 });
    qt.dispose();
    dt.dispose();
    expect(liveStorages()).toBe(before);
    const expected = bruteForce(q, d, docIds, D, true);
    ids('q', Q).forEach((qid, i) => {
      const got = [...run.get(qid)!];
      expect(got.length).toBe(D);
      assertClose(
        got.map(([, s]) => s),
        expected[i].map((e) => e.score),
        TOL.f32,
        qid,
      );
      const pos = got.findIndex(([id]) => id === 'd77');
      expect(got[pos + 1][0]).toBe('d5');
      expect(got[pos + 1][1]).toBe(got[pos][1]);
    });
  });

  it('rejects mismatched shapes and ids', async () => {
    const qt = fromArray(new Float32Array(2 * H), [2, H], { device });
    const dt = fromArray(new Float32Array(3 * 4), [3, 4], { device });
    await expect(denseSearch(qt, ['a', 'b'], dt, ['x', 'y', 'z'], { k: 1 })).rejects.toThrow(
      'query dimension 8 != document dimension 4',
    );
    await expect(denseSearch(qt, ['a'], qt, ['x', 'y'], { k: 1 })).rejects.toThrow('1 query ids for 2 query rows');
    await expect(denseSearch(qt, ['a', 'b'], qt, ['x', 'x'], { k: 1 })).rejects.toThrow('document ids are not unique');
    await expect(denseSearch(qt, ['a', 'b'], qt, ['x', 'y'], { k: 0 })).rejects.toThrow('k must be a positive integer');
    qt.dispose();
    dt.dispose();
  });
});

describe('embedTexts', () => {
  const texts = ids('text ', 10);
  const lengthEncoder = async (batch: string[]): Promise<Float32Array[]> =>
    batch.map((t) => Float32Array.from([t.length, Number(t.split(' ')[1])]));

  it('batches the texts and keeps their order; array or tensor encoders', async () => {
    const calls: number[] = [];
    const emb = await embedTexts(
      texts,
      async (b) => {
        calls.push(b.length);
        return lengthEncoder(b);
      },
      { batchSize: 4, progress: false, device: 'cpu-ref' },
    );
    expect(calls).toEqual([4, 4, 2]);
    expect(emb.shape).toEqual([10, 2]);
    expect(Array.from(emb.toArray())).toEqual(texts.flatMap((t, i) => [t.length, i]));
    const before = liveStorages();
    const viaTensor = await embedTexts(
      texts,
      async (b) =>
        fromArray(
          (await lengthEncoder(b)).flatMap((r) => Array.from(r)),
          [b.length, 2],
          { device: 'cpu-ref' },
        ),
      { batchSize: 3, progress: false, device: 'cpu-ref' },
    );
    expect(Array.from(viaTensor.toArray())).toEqual(Array.from(emb.toArray()));
    expect(liveStorages()).toBe(before + 1); // only the result: every batch tensor was disposed
    emb.dispose();
    viaTensor.dispose();
  });

  it('fails on a wrong embedding count or width', async () => {
    await expect(
      embedTexts(texts, async (b) => (await lengthEncoder(b)).slice(1), { progress: false }),
    ).rejects.toThrow('embed: batch at text 0: the encoder returned 9 embeddings for 10 texts');
    await expect(
      embedTexts(texts, async (b) => b.map((t) => new Float32Array(t === 'text 7' ? 3 : 2)), {
        batchSize: 5,
        progress: false,
      }),
    ).rejects.toThrow('embed: text 7 has 3 dimensions, earlier ones 2');
  });
});

describe('denseRetrieve on the Debian package-description fixture', () => {
  it('a hashed bag-of-words encoder retrieves each package; the run is the brute-force ranking', async () => {
    const data = await loadBeir(FIXTURE, 'test');
    const analyzer = new Analyzer();
    const DIM = 256;
    const bagOfWords = async (batch: string[]): Promise<Float32Array[]> =>
      batch.map((text) => {
        const v = new Float32Array(DIM);
        for (const tok of analyzer.tokens(text)) {
          let h = 2166136261;
          for (let i = 0; i < tok.length; i++) h = Math.imul(h ^ tok.charCodeAt(i), 16777619);
          v[(h >>> 0) % DIM] += 1;
        }
        return v;
      });
    const { run, seconds } = await denseRetrieve(data, bagOfWords, {
      k: 10,
      batchSize: 7,
      progress: false,
      device: 'cpu',
    });
    expect(Object.keys(seconds)).toEqual(['embedCorpus', 'embedQueries', 'search']);
    expect([...run.keys()]).toEqual([...data.queries.keys()]);
    const docs = await bagOfWords([...data.corpus.values()].map(docText));
    const queries = await bagOfWords([...data.queries.values()]);
    const docIds = [...data.corpus.keys()];
    // brute force over the same vectors, in float64
    const expected = Array.from(data.queries.keys(), (_, i) => {
      const scores = new Map<string, number>();
      const qv = queries[i];
      docIds.forEach((id, j) => {
        let dot = 0,
          nq = 0,
          nd = 0;
        for (let h = 0; h < DIM; h++) {
          dot += qv[h] * docs[j][h];
          nq += qv[h] ** 2;
          nd += docs[j][h] ** 2;
        }
        scores.set(id, dot / Math.sqrt(nq * nd));
      });
      return rankDocs(scores).slice(0, 10);
    });
    [...data.queries.keys()].forEach((qid, i) => {
      const got = [...run.get(qid)!];
      expect(
        got.map(([id]) => id),
        qid,
      ).toEqual(expected[i].map((e) => e.docid));
      assertClose(
        got.map(([, s]) => s),
        expected[i].map((e) => e.score),
        TOL.f32,
        qid,
      );
    });
    const e = evaluate(data.qrels, run);
    expect(e.queries).toBe(8);
    expect(e.mean['MRR@10']).toBeCloseTo(0.9, 6); // measured: 7 of 8 at rank 1, one at rank 5
  });
});
