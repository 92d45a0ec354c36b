// Crash-safe file system writes, shared by every layer that saves something (checkpoints, model
// directories, contexts, logs, plots, data sets): a file or directory is built under a temporary
// name in its own folder and renamed into place, so a reader sees the old version or the new one,
// never half of either. (Streams of JSONL/gzip go through data/beir.ts's writeAtomic, the same
// pattern over a pipeline.)

import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A sibling of `path` to build it under: hidden, unique to this process and call. */
export function tempSibling(path: string, tag = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

/** Create a directory (and its parents), or fail with one line naming the file in the way. */
export function ensureDirectory(path: string): void {
  if (existsSync(path) && !statSync(path).isDirectory()) throw new Error(`${path}: exists and is not a directory`);
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (!existsSync(dir)) continue;
    if (!statSync(dir).isDirectory()) throw new Error(`${path}: cannot create the directory, ${dir} is a file`);
    break;
  }
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    throw new Error(
      `${path}: cannot create the directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** Write a file by temp file + rename in the same folder (the folder is created if needed). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  ensureDirectory(dirname(path));
  const tmp = tempSibling(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Put the finished directory `built` (a sibling made with tempSibling) in place of `dir`. An old
 * `dir` is moved aside first and removed last, so `dir` is never half-written; a crash between the
 * two renames leaves the old version beside it under a hidden name.
 */
export function replaceDirectory(built: string, dir: string): void {
  const old = tempSibling(dir, 'old');
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(built, dir);
  rmSync(old, { recursive: true, force: true });
}
