// Reader and writer for retrieval datasets in the BEIR directory layout (the project's data contract):
//
//   corpus.jsonl[.gz]    {"_id": string, "title": string, "text": string, ...extra}   one per line
//   queries.jsonl[.gz]   {"_id": string, "text": string, ...extra}                    one per line
//   qrels/<split>.tsv    header "query-id\tcorpus-id\tscore", then one judged pair per line
//   triples/<split>.jsonl.gz (optional)  {"qid": string, "pos": string, "neg": string}
//   PROVENANCE.md        where the data came from
//
// Plain and gzip files are told apart by the ".gz" suffix and streamed through node:zlib. Every
// malformed input fails with one line naming the file and line ("corpus.jsonl.gz line 17: missing
// "_id""). Every file is written atomically: to a temporary file in the same folder, then renamed, so
// a reader never sees half a file. Writers keep the order of their input (Maps iterate in insertion
// order), so the same data gives byte-identical files.
//
// The text an encoder or BM25 sees for a document is `title + " " + text` when the title is non-empty,
// else `text` alone (docText below), as BEIR's own evaluation does.
//
// This is not a dataset builder (that is the data engineer's scripts) and holds no retrieval logic.

import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tempSibling } from '../io/atomic.js';
import { createInterface } from 'node:readline';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

export interface BeirDoc {
  title: string;
  text: string;
}

/** qid -> (docid -> graded relevance). A score of 0 means judged non-relevant. */
export type Qrels = Map<string, Map<string, number>>;

export interface BeirDataset {
  corpus: Map<string, BeirDoc>;
  /** The queries judged in the split (those with a line in qrels/<split>.tsv), in file order. */
  queries: Map<string, string>;
  qrels: Qrels;
}

export interface Triple {
  qid: string;
  pos: string;
  neg: string;
}

export type JsonObject = Record<string, unknown>;

/** One parsed JSONL line with its 1-based line number (for error messages downstream). */
export interface JsonlEntry {
  line: number;
  value: JsonObject;
}

/** Name used in error messages: the file's name, or "dir/name" for files inside qrels/ or triples/. */
function label(path: string): string {
  const parent = basename(dirname(path));
  return parent === 'qrels' || parent === 'triples' ? `${parent}/${basename(path)}` : basename(path);
}

function lines(path: string): AsyncIterable<string> {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const raw = createReadStream(path);
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (err) => input.destroy(err));
  return createInterface({ input, crlfDelay: Infinity });
}

/** Stream a JSONL file (plain or .gz) with line numbers. Blank lines are skipped; each line must be a JSON object. */
export async function* readJsonlEntries(path: string): AsyncGenerator<JsonlEntry> {
  const name = label(path);
  let n = 0;
  try {
    for await (const text of lines(path)) {
      n++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new Error(`${name} line ${n}: malformed JSON (${(err as Error).message})`);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new Error(`${name} line ${n}: expected a JSON object`);
      }
      yield { line: n, value: value as JsonObject };
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR') {
      throw new Error(`${name}: not valid gzip data${n > 0 ? ` after line ${n}` : ''} (${e.message})`);
    }
    throw err;
  }
}

/** Stream the objects of a JSONL file (plain or .gz). */
export async function* readJsonl(path: string): AsyncGenerator<JsonObject> {
  for await (const entry of readJsonlEntries(path)) yield entry.value;
}

/** All objects of a JSONL file (plain or .gz) as an array. */
export async function readJsonlArray(path: string): Promise<JsonObject[]> {
  const rows: JsonObject[] = [];
  for await (const row of readJsonl(path)) rows.push(row);
  return rows;
}

/**
 * Write a file atomically from a stream of string chunks: gzip-compressed when the path ends in
 * ".gz", plain otherwise. The parent folder is created if needed. Node's gzip header carries no
 * timestamp, so the same chunks give the same bytes.
 */
export async function writeAtomic(path: string, chunks: Iterable<string> | AsyncIterable<string>): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  const out = createWriteStream(tmp, { flags: 'wx' });
  const source = Readable.from(chunks, { objectMode: false });
  try {
    if (path.endsWith('.gz')) await pipeline(source, createGzip({ level: 6 }), out as Writable);
    else await pipeline(source, out as Writable);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Write a whole string atomically (plain or .gz by suffix). */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeAtomic(path, [text]);
}

