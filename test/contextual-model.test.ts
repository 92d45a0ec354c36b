// The two-stage contextual model (src/nn/contextual.ts) on the tiny fixture BERT, in float64 on
// cpu-ref: the second stage against an independent reference built from the plain BERT path (the
// context and prompt become extra vocabulary rows whose positions are zeroed, the text keeps
// positions 0..T-1), set semantics of the context, batch independence, a gradcheck into the
// context, the first stage's pooling + MLP, the directory round trip (bit-identical weights,
// outputs and re-saved bytes), one-line errors, and context sampling.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromArray, noGrad, randn, setDefaultDevice, tidy, Generator, type Tensor } from '../src/index.js';
import { BertModel } from '../src/nn/bert.js';
import { setParameterData } from '../src/nn/module.js';
import { meanPool } from '../src/nn/pooling.js';
import { ModelDirError, loadModelDir } from '../src/nn/model-dir.js';
import {
  ContextualModel,
  DEFAULT_BERT_DIR,
  isContextualDir,
  loadContext,
  sampleContext,
  saveContext,
  parseContextualConfig,
} from '../src/nn/contextual.js';
import * as ops from '../src/autograd/ops.js';
import { assertClose, TOL } from './util/close.js';
import { gradcheck } from './util/gradcheck.js';

const TINY = join(import.meta.dirname, 'fixtures', 'bert', 'tiny');
const scratch = mkdtempSync(join(tmpdir(), 'retrograd-contextual-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const F64 = { device: 'cpu-ref', dtype: 'float64' as const };
const TEXTS = ['a cat on a mat', 'hello', 'the quick brown fox jumps'];

function model64(config: Record<string, unknown> = {}): ContextualModel {
  return ContextualModel.fromBert(TINY, { ...F64, config: { context_size: 5, prompt_length: 3, ...config }, seed: 1 });
}

async function values(t: Tensor): Promise<number[]> {
  return [...(await t.data())];
}

/**
 * The second stage computed through the plain BERT path: the J+S prefix vectors become extra
 * word-embedding rows (ids V..V+P-1) at positions 0..P-1 whose position rows are zero, the text
 * follows at positions P.. holding the original rows 0..T-1.
 */
function reference(m: ContextualModel, ctx: Tensor, texts: string[]): Tensor {
  const stage = m.second_stage_model;
  const bert = stage.backbone;
  const c = bert.config;
  const prefix = noGrad(() => ops.concat([ctx, stage.prompt()], 0)); // [P, H]
  const P = prefix.shape[0];
  const ref = new BertModel(
    { ...c, vocab_size: c.vocab_size + P, max_position_embeddings: c.max_position_embeddings + P },
    { ...F64, addPoolingLayer: false },
  );
  const own = new Map(bert.namedParameters());
  for (const [name, p] of ref.namedParameters()) {
    const src = own.get(name)!.toArray();
    if (name === 'embeddings.word_embeddings.weight') setParameterData(p, [...src, ...prefix.toArray()]);
    else if (name === 'embeddings.position_embeddings.weight')
      setParameterData(p, [...new Array<number>(P * c.hidden_size).fill(0), ...src]);
    else setParameterData(p, src);
  }
  ref.eval();
  const enc = m.tokenize('second', texts, 'query', 64);
  const batch = m.secondTokenizer.padBatch(enc);
  const T = batch.seqLen;
  const B = batch.batchSize;
  const ids: number[] = [];
  const mask: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < P; k++) {
      ids.push(c.vocab_size + k);
      mask.push(1);
    }
    for (let t = 0; t < T; t++) {
      ids.push(batch.inputIds[b * T + t]);
      mask.push(batch.attentionMask[b * T + t]);
    }
  }
  const out = noGrad(() => {
    const inputIds = fromArray(ids, [B, P + T], { dtype: 'int32', device: 'cpu-ref' });
    const attentionMask = fromArray(mask, [B, P + T], { dtype: 'int32', device: 'cpu-ref' });
    const { lastHiddenState } = ref.forward({ inputIds, attentionMask });
    const textMask = fromArray(batch.attentionMask, [B, T], { dtype: 'int32', device: 'cpu-ref' });
    return stage.output_projection.forward(meanPool(lastHiddenState.narrow(1, P, T), textMask)); // [B, P+T, H] -> [B, T, H] -> [B, H]
  });
  ref.dispose();
  return out;
}

