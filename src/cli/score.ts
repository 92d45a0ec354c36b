// `retrograd score`: a cross-encoder's scores of every triple's positive and negative, written into
// a copy of the triples file as `teacher_pos` and `teacher_neg` (Margin-MSE's teacher scores, read
// back by src/train/teachers.ts: `retrograd train --loss margin-mse --teacher triples`).
//
//   retrograd score --model runs/ce/model --data data/pkgdesc-train [--split train] \
//       --out data/pkgdesc-train/triples/train.jsonl.gz [--limit N] [--max-length 160] [--batch-size 32]
//
// Reads <data>/triples/<split>.jsonl.gz, scores each distinct (query, document) pair once, and writes
// every line with its other fields kept and the two scores set, in input order, atomically (gzip
// when --out ends in .gz; --out may be the input file itself). --limit scores only the first N
// lines. Prints one JSON summary line (lines, pairs, seconds, pairs/s).

import { join } from 'node:path';
import type { Command } from 'commander';
import { docText, loadBeir, readJsonlEntries, writeJsonlAtomic, type JsonObject } from '../data/beir.js';
import { CrossEncoder } from '../nn/cross-encoder.js';
import { positiveIntOption, startDevice } from './options.js';
import { startProgress } from './progress.js';

export interface ScoreTriplesOptions {
  model: string;
  data: string;
  split?: string;
  out: string;
  limit?: number;
  maxLength?: number;
  batchSize?: number;
  device?: string;
  /** Progress on stderr (default true). */
  progress?: boolean;
}

export interface ScoreTriplesSummary {
  lines: number;
  pairs: number;
  seconds: number;
  pairsPerSecond: number;
}

export async function scoreTriples(o: ScoreTriplesOptions): Promise<ScoreTriplesSummary> {
  const split = o.split ?? 'train';
  const data = await loadBeir(o.data, split);
  const path = join(o.data, 'triples', `${split}.jsonl.gz`);
  const rows: JsonObject[] = [];
  const pairs = new Map<string, [string, string]>();
  const key = (qid: string, doc: string): string => `${qid}\u0000${doc}`;
  for await (const { line, value } of readJsonlEntries(path)) {
    if (o.limit !== undefined && rows.length >= o.limit) break;
    const where = `triples/${split}.jsonl.gz line ${line}`;
    for (const field of ['qid', 'pos', 'neg']) {
      if (typeof value[field] !== 'string') throw new Error(`${where}: "${field}" must be a string`);
    }
    const qid = value.qid as string;
    if (!data.queries.has(qid)) throw new Error(`${where}: unknown query "${qid}"`);
    for (const doc of [value.pos as string, value.neg as string]) {
      if (!data.corpus.has(doc)) throw new Error(`${where}: unknown document "${doc}"`);
      pairs.set(key(qid, doc), [qid, doc]);
    }
    rows.push(value);
  }
  if (rows.length === 0) throw new Error(`${path}: no triples`);

  const ce = CrossEncoder.load(o.model, { device: o.device });
  const t0 = performance.now();
  const list = [...pairs.values()];
  const bar = startProgress({ label: 'score', total: list.length, unit: 'pair', enabled: o.progress });
  let scores: Float32Array;
  try {
    const scorer = ce.scorer(ce.lengthLimit(o.maxLength), o.batchSize ?? 32, (done) => bar.update(done));
    scores = await scorer(
      list.map(([qid]) => data.queries.get(qid)!),
      list.map(([, doc]) => docText(data.corpus.get(doc)!)),
    );
  } finally {
    bar.finish();
    ce.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const byPair = new Map(list.map(([qid, doc], i) => [key(qid, doc), scores[i]]));
  await writeJsonlAtomic(
    o.out,
    rows.map((r) => ({
      ...r,
      teacher_pos: byPair.get(key(r.qid as string, r.pos as string))!,
      teacher_neg: byPair.get(key(r.qid as string, r.neg as string))!,
    })),
  );
  return { lines: rows.length, pairs: list.length, seconds, pairsPerSecond: list.length / seconds };
}

export function registerScore(program: Command): void {
  program
    .command('score')
    .description(
      "write a cross-encoder's scores of each triple's positive and negative (teacher_pos, teacher_neg) into a triples file",
    )
    .requiredOption('--model <dir>', 'cross-encoder directory (BertForSequenceClassification, num_labels 1)')
    .requiredOption('--data <dir>', 'BEIR directory with triples/<split>.jsonl.gz')
    .requiredOption('--out <file>', 'triples JSONL to write (.gz: gzip); may be the input file')
    .option('--split <name>', 'triples split', 'train')
    .option('--limit <n>', 'score only the first n triples', positiveIntOption)
    .option('--max-length <n>', "tokens per pair (default: the model's limit)", positiveIntOption)
    .option('--batch-size <n>', 'pairs per forward pass', positiveIntOption, 32)
    .option('--device <name>', 'cpu | cpu-ref | webgpu | gpujs', 'cpu')
    .option('--threads <n>', 'threads of the cpu device', positiveIntOption)
    .action(
      async (o: {
        model: string;
        data: string;
        out: string;
        split: string;
        limit?: number;
        maxLength?: number;
        batchSize: number;
        device: string;
        threads?: number;
      }) => {
        await startDevice(o.device, o.threads);
        const summary = await scoreTriples(o);
        process.stdout.write(`${JSON.stringify({ out: o.out, ...summary })}\n`);
      },
    );
}
