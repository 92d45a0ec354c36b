// Exact dense retrieval with our tensors: every query is scored against every document with our
// matmul (cosine or dot product), and the top k per query kept in the shared ranking order of run.ts
// (score descending, ties by docid descending). Memory stays bounded: queries go through in chunks
// sized so that one chunk's [chunk, D] float32 score matrix stays near 16 MiB, and each chunk's
// scores are read back, reduced to top k and freed before the next.
//
// Also: embedding a BEIR dataset's corpus and queries in batches through an encoder callback (with a
// progress bar), and denseRetrieve, which does both and returns a run.
//
// Not an approximate index (no HNSW/IVF): exact search is what evaluation needs at this scale.

import { startProgress } from '../cli/progress.js';
import { noGrad } from '../autograd/engine.js';
import { l2Normalize } from '../autograd/ops.js';
import { tidy } from '../tensor/memory.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import { docText, type BeirDoc } from '../data/beir.js';
import { runFromLists, type Run, type ScoredDoc } from './run.js';
import { TopK } from './topk.js';

export type Similarity = 'cos' | 'dot';

export interface DenseSearchOptions {
  /** Documents kept per query. */
  k: number;
  /** Cosine (default) or raw dot product. */
  similarity?: Similarity;
  /** Queries per score-matrix chunk (default: about 4M scores per chunk). */
  chunkSize?: number;
  /** Called after each chunk with the number of queries done. */
  onProgress?: (done: number) => void;
}

/** Scores per chunk when chunkSize is not given: 4M float32 = 16 MiB. */
const CHUNK_SCORES = 1 << 22;

/**
 * Top-k documents for every query. `queries` is [Q, H] and `docs` [D, H], float32 on one device;
 * `queryIds` and `docIds` name their rows. Returns a run in query order, each list best first.
 */
export async function denseSearch(
  queries: Tensor,
  queryIds: readonly string[],
  docs: Tensor,
  docIds: readonly string[],
  opts: DenseSearchOptions,
): Promise<Run> {
  if (queries.ndim !== 2 || docs.ndim !== 2)
    throw new Error(`dense: expected [Q, H] queries and [D, H] documents, got [${queries.shape}] and [${docs.shape}]`);
  const [Q, H] = queries.shape;
  const [D, H2] = docs.shape;
  if (H !== H2) throw new Error(`dense: query dimension ${H} != document dimension ${H2}`);
  if (queryIds.length !== Q) throw new Error(`dense: ${queryIds.length} query ids for ${Q} query rows`);
  if (docIds.length !== D) throw new Error(`dense: ${docIds.length} document ids for ${D} document rows`);
  if (new Set(docIds).size !== D) throw new Error('dense: document ids are not unique');
  if (!Number.isSafeInteger(opts.k) || opts.k < 1)
    throw new Error(`dense: k must be a positive integer, got ${opts.k}`);
  const similarity = opts.similarity ?? 'cos';
  if (similarity !== 'cos' && similarity !== 'dot')
    throw new Error(`dense: similarity must be cos or dot, got ${String(similarity)}`);
  const chunk = opts.chunkSize ?? Math.max(1, Math.floor(CHUNK_SCORES / Math.max(D, 1)));
  if (!Number.isSafeInteger(chunk) || chunk < 1)
    throw new Error(`dense: chunkSize must be a positive integer, got ${chunk}`);

  const lists: [string, ScoredDoc[]][] = [];
  if (D === 0) {
    for (const qid of queryIds) lists.push([qid, []]);
    return runFromLists(lists);
  }
  const ids = docIds as string[];
  const topk = new TopK(Math.min(opts.k, D), ids);
  // [H, D]: the (normalised) documents, transposed as a strided view
  const docsT = noGrad(() => tidy(() => (similarity === 'cos' ? l2Normalize(docs) : docs.detach()).transpose()));
  try {
    for (let start = 0; start < Q; start += chunk) {
      const rows = Math.min(chunk, Q - start);
      const scores = noGrad(() =>
        tidy(() => {
          const q = queries.narrow(0, start, rows);
          return (similarity === 'cos' ? l2Normalize(q) : q).matmul(docsT); // [rows, D]
        }),
      );
      const data = await scores.data();
      scores.dispose();
      for (let r = 0; r < rows; r++) {
        topk.reset();
        const base = r * D;
        for (let d = 0; d < D; d++) topk.push(d, data[base + d]);
        lists.push([queryIds[start + r], topk.result()]);
      }
      opts.onProgress?.(start + rows);
    }
  } finally {
    docsT.dispose();
  }
  return runFromLists(lists);
}