describe('contextual model: forward', () => {
  it('the second stage equals the plain BERT path with the prefix as positionless extra tokens', async () => {
    const m = model64();
    const ctx = randn([5, 32], { ...F64, generator: new Generator(2) });
    const got = noGrad(() => m.embed(TEXTS, 'query', ctx, 64));
    expect(got.shape).toEqual([3, 32]);
    assertClose(await values(got), await values(reference(m, ctx, TEXTS)), TOL.f64, 'second stage vs reference');
    m.dispose();
  });

  it('the residual option adds the pooled state (v2)', async () => {
    const plain = model64();
    const residual = model64({ output_residual: true });
    const ctx = randn([5, 32], { ...F64, generator: new Generator(2) });
    const a = noGrad(() => plain.embed(TEXTS, 'document', ctx, 64));
    const b = noGrad(() => residual.embed(TEXTS, 'document', ctx, 64));
    const pooled = noGrad(() => b.sub(a)); // same weights (same seed): the difference is the pooled state
    const batch = residual.tensors('second', residual.tokenize('second', TEXTS, 'document', 64));
    const prefixLen = 5 + 3;
    const pooledRef = noGrad(() => {
      const prefix = ops.concat([ctx, residual.second_stage_model.prompt()], 0).unsqueeze(0).expand([3, prefixLen, 32]); // [P, H] -> [1, P, H] -> [B, P, H]
      const { lastHiddenState } = residual.second_stage_model.backbone.forward({ ...batch, prefix });
      return meanPool(lastHiddenState.narrow(1, prefixLen, batch.inputIds.shape[1]), batch.attentionMask);
    });
    assertClose(await values(pooled), await values(pooledRef), TOL.f64, 'residual');
    plain.dispose();
    residual.dispose();
  });

  it('the context is a set (order does not matter) and a row does not depend on its batch', async () => {
    const m = model64();
    const ctx = randn([5, 32], { ...F64, generator: new Generator(3) });
    const perm = fromArray([3, 0, 4, 1, 2], [5], { dtype: 'int32', device: 'cpu-ref' });
    const shuffled = ops.gather(ctx, perm);
    const a = noGrad(() => m.embed(TEXTS, 'document', ctx, 64));
    const b = noGrad(() => m.embed(TEXTS, 'document', shuffled, 64));
    assertClose(await values(b), await values(a), TOL.f64, 'permuted context');
    const alone = noGrad(() => m.embed([TEXTS[1]], 'document', ctx, 64));
    assertClose(await values(alone), (await values(a)).slice(32, 64), TOL.f64, 'row alone vs in a padded batch');
    // A different context changes the embedding: the second stage does read it.
    const other = noGrad(() => m.embed(TEXTS, 'document', ctx.mul(2), 64));
    expect(Math.max(...(await values(other)).map((v, i) => Math.abs(v - a.toArray()[i])))).toBeGreaterThan(1e-6);
    m.dispose();
  });

  it('the first stage is mean pooling over the mask then Linear-GELU-Linear, documents prefixed', async () => {
    const m = model64();
    const docs = ['one document', 'and another, longer document here'];
    const ctx = noGrad(() => m.embedContext(docs, 64));
    const enc = docs.map((d) =>
      m.firstTokenizer.encode(`search_document: ${d}`, undefined, { maxLength: 64, truncation: true }),
    );
    const expected = noGrad(() => {
      const rows = enc.map((e) => {
        const ids = fromArray(e.inputIds, [1, e.inputIds.length], { dtype: 'int32', device: 'cpu-ref' });
        const h = m.first_stage_model.embedder.forward({ inputIds: ids }).lastHiddenState.mean(1); // [1, T, H] -> [1, H]
        const w = m.first_stage_model.mlp;
        return w.second.forward(ops.gelu(w.first.forward(h)));
      });
      return ops.concat(rows, 0);
    });
    assertClose(await values(ctx), await values(expected), TOL.f64, 'first stage');
    m.dispose();
  });

  it("gradcheck: the second stage's gradient into the context (float64)", () => {
    const m = model64();
    const ctx = randn([5, 32], { ...F64, generator: new Generator(4) });
    const batch = m.tensors('second', m.tokenize('second', TEXTS.slice(0, 2), 'query', 64));
    setDefaultDevice('cpu-ref'); // gradcheck makes its shifted inputs on the default device
    try {
      tidy(() => gradcheck((c) => m.second_stage_model.forward(batch, c), [ctx], { label: 'second stage d/dctx' }));
    } finally {
      setDefaultDevice('cpu');
      m.dispose();
    }
  });
});

