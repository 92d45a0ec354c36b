// The cross-encoder (src/nn/cross-encoder.ts, BertForSequenceClassification in src/nn/bert.ts)
// against PyTorch: test/fixtures/cross-encoder/ is written by scripts/torch/gen_cross_encoder_fixture.py
// (a random tiny Hugging Face BertForSequenceClassification and float64 reference outputs). In the
// generator's Python:
//   logits = classifier(dropout(tanh(pooler.dense(bert(ids, mask, types)[0][:, 0]))))    # [6, 1], eval mode
//   loss = cross_entropy(stack([s[:3], s[3:]], 1), zeros(3))      # s = logits[:, 0]; rows 0-2 positives
// Also: the pair encoding `[CLS] q [SEP] d [SEP]` of the fixture's texts, the saved directory's
// Hugging Face layout and round trip, and loading rules for encoder-only checkpoints.
// Float32 within the BERT acceptance tolerances (forward 1e-5, gradients 1e-4); float64 to rounding.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator, fromArray, ops, tidy, zeros } from '../src/index.js';
import { readSafetensors, int64ToInt32, type SafetensorsTensor } from '../src/nn/safetensors.js';
import { CrossEncoder } from '../src/nn/cross-encoder.js';
import { ModelDirError } from '../src/nn/model-dir.js';
import { assertClose, type Tolerance } from './util/close.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'cross-encoder');
const TINY = join(FIXTURES, 'tiny');
const BERT_TINY = join(import.meta.dirname, 'fixtures', 'bert', 'tiny');
/** The acceptance tolerances of issue 3 (test/bert.test.ts): forward 1e-5, gradients 1e-4. */
const FORWARD_F32: Tolerance = { atol: 1e-5, rtol: 1e-5 };
const GRAD_F32: Tolerance = { atol: 1e-4, rtol: 1e-4 };
/** float64 against float64 through a 2-layer network: summation-order noise only. */
const F64: Tolerance = { atol: 1e-10, rtol: 1e-8 };