async function* jsonLines(rows: Iterable<unknown> | AsyncIterable<unknown>): AsyncGenerator<string> {
  // Batch small lines into larger chunks: one stream write per line is slow for 100k-row files.
  let buffer = '';
  for await (const row of rows) {
    buffer += `${JSON.stringify(row)}\n`;
    if (buffer.length >= 1 << 16) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') yield buffer;
}

/** Write one JSON value per line, atomically (gzip when the path ends in ".gz"). */
export async function writeJsonlAtomic(path: string, rows: Iterable<unknown> | AsyncIterable<unknown>): Promise<void> {
  await writeAtomic(path, jsonLines(rows));
}

/** The text an encoder or BM25 sees for a document: `title + " " + text` when the title is non-empty. */
export function docText(doc: BeirDoc): string {
  return doc.title === '' ? doc.text : `${doc.title} ${doc.text}`;
}

/** Path of `<dir>/<stem>.jsonl.gz`, else `<dir>/<stem>.jsonl`; an error naming both when neither exists. */
export function findJsonl(dir: string, stem: string): string {
  const gz = join(dir, `${stem}.jsonl.gz`);
  if (existsSync(gz)) return gz;
  const plain = join(dir, `${stem}.jsonl`);
  if (existsSync(plain)) return plain;
  throw new Error(`${dir}: neither ${stem}.jsonl.gz nor ${stem}.jsonl exists`);
}

function requireString(row: JsonObject, key: string, where: string): string {
  if (!(key in row)) throw new Error(`${where}: missing "${key}"`);
  const v = row[key];
  if (typeof v !== 'string')
    throw new Error(`${where}: "${key}" must be a string, got ${v === null ? 'null' : typeof v}`);
  return v;
}

function requireId(row: JsonObject, key: string, where: string): string {
  const id = requireString(row, key, where);
  if (id === '') throw new Error(`${where}: "${key}" is empty`);
  return id;
}

/** Read a corpus file: _id and text required, title optional (empty when absent). Duplicate ids are an error. */
export async function readCorpus(path: string): Promise<Map<string, BeirDoc>> {
  const name = label(path);
  const corpus = new Map<string, BeirDoc>();
  for await (const { line, value } of readJsonlEntries(path)) {
    const where = `${name} line ${line}`;
    const id = requireId(value, '_id', where);
    const text = requireString(value, 'text', where);
    const title = 'title' in value ? requireString(value, 'title', where) : '';
    if (corpus.has(id)) throw new Error(`${where}: duplicate _id "${id}"`);
    corpus.set(id, { title, text });
  }
  return corpus;
}

/** Read a queries file: _id and text required. Duplicate ids are an error. */
export async function readQueries(path: string): Promise<Map<string, string>> {
  const name = label(path);
  const queries = new Map<string, string>();
  for await (const { line, value } of readJsonlEntries(path)) {
    const where = `${name} line ${line}`;
    const id = requireId(value, '_id', where);
    const text = requireString(value, 'text', where);
    if (queries.has(id)) throw new Error(`${where}: duplicate _id "${id}"`);
    queries.set(id, text);
  }
  return queries;
}

export const QRELS_HEADER = 'query-id\tcorpus-id\tscore';

/**
 * Read a qrels TSV: the header line, then `qid\tdocid\tscore` with an integer score >= 0 (the contract's
 * files use >= 1; 0, "judged non-relevant", is accepted because published BEIR files contain it).
 * A pair listed twice is an error.
 */
export async function readQrels(path: string): Promise<Qrels> {
  const name = label(path);
  const qrels: Qrels = new Map();
  let n = 0;
  for await (const text of lines(path)) {
    n++;
    const where = `${name} line ${n}`;
    if (n === 1) {
      if (text !== QRELS_HEADER)
        throw new Error(
          `${where}: expected the header "query-id<TAB>corpus-id<TAB>score", got ${JSON.stringify(text.slice(0, 80))}`,
        );
      continue;
    }
    if (text.trim() === '') continue;
    const fields = text.split('\t');
    if (fields.length !== 3) throw new Error(`${where}: expected 3 tab-separated fields, got ${fields.length}`);
    const [qid, docid, scoreText] = fields;
    if (qid === '') throw new Error(`${where}: empty query-id`);
    if (docid === '') throw new Error(`${where}: empty corpus-id`);
    if (!/^\d+$/.test(scoreText))
      throw new Error(`${where}: score must be a non-negative integer, got ${JSON.stringify(scoreText)}`);
    let judged = qrels.get(qid);
    if (judged === undefined) {
      judged = new Map();
      qrels.set(qid, judged);
    }
    if (judged.has(docid)) throw new Error(`${where}: pair (${qid}, ${docid}) listed twice`);
    judged.set(docid, Number(scoreText));
  }
  if (n === 0) throw new Error(`${name}: empty file (expected the header "query-id<TAB>corpus-id<TAB>score")`);
  return qrels;
}

/** Read a triples file ({"qid", "pos", "neg"} per line). */
export async function readTriples(path: string): Promise<Triple[]> {
  const name = label(path);
  const triples: Triple[] = [];
  for await (const { line, value } of readJsonlEntries(path)) {
    const where = `${name} line ${line}`;
    triples.push({
      qid: requireId(value, 'qid', where),
      pos: requireId(value, 'pos', where),
      neg: requireId(value, 'neg', where),
    });
  }
  return triples;
}

/**
 * Load a BEIR directory for one split. The queries returned are those judged in the split, in the
 * order of queries.jsonl; every judged query and document must exist (an error names the qrels file
 * otherwise).
 */
export async function loadBeir(dir: string, split: string): Promise<BeirDataset> {
  const qrelsPath = join(dir, 'qrels', `${split}.tsv`);
  if (!existsSync(qrelsPath)) throw new Error(`${dir}: split "${split}" has no qrels/${split}.tsv`);
  const [corpus, allQueries, qrels] = await Promise.all([
    readCorpus(findJsonl(dir, 'corpus')),
    readQueries(findJsonl(dir, 'queries')),
    readQrels(qrelsPath),
  ]);
  for (const [qid, judged] of qrels) {
    if (!allQueries.has(qid)) throw new Error(`qrels/${split}.tsv: query-id "${qid}" is not in queries`);
    for (const docid of judged.keys()) {
      if (!corpus.has(docid))
        throw new Error(`qrels/${split}.tsv: corpus-id "${docid}" (query "${qid}") is not in the corpus`);
    }
  }
  const queries = new Map<string, string>();
  for (const [qid, text] of allQueries) if (qrels.has(qid)) queries.set(qid, text);
  return { corpus, queries, qrels };
}

/** A split and its training triples (DIR/triples/<split>.jsonl.gz), each triple's query and documents checked to exist. */
export async function loadTrainingSplit(
  dir: string,
  split: string,
): Promise<{ data: BeirDataset; triples: Triple[]; triplesPath: string }> {
  const data = await loadBeir(dir, split);
  const triplesPath = join(dir, 'triples', `${split}.jsonl.gz`);
  const triples = await readTriples(triplesPath);
  for (const [k, t] of triples.entries()) {
    if (!data.queries.has(t.qid)) throw new Error(`${triplesPath} line ${k + 1}: unknown query "${t.qid}"`);
    for (const d of [t.pos, t.neg])
      if (!data.corpus.has(d)) throw new Error(`${triplesPath} line ${k + 1}: unknown document "${d}"`);
  }
  return { data, triples, triplesPath };
}

/** A document or query to write: the contract fields plus any extra fields (kept after them). */
export type DocRow = BeirDoc & JsonObject;
export type QueryRow = { text: string } & JsonObject;

export interface BeirWriteInput {
  corpus: Map<string, DocRow>;
  /** qid -> text, or qid -> {text, ...extra}. */
  queries: Map<string, string | QueryRow>;
  /** split name -> qrels. */
  qrels: Record<string, Qrels>;
  /** split name -> triples (written to triples/<split>.jsonl.gz). */
  triples?: Record<string, Iterable<Triple>>;
  /** Contents of PROVENANCE.md. */
  provenance?: string;
}

function qrelsText(qrels: Qrels): string {
  const out = [QRELS_HEADER];
  for (const [qid, judged] of qrels) {
    for (const [docid, score] of judged) {
      if (!Number.isSafeInteger(score) || score < 0)
        throw new Error(`qrels (${qid}, ${docid}): score must be a non-negative integer, got ${score}`);
      if (/[\t\n\r]/.test(qid + docid))
        throw new Error(
          `qrels (${JSON.stringify(qid)}, ${JSON.stringify(docid)}): ids must not contain tabs or newlines`,
        );
      out.push(`${qid}\t${docid}\t${score}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * Write a BEIR directory: corpus.jsonl.gz, queries.jsonl.gz, qrels/<split>.tsv, optional
 * triples/<split>.jsonl.gz and PROVENANCE.md. Each file is written atomically, in Map order.
 */
export async function writeBeir(dir: string, data: BeirWriteInput): Promise<void> {
  mkdirSync(dir, { recursive: true });
  function* corpusRows(): Generator<JsonObject> {
    for (const [id, doc] of data.corpus) {
      const { title, text, ...extra } = doc;
      yield { _id: id, title, text, ...extra };
    }
  }
  function* queryRows(): Generator<JsonObject> {
    for (const [id, q] of data.queries) {
      if (typeof q === 'string') yield { _id: id, text: q };
      else {
        const { text, ...extra } = q;
        yield { _id: id, text, ...extra };
      }
    }
  }
  await writeJsonlAtomic(join(dir, 'corpus.jsonl.gz'), corpusRows());
  await writeJsonlAtomic(join(dir, 'queries.jsonl.gz'), queryRows());
  for (const [split, qrels] of Object.entries(data.qrels)) {
    await writeTextAtomic(join(dir, 'qrels', `${split}.tsv`), qrelsText(qrels));
  }
  for (const [split, triples] of Object.entries(data.triples ?? {})) {
    await writeJsonlAtomic(join(dir, 'triples', `${split}.jsonl.gz`), triples);
  }
  if (data.provenance !== undefined) await writeTextAtomic(join(dir, 'PROVENANCE.md'), data.provenance);
}
