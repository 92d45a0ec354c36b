// Batches read from a file written by `retrograd cluster --out FILE` (src/cli/cluster.ts), for
// `retrograd train --batches FILE`: one JSON object per line, in training order, whose "triples" list
// holds 0-based line indices into the training triples file ("qids" and "pos", when present, the
// query and positive of each). Read synchronously (plain or .gz) and checked against the triples
// the trainer loaded, so a file written for other data, another split or another batch size fails
// with one line naming it: every index in range, its (qid, pos) equal to the file's, each triple at
// most once, every batch of the trainer's batch size, and floor(n / B) batches (an epoch of the
// trainer). Not here: how the batches are used per epoch (plan.ts).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Triple } from '../../data/beir.js';

/** SHA-256 (hex) of a file's bytes, or a one-line error when it cannot be read. */
export function fileSha256(path: string): string {
  if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`--batches ${path}: no such file`);
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The batches of `path` as triple indices, checked against `triples` and `batchSize` (see the file header). */
export function readBatchFile(
  path: string,
  triples: readonly Triple[],
  batchSize: number,
  sha256?: string,
): number[][] {
  if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`--batches ${path}: no such file`);
  const bytes = readFileSync(path);
  if (sha256 !== undefined && createHash('sha256').update(bytes).digest('hex') !== sha256) {
    throw new Error(`${path}: the file changed (SHA-256 differs from the run's)`);
  }
  let text: string;
  try {
    text = (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (err) {
    throw new Error(`${path}: not valid gzip data (${(err as Error).message})`);
  }
  const n = triples.length;
  const seen = new Int32Array(n).fill(-1);
  const batches: number[][] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    if (lines[k].trim() === '') continue;
    const where = `${path} line ${k + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(lines[k]);
    } catch (err) {
      throw new Error(`${where}: malformed JSON (${(err as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row))
      throw new Error(`${where}: expected a JSON object`);
    const { triples: idx, qids, pos } = row as { triples?: unknown; qids?: unknown; pos?: unknown };
    if (!Array.isArray(idx))
      throw new Error(`${where}: no "triples" list (cluster writes one only for a split with a triples file)`);
    if (idx.length !== batchSize)
      throw new Error(
        `${where}: a batch of ${idx.length} triples, the batch size is ${batchSize} (cluster --batch-size must match)`,
      );
    for (const [name, list] of [
      ['qids', qids],
      ['pos', pos],
    ] as const) {
      if (list !== undefined && (!Array.isArray(list) || list.length !== idx.length))
        throw new Error(`${where}: "${name}" must list one id per triple`);
    }
    idx.forEach((i, j) => {
      if (!Number.isSafeInteger(i) || i < 0 || i >= n)
        throw new Error(`${where}: triple index ${JSON.stringify(i)} is outside the data's ${n} triples`);
      const t = triples[i as number];
      const fq = (qids as unknown[] | undefined)?.[j] ?? t.qid;
      const fp = (pos as unknown[] | undefined)?.[j] ?? t.pos;
      if (fq !== t.qid || fp !== t.pos) {
        throw new Error(
          `${where}: triple ${i} is (${t.qid}, ${t.pos}) in the data, the file says (${String(fq)}, ${String(fp)}): written for other data?`,
        );
      }
      if (seen[i as number] >= 0)
        throw new Error(`${where}: triple ${i} is already in the batch of line ${seen[i as number] + 1}`);
      seen[i as number] = k;
    });
    batches.push(idx as number[]);
  }
  const perEpoch = Math.floor(n / batchSize);
  if (batches.length !== perEpoch) {
    throw new Error(
      `${path}: ${batches.length} batches of ${batchSize}, the data's ${n} triples make ${perEpoch} (written for other data or a --max-triples subset?)`,
    );
  }
  return batches;
}
