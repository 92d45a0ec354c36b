// Teachers for Margin-MSE: scores of (query, document) pairs from another model.
//
// bm25: the BM25 score of the pair over the whole training collection (src/eval/bm25.ts, Anserini's
// k1 0.9 / b 0.4), divided by the query's best BM25 score in that collection, so teacher scores lie
// in [0, 1] like cosine margins' useful range and a margin t_p - t_n is comparable across queries.
// Each call ranks the batch's queries over the whole collection (part of the timed training step,
// as a teacher's forward pass is).
//
// Teacher scale. A cosine student's margin s(q,d+) - s(q,d-) lies in [-2, 2] (and |margin| <=
// sqrt(2 - 2 s(d+,d-))), a cross-encoder's logit margin is unbounded; Margin-MSE against a cosine
// student therefore regresses onto k·(t_p - t_n). The SDAM paper and its released code
// (webis-de/adaptive-relevance-margin-loss: no Margin-MSE code) give no rule, so ours is: the map is
// linear (an intercept would turn the teacher's ties into preferences), and `auto` fits k once per
// (starting model, teacher, data) so that k·(t_p - t_n) has the root mean square of SDAM's adaptive
// target (1 + s(d+,d-)) / 2 under the starting encoder, on the first TEACHER_SCALE_TRIPLES of a
// fixed shuffle of all training triples (the same k for every seed and --max-triples). Margin-MSE
// then asks for margins of the size SDAM asks for, and the two losses differ only in which triple
// gets which margin, what an SDAM-vs-teacher comparison is about.

import { basename, join } from 'node:path';
import { docText, loadBeir, readJsonlEntries, type BeirDataset, type Triple } from '../data/beir.js';
import { Bm25Index } from '../eval/bm25.js';
import type { Biencoder } from '../nn/biencoder.js';
import { CrossEncoder } from '../nn/cross-encoder.js';
import { initDevice } from '../tensor/device.js';
import { Generator } from '../tensor/random.js';

/** Teacher scores for (query text, document id) pairs, one per pair (a model teacher reads them back asynchronously). */
export type Teacher = (queries: readonly string[], docIds: readonly string[]) => number[] | Promise<number[]>;

/** A teacher whose scores are at hand (no model to run): BM25, or scores read from a file. */
export type SyncTeacher = (queries: readonly string[], docIds: readonly string[]) => number[];

/** A BM25 teacher over the corpus of a BEIR directory. */
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
        throw new Error(
          `${where}: "${key}" must be a finite number${v === undefined ? ' (score the file with `retrograd score`)' : `, got ${JSON.stringify(v)}`}`,
        );
      }
      return v;
    };
    out.push({
      qid: id('qid'),
      pos: id('pos'),
      neg: id('neg'),
      teacherPos: score('teacher_pos'),
      teacherNeg: score('teacher_neg'),
    });
  }
  return out;
}

/**
 * A teacher that reads its scores from `<dataDir>/triples/<split>.jsonl.gz` (or `path`): the
 * (query, document) pairs asked for must be pairs of the file. A pair listed more than once keeps
 * its first score.
 */
