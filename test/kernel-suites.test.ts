// Every primitive of the device interface (src/tensor/backend.ts) has its suite in test/kernels/,
// run over every device: a primitive added without one fails here, not at review.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RefBackend } from '../src/tensor/backends/ref.js';

/** Where each primitive's suite lives (scatterAdd, gather's gradient, shares gather's file). */
const SUITE: Record<string, string> = {
  fill: 'fill',
  copy: 'copy',
  unary: 'unary',
  binary: 'binary',
  where: 'where',
  reduce: 'reduce',
  matmul: 'matmul',
  softmax: 'softmax',
  layernorm: 'layernorm',
  gather: 'gather',
  scatterAdd: 'gather',
  rand: 'rand',
  adamw: 'adamw',
};

/** The kernel methods of the device interface: what RefBackend implements beyond memory. */
const MEMORY = new Set(['constructor', 'alloc', 'free', 'write', 'read', 'readSync', 'liveBuffers', 'count']);
const primitives = Object.getOwnPropertyNames(RefBackend.prototype).filter((m) => !MEMORY.has(m));

describe('every primitive has a suite over every device', () => {
  it('the list of primitives is the device interface', () => {
    expect(primitives.sort()).toEqual(Object.keys(SUITE).sort());
  });

  for (const p of Object.keys(SUITE)) {
    it(`${p}: test/kernels/${SUITE[p]}.test.ts runs it with describe.each over the devices`, () => {
      const file = new URL(`./kernels/${SUITE[p]}.test.ts`, import.meta.url);
      expect(existsSync(file)).toBe(true);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/describe\.each\(DEVICES\)/);
      expect(text).toContain(`backend.${p}(`);
    });
  }
});