describe('contextual model: directories', () => {
  it('starts both stages from the shipped checkpoint by default, as two separate copies', async () => {
    const m = ContextualModel.fromBert(undefined, { config: { context_size: 2 } });
    const shipped = new Map(loadModelDir(DEFAULT_BERT_DIR).model.namedParameters());
    expect(m.dimension).toBe(256);
    const first = m.first_stage_model.embedder.embeddings.word_embeddings.weight;
    const second = m.second_stage_model.backbone.embeddings.word_embeddings.weight;
    expect(first).not.toBe(second);
    expect(first.storage).not.toBe(second.storage);
    const want = await shipped.get('embeddings.word_embeddings.weight')!.data();
    expect(
      Buffer.from(((await first.data()) as Float32Array).buffer).equals(Buffer.from((want as Float32Array).buffer)),
    ).toBe(true);
    expect(
      Buffer.from(((await second.data()) as Float32Array).buffer).equals(Buffer.from((want as Float32Array).buffer)),
    ).toBe(true);
    for (const p of shipped.values()) p.dispose();
    m.dispose();
  });

  it('saves and loads back bit-identically (weights, outputs, re-saved bytes)', async () => {
    const m = ContextualModel.fromBert(TINY, { device: 'cpu', config: { context_size: 4 }, seed: 3 });
    const dir = join(scratch, 'cde');
    await m.save(dir);
    expect(isContextualDir(dir)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'first_stage', 'heads.safetensors', 'second_stage']);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'retrograd-contextual',
      context_size: 4,
      prompt_length: 8,
      query_prefix: 'search_query: ',
      document_prefix: 'search_document: ',
      pooling: 'mean',
      output_residual: false,
    });
    const back = ContextualModel.load(dir, { device: 'cpu' });
    const a = new Map(m.namedParameters());
    for (const [name, p] of back.namedParameters()) {
      expect(a.has(name), name).toBe(true);
      expect(
        Buffer.from(((await p.data()) as Float32Array).buffer).equals(
          Buffer.from(((await a.get(name)!.data()) as Float32Array).buffer),
        ),
        name,
      ).toBe(true);
    }
    expect(back.numParameters()).toBe(m.numParameters());
    const docs = ['alpha beta', 'gamma', 'delta epsilon zeta', 'eta'];
    const ctxA = m.computeContext(docs);
    const ctxB = back.computeContext(docs);
    expect(ctxB.toArray()).toEqual(ctxA.toArray());
    const ea = await m.encoder(ctxA, 'query', 32)(TEXTS);
    const eb = await back.encoder(ctxB, 'query', 32)(TEXTS);
    expect(eb.map((r) => [...r])).toEqual(ea.map((r) => [...r]));
    const again = join(scratch, 'cde-again');
    await back.save(again);
    for (const file of [
      'config.json',
      'heads.safetensors',
      'first_stage/model.safetensors',
      'second_stage/model.safetensors',
      'second_stage/vocab.txt',
    ]) {
      expect(readFileSync(join(again, file)).equals(readFileSync(join(dir, file))), file).toBe(true);
    }
    // Saving over an existing contextual directory replaces it; over anything else it refuses.
    await back.save(dir);
    await expect(back.save(TINY)).rejects.toThrow(/exists and is not a contextual model directory/);
    // A computed context round-trips through its file.
    const ctxPath = join(scratch, 'ctx.safetensors');
    await saveContext(ctxPath, ctxA);
    expect(loadContext(ctxPath, back).toArray()).toEqual(ctxA.toArray());
    for (const t of [ctxA, ctxB]) t.dispose();
    m.dispose();
    back.dispose();
  });

  it('rejects bad directories and configs with one line naming the file', () => {
    const oneLine = (fn: () => unknown, re: RegExp): void => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    };
    oneLine(
      () => ContextualModel.load(TINY),
      /tiny\/config\.json: not a contextual model directory \(model_type "bert"/,
    );
    oneLine(() => ContextualModel.load(join(scratch, 'nope')), /does not exist/);
    oneLine(
      () => ContextualModel.fromBert(TINY, { config: { context_size: 0 } }),
      /context_size must be a positive integer, got 0/,
    );
    oneLine(
      () =>
        parseContextualConfig(
          {
            model_type: 'retrograd-contextual',
            context_size: 4,
            prompt_length: 8,
            query_prefix: '',
            document_prefix: '',
            pooling: 'cls',
            output_residual: false,
          },
          'x.json',
        ),
      /x\.json: pooling "cls" is not supported/,
    );
    const broken = join(scratch, 'broken');
    const m = ContextualModel.fromBert(TINY, { device: 'cpu', config: { context_size: 2 } });
    return m.save(broken).then(() => {
      rmSync(join(broken, 'heads.safetensors'));
      oneLine(() => ContextualModel.load(broken), /heads\.safetensors: missing/);
      writeFileSync(join(broken, 'config.json'), '{');
      oneLine(() => ContextualModel.load(broken), /config\.json: invalid JSON/);
      expect(existsSync(join(broken, 'first_stage', 'model.safetensors'))).toBe(true);
      expect(() => ContextualModel.load(broken)).toThrow(ModelDirError);
      m.dispose();
    });
  });
});

describe('contextual model: context sampling', () => {
  it('samples J documents, seeded; without replacement from a large corpus, with replacement from a small one', () => {
    const corpus = Array.from({ length: 20 }, (_, i) => `d${i}`);
    const a = sampleContext(corpus, 8, 5);
    expect(a).toEqual(sampleContext(corpus, 8, 5));
    expect(new Set(a).size).toBe(8);
    expect(sampleContext(corpus, 8, 6)).not.toEqual(a);
    const small = sampleContext(['x', 'y', 'z'], 10, 1);
    expect(small).toHaveLength(10);
    expect(small.every((d) => ['x', 'y', 'z'].includes(d))).toBe(true);
    expect(() => sampleContext([], 4, 1)).toThrow(/no documents/);
    expect(() => sampleContext(corpus, 0, 1)).toThrow(/context size must be a positive integer, got 0/);
  });
});