export async function triplesTeacher(
  dataDir: string,
  split = 'train',
  path = join(dataDir, 'triples', `${split}.jsonl.gz`),
): Promise<SyncTeacher> {
  const { queries } = await loadBeir(dataDir, split);
  const scores = new Map<string, number>();
  const key = (query: string, doc: string): string => `${query}\u0000${doc}`;
  for (const t of await readScoredTriples(path)) {
    const text = queries.get(t.qid);
    if (text === undefined)
      throw new Error(`${basename(path)}: query "${t.qid}" is not in split ${split} of ${dataDir}`);
    if (!scores.has(key(text, t.pos))) scores.set(key(text, t.pos), t.teacherPos);
    if (!scores.has(key(text, t.neg))) scores.set(key(text, t.neg), t.teacherNeg);
  }
  return (qs, docIds) =>
    qs.map((q, i) => {
      const s = scores.get(key(q, docIds[i]));
      if (s === undefined)
        throw new Error(
          `${basename(path)}: no teacher score for query ${JSON.stringify(q)} and document "${docIds[i]}"`,
        );
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
export async function crossEncoderTeacher(
  modelDir: string,
  dataDir: string,
  o: CrossEncoderTeacherOptions,
): Promise<Teacher> {
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

// ---- the teacher's scale for a cosine student (see the header) -----------------------------------

/** Training triples the `auto` teacher scale is fitted on (fewer when the split has fewer). */
export const TEACHER_SCALE_TRIPLES = 256;
/** Seed of the fixed shuffle the fitting triples are drawn from (independent of the run's seed). */
const TEACHER_SCALE_SEED = 0x7eac;

/** Margin-MSE's teacher scale: a fixed factor k, or `auto` (fitted before the first step). */
export type TeacherScale = number | 'auto';

export interface TeacherScaleFit {
  /** k: Margin-MSE regresses the student's margin onto k·(t_p - t_n). */
  scale: number;
  /** Triples it was fitted on. */
  triples: number;
  /** Root mean square of SDAM's adaptive target (1 + s(d+,d-)) / 2 under the starting encoder. */
  rmsTarget: number;
  /** Root mean square of the teacher's margin t_p - t_n. */
  rmsTeacherMargin: number;
}

const rms = (xs: readonly number[]): number => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);

/**
 * k = RMS(targets) / RMS(teacherMargins): the linear map that gives the teacher's margins the root
 * mean square of SDAM's adaptive targets. Throws when the teacher's margins are all zero.
 */
export function teacherScaleFromMargins(
  targets: readonly number[],
  teacherMargins: readonly number[],
): TeacherScaleFit {
  if (targets.length === 0 || targets.length !== teacherMargins.length) {
    throw new Error(`teacher scale: ${targets.length} targets for ${teacherMargins.length} teacher margins`);
  }
  const rmsTarget = rms(targets);
  const rmsTeacherMargin = rms(teacherMargins);
  if (!(rmsTeacherMargin > 0) || !Number.isFinite(rmsTeacherMargin)) {
    throw new Error(
      `teacher scale: the teacher's margins t_p - t_n have root mean square ${rmsTeacherMargin} on ${targets.length} triples; give a fixed --teacher-scale`,
    );
  }
  return { scale: rmsTarget / rmsTeacherMargin, triples: targets.length, rmsTarget, rmsTeacherMargin };
}

/** The triples `auto` fits on: the first TEACHER_SCALE_TRIPLES of a fixed shuffle of `triples`. */
export function teacherScaleTriples(triples: readonly Triple[]): Triple[] {
  return new Generator(TEACHER_SCALE_SEED).shuffle([...triples]).slice(0, TEACHER_SCALE_TRIPLES);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * Fit the `auto` teacher scale: the encoder (no gradient, eval mode) embeds the positives and
 * negatives of teacherScaleTriples(triples) for SDAM's adaptive targets, the teacher scores the same
 * pairs, and k = RMS(target) / RMS(t_p - t_n).
 */
export async function fitTeacherScale(
  bi: Biencoder,
  data: BeirDataset,
  triples: readonly Triple[],
  teacher: Teacher,
  o: { docLength: number },
): Promise<TeacherScaleFit> {
  const sample = teacherScaleTriples(triples);
  const encode = bi.encoder(o.docLength);
  const docs = await encode([
    ...sample.map((t) => docText(data.corpus.get(t.pos)!)),
    ...sample.map((t) => docText(data.corpus.get(t.neg)!)),
  ]);
  const n = sample.length;
  const targets = sample.map((_, i) => (1 + cosine(docs[i], docs[n + i])) / 2);
  const queries = sample.map((t) => data.queries.get(t.qid)!);
  const scores = await teacher([...queries, ...queries], [...sample.map((t) => t.pos), ...sample.map((t) => t.neg)]);
  return teacherScaleFromMargins(
    targets,
    sample.map((_, i) => scores[i] - scores[n + i]),
  );
}
