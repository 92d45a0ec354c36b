// Okapi BM25 full-collection ranking over an in-memory inverted index, with Anserini/Pyserini's
// defaults (k1 0.9, b 0.4) and Lucene's scoring formula:
//
//   score(q, d) = sum over query terms t of  qtf(t) · idf(t) · tf / (tf + k1 · (1 − b + b · |d| / avgdl))
//   idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//
// tf is the term's count in the document, |d| the document's length in analyzed tokens, avgdl the
// mean length, N the number of documents and df(t) the number containing t. qtf(t) is the term's count
// in the query (Anserini's bag-of-words query boosts a repeated term by its count). Lucene 8+ drops the
// constant (k1 + 1) factor of classic BM25, so do we: rankings are the same. Unlike Lucene, document
// lengths are exact (Lucene stores them lossily in one byte), so scores differ from Pyserini's in the
// last digits and rare near-ties may order differently.
//
// Analyzer (the same for documents and queries), close to Lucene's EnglishAnalyzer used by Anserini:
// lowercase; drop the possessive "'s"; split on every character that is not a Unicode letter or digit;
// drop Lucene's 33 English stopwords (optional); Porter stemming (the original 1980 algorithm, as
// Lucene's PorterStemFilter, from the `stemmer` package; optional).
//
// Why not an npm BM25 library: wink-bm25-text-search (MIT) gives the same metrics with this analyzer
// but rounds term weights to at most 9 decimals, cannot break ties at the cut, and sorts every
// candidate per query: 34 s for 1000 queries over 42k package descriptions against 2.0 s here
// (index 7.8 s vs 2.4 s); minisearch multiplies BM25 scores by the number of matching query terms;
// okapibm25 re-tokenises the whole corpus per query. This file is the compact inverted index instead.
//
// Only documents sharing at least one term with the query are returned (as Lucene does), best first
// in the shared order of run.ts (score descending, ties by docid descending).

import { stemmer } from 'stemmer';
import type { ScoredDoc } from './run.js';
import { TopK } from './topk.js';

/** Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (the stopwords Anserini's default analyzer drops). */
export const LUCENE_ENGLISH_STOPWORDS: ReadonlySet<string> = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'but',
  'by',
  'for',
  'if',
  'in',
  'into',
  'is',
  'it',
  'no',
  'not',
  'of',
  'on',
  'or',
  'such',
  'that',
  'the',
  'their',
  'then',
  'there',
  'these',
  'they',
  'this',
  'to',
  'was',
  'will',
  'with',
]);

export interface AnalyzerOptions {
  /** Drop Lucene's English stopwords (default true). */
  stopwords?: boolean;
  /** Porter-stem every token (default true). */
  stem?: boolean;
}

export interface Bm25Options extends AnalyzerOptions {
  /** Term-frequency saturation (default 0.9, Anserini's). */
  k1?: number;
  /** Length normalisation (default 0.4, Anserini's). */
  b?: number;
}

