// Training the contextual model (src/train/contextual.ts): two-stage gradient caching against plain
// backprop in float64 on the tiny fixture BERT (dropout off: against the full batch; dropout on:
// against the same chunked forward, masks replayed), the dropout generators' state after a step,
// the loss's mask, the context sample, a flat live-buffer count, and the training loop end to end
// on the synthetic retrieval set (deterministic, saves a loadable model, evaluates).

import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, fromArray, liveStorages } from '../src/index.js';
import { ContextualModel, isContextualDir } from '../src/nn/contextual.js';
import { batchContext, contextualLoss, contextualStep, trainContextual, type ContextualBatch } from '../src/train/contextual.js';
import { assertClose, TOL } from './util/close.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const TINY = join(import.meta.dirname, 'fixtures', 'bert', 'tiny');
const scratch = mkdtempSync(join(tmpdir(), 'retrograd-contextual-train-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const BATCH: ContextualBatch = {
  queries: ['cat on mat', 'quick fox', 'hello world', 'a b c', 'lazy dog', 'the end'],
  documents: [
    'the cat sat on the mat', 'a quick brown fox jumps', 'hello to the whole world', 'a b c d e f g', 'the lazy dog sleeps all day',
    'this is the end of it', 'an unrelated document', 'mats and hats', 'foxes are quick', 'words words', 'dogs bark', 'ends and means',
  ],
};
const STEP = { queryLength: 16, docLength: 24, contextSize: 5, contextSeed: 9 };

function model64(dropoutGenerator?: Generator): ContextualModel {
  return ContextualModel.fromBert(TINY, { device: 'cpu-ref', dtype: 'float64', config: { context_size: 8, prompt_length: 3 }, seed: 2, dropoutGenerator });
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
    // Uneven chunks in every stage: 6 queries by 4, 12 documents by 4, 5 context documents by 2.
    const cached = contextualStep(m, BATCH, { ...STEP, gradCache: true, chunkSize: 4, contextChunkSize: 2 });
    const chunked = await takeGrads(m);
    expect(cached.context).toEqual(plain.context);
    expect(cached.context).toHaveLength(5);
    assertClose(cached.loss, plain.loss, TOL.f64, 'loss');
    const worst = worstRelative(chunked, full);
    console.log(`gradient caching vs full batch (float64): worst relative difference ${worst.toExponential(2)} over ${full.size} parameters`);
    expect(worst).toBeLessThan(1e-10);
    // Both stages and all three heads receive gradients (first stage through d loss / d ctx).
    for (const prefix of ['first_stage_model.embedder.', 'first_stage_model.mlp.', 'second_stage_model.backbone.', 'second_stage_model.prompt_projection.', 'second_stage_model.output_projection.']) {
      expect([...full.keys()].some((k) => k.startsWith(prefix)), prefix).toBe(true);
    }
    m.dispose();
  });

  it('with dropout on, replays the masks: equals plain backprop through the same chunked forward, generators end alike', async () => {
    const gen = new Generator(0);
    const m = model64(gen).train();
    const opts = { ...STEP, chunkSize: 4, contextChunkSize: 2 };
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
    const cos = [[1, 0, 0.8, -1], [0.6, 0.8, 0.96, -0.6], [0, 1, 0.6, 0]];
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
    expect(() => contextualLoss(q, d, { queries: ['', '', ''], documents: ['', '', '', ''], mask: new Uint8Array(12).fill(1) }, 0.02)).toThrow(/removes query 0's gold/);
  });

  it('draws the context from the batch documents, down to J, seeded', () => {
    expect(batchContext(4, 8, 1)).toEqual([0, 1, 2, 3]);
    const a = batchContext(20, 8, 1);
    expect(a).toHaveLength(8);
    expect(new Set(a).size).toBe(8);
    expect(batchContext(20, 8, 1)).toEqual(a);
  });
});

describe('contextual training: the loop', () => {
  it('trains from a BERT directory, saves a loadable contextual model, evaluates, and repeats exactly', async () => {
    const { dataDir, modelDir } = await writeSyntheticRetrieval(join(scratch, 'synthetic'));
    const run = async (out: string) => {
      const losses: number[] = [];
      const result = await trainContextual({
        model: modelDir, data: dataDir, out, batchSize: 6, queryLength: 16, docLength: 32, lr: 1e-3, gamma: 1, weightDecay: 0.01, clip: 1,
        steps: 3, seed: 4, chunkSize: 4, config: { context_size: 6, prompt_length: 2 }, evalSets: [{ name: 'test', dir: dataDir, split: 'test' }],
        device: 'cpu', onLog: (e) => { if (e.kind === 'train') losses.push(e.loss as number); },
      });
      return { result, losses };
    };
    const a = await run(join(scratch, 'run-a'));
    const b = await run(join(scratch, 'run-b'));
    expect(a.losses).toHaveLength(3);
    expect(a.losses.every(Number.isFinite)).toBe(true);
    expect(b.losses).toEqual(a.losses);
    expect(isContextualDir(a.result.modelDir)).toBe(true);
    expect(a.result.final[0].metrics['nDCG@10']).toBeGreaterThanOrEqual(0);
    expect(b.result.final[0].metrics).toEqual(a.result.final[0].metrics);
    const loaded = ContextualModel.load(a.result.modelDir);
    expect(loaded.config.context_size).toBe(6);
    loaded.dispose();
    expect(JSON.parse(readFileSync(join(scratch, 'run-a', 'metrics.json'), 'utf8')).steps).toBe(3);
  });
});