/** Maps a batch of texts to one embedding per text: Float32Arrays or a [B, H] tensor (disposed after reading). */
export type Encoder = (texts: string[]) => Promise<Float32Array[] | Tensor>;

export interface EmbedTextsOptions {
  /** Texts per encoder call (default 64; Infinity sends everything in one call). */
  batchSize?: number;
  /** Progress on stderr: a bar on a terminal, else a line every few seconds (default true). */
  progress?: boolean;
  /** Names the job in progress lines (default 'embed'). */
  label?: string;
  /** Device of the returned tensor (default: the default device). */
  device?: string;
}

/** Embed texts in batches; returns a [N, H] float32 tensor. Fails if a batch has the wrong count or width. */
export async function embedTexts(
  texts: readonly string[],
  encode: Encoder,
  opts: EmbedTextsOptions = {},
): Promise<Tensor> {
  const batchSize = opts.batchSize ?? 64;
  if (!(batchSize >= 1)) throw new Error(`embed: batchSize must be >= 1, got ${batchSize}`);
  const step = Number.isFinite(batchSize) ? Math.floor(batchSize) : Math.max(texts.length, 1);
  const bar = startProgress({
    label: opts.label ?? 'embed',
    total: texts.length,
    unit: 'text',
    enabled: opts.progress,
  });
  let width = -1;
  let out = new Float32Array(0);
  try {
    for (let start = 0; start < texts.length; start += step) {
      const batch = texts.slice(start, start + step);
      const rows = await batchRows(await encode(batch), batch.length, start);
      for (const [i, row] of rows.entries()) {
        if (width < 0) {
          width = row.length;
          if (width === 0) throw new Error('embed: the encoder returned empty embeddings');
          out = new Float32Array(texts.length * width);
        }
        if (row.length !== width)
          throw new Error(`embed: text ${start + i} has ${row.length} dimensions, earlier ones ${width}`);
        out.set(row, (start + i) * width);
      }
      bar.update(start + batch.length);
    }
  } finally {
    bar.finish();
  }
  if (width < 0) throw new Error('embed: no texts to embed');
  return fromArray(out, [texts.length, width], { device: opts.device });
}

async function batchRows(result: Float32Array[] | Tensor, count: number, start: number): Promise<Float32Array[]> {
  const where = `embed: batch at text ${start}`;
  if (Array.isArray(result)) {
    if (result.length !== count)
      throw new Error(`${where}: the encoder returned ${result.length} embeddings for ${count} texts`);
    return result;
  }
  try {
    if (result.ndim !== 2 || result.shape[0] !== count)
      throw new Error(`${where}: expected a [${count}, H] tensor, got [${result.shape}]`);
    const data = Float32Array.from(await result.data());
    const h = result.shape[1];
    return Array.from({ length: count }, (_, i) => data.subarray(i * h, (i + 1) * h));
  } finally {
    result.dispose();
  }
}

export interface DenseRetrieveOptions extends DenseSearchOptions {
  /** Encoder for queries when it differs from the document encoder (e.g. an instruction prefix). */
  encodeQueries?: Encoder;
  batchSize?: number;
  progress?: boolean;
  /** Prefix of the progress labels ('<label> corpus', '<label> queries'). */
  label?: string;
  device?: string;
}

export interface DenseRetrieveResult {
  run: Run;
  seconds: { embedCorpus: number; embedQueries: number; search: number };
}

/** Embed a dataset's corpus (docText: title + " " + text) and queries, then run exact dense search. */
export async function denseRetrieve(
  data: { corpus: Map<string, BeirDoc>; queries: Map<string, string> },
  encode: Encoder,
  opts: DenseRetrieveOptions,
): Promise<DenseRetrieveResult> {
  const embedOpts = { batchSize: opts.batchSize, progress: opts.progress, device: opts.device };
  let t = performance.now();
  const docs = await embedTexts([...data.corpus.values()].map(docText), encode, {
    ...embedOpts,
    label: opts.label ? `${opts.label} corpus` : 'corpus',
  });
  const embedCorpus = (performance.now() - t) / 1000;
  t = performance.now();
  const queries = await embedTexts([...data.queries.values()], opts.encodeQueries ?? encode, {
    ...embedOpts,
    label: opts.label ? `${opts.label} queries` : 'queries',
  });
  const embedQueries = (performance.now() - t) / 1000;
  t = performance.now();
  try {
    const run = await denseSearch(queries, [...data.queries.keys()], docs, [...data.corpus.keys()], opts);
    return { run, seconds: { embedCorpus, embedQueries, search: (performance.now() - t) / 1000 } };
  } finally {
    docs.dispose();
    queries.dispose();
  }
}
