// The fixed, simple embedder that contextual batching clusters with (cde.md, "1. Contextual
// batching", step 1): TF-IDF over the BM25 analyzer's terms, reduced by a randomized truncated SVD
// and L2-normalised — the same pipeline as the official code's TruncatedSVD(128) + Normalizer, with
// TF-IDF standing in for its GTR / BM25 encoders.
//
//   texts      every distinct string among the pairs' queries and documents (one row each)
//   tf-idf     w(t, x) = (1 + ln tf) · (ln((1 + n) / (1 + df)) + 1), rows L2-normalised; terms in
//              fewer than `minDf` texts (default 2) are dropped: they match nothing else
//   reduce     rows of U·Σ from randomizedSvd (linalg.ts) with `dims` components (default 128); its
//              dense products in float32 by default (the output is float32)
//   normalise  each row to unit length; a text with no kept term stays the zero vector
//
// Output: one unit query vector and one unit document vector per pair, float32, in pair order.
// Deterministic for a seed (the SVD sketch is the only randomness). Not a trained encoder and not
// used for retrieval: it only decides which examples share a batch and measures batch hardness.

import { Analyzer, type AnalyzerOptions } from '../../eval/bm25.js';
import { type CsrMatrix, randomizedSvd } from './linalg.js';

export interface TextPair {
  query: string;
  doc: string;
}

export interface TfidfMatrix {
  matrix: CsrMatrix;
  /** Term of each column. */
  terms: string[];
}

/** TF-IDF rows of texts (see the file header), one row per text, columns sorted by term. */
export function tfidfMatrix(
  texts: readonly string[],
  opts: { minDf?: number; analyzer?: AnalyzerOptions } = {},
): TfidfMatrix {
  const minDf = opts.minDf ?? 2;
  const analyzer = new Analyzer(opts.analyzer);
  const bags = texts.map((text) => {
    const counts = new Map<string, number>();
    for (const tok of analyzer.tokens(text)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    return counts;
  });
  const df = new Map<string, number>();
  for (const bag of bags) for (const t of bag.keys()) df.set(t, (df.get(t) ?? 0) + 1);
  const terms = [...df.keys()].filter((t) => df.get(t)! >= minDf).sort();
  const column = new Map(terms.map((t, i) => [t, i]));
  const n = texts.length;
  const idf = terms.map((t) => Math.log((1 + n) / (1 + df.get(t)!)) + 1);

  const rowPtr = new Int32Array(n + 1);
  const colIdx: number[] = [];
  const values: number[] = [];
  bags.forEach((bag, r) => {
    const row: [number, number][] = [];
    for (const [t, tf] of bag) {
      const c = column.get(t);
      if (c !== undefined) row.push([c, (1 + Math.log(tf)) * idf[c]]);
    }
    row.sort((x, y) => x[0] - y[0]);
    const norm = Math.sqrt(row.reduce((s, [, w]) => s + w * w, 0));
    for (const [c, w] of row) {
      colIdx.push(c);
      values.push(w / norm);
    }
    rowPtr[r + 1] = colIdx.length;
  });
  return {
    matrix: { rows: n, cols: terms.length, rowPtr, colIdx: Int32Array.from(colIdx), values: Float64Array.from(values) },
    terms,
  };
}

export interface EmbedOptions {
  /** Output dimension (default 128). */
  dims?: number;
  /** Seed of the SVD sketch (default 0). */
  seed?: number;
  /** SVD oversampling (default 10) and power iterations (default 2). */
  oversample?: number;
  powerIterations?: number;
  /** Minimum document frequency of a term (default 2). */
  minDf?: number;
  analyzer?: AnalyzerOptions;
  /** Tensor device (default 'cpu') and precision (default 'float32') of the SVD's dense products. */
  device?: string;
  dtype?: 'float32' | 'float64';
}

export interface PairEmbeddings {
  n: number;
  dims: number;
  /** n × dims, row-major, unit rows (or zero rows for texts without a kept term). */
  queries: Float32Array;
  docs: Float32Array;
  /** Distinct texts embedded, TF-IDF vocabulary size, and the top singular values. */
  texts: number;
  terms: number;
  singularValues: Float64Array;
}

export interface TextEmbeddings {
  dims: number;
  /** texts × dims, row-major, unit rows (or zero rows for texts without a kept term), in input order. */
  vectors: Float32Array;
  /** TF-IDF vocabulary size and the top singular values. */
  terms: number;
  singularValues: Float64Array;
}

/** Embed distinct texts (see the file header): TF-IDF, randomized SVD, unit rows. */
export function embedTexts(texts: readonly string[], opts: EmbedOptions = {}): TextEmbeddings {
  const dims = opts.dims ?? 128;
  const { matrix, terms } = tfidfMatrix(texts, { minDf: opts.minDf, analyzer: opts.analyzer });
  const limit = Math.min(matrix.rows, matrix.cols);
  if (dims > limit) {
    throw new Error(
      `embed: --dims ${dims} exceeds what ${matrix.rows} distinct texts over ${matrix.cols} terms (df >= ${opts.minDf ?? 2}) allow (at most ${limit})`,
    );
  }
  const svd = randomizedSvd(matrix, {
    rank: dims,
    seed: opts.seed,
    oversample: opts.oversample,
    powerIterations: opts.powerIterations,
    device: opts.device,
    dtype: opts.dtype ?? 'float32',
  });

  const reduced = new Float32Array(texts.length * dims);
  for (let r = 0; r < texts.length; r++) {
    let norm = 0;
    for (let j = 0; j < dims; j++) {
      const x = svd.u[r * dims + j] * svd.s[j];
      norm += x * x;
    }
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    for (let j = 0; j < dims; j++) reduced[r * dims + j] = (svd.u[r * dims + j] * svd.s[j]) / norm;
  }
  return { dims, vectors: reduced, terms: terms.length, singularValues: svd.s };
}

/** Embed the (query, document) pairs (see the file header). */
export function embedPairs(pairs: readonly TextPair[], opts: EmbedOptions = {}): PairEmbeddings {
  const dims = opts.dims ?? 128;
  const rowOf = new Map<string, number>();
  const texts: string[] = [];
  const row = (text: string): number => {
    let r = rowOf.get(text);
    if (r === undefined) {
      r = texts.length;
      rowOf.set(text, r);
      texts.push(text);
    }
    return r;
  };
  const qRows = pairs.map((p) => row(p.query));
  const dRows = pairs.map((p) => row(p.doc));

  const { vectors: reduced, terms, singularValues } = embedTexts(texts, opts);
  const gather = (rows: number[]): Float32Array => {
    const out = new Float32Array(rows.length * dims);
    rows.forEach((r, i) => out.set(reduced.subarray(r * dims, (r + 1) * dims), i * dims));
    return out;
  };
  return {
    n: pairs.length,
    dims,
    queries: gather(qRows),
    docs: gather(dRows),
    texts: texts.length,
    terms,
    singularValues,
  };
}
