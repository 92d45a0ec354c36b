// `retrograd eval` and `retrograd mine` (src/cli/eval.ts, src/cli/mine.ts, src/eval/mine.ts), run
// in-process through commander on the Debian package-description fixture: BM25 metrics equal to the
// library's, the run file, a tiny random BERT directory evaluated end to end against the model run
// text by text plus a brute-force ranking, the option errors, and negative mining (valid triples,
// byte-identical output for a seed, a different seed giving a different draw).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './util/cli.js';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docText, loadBeir, readTriples } from '../src/data/beir.js';
import { registerEval } from '../src/cli/eval.js';
import { registerMine } from '../src/cli/mine.js';
import { Bm25Index } from '../src/eval/bm25.js';
import { evaluate } from '../src/eval/metrics.js';
import { rankDocs, readTrecRun, runFromLists, type Run } from '../src/eval/run.js';
import { mineNegatives } from '../src/eval/mine.js';
import { Generator, fromArray, noGrad, tidy } from '../src/index.js';
import { BertModel, BERT_PRESETS } from '../src/nn/bert.js';
import { BertTokenizer } from '../src/nn/tokenizer.js';
import { loadModelDir, saveModelDir } from '../src/nn/model-dir.js';
import { pool } from '../src/nn/pooling.js';
import { assertClose, TOL } from './util/close.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'eval', 'pkgdesc-mini');
const work = mkdtempSync(join(tmpdir(), 'retrograd-eval-cli-'));
const MODEL = join(work, 'model');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[]): Promise<string> => runCli([registerEval, registerMine], args);

describe('retrograd eval --bm25', () => {
  it('prints the metrics of the BM25 run as JSON and writes the run file', async () => {
    const runOut = join(work, 'bm25.trec');
    const metricsOut = join(work, 'bm25-metrics.json');
    const report = JSON.parse(
      await cli(['eval', '--data', FIXTURE, '--bm25', '--json', '--run-out', runOut, '--metrics-out', metricsOut]),
    );
    expect(Object.keys(report)).toEqual([
      'data',
      'split',
      'method',
      'nDCG@10',
      'MRR@10',
      'R@10',
      'R@100',
      'MAP@100',
      'queries',
      'skipped_no_relevant',
      'missing_from_run',
      'corpus',
      'depth',
      'seconds',
    ]);
    expect([report.split, report.method, report.queries, report.corpus, report.depth]).toEqual([
      'test',
      'bm25',
      8,
      20,
      1000,
    ]);
    expect(Object.keys(report.seconds)).toEqual(['load', 'index', 'search', 'total']);

    const data = await loadBeir(FIXTURE, 'test');
    const index = new Bm25Index([...data.corpus].map(([id, doc]) => [id, docText(doc)] as const));
    const run = runFromLists(index.searchAll(data.queries, 1000));
    const e = evaluate(data.qrels, run);
    for (const name of ['nDCG@10', 'MRR@10', 'R@10', 'R@100', 'MAP@100']) expect(report[name], name).toBe(e.mean[name]);
    expect(report['MRR@10']).toBeCloseTo((1 + 1 / 3 + 6) / 8, 12); // q-sqlite3 at rank 3, the rest at rank 1
    expect(await readTrecRun(runOut)).toEqual(run);
    const perQuery = JSON.parse(readFileSync(metricsOut, 'utf8'));
    expect(perQuery.mean).toEqual(e.mean);
    expect(perQuery.queries).toBe(8);
    expect(perQuery.per_query['q-sqlite3']['MRR@10']).toBe(1 / 3);
    expect(Object.keys(perQuery.per_query)).toEqual([...data.queries.keys()]);
    expect(readFileSync(runOut, 'utf8').split('\n')[0]).toMatch(/^q-sqlite3 Q0 sqlite3-doc 1 [\d.]+ bm25$/);
  });

  it('prints a table without --json; the train split and BM25 options are honoured', async () => {
    const table = await cli([
      'eval',
      '--data',
      FIXTURE,
      '--bm25',
      '--split',
      'train',
      '--k1',
      '1.2',
      '--b',
      '0.75',
      '--no-stem',
    ]);
    expect(table).toMatch(
      /^bm25 on .*pkgdesc-mini \[train\]: 12 queries, 20 documents, depth 1000\n {2}nDCG@10 {2}\d\.\d{4}\n/,
    );
    expect(table).toContain('  MAP@100  ');
  });

  it('rejects a missing or doubled method, a shallow depth, a bad split', async () => {
    await expect(cli(['eval', '--data', FIXTURE])).rejects.toThrow('give exactly one of --bm25 or --model DIR');
    await expect(cli(['eval', '--data', FIXTURE, '--bm25', '--model', MODEL])).rejects.toThrow(
      'give exactly one of --bm25 or --model DIR',
    );
    await expect(cli(['eval', '--data', FIXTURE, '--bm25', '--depth', '50'])).rejects.toThrow(
      "option '--depth <n>' argument '50' is invalid. expected an integer >= 100",
    );
    await expect(cli(['eval', '--data', FIXTURE, '--bm25', '--split', 'dev'])).rejects.toThrow(
      'split "dev" has no qrels/dev.tsv',
    );
  });

  it('refuses a split without a relevant judgement, and an output path that is a directory or under a file', async () => {
    const zeros = join(work, 'zeros');
    cpSync(FIXTURE, zeros, { recursive: true });
    const qrels = join(zeros, 'qrels', 'test.tsv');
    writeFileSync(qrels, readFileSync(qrels, 'utf8').replace(/\t1$/gm, '\t0'));
    await expect(cli(['eval', '--data', zeros, '--bm25'])).rejects.toThrow(
      /zeros\/qrels\/test\.tsv: no query has a relevant document/,
    );
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    await expect(cli(['eval', '--data', FIXTURE, '--bm25', '--run-out', join(file, 'run.trec')])).rejects.toThrow(
      /^--run-out .*a-file\/run\.trec: .*a-file is a file, not a directory$/,
    );
    await expect(cli(['eval', '--data', FIXTURE, '--bm25', '--metrics-out', work])).rejects.toThrow(
      /^--metrics-out .*: is a directory$/,
    );
  });
});

