// Teachers for Margin-MSE: scores of (query, document) pairs from another model.
//
// bm25: the BM25 score of the pair over the whole training collection (src/eval/bm25.ts, Anserini's
// k1 0.9 / b 0.4), divided by the query's best BM25 score in that collection, so teacher scores lie
// in [0, 1] like cosine margins' useful range and a margin t_p - t_n is comparable across queries.
// Each call ranks the batch's queries over the whole collection (part of the timed training step,
// as a teacher's forward pass is).

import { basename, join } from 'node:path';
import { docText, loadBeir, readJsonlEntries, type Triple } from '../data/beir.js';
import { Bm25Index } from '../eval/bm25.js';
import { CrossEncoder } from '../nn/cross-encoder.js';
import { initDevice } from '../tensor/device.js';
import type { Teacher } from './retrieval.js';

/** A BM25 teacher over the corpus of a BEIR directory. */
/** A teacher whose scores are at hand (no model to run): BM25, or scores read from a file. */
export type SyncTeacher = (queries: readonly string[], docIds: readonly string[]) => number[];

export async function bm25Teacher(dataDir: string): Promise<SyncTeacher> {
  const { corpus } = await loadBeir(dataDir, 'train');
  const index = new Bm25Index([...corpus].map(([id, doc]) => [id, docText(doc)] as const));
  return (queries, docIds) => {
    const byQuery = new Map<string, Map<string, number>>();
    return queries.map((q, i) => {
      let scores = byQuery.get(q);
      if (!scores) {
        const ranked = index.search(q, index.size);
        const top = ranked.length > 0 ? ranked[0].score : 0;
        scores = new Map(ranked.map((d) => [d.docid, top > 0 ? d.score / top : 0]));
        byQuery.set(q, scores);
      }
      return scores.get(docIds[i]) ?? 0;
    });
  };
}

// ---- teacher scores stored in a triples file ----------------------------------------------------
// `retrograd score` (src/cli/score.ts) writes `teacher_pos` and `teacher_neg` into each line of a
// triples file; any other teacher's scores, computed elsewhere, plug in the same way. The scores
// are looked up by (query text, document id): the Teacher interface receives query texts.

/** A triple with its teacher's scores of the positive and the negative. */
export interface ScoredTriple extends Triple {
  teacherPos: number;
  teacherNeg: number;
}

/** Read a triples file whose every line has finite `teacher_pos` and `teacher_neg` numbers. */
export async function readScoredTriples(path: string): Promise<ScoredTriple[]> {
  const name = basename(path);
  const out: ScoredTriple[] = [];
  for await (const { line, value } of readJsonlEntries(path)) {
    const where = `${name} line ${line}`;
    const id = (key: string): string => {
      const v = value[key];
      if (typeof v !== 'string' || v === '') throw new Error(`${where}: "${key}" must be a non-empty string`);
      return v;
    };
    const score = (key: string): number => {
      const v = value[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new Error(`${where}: "${key}" must be a finite number${v === undefined ? ' (score the file with `retrograd score`)' : `, got ${JSON.stringify(v)}`}`);
      }
      return v;
    };
    out.push({ qid: id('qid'), pos: id('pos'), neg: id('neg'), teacherPos: score('teacher_pos'), teacherNeg: score('teacher_neg') });
  }
  return out;
}

/**
 * A teacher that reads its scores from `<dataDir>/triples/<split>.jsonl.gz` (or `path`): the
 * (query, document) pairs asked for must be pairs of the file. A pair listed more than once keeps
 * its first score.
 */
export async function triplesTeacher(dataDir: string, split = 'train', path = join(dataDir, 'triples', `${split}.jsonl.gz`)): Promise<SyncTeacher> {
  const { queries } = await loadBeir(dataDir, split);
  const scores = new Map<string, number>();
  const key = (query: string, doc: string): string => `${query}\u0000${doc}`;
  for (const t of await readScoredTriples(path)) {
    const text = queries.get(t.qid);
    if (text === undefined) throw new Error(`${basename(path)}: query "${t.qid}" is not in split ${split} of ${dataDir}`);
    if (!scores.has(key(text, t.pos))) scores.set(key(text, t.pos), t.teacherPos);
    if (!scores.has(key(text, t.neg))) scores.set(key(text, t.neg), t.teacherNeg);
  }
  return (qs, docIds) => qs.map((q, i) => {
    const s = scores.get(key(q, docIds[i]));
    if (s === undefined) throw new Error(`${basename(path)}: no teacher score for query ${JSON.stringify(q)} and document "${docIds[i]}"`);
    return s;
  });
}

export interface CrossEncoderTeacherOptions {
  device: string;
  /** Split whose corpus the document ids refer to (default train). */
  split?: string;
  /** Tokens per pair (default: the model's limit). */
  maxLength?: number;
  /** Pairs per forward pass (default 32). */
  batchSize?: number;
}

/**
 * An online cross-encoder teacher (`retrograd train-cross-encoder`'s model/): each call scores the
 * batch's (query, document) pairs with a no-grad forward pass inside the training step, so the
 * measured step time includes the teacher's cost, as online distillation pays it. Scores are the
 * raw logits.
 */
export async function crossEncoderTeacher(modelDir: string, dataDir: string, o: CrossEncoderTeacherOptions): Promise<Teacher> {
  await initDevice(o.device);
  const { corpus } = await loadBeir(dataDir, o.split ?? 'train');
  const ce = CrossEncoder.load(modelDir, { device: o.device });
  const score = ce.scorer(ce.lengthLimit(o.maxLength), o.batchSize ?? 32);
  return async (queries, docIds) => {
    const docs = docIds.map((id) => {
      const doc = corpus.get(id);
      if (doc === undefined) throw new Error(`cross-encoder teacher: document "${id}" is not in ${dataDir}`);
      return docText(doc);
    });
    return [...(await score(queries, docs))];
  };
}
