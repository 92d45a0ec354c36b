// Seeded random input streams for tests, drawn from the project's own Generator
// (src/tensor/random.ts, xoshiro128**) so that every failing case reproduces from its seed.
// Not a generator of its own: each stream is a fresh `new Generator(seed)`.

import { Generator } from '../../src/tensor/random.js';

/** Uniform numbers in [0, 1) from `seed`. */
export function rng(seed: number): () => number {
  const generator = new Generator(seed);
  return () => generator.uniform();
}

/** Uniform numbers in [lo, hi) from `seed`. */
export function uniform(lo: number, hi: number, seed: number): () => number {
  const next = rng(seed);
  return () => lo + (hi - lo) * next();
}

/** Uniform integers in [lo, hi] (both ends included) from `seed`. */
export function integers(lo: number, hi: number, seed: number): () => number {
  const next = rng(seed);
  return () => lo + Math.floor((hi - lo + 1) * next());
}