describe('retrograd eval --model', () => {
  beforeAll(async () => {
    const letters = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
    const vocab = [
      '[PAD]',
      '[UNK]',
      '[CLS]',
      '[SEP]',
      '[MASK]',
      ...letters,
      ...letters.map((c) => `##${c}`),
      ...'.,-()/'.split(''),
    ];
    const tokenizer = new BertTokenizer(vocab, { modelMaxLength: 32 });
    const config = {
      ...BERT_PRESETS.mini,
      vocab_size: tokenizer.vocabSize,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 32,
      initializer_range: 0.5,
    };
    const model = new BertModel(config, { device: 'cpu-ref', generator: new Generator(3) });
    await saveModelDir(MODEL, model, { tokenizer, pooling: { mode: 'mean', normalize: false } });
    model.dispose();
  });

  it('embeds corpus and queries with the model and ranks by cosine: same as the model run text by text', async () => {
    const report = JSON.parse(
      await cli([
        'eval',
        '--data',
        FIXTURE,
        '--model',
        MODEL,
        '--device',
        'cpu-ref',
        '--batch-size',
        '4',
        '--depth',
        '100',
        '--json',
      ]),
    );
    expect([report.method, report.model, report.queries, report.depth]).toEqual(['dense', MODEL, 8, 100]);
    expect(Object.keys(report.seconds)).toEqual(['load', 'embed_corpus', 'embed_queries', 'search', 'total']);

    // Independent path: one forward pass per text (no batching or padding), cosine in float64.
    const data = await loadBeir(FIXTURE, 'test');
    const loaded = loadModelDir(MODEL, { device: 'cpu-ref' });
    const embed = (text: string) =>
      noGrad(() =>
        tidy(() => {
          const e = loaded.tokenizer!.encode(text, undefined, { maxLength: 32, truncation: true });
          const ids = fromArray(e.inputIds, [1, e.inputIds.length], { dtype: 'int32', device: 'cpu-ref' });
          return Float64Array.from(
            pool(loaded.model.forward({ inputIds: ids }).lastHiddenState, undefined, {
              mode: 'mean',
              normalize: true,
            }).toArray(),
          );
        }),
      );
    const docs = [...data.corpus].map(([id, doc]) => [id, embed(docText(doc))] as const);
    const run: Run = new Map();
    for (const [qid, text] of data.queries) {
      const q = embed(text);
      run.set(qid, new Map(docs.map(([id, d]) => [id, q.reduce((s, x, h) => s + x * d[h], 0)])));
    }
    loaded.model.dispose();
    const e = evaluate(data.qrels, run);
    assertClose(
      ['nDCG@10', 'MRR@10', 'R@10', 'R@100', 'MAP@100'].map((n) => report[n]),
      ['nDCG@10', 'MRR@10', 'R@10', 'R@100', 'MAP@100'].map((n) => e.mean[n]),
      TOL.f64,
      'metrics',
    );
    expect(report['R@100']).toBe(1); // 20 documents: everything is retrieved
    // the random model is not degenerate: its rankings differ between queries
    const tops = new Set([...run].map(([qid, docsOf]) => rankDocs(docsOf, qid)[0].docid));
    expect(tops.size).toBeGreaterThan(1);
  });
});

