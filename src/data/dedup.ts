// De-duplication of the pretraining corpus, in corpus order (the first copy is kept):
// 1. exact duplicates: lines whose text, lower-cased with whitespace collapsed, hashes (SHA-1) to a
//    text already kept;
// 2. near duplicates: lines of at least NEAR_MIN_WORDS words whose word 3-shingle set (lower-cased,
//    digits masked, as pkgdesc.ts's shingles but hashed from word hashes without building strings)
//    has Jaccard similarity >= NEAR_JACCARD with a kept line.
//    Candidates come from one-permutation MinHash (64 bins) in LSH bands of 4 bins (at most
//    BUCKET_CHECKS kept lines per bucket); a candidate whose signature agrees on enough bins is
//    verified by exact Jaccard. This catches
//    the same page shipped twice (std and core in rust-doc, a page under two names) and chunks that
//    differ only in version numbers.

import { createHash } from 'node:crypto';
import { countWords } from './debian.js';
import { jaccard, mix } from './pkgdesc.js';

export const NEAR_JACCARD = 0.8;
export const NEAR_MIN_WORDS = 50;
const BINS = 64;
const ROWS = 4;
const BUCKET_CHECKS = 16;
const EMPTY = 0xffffffff;

export interface DedupResult<T> {
  kept: T[];
  /** Per removed item: the item and why (exact or near). */
  removed: { item: T; reason: 'exact' | 'near' }[];
}

/** Sorted distinct hashes of a text's word 3-shingles (lower-cased, digit runs masked as "0"). */
export function shingleHashes(text: string): Uint32Array {
  const words = text.toLowerCase().match(/[a-z]+|[0-9]+/g) ?? [];
  const hashes = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    let h = 0x811c9dc5;
    if (w.charCodeAt(0) <= 0x39) h = 0x30;
    else {
      for (let k = 0; k < w.length; k++) h = Math.imul(h ^ w.charCodeAt(k), 0x01000193);
    }
    hashes[i] = h >>> 0;
  }
  const n = Math.max(1, words.length - 2);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = mix(
      Math.imul(hashes[i] ?? 0, 0x9e3779b1) ^ Math.imul(hashes[i + 1] ?? 0, 0x85ebca6b) ^ (hashes[i + 2] ?? 0),
      0x27d4eb2f,
    );
  out.sort();
  let m = 0;
  for (let i = 0; i < n; i++) if (i === 0 || out[i] !== out[i - 1]) out[m++] = out[i];
  return out.slice(0, m);
}

function exactKey(text: string): string {
  return createHash('sha1').update(text.toLowerCase().replace(/\s+/g, ' ').trim()).digest('base64');
}

/** One-permutation MinHash: each shingle hash goes to bin (hash mod BINS), keeping the minimum. */
function signature(set: Uint32Array): Uint32Array {
  const sig = new Uint32Array(BINS).fill(EMPTY);
  for (const h of set) {
    const bin = h % BINS;
    const rest = h >>> 6;
    if (rest < sig[bin]) sig[bin] = rest;
  }
  return sig;
}

/** The share of bins, among those filled in either signature, where the two agree. */
function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  let filled = 0;
  let same = 0;
  for (let i = 0; i < BINS; i++) {
    if (a[i] === EMPTY && b[i] === EMPTY) continue;
    filled++;
    if (a[i] === b[i]) same++;
  }
  return filled === 0 ? 1 : same / filled;
}

/** Remove exact and near duplicates from `items` (text via `textOf`), keeping first occurrences. */
export function dedup<T>(items: T[], textOf: (item: T) => string): DedupResult<T> {
  const kept: T[] = [];
  const removed: DedupResult<T>['removed'] = [];
  const seen = new Set<string>();
  // Kept long lines: shingle sets and signatures, by id; LSH buckets hold ids.
  const sets: Uint32Array[] = [];
  const sigs: Uint32Array[] = [];
  const buckets = new Map<string, number[]>();
  for (const item of items) {
    const text = textOf(item);
    const key = exactKey(text);
    if (seen.has(key)) {
      removed.push({ item, reason: 'exact' });
      continue;
    }
    if (countWords(text) >= NEAR_MIN_WORDS) {
      const set = shingleHashes(text);
      const sig = signature(set);
      const keys: string[] = [];
      const checked = new Set<number>();
      let near = false;
      for (let b = 0; b < BINS / ROWS && !near; b++) {
        const rows = sig.subarray(b * ROWS, (b + 1) * ROWS);
        if (rows.every((v) => v === EMPTY)) continue;
        const bucketKey = `${b}:${rows.join(',')}`;
        keys.push(bucketKey);
        for (const id of buckets.get(bucketKey) ?? []) {
          if (checked.has(id)) continue;
          checked.add(id);
          if (estimatedJaccard(sig, sigs[id]) >= NEAR_JACCARD - 0.2 && jaccard(set, sets[id]) >= NEAR_JACCARD) {
            near = true;
            break;
          }
        }
      }
      if (near) {
        removed.push({ item, reason: 'near' });
        continue;
      }
      const id = sets.length;
      sets.push(set);
      sigs.push(sig);
      for (const k of keys) {
        const members = buckets.get(k);
        if (members === undefined) buckets.set(k, [id]);
        else if (members.length < BUCKET_CHECKS) members.push(id);
      }
    }
    seen.add(key);
    kept.push(item);
  }
  return { kept, removed };
}
