// Training the contextual model (src/train/contextual.ts): two-stage gradient caching against plain
// backprop in float64 on the tiny fixture BERT (dropout off: against the full batch; dropout on:
// against the same chunked forward, masks replayed), the dropout generators' state after a step,
// the loss's mask, the context sample, the step's internals, and a flat live-buffer count. The training loop is in
// test/contextual-loop.test.ts.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Generator, fromArray, liveStorages } from '../src/index.js';
import { ContextualModel } from '../src/nn/contextual.js';
import { batchContext, contextualLoss, contextualStep, type ContextualBatch } from '../src/train/contextual.js';
import { assertClose, TOL } from './util/close.js';

const TINY = join(import.meta.dirname, 'fixtures', 'bert', 'tiny');

const BATCH: ContextualBatch = {
  queries: ['cat on mat', 'quick fox', 'hello world', 'lazy dog'],
  documents: [
    'the cat sat on the mat',
    'a quick brown fox jumps',
    'hello to the whole world',
    'the lazy dog sleeps',
    'an unrelated document',
    'mats and hats',
    'foxes are quick',
    'dogs bark',
  ],
};
const STEP = { queryLength: 24, docLength: 32, contextSize: 5, contextSeed: 9 }; // the fixture's vocabulary is mostly characters: the prefixes take ~15 tokens

function model64(dropoutGenerator?: Generator): ContextualModel {
  return ContextualModel.fromBert(TINY, {
    device: 'cpu-ref',
    dtype: 'float64',
    config: { context_size: 8, prompt_length: 2 },
    seed: 2,
    dropoutGenerator,
  });
}

/** Gradients by parameter name (zeroing them), skipping the unused pooler. */
async function takeGrads(m: ContextualModel): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [name, p] of m.namedParameters()) {
    if (name.includes('.pooler.')) continue;
    out.set(name, p.grad ? [...(await p.grad.data())] : []);
  }
  m.zeroGrad();
  return out;
}

/**
 * Largest max|a - b| / max|b| over parameters. Attention key biases are judged against the largest
 * gradient of all instead: softmax ignores a shift shared by a row's scores, so their true gradient
 * is zero and what backprop returns is rounding noise (~1e-17). Every other parameter must have a
 * nonzero gradient in b.
 */
