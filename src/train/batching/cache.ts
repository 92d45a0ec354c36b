// A file cache for the expensive, deterministic batching stages (TF-IDF + SVD embeddings, paired
// k-means), so a second training run on the same data does not redo them. An entry is one
// safetensors file, <dir>/<kind>-<key>.safetensors, where key is the SHA-256 of the stage's options
// and of every input text in order: changed data or options give another key (the old entry stays,
// unused). Entries are written atomically; a stored value is exactly what the stage computed, so a
// run that reads the cache continues bit-identically to one that recomputed it.
// Default directory: $RETROGRAD_CACHE, else $XDG_CACHE_HOME/retrograd, else ~/.cache/retrograd.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  readSafetensors,
  writeSafetensors,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
} from '../../nn/safetensors.js';
import { ensureDirectory } from '../../io/atomic.js';

export function defaultCacheDir(): string {
  if (process.env.RETROGRAD_CACHE) return process.env.RETROGRAD_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'retrograd');
}

/** SHA-256 (hex) of the options' JSON and every text, each text length-prefixed. */
export function cacheKey(options: unknown, texts: Iterable<string>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(options));
  for (const text of texts) {
    hash.update(`\n${Buffer.byteLength(text)}:`);
    hash.update(text);
  }
  return hash.digest('hex');
}

export interface CacheEntry {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
  /** Whether it was read from the cache (false: computed now, and stored). */
  hit: boolean;
  path: string;
}

/** The entry of (kind, key) in `dir`: read back, or computed and stored (without a dir: computed only). */
export function cached(
  dir: string | undefined,
  kind: string,
  key: string,
  compute: () => { tensors: Record<string, SafetensorsTensorInput>; metadata?: Record<string, string> },
): CacheEntry {
  const path = dir === undefined ? '' : join(dir, `${kind}-${key}.safetensors`);
  if (dir !== undefined && existsSync(path)) {
    const file = readSafetensors(path);
    if (file.metadata.key === key) return { ...file, hit: true, path };
  }
  const { tensors, metadata } = compute();
  const meta = { ...(metadata ?? {}), key };
  if (dir !== undefined) {
    ensureDirectory(dir);
    writeSafetensors(path, tensors, meta);
  }
  return {
    tensors: new Map(
      Object.entries(tensors).map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape], data: t.data }]),
    ),
    metadata: meta,
    hit: false,
    path,
  };
}