const work = mkdtempSync(join(tmpdir(), 'retrograd-ce-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const file = readSafetensors(join(FIXTURES, 'tiny.reference.safetensors'));
const ref: Map<string, SafetensorsTensor> = file.tensors;
const texts = JSON.parse(file.metadata.texts) as {
  queries: string[];
  positives: string[];
  negatives: string[];
  max_length: number;
};

function refData(key: string): Float64Array {
  const t = ref.get(key);
  if (!t || !(t.data instanceof Float64Array)) throw new Error(`reference has no float64 ${key}`);
  return t.data;
}

function refInts(key: string): Int32Array {
  const t = ref.get(key)!;
  return int64ToInt32(t.data as BigInt64Array, key);
}

describe('cross-encoder pair encoding', () => {
  it("gives the fixture's [CLS] q [SEP] d [SEP] ids, token types and mask (documents truncated)", () => {
    const ce = CrossEncoder.load(TINY, { device: 'cpu-ref' });
    const queries = [...texts.queries, ...texts.queries];
    const docs = [...texts.positives, ...texts.negatives];
    const batch = ce.tokenizer.padBatch(ce.encodePairs(queries, docs, texts.max_length));
    expect([batch.batchSize, batch.seqLen]).toEqual(ref.get('input_ids')!.shape);
    expect([...batch.inputIds]).toEqual([...refInts('input_ids')]);
    expect([...batch.tokenTypeIds]).toEqual([...refInts('token_type_ids')]);
    expect([...batch.attentionMask]).toEqual([...refInts('attention_mask')]);
    ce.dispose();
  });
});

describe.each(['float32', 'float64'] as const)('cross-encoder parity with PyTorch (%s, cpu-ref)', (dtype) => {
  const fwd = dtype === 'float32' ? FORWARD_F32 : F64;
  const grd = dtype === 'float32' ? GRAD_F32 : F64;

  it('logits, pairwise loss and the gradient of every parameter', () => {
    const ce = CrossEncoder.load(TINY, { device: 'cpu-ref', dtype });
    expect(ce.report!.fresh).toEqual([]);
    const shape = ref.get('input_ids')!.shape;
    const opts = { dtype: 'int32' as const, device: 'cpu-ref' };
    tidy(() => {
      const { logits } = ce.model.forward({
        inputIds: fromArray(refInts('input_ids'), shape, opts),
        attentionMask: fromArray(refInts('attention_mask'), shape, opts),
        tokenTypeIds: fromArray(refInts('token_type_ids'), shape, opts),
      });
      expect(logits.shape).toEqual([6, 1]);
      expect(logits.dtype).toBe(dtype);
      assertClose(logits.toArray(), refData('logits'), fwd, 'logits');
      const s = logits.reshape([6]);
      const pairs = ops.stack([s.narrow(0, 0, 3), s.narrow(0, 3, 3)], 1); // [3, 2]
      const loss = ops.crossEntropy(pairs, zeros([3], { dtype: 'int32', device: 'cpu-ref' }));
      assertClose(loss.item(), refData('loss'), fwd, 'loss');
      loss.backward();
    });
    const names = [...ce.model.namedParameters()].map(([n]) => n);
    const gradKeys = [...ref.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice('grad.'.length));
    expect(names.sort()).toEqual(gradKeys.sort());
    for (const [name, p] of ce.model.namedParameters()) {
      expect(p.grad, `gradient of ${name}`).not.toBeNull();
      assertClose(p.grad!.toArray(), refData(`grad.${name}`), grd, `grad ${name}`);
    }
    ce.dispose();
  });
});

describe('cross-encoder directories', () => {
  it("the no-grad scorer gives the forward pass's logits, in input order, independent of batching", async () => {
    const ce = CrossEncoder.load(TINY, { device: 'cpu' });
    const queries = [...texts.queries, ...texts.queries];
    const docs = [...texts.positives, ...texts.negatives];
    const one = await ce.scorer(texts.max_length, 1)(queries, docs);
    const all = await ce.scorer(texts.max_length, 6)(queries, docs);
    assertClose(one, refData('logits'), FORWARD_F32, 'scorer, batch 1');
    assertClose(all, refData('logits'), FORWARD_F32, 'scorer, batch 6');
    expect(ce.model.training).toBe(false);
    ce.dispose();
  });

  it('saves Hugging Face BertForSequenceClassification layout and loads it back bit-identically', async () => {
    const ce = CrossEncoder.load(TINY, { device: 'cpu-ref' });
    const dir = join(work, 'saved');
    await ce.save(dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.architectures).toEqual(['BertForSequenceClassification']);
    expect(config.id2label).toEqual({ 0: 'LABEL_0' });
    expect(config.label2id).toEqual({ LABEL_0: 0 });
    const keys = (path: string): string[] => [...readSafetensors(path).tensors.keys()].sort();
    expect(keys(join(dir, 'model.safetensors'))).toEqual(keys(join(TINY, 'model.safetensors')));
    const again = CrossEncoder.load(dir, { device: 'cpu-ref' });
    const pairs = [texts.queries, texts.positives] as const;
    const [a, b] = await Promise.all([ce, again].map((m) => m.scorer(texts.max_length)(...pairs)));
    expect([...b]).toEqual([...a]);
    ce.dispose();
    again.dispose();
  });

  it('an encoder-only checkpoint needs newHead, which initialises pooler and classifier from the seed', async () => {
    expect(() => CrossEncoder.load(BERT_TINY, { device: 'cpu-ref' })).toThrow(ModelDirError);
    expect(() => CrossEncoder.load(BERT_TINY, { device: 'cpu-ref' })).toThrow(
      /model\.safetensors: missing classifier\.weight/,
    );
    const make = (seed: number): CrossEncoder =>
      CrossEncoder.load(BERT_TINY, { device: 'cpu-ref', newHead: true, generator: new Generator(seed) });
    const [a, b, c] = [make(4), make(4), make(5)];
    // The bert tiny fixture has a pooler of its own: only the classifier is new.
    expect(a.report!.fresh).toEqual(['classifier.weight', 'classifier.bias']);
    const w = (ce: CrossEncoder): number[] => [...ce.model.classifier.weight.toArray()];
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    expect(Math.max(...w(a).map(Math.abs))).toBeLessThan(0.2); // normal(0, initializer_range 0.02)
    expect([...a.model.classifier.bias!.toArray()]).toEqual([0]);
    for (const ce of [a, b, c]) ce.dispose();
  });

  it('rejects a classifier with more than one label, naming the file', () => {
    const dir = join(work, 'two-labels');
    cpSync(TINY, dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, id2label: { 0: 'NO', 1: 'YES' } }));
    expect(() => CrossEncoder.load(dir)).toThrow(
      /two-labels\/config\.json: a cross-encoder scores with one label, the config has 2/,
    );
  });
});