function worstRelative(a: Map<string, number[]>, b: Map<string, number[]>): number {
  const global = Math.max(...[...b.values()].map((g) => Math.max(0, ...g.map(Math.abs))));
  let worst = 0;
  for (const [name, ref] of b) {
    const got = a.get(name)!;
    expect(got.length, `${name}: no gradient`).toBe(ref.length);
    const structurallyZero = name.endsWith('attention.self.key.bias');
    const scale = structurallyZero ? global : Math.max(...ref.map(Math.abs));
    if (structurallyZero) expect(Math.max(...ref.map(Math.abs)), name).toBeLessThan(1e-12 * global);
    else expect(scale, `${name}: zero gradient`).toBeGreaterThan(0);
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(got[i] - ref[i]));
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

describe('contextual training: gradient caching', () => {
  it('equals plain full-batch backprop in float64 to 1e-10 relative (dropout off)', async () => {
    const m = model64();
    const plain = contextualStep(m, BATCH, { ...STEP, gradCache: false });
    const full = await takeGrads(m);
    // Uneven chunks in every stage: 4 queries by 3, 8 documents by 3, 5 context documents by 2.
    const cached = contextualStep(m, BATCH, { ...STEP, gradCache: true, chunkSize: 3, contextChunkSize: 2 });
    const chunked = await takeGrads(m);
    expect(cached.context).toEqual(plain.context);
    expect(cached.context).toHaveLength(5);
    assertClose(cached.loss, plain.loss, TOL.f64, 'loss');
    const worst = worstRelative(chunked, full);
    console.log(
      `gradient caching vs full batch (float64): worst relative difference ${worst.toExponential(2)} over ${full.size} parameters`,
    );
    expect(worst).toBeLessThan(1e-10);
    // Both stages and all three heads receive gradients (first stage through d loss / d ctx).
    for (const prefix of [
      'first_stage_model.embedder.',
      'first_stage_model.mlp.',
      'second_stage_model.backbone.',
      'second_stage_model.prompt_projection.',
      'second_stage_model.output_projection.',
    ]) {
      expect(
        [...full.keys()].some((k) => k.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
    m.dispose();
  });

  it('with dropout on, replays the masks: equals plain backprop through the same chunked forward, generators end alike', async () => {
    const gen = new Generator(0);
    const m = model64(gen).train();
    const opts = { ...STEP, chunkSize: 3, contextChunkSize: 2 };
    gen.seed(77);
    const plain = contextualStep(m, BATCH, { ...opts, gradCache: false });
    const plainState = gen.getState();
    const reference = await takeGrads(m);
    gen.seed(77);
    const cached = contextualStep(m, BATCH, { ...opts, gradCache: true });
    expect(gen.getState()).toEqual(plainState);
    const got = await takeGrads(m);
    assertClose(cached.loss, plain.loss, TOL.f64, 'loss');
    expect(worstRelative(got, reference)).toBeLessThan(1e-10);
    // Dropout is really on: another seed gives another loss.
    gen.seed(78);
    const other = contextualStep(m, BATCH, { ...opts, gradCache: true });
    expect(Math.abs(other.loss - cached.loss)).toBeGreaterThan(1e-6);
    m.dispose();
  });

  it('returns the same internals (gradient norms per embedding, document cosines) with and without caching, leaking nothing', () => {
    const m = model64();
    const plain = contextualStep(m, BATCH, { ...STEP, gradCache: false, internals: true });
    m.zeroGrad();
    const live = liveStorages();
    const cached = contextualStep(m, BATCH, { ...STEP, gradCache: true, chunkSize: 3, internals: true });
    m.zeroGrad();
    expect(liveStorages()).toBe(live);
    const p = plain.internals!;
    const c = cached.internals!;
    expect([p.queryGradNorms.length, p.documentGradNorms.length, p.documentCosines.length]).toEqual([4, 8, 64]);
    for (const [name, a, b] of [
      ['query', c.queryGradNorms, p.queryGradNorms],
      ['document', c.documentGradNorms, p.documentGradNorms],
      ['cosine', c.documentCosines, p.documentCosines],
    ] as const) {
      a.forEach((x, i) => assertClose(x, b[i], TOL.f64, `${name} ${i}`));
    }
    expect(p.queryGradNorms.every((x) => x > 0)).toBe(true);
    p.documentCosines.filter((_, k) => k % 9 === 0).forEach((x) => assertClose(x, 1, TOL.f64, 'self-cosine'));
    expect(contextualStep(m, BATCH, { ...STEP, gradCache: true }).internals).toBeUndefined();
    m.dispose();
  });

  it('keeps the live-buffer count flat across cached steps', () => {
    const m = ContextualModel.fromBert(TINY, { device: 'cpu', config: { context_size: 4, prompt_length: 2 } });
    const counts: number[] = [];
    for (let s = 0; s < 3; s++) {
      contextualStep(m, BATCH, { ...STEP, contextSeed: s, chunkSize: 4 });
      m.zeroGrad();
      counts.push(liveStorages());
    }
    expect(new Set(counts).size).toBe(1);
    m.dispose();
  });
});

describe('contextual training: loss and context', () => {
  it('InfoNCE at τ = 0.02 with masked cells left out of the softmax', async () => {
    const q = fromArray([1, 0, 0.6, 0.8, 0, 1], [3, 2], { dtype: 'float64', device: 'cpu-ref' });
    const d = fromArray([1, 0, 0, 1, 0.8, 0.6, -1, 0], [4, 2], { dtype: 'float64', device: 'cpu-ref' });
    const cos = [
      [1, 0, 0.8, -1],
      [0.6, 0.8, 0.96, -0.6],
      [0, 1, 0.6, 0],
    ];
    const mask = new Uint8Array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const gold = [0, 1, 2];
    let expected = 0;
    cos.forEach((row, i) => {
      const kept = row.filter((_, j) => !mask[i * 4 + j]).map((c) => c * 50);
      const max = Math.max(...kept);
      expected += -(row[gold[i]] * 50 - max - Math.log(kept.reduce((s, x) => s + Math.exp(x - max), 0)));
    });
    const loss = contextualLoss(q, d, { queries: ['', '', ''], documents: ['', '', '', ''], gold, mask }, 0.02);
    assertClose(loss.item(), expected / 3, TOL.f64, 'masked InfoNCE');
    expect(() =>
      contextualLoss(
        q,
        d,
        { queries: ['', '', ''], documents: ['', '', '', ''], mask: new Uint8Array(12).fill(1) },
        0.02,
      ),
    ).toThrow(/removes query 0's gold/);
  });

  it('draws the context from the batch documents, down to J, seeded', () => {
    expect(batchContext(4, 8, 1)).toEqual([0, 1, 2, 3]);
    const a = batchContext(20, 8, 1);
    expect(a).toHaveLength(8);
    expect(new Set(a).size).toBe(8);
    expect(batchContext(20, 8, 1)).toEqual(a);
  });
});