const NON_ALPHANUMERIC = /[^\p{L}\p{N}]+/u;
const POSSESSIVE = /['\u2019]s(?![\p{L}\p{N}])/gu;

export class Analyzer {
  private readonly stopwords: boolean;
  private readonly stem: boolean;
  private readonly stems = new Map<string, string>();

  constructor(opts: AnalyzerOptions = {}) {
    this.stopwords = opts.stopwords ?? true;
    this.stem = opts.stem ?? true;
  }

  tokens(text: string): string[] {
    const out: string[] = [];
    for (const word of text.toLowerCase().replace(POSSESSIVE, '').split(NON_ALPHANUMERIC)) {
      if (word === '' || (this.stopwords && LUCENE_ENGLISH_STOPWORDS.has(word))) continue;
      out.push(this.stem ? this.stemOf(word) : word);
    }
    return out;
  }

  private stemOf(word: string): string {
    let s = this.stems.get(word);
    if (s === undefined) {
      s = stemmer(word);
      this.stems.set(word, s);
    }
    return s;
  }
}

export class Bm25Index {
  readonly k1: number;
  readonly b: number;
  readonly analyzer: Analyzer;
  /** Document ids in index order. */
  readonly docIds: string[];
  readonly avgdl: number;
  private readonly termIds = new Map<string, number>();
  /** Postings of term t: documents postDoc[start[t] .. start[t+1]) with precomputed tf / (tf + k1·norm). */
  private readonly start: Int32Array;
  private readonly postDoc: Int32Array;
  private readonly postWeight: Float64Array;
  private readonly idf: Float64Array;
  private readonly acc: Float64Array;
  private readonly touched: Int32Array;
  private heap?: TopK;

  /** Index the documents (id, text) in the order given. Ids must be unique. */
  constructor(docs: Iterable<readonly [string, string]>, opts: Bm25Options = {}) {
    this.k1 = opts.k1 ?? 0.9;
    this.b = opts.b ?? 0.4;
    if (!(this.k1 >= 0) || !(this.b >= 0 && this.b <= 1))
      throw new Error(`bm25: need k1 >= 0 and 0 <= b <= 1, got k1 ${this.k1}, b ${this.b}`);
    this.analyzer = new Analyzer(opts);
    this.docIds = [];

    // Pass 1: analyze, map terms to ids, keep each document's (term, tf) pairs and length.
    const seen = new Set<string>();
    const docTerms: Int32Array[] = [];
    const docTfs: Int32Array[] = [];
    const lengths: number[] = [];
    const df: number[] = [];
    for (const [id, text] of docs) {
      if (seen.has(id)) throw new Error(`bm25: duplicate document id "${id}"`);
      seen.add(id);
      this.docIds.push(id);
      const counts = new Map<number, number>();
      const tokens = this.analyzer.tokens(text);
      for (const tok of tokens) {
        let t = this.termIds.get(tok);
        if (t === undefined) {
          t = this.termIds.size;
          this.termIds.set(tok, t);
          df.push(0);
        }
        counts.set(t, (counts.get(t) ?? 0) + 1);
      }
      for (const t of counts.keys()) df[t]++;
      docTerms.push(Int32Array.from(counts.keys()));
      docTfs.push(Int32Array.from(counts.values()));
      lengths.push(tokens.length);
    }
    const n = this.docIds.length;
    const totalLength = lengths.reduce((s, l) => s + l, 0);
    this.avgdl = n === 0 ? 0 : totalLength / n;

    // Pass 2: lay the postings out term by term (documents ascending inside a term).
    const terms = df.length;
    this.start = new Int32Array(terms + 1);
    for (let t = 0; t < terms; t++) this.start[t + 1] = this.start[t] + df[t];
    this.postDoc = new Int32Array(this.start[terms]);
    this.postWeight = new Float64Array(this.start[terms]);
    const fill = this.start.slice(0, terms);
    for (let d = 0; d < n; d++) {
      // avgdl 0 only when every document is empty, and then no postings exist
      const norm = this.k1 * (1 - this.b + (this.b * lengths[d]) / this.avgdl);
      const ts = docTerms[d];
      const tfs = docTfs[d];
      for (let j = 0; j < ts.length; j++) {
        const p = fill[ts[j]]++;
        this.postDoc[p] = d;
        this.postWeight[p] = tfs[j] / (tfs[j] + norm);
      }
    }
    this.idf = Float64Array.from(df, (f) => Math.log(1 + (n - f + 0.5) / (f + 0.5)));
    this.acc = new Float64Array(n);
    this.touched = new Int32Array(n);
  }

  get size(): number {
    return this.docIds.length;
  }

  /** Query terms with their counts, unknown terms dropped (they score nothing). */
  private queryTerms(query: string): Map<number, number> {
    const terms = new Map<number, number>();
    for (const tok of this.analyzer.tokens(query)) {
      const t = this.termIds.get(tok);
      if (t !== undefined) terms.set(t, (terms.get(t) ?? 0) + 1);
    }
    return terms;
  }

  /** The k best documents for a query (fewer when fewer documents share a term with it). */
  search(query: string, k: number): ScoredDoc[] {
    if (this.heap === undefined || this.heap.k !== k) this.heap = new TopK(k, this.docIds);
    const topk = this.heap;
    let touchedCount = 0;
    for (const [t, qtf] of this.queryTerms(query)) {
      const w = qtf * this.idf[t];
      for (let p = this.start[t]; p < this.start[t + 1]; p++) {
        const d = this.postDoc[p];
        if (this.acc[d] === 0) this.touched[touchedCount++] = d;
        this.acc[d] += w * this.postWeight[p];
      }
    }
    topk.reset();
    for (let i = 0; i < touchedCount; i++) {
      const d = this.touched[i];
      topk.push(d, this.acc[d]);
      this.acc[d] = 0;
    }
    return topk.result();
  }

  /** Rank every query; `onQuery` is called after each (for progress). Returns qid -> ranked list. */
  searchAll(queries: Iterable<readonly [string, string]>, k: number, onQuery?: () => void): Map<string, ScoredDoc[]> {
    const out = new Map<string, ScoredDoc[]>();
    for (const [qid, text] of queries) {
      out.set(qid, this.search(text, k));
      onQuery?.();
    }
    return out;
  }
}
