// src/data/beir.ts: the BEIR directory reader/writer. Round trips (gzip and plain), the fixture
// dataset cut from Debian's package descriptions (test/fixtures/eval/pkgdesc-mini), byte-identical
// rewrites, atomic writes that leave nothing behind on failure, and the one-line errors naming the
// file and line for each kind of bad input.

import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  docText,
  findJsonl,
  loadBeir,
  readCorpus,
  readJsonl,
  readJsonlArray,
  readQrels,
  readQueries,
  readTriples,
  writeBeir,
  writeJsonlAtomic,
  type Qrels,
} from '../src/data/beir.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'eval', 'pkgdesc-mini');
const work = mkdtempSync(join(tmpdir(), 'retrograd-beir-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
function freshDir(): string {
  const dir = join(work, `case-${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A dataset directory with the given files (name -> contents; ".gz" names are gzipped). */
function dataset(files: Record<string, string>): string {
  const dir = freshDir();
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, name.endsWith('.gz') ? gzipSync(text) : text);
  }
  return dir;
}

const GOOD = {
  'corpus.jsonl': '{"_id": "d1", "title": "T", "text": "one"}\n{"_id": "d2", "title": "", "text": "two"}\n',
  'queries.jsonl': '{"_id": "q1", "text": "first"}\n{"_id": "q2", "text": "second"}\n{"_id": "q3", "text": "third"}\n',
  'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\nq2\td2\t1\n',
};

describe('loadBeir', () => {
  it('reads the Debian package-description fixture', async () => {
    const test = await loadBeir(FIXTURE, 'test');
    expect(test.corpus.size).toBe(20);
    expect(test.queries.size).toBe(8);
    expect([...test.queries.keys()][0]).toBe('q-sqlite3');
    expect(test.queries.get('q-tar')).toBe('GNU version of the tar archiving utility');
    expect(test.qrels.get('q-tar')).toEqual(new Map([['tar', 1]]));
    expect(
      test.corpus.get('curl')!.text.startsWith('curl is a command line tool for transferring data with URL syntax'),
    ).toBe(true);
    const train = await loadBeir(FIXTURE, 'train');
    expect(train.queries.size).toBe(12);
  });

  it("keeps only the split's judged queries, in file order, and graded scores", async () => {
    const data = await loadBeir(dataset(GOOD), 'test');
    expect([...data.queries]).toEqual([
      ['q1', 'first'],
      ['q2', 'second'],
    ]);
    expect(data.qrels).toEqual(
      new Map([
        [
          'q1',
          new Map([
            ['d1', 2],
            ['d2', 0],
          ]),
        ],
        ['q2', new Map([['d2', 1]])],
      ]),
    );
    expect(data.corpus.get('d1')).toEqual({ title: 'T', text: 'one' });
  });

  it('prefers .jsonl.gz and reads gzip', async () => {
    const dir = dataset({
      ...GOOD,
      'corpus.jsonl.gz': '{"_id": "d1", "title": "", "text": "zipped"}\n{"_id": "d2", "text": "no title"}\n',
    });
    expect(findJsonl(dir, 'corpus')).toBe(join(dir, 'corpus.jsonl.gz'));
    const data = await loadBeir(dir, 'test');
    expect(data.corpus.get('d1')!.text).toBe('zipped');
    expect(data.corpus.get('d2')).toEqual({ title: '', text: 'no title' });
  });

  it('docText joins a non-empty title and the text with one space', () => {
    expect(docText({ title: 'Title', text: 'body' })).toBe('Title body');
    expect(docText({ title: '', text: 'body' })).toBe('body');
  });
});

describe('writeBeir / writeJsonlAtomic', () => {
  const input = {
    corpus: new Map([
      ['d1', { title: 'A', text: 'alpha', source: 'pkg-a' }],
      ['d2', { title: '', text: 'beta "quoted"\nnewline' }],
    ]),
    queries: new Map<string, string | { text: string; [k: string]: unknown }>([
      ['q1', 'what is alpha'],
      ['q2', { text: 'beta?', lang: 'en' }],
    ]),
    qrels: {
      test: new Map([['q1', new Map([['d1', 1]])]]) as Qrels,
      train: new Map([
        [
          'q2',
          new Map([
            ['d2', 3],
            ['d1', 1],
          ]),
        ],
      ]) as Qrels,
    },
    triples: { train: [{ qid: 'q2', pos: 'd2', neg: 'd1' }] },
    provenance: '# Provenance\nbuilt by a test\n',
  };

  it('round-trips through loadBeir, keeping extra fields in the files', async () => {
    const dir = freshDir();
    await writeBeir(dir, input);
    expect(readdirSync(dir).sort()).toEqual([
      'PROVENANCE.md',
      'corpus.jsonl.gz',
      'qrels',
      'queries.jsonl.gz',
      'triples',
    ]);
    const train = await loadBeir(dir, 'train');
    expect(train.corpus.get('d2')).toEqual({ title: '', text: 'beta "quoted"\nnewline' });
    expect(train.queries).toEqual(new Map([['q2', 'beta?']]));
    expect(train.qrels.get('q2')).toEqual(
      new Map([
        ['d2', 3],
        ['d1', 1],
      ]),
    );
    expect(await readJsonlArray(join(dir, 'corpus.jsonl.gz'))).toEqual([
      { _id: 'd1', title: 'A', text: 'alpha', source: 'pkg-a' },
      { _id: 'd2', title: '', text: 'beta "quoted"\nnewline' },
    ]);
    expect(await readJsonlArray(join(dir, 'queries.jsonl.gz'))).toEqual([
      { _id: 'q1', text: 'what is alpha' },
      { _id: 'q2', text: 'beta?', lang: 'en' },
    ]);
    expect(readFileSync(join(dir, 'qrels', 'train.tsv'), 'utf8')).toBe(
      'query-id\tcorpus-id\tscore\nq2\td2\t3\nq2\td1\t1\n',
    );
    expect(await readTriples(join(dir, 'triples', 'train.jsonl.gz'))).toEqual([{ qid: 'q2', pos: 'd2', neg: 'd1' }]);
    expect(readFileSync(join(dir, 'PROVENANCE.md'), 'utf8')).toBe(input.provenance);
  });

  it('writes byte-identical files for the same data', async () => {
    const a = freshDir();
    const b = freshDir();
    await writeBeir(a, input);
    await writeBeir(b, input);
    for (const f of ['corpus.jsonl.gz', 'queries.jsonl.gz', 'qrels/test.tsv', 'triples/train.jsonl.gz']) {
      expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
    }
  });

  it('streams an async iterable of many rows, across chunk boundaries', async () => {
    const path = join(freshDir(), 'sub', 'many.jsonl.gz');
    async function* rows() {
      for (let i = 0; i < 5000; i++) yield { i, text: `row ${i} ${'x'.repeat(i % 50)}` };
    }
    await writeJsonlAtomic(path, rows());
    let n = 0;
    for await (const row of readJsonl(path)) {
      expect(row.i).toBe(n);
      n++;
    }
    expect(n).toBe(5000);
  });

  it('leaves neither the target nor a temporary file when the rows fail midway', async () => {
    const dir = freshDir();
    const path = join(dir, 'out.jsonl.gz');
    function* rows() {
      for (let i = 0; i < 10_000; i++) {
        if (i === 9000) throw new Error('row source failed');
        yield { i };
      }
    }
    await expect(writeJsonlAtomic(path, rows())).rejects.toThrow('row source failed');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replaces an existing file only when the new one is complete', async () => {
    const dir = freshDir();
    const path = join(dir, 'out.jsonl');
    await writeJsonlAtomic(path, [{ v: 1 }]);
    await expect(
      writeJsonlAtomic(
        path,
        (function* () {
          yield { v: 2 };
          throw new Error('boom');
        })(),
      ),
    ).rejects.toThrow('boom');
    expect(readFileSync(path, 'utf8')).toBe('{"v":1}\n');
    expect(readdirSync(dir)).toEqual(['out.jsonl']);
  });
});

describe('bad input: one line naming the file and line', () => {
  it('corpus: missing _id', async () => {
    const dir = dataset({ ...GOOD, 'corpus.jsonl': '{"_id": "d1", "text": "a"}\n\n{"title": "x", "text": "b"}\n' });
    await expect(loadBeir(dir, 'test')).rejects.toThrow(/^corpus\.jsonl line 3: missing "_id"$/);
  });

  it('corpus.jsonl.gz: malformed JSON', async () => {
    const dir = dataset({ ...GOOD, 'corpus.jsonl.gz': '{"_id": "d1", "text": "a"}\n{"_id": "d2", "text": \n' });
    await expect(loadBeir(dir, 'test')).rejects.toThrow(/^corpus\.jsonl\.gz line 2: malformed JSON \(/);
  });

  it('corpus: wrong types, non-object lines, duplicate ids', async () => {
    await expect(readCorpus(join(dataset({ 'c.jsonl': '{"_id": 5, "text": "a"}\n' }), 'c.jsonl'))).rejects.toThrow(
      'c.jsonl line 1: "_id" must be a string, got number',
    );
    await expect(readCorpus(join(dataset({ 'c.jsonl': '{"_id": "a", "text": null}\n' }), 'c.jsonl'))).rejects.toThrow(
      'c.jsonl line 1: "text" must be a string, got null',
    );
    await expect(
      readCorpus(join(dataset({ 'c.jsonl': '{"_id": "a", "text": "t", "title": 3}\n' }), 'c.jsonl')),
    ).rejects.toThrow('c.jsonl line 1: "title" must be a string');
    await expect(readCorpus(join(dataset({ 'c.jsonl': '["_id", "a"]\n' }), 'c.jsonl'))).rejects.toThrow(
      'c.jsonl line 1: expected a JSON object',
    );
    await expect(
      readCorpus(join(dataset({ 'c.jsonl': '{"_id": "a", "text": "t"}\n{"_id": "a", "text": "u"}\n' }), 'c.jsonl')),
    ).rejects.toThrow('c.jsonl line 2: duplicate _id "a"');
  });

  it('queries: missing text', async () => {
    await expect(readQueries(join(dataset({ 'queries.jsonl': '{"_id": "q1"}\n' }), 'queries.jsonl'))).rejects.toThrow(
      'queries.jsonl line 1: missing "text"',
    );
  });

  it('qrels: bad header, field count, score, duplicate pair, empty file', async () => {
    const qrels = (text: string) => readQrels(join(dataset({ 'qrels/test.tsv': text }), 'qrels', 'test.tsv'));
    await expect(qrels('qid\tdocid\tscore\nq1\td1\t1\n')).rejects.toThrow(
      'qrels/test.tsv line 1: expected the header "query-id<TAB>corpus-id<TAB>score", got "qid\\tdocid\\tscore"',
    );
    await expect(qrels('query-id\tcorpus-id\tscore\nq1\td1\t1\nq1 d2 1\n')).rejects.toThrow(
      'qrels/test.tsv line 3: expected 3 tab-separated fields, got 1',
    );
    await expect(qrels('query-id\tcorpus-id\tscore\nq1\td1\t0.5\n')).rejects.toThrow(
      'qrels/test.tsv line 2: score must be a non-negative integer, got "0.5"',
    );
    await expect(qrels('query-id\tcorpus-id\tscore\nq1\td1\t-1\n')).rejects.toThrow(
      'qrels/test.tsv line 2: score must be a non-negative integer',
    );
    await expect(qrels('query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t2\n')).rejects.toThrow(
      'qrels/test.tsv line 3: pair (q1, d1) listed twice',
    );
    await expect(qrels('')).rejects.toThrow('test.tsv: empty file');
  });

  it('qrels pointing at unknown queries or documents, a missing split, missing files', async () => {
    await expect(
      loadBeir(dataset({ ...GOOD, 'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq9\td1\t1\n' }), 'test'),
    ).rejects.toThrow('qrels/test.tsv: query-id "q9" is not in queries');
    await expect(
      loadBeir(dataset({ ...GOOD, 'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq1\td9\t1\n' }), 'test'),
    ).rejects.toThrow('qrels/test.tsv: corpus-id "d9" (query "q1") is not in the corpus');
    await expect(loadBeir(dataset(GOOD), 'dev')).rejects.toThrow('split "dev" has no qrels/dev.tsv');
    const noQueries = dataset({ 'corpus.jsonl': GOOD['corpus.jsonl'], 'qrels/test.tsv': GOOD['qrels/test.tsv'] });
    await expect(loadBeir(noQueries, 'test')).rejects.toThrow('neither queries.jsonl.gz nor queries.jsonl exists');
  });

  it('a file that is not gzip, or a truncated gzip', async () => {
    const notGz = dataset({ 'x.jsonl': 'plain text' });
    const renamed = join(notGz, 'x.jsonl.gz');
    writeFileSync(renamed, 'this is not gzip');
    await expect(readJsonlArray(renamed)).rejects.toThrow(/^x\.jsonl\.gz: not valid gzip data \(/);
    const full = gzipSync('{"a": 1}\n{"a": 2}\n'.repeat(50));
    const cut = join(notGz, 'cut.jsonl.gz');
    writeFileSync(cut, full.subarray(0, full.length - 12));
    await expect(readJsonlArray(cut)).rejects.toThrow(/^cut\.jsonl\.gz: not valid gzip data/);
  });

  it('triples: missing neg', async () => {
    await expect(
      readTriples(join(dataset({ 'triples/train.jsonl': '{"qid": "q", "pos": "p"}\n' }), 'triples', 'train.jsonl')),
    ).rejects.toThrow('triples/train.jsonl line 1: missing "neg"');
  });
});