describe('retrograd mine', () => {
  it('writes one valid triple per (query, positive): negative from the BM25 top N, never a positive', async () => {
    const out = join(work, 'mined', 'train.jsonl.gz');
    const summary = JSON.parse(await cli(['mine', '--data', FIXTURE, '--negatives', '5', '--out', out, '--seed', '7']));
    expect(summary).toMatchObject({
      out,
      split: 'train',
      triples: 12,
      queries: 12,
      pairs_without_negative: 0,
      negatives: 5,
      seed: 7,
    });
    const data = await loadBeir(FIXTURE, 'train');
    const index = new Bm25Index([...data.corpus].map(([id, doc]) => [id, docText(doc)] as const));
    const triples = await readTriples(out);
    expect(triples.map((t) => t.qid)).toEqual([...data.queries.keys()]);
    for (const t of triples) {
      expect(data.qrels.get(t.qid)!.get(t.pos)).toBe(1);
      expect(data.qrels.get(t.qid)!.has(t.neg)).toBe(false);
      expect(index.search(data.queries.get(t.qid)!, 5).map((d) => d.docid)).toContain(t.neg);
    }
  });

  it('same seed: byte-identical file; another seed: another draw; one candidate left: that one', async () => {
    const a = join(work, 'a.jsonl.gz');
    const b = join(work, 'b.jsonl.gz');
    const c = join(work, 'c.jsonl.gz');
    await cli(['mine', '--data', FIXTURE, '--negatives', '10', '--out', a, '--seed', '1']);
    await cli(['mine', '--data', FIXTURE, '--negatives', '10', '--out', b, '--seed', '1']);
    await cli(['mine', '--data', FIXTURE, '--negatives', '10', '--out', c, '--seed', '2']);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);

    const data = await loadBeir(FIXTURE, 'train');
    const index = new Bm25Index([...data.corpus].map(([id, doc]) => [id, docText(doc)] as const));
    let forced = 0;
    for (const seed of [1, 2]) {
      const mined = mineNegatives(data, { negatives: 2, seed });
      for (const t of mined.triples) {
        const left = index
          .search(data.queries.get(t.qid)!, 2)
          .map((d) => d.docid)
          .filter((id) => id !== t.pos);
        // depth 2 with the positive in the top 2 leaves one candidate: the draw must be it
        if (left.length === 1) {
          expect(t.neg).toBe(left[0]);
          forced++;
        }
      }
    }
    expect(forced).toBe(24); // all 12 train positives rank in their query's top 2, for both seeds

    // An exclusion rule removes candidates: excluding each query's BM25 top non-positive changes every forced draw.
    const top = new Map([...data.queries].map(([qid, text]) => [qid, index.search(text, 2).map((d) => d.docid)]));
    const excluded = mineNegatives(data, {
      negatives: 3,
      seed: 1,
      exclude: (qid, docid) => docid === top.get(qid)!.find((id) => !data.qrels.get(qid)!.has(id)),
    });
    expect(excluded.triples.length).toBeGreaterThan(0);
    expect(excluded.queries).toBe(data.queries.size); // counted without an onQuery callback too
    for (const t of excluded.triples)
      expect(t.neg).not.toBe(top.get(t.qid)!.find((id) => !data.qrels.get(t.qid)!.has(id)));
  });

  it('writes to DIR/triples/<split>.jsonl.gz by default', async () => {
    const dir = join(work, 'copy');
    cpSync(FIXTURE, dir, { recursive: true });
    const summary = JSON.parse(await cli(['mine', '--data', dir, '--negatives', '3']));
    expect(summary.out).toBe(join(dir, 'triples', 'train.jsonl.gz'));
    expect((await readTriples(summary.out)).length).toBe(12);
  });
});
