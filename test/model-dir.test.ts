// Model directories (src/nn/model-dir.ts, src/nn/pooling.ts): the checkpoint-key variants mapped in
// resolveKey, the missing/unexpected report, config.json validation, the saved layout (re-read with
// our safetensors reader, header checked field by field, tensors equal to what was loaded), and the
// sentence-transformers pooling files. The PyTorch side of the round trip (a directory saved here,
// loaded by scripts/torch/gen_bert_fixture.py --check) is scripts/torch/roundtrip.ts.

import { afterAll, describe, expect, it } from 'vitest';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromArray, noGrad, tidy } from '../src/index.js';
import {
  f16BitsToF32,
  f32ToF16Bits,
  readSafetensors,
  writeSafetensors,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
} from '../src/nn/safetensors.js';
import { BertTokenizer } from '../src/nn/tokenizer.js';
import { BertForMaskedLM, BertModel } from '../src/nn/bert.js';
import {
  ModelDirError,
  loadCheckpoint,
  loadModelDir,
  parseBertConfig,
  resolveKey,
  saveModelDir,
  weightsDigest,
} from '../src/nn/model-dir.js';
import {
  poolingModeFromSentenceTransformers,
  poolingToSentenceTransformers,
  readPoolingConfig,
} from '../src/nn/pooling.js';
import { assertClose } from './util/close.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'bert');
const TINY = join(FIXTURES, 'tiny');
const TINY_RELU = join(FIXTURES, 'tiny-relu');
const scratch = mkdtempSync(join(tmpdir(), 'retrograd-model-dir-'));
function zip<A, B>(a: Iterable<A>, b: Iterable<B>): [A, B][] {
  const bs = [...b];
  return [...a].map((x, i) => [x, bs[i]]);
}
let counter = 0;

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function freshDir(): string {
  return join(scratch, `d${counter++}`);
}

function fixtureTensors(dir: string): Map<string, SafetensorsTensor> {
  return readSafetensors(join(dir, 'model.safetensors')).tensors;
}

/** A copy of a fixture directory whose weights are `tensors` (keys and data as given). */
function variantDir(from: string, tensors: Map<string, SafetensorsTensorInput>): string {
  const dir = freshDir();
  mkdirSync(dir);
  for (const f of ['config.json', 'vocab.txt', 'tokenizer_config.json']) copyFileSync(join(from, f), join(dir, f));
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}

function renamed(
  tensors: Map<string, SafetensorsTensor>,
  fn: (key: string) => string | null,
): Map<string, SafetensorsTensorInput> {
  const out = new Map<string, SafetensorsTensorInput>();
  for (const [k, t] of tensors) {
    const to = fn(k);
    if (to !== null) out.set(to, t);
  }
  return out;
}

/** Hidden states of a model on a fixed padded batch (float64 host array). */
function hidden(model: BertModel): Float64Array {
  return noGrad(() =>
    tidy(() => {
      const ids = fromArray([2, 40, 41, 42, 3, 2, 50, 3, 0, 0], [2, 5], { dtype: 'int32', device: model.device });
      const mask = fromArray([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], [2, 5], { dtype: 'int32', device: model.device });
      return Float64Array.from(model.forward({ inputIds: ids, attentionMask: mask }).lastHiddenState.toArray());
    }),
  );
}

const expectedTiny = (() => {
  const loaded = loadModelDir(TINY);
  const h = hidden(loaded.model);
  loaded.model.dispose();
  return h;
})();

describe('loading: key variants are mapped in one place', () => {
  it('resolveKey covers prefixes, legacy names, buffers, heads and tied copies', () => {
    expect(resolveKey('bert.embeddings.LayerNorm.gamma', false)).toEqual({ param: 'embeddings.LayerNorm.weight' });
    expect(resolveKey('encoder.layer.0.output.LayerNorm.beta', true)).toEqual({
      param: 'bert.encoder.layer.0.output.LayerNorm.bias',
    });
    expect(resolveKey('embeddings.position_ids', false)).toHaveProperty('ignore');
    expect(resolveKey('bert.embeddings.position_ids', true)).toHaveProperty('ignore');
    expect(resolveKey('cls.seq_relationship.weight', true)).toHaveProperty('ignore');
    expect(resolveKey('cls.predictions.bias', false)).toHaveProperty('ignore');
    expect(resolveKey('cls.predictions.bias', true)).toEqual({ param: 'cls.predictions.bias' });
    expect(resolveKey('cls.predictions.decoder.weight', true)).toEqual({
      tiedTo: 'bert.embeddings.word_embeddings.weight',
    });
    expect(resolveKey('cls.predictions.decoder.bias', true)).toEqual({ tiedTo: 'cls.predictions.bias' });
  });

  it('the HF MLM checkpoint (bert. prefix + cls.*) loads into BertModel with the head reported as ignored', () => {
    const loaded = loadModelDir(TINY);
    expect(loaded.mlm).toBeNull();
    expect(loaded.report.missing).toEqual([]);
    expect(loaded.report.unexpected).toEqual([]);
    expect(loaded.report.ignored.map((i) => i.key).sort()).toEqual([
      'cls.predictions.bias',
      'cls.predictions.transform.LayerNorm.bias',
      'cls.predictions.transform.LayerNorm.weight',
      'cls.predictions.transform.dense.bias',
      'cls.predictions.transform.dense.weight',
    ]);
    expect(loaded.report.renamed).toContainEqual({ from: 'bert.pooler.dense.weight', to: 'pooler.dense.weight' });
    expect(loaded.tokenizer?.vocabSize).toBe(512);
    loaded.model.dispose();
  });

  it('legacy gamma/beta, bare keys into an MLM model, buffers, NSP head and tied decoder copies give the same model', () => {
    const base = fixtureTensors(TINY);
    const variants = renamed(base, (k) =>
      k
        .replace(/^bert\./, '')
        .replace(/LayerNorm\.weight$/, 'LayerNorm.gamma')
        .replace(/LayerNorm\.bias$/, 'LayerNorm.beta'),
    );
    variants.set('embeddings.position_ids', {
      dtype: 'I64',
      shape: [1, 64],
      data: BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i)),
    });
    variants.set('cls.seq_relationship.weight', { dtype: 'F32', shape: [2, 32], data: new Float32Array(64) });
    variants.set('cls.predictions.decoder.weight', base.get('bert.embeddings.word_embeddings.weight')!);
    variants.set('cls.predictions.decoder.bias', base.get('cls.predictions.bias')!);
    const dir = variantDir(TINY, variants);
    const loaded = loadModelDir(dir, { head: 'mlm' });
    expect(loaded.mlm).toBeInstanceOf(BertForMaskedLM);
    expect(loaded.report.missing).toEqual([]);
    expect(loaded.report.unexpected).toEqual([]);
    const ignored = loaded.report.ignored.map((i) => i.key).sort();
    expect(ignored).toEqual([
      'cls.predictions.decoder.bias',
      'cls.predictions.decoder.weight',
      'cls.seq_relationship.weight',
      'embeddings.position_ids',
    ]);
    expect(loaded.report.renamed).toContainEqual({
      from: 'embeddings.LayerNorm.gamma',
      to: 'bert.embeddings.LayerNorm.weight',
    });
    assertClose(hidden(loaded.model), expectedTiny, { atol: 0, rtol: 0 }, 'same hidden states');
    loaded.mlm!.dispose();
  });

  it('F16 and BF16 checkpoints load (decoded to float32)', () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      const half = renamed(fixtureTensors(TINY), (k) => k);
      for (const [k, t] of half) half.set(k, { ...t, dtype });
      const loaded = loadModelDir(variantDir(TINY, half));
      // half precision keeps ~3 significant digits of each weight
      assertClose(hidden(loaded.model), expectedTiny, { atol: 0.05, rtol: 0.05 }, `${dtype} hidden states`);
      loaded.model.dispose();
    }
  });

  it('saves F16 weights that load back as the rounded values', async () => {
    const model = loadModelDir(TINY).model;
    const dir = join(freshDir(), 'f16');
    await saveModelDir(dir, model, { weightsDtype: 'F16' });
    const file = readSafetensors(join(dir, 'model.safetensors'));
    expect([...file.tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);
    const back = loadModelDir(dir, { requireTokenizer: false }).model;
    for (const [[name, p], [, q]] of zip(model.namedParameters(), back.namedParameters())) {
      const want = f16BitsToF32(f32ToF16Bits(Float32Array.from(p.toArray())));
      assertClose(q.toArray(), want, { atol: 0, rtol: 0 }, name);
    }
    model.dispose();
    back.dispose();
  });

  it('an untied decoder copy is an error', () => {
    const base = fixtureTensors(TINY);
    const variants = renamed(base, (k) => k);
    const other = Float32Array.from(base.get('bert.embeddings.word_embeddings.weight')!.data as Float32Array);
    other[5] += 1;
    variants.set('cls.predictions.decoder.weight', { dtype: 'F32', shape: [512, 32], data: other });
    expect(() => loadModelDir(variantDir(TINY, variants), { head: 'mlm' })).toThrow(
      /untied MLM decoders are not supported/,
    );
  });

  it('missing pooler: auto builds none; asking for one reports it missing unless allowed', () => {
    const noPooler = renamed(fixtureTensors(TINY), (k) => (k.includes('pooler') ? null : k));
    const dir = variantDir(TINY, noPooler);
    const auto = loadModelDir(dir);
    expect(auto.model.pooler).toBeNull();
    auto.model.dispose();
    expect(() => loadModelDir(dir, { pooler: true })).toThrow(
      /2 missing parameter\(s\): pooler\.dense\.weight, pooler\.dense\.bias/,
    );
    const allowed = loadModelDir(dir, { pooler: true, allowMissing: ['pooler.dense.weight', 'pooler.dense.bias'] });
    expect(allowed.report.missing).toEqual(['pooler.dense.weight', 'pooler.dense.bias']);
    allowed.model.dispose();
  });

  it('unexpected keys, duplicate mappings and shape mismatches are errors naming the key', () => {
    const extra = renamed(fixtureTensors(TINY), (k) => k);
    extra.set('encoder.layer.9.output.dense.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
    const dir = variantDir(TINY, extra);
    expect(() => loadModelDir(dir)).toThrow(/1 unexpected key\(s\): encoder\.layer\.9\.output\.dense\.weight/);
    const ok = loadModelDir(dir, { allowUnexpected: true });
    expect(ok.report.unexpected).toEqual(['encoder.layer.9.output.dense.weight']);
    ok.model.dispose();

    const dup = renamed(fixtureTensors(TINY), (k) => k);
    dup.set('embeddings.LayerNorm.weight', dup.get('bert.embeddings.LayerNorm.weight')!);
    expect(() => loadModelDir(variantDir(TINY, dup))).toThrow(/both .* map to embeddings\.LayerNorm\.weight/);

    const wrong = renamed(fixtureTensors(TINY), (k) => k);
    wrong.set('bert.pooler.dense.bias', { dtype: 'F32', shape: [31], data: new Float32Array(31) });
    expect(() => loadModelDir(variantDir(TINY, wrong))).toThrow(
      /bert\.pooler\.dense\.bias has shape \[31\], the model's pooler\.dense\.bias is \[32\]/,
    );
  });

  it('loadCheckpoint fills a module built by hand, on the requested dtype', () => {
    const config = loadModelDir(TINY_RELU).config;
    const model = new BertModel(config, { addPoolingLayer: false, dtype: 'float64', device: 'cpu-ref' });
    const report = loadCheckpoint(model, fixtureTensors(TINY_RELU), { source: 'tiny-relu' });
    expect(report.loaded.length).toBe([...model.namedParameters()].length);
    const w = fixtureTensors(TINY_RELU).get('encoder.layer.1.intermediate.dense.weight')!.data as Float32Array;
    const p = [...model.namedParameters()].find(([n]) => n === 'encoder.layer.1.intermediate.dense.weight')![1];
    expect(p.dtype).toBe('float64');
    assertClose(p.toArray(), w, { atol: 0, rtol: 0 }, 'loaded values');
    model.dispose();
  });
});

describe('sharded weights (model.safetensors.index.json)', () => {
  /** TINY's weights split into two shards named by an index, beside TINY's other files. */
  function shardedDir(): string {
    const dir = freshDir();
    mkdirSync(dir);
    for (const f of ['config.json', 'vocab.txt', 'tokenizer_config.json']) copyFileSync(join(TINY, f), join(dir, f));
    const entries = [...fixtureTensors(TINY)];
    const half = Math.ceil(entries.length / 2);
    const weightMap: Record<string, string> = {};
    for (const [name, part] of [
      ['model-00001-of-00002.safetensors', entries.slice(0, half)],
      ['model-00002-of-00002.safetensors', entries.slice(half)],
    ] as const) {
      writeSafetensors(join(dir, name), new Map(part), { format: 'pt' });
      for (const [key] of part) weightMap[key] = name;
    }
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    return dir;
  }

  it('load as the single file does, and their digest covers index and shards', () => {
    const dir = shardedDir();
    const loaded = loadModelDir(dir);
    assertClose(hidden(loaded.model), expectedTiny, { atol: 0, rtol: 0 });
    loaded.model.dispose();

    const digest = weightsDigest(dir);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(weightsDigest(dir)).toBe(digest);
    expect(digest).not.toBe(weightsDigest(TINY));
    const shard = join(dir, 'model-00002-of-00002.safetensors');
    const bytes = readFileSync(shard);
    bytes[bytes.length - 1] ^= 1; // the last byte of the last tensor's data
    writeFileSync(shard, bytes);
    expect(weightsDigest(dir)).not.toBe(digest);
  });

  it('a bad index is one clear line, for loading and digest alike', () => {
    const badName = shardedDir();
    const index = join(badName, 'model.safetensors.index.json');
    writeFileSync(index, JSON.stringify({ weight_map: { 'embeddings.word_embeddings.weight': '../x.safetensors' } }));
    for (const f of [() => loadModelDir(badName), () => weightsDigest(badName)])
      expect(f).toThrow(/model\.safetensors\.index\.json: bad shard name "\.\.\/x\.safetensors"/);
    writeFileSync(index, JSON.stringify({ metadata: {} }));
    for (const f of [() => loadModelDir(badName), () => weightsDigest(badName)])
      expect(f).toThrow(/model\.safetensors\.index\.json: no weight_map object/);
    const twice = shardedDir();
    copyFileSync(join(twice, 'model-00001-of-00002.safetensors'), join(twice, 'model-00002-of-00002.safetensors'));
    expect(() => loadModelDir(twice)).toThrow(/index\.json: key .* appears in more than one shard/);
    expect(() => weightsDigest(join(scratch, 'nope'))).toThrow(/model\.safetensors: missing/);
  });
});

describe('directory errors are one clear line', () => {
  const withConfig = (config: unknown, raw = false): string => {
    const dir = variantDir(
      TINY,
      renamed(fixtureTensors(TINY), (k) => k),
    );
    writeFileSync(join(dir, 'config.json'), raw ? String(config) : JSON.stringify(config));
    return dir;
  };
  const good = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;

  it('missing directory, config, weights or vocab', () => {
    expect(() => loadModelDir(join(scratch, 'nope'))).toThrow(/model directory .*nope does not exist/);
    const empty = freshDir();
    mkdirSync(empty);
    expect(() => loadModelDir(empty)).toThrow(/config\.json: missing/);
    writeFileSync(join(empty, 'config.json'), JSON.stringify(good));
    expect(() => loadModelDir(empty)).toThrow(/model\.safetensors: missing/);
    writeFileSync(join(empty, 'pytorch_model.bin'), 'pickle');
    expect(() => loadModelDir(empty)).toThrow(/only pytorch_model\.bin found/);
    const noVocab = variantDir(
      TINY,
      renamed(fixtureTensors(TINY), (k) => k),
    );
    rmSync(join(noVocab, 'vocab.txt'));
    expect(() => loadModelDir(noVocab)).toThrow(/vocab\.txt: missing/);
    const loaded = loadModelDir(noVocab, { requireTokenizer: false });
    expect(loaded.tokenizer).toBeNull();
    loaded.model.dispose();
  });

  it('bad config.json fields', () => {
    const cases: [unknown, RegExp][] = [
      ['{"vocab_size": 5,', /config\.json: invalid JSON/],
      [[1, 2], /expected a JSON object/],
      [{ ...good, hidden_size: undefined }, /missing required field hidden_size/],
      [{ ...good, hidden_size: '32' }, /hidden_size must be a positive integer, got "32"/],
      [{ ...good, num_attention_heads: 5 }, /hidden_size 32 is not a multiple of num_attention_heads 5/],
      [{ ...good, hidden_act: 'swish' }, /hidden_act "swish" is not supported/],
      [{ ...good, model_type: 'roberta' }, /model_type 'roberta' is not supported/],
      [{ ...good, position_embedding_type: 'relative_key' }, /position_embedding_type 'relative_key' is not supported/],
      [{ ...good, layer_norm_eps: -1 }, /layer_norm_eps must be a positive number/],
      [{ ...good, hidden_dropout_prob: 1.5 }, /hidden_dropout_prob must be a number in \[0, 1\)/],
      [{ ...good, pad_token_id: 512 }, /pad_token_id 512 is not null or an id in \[0, 512\)/],
    ];
    for (const [config, message] of cases) {
      const dir = withConfig(config, typeof config === 'string');
      expect(() => loadModelDir(dir), JSON.stringify(config)).toThrow(ModelDirError);
      expect(() => loadModelDir(dir), JSON.stringify(config)).toThrow(message);
    }
  });

  it('vocab size different from the embedding rows', () => {
    const dir = withConfig(good);
    writeFileSync(
      join(dir, 'vocab.txt'),
      readFileSync(join(TINY, 'vocab.txt'), 'utf8').split('\n').slice(0, 300).join('\n'),
    );
    expect(() => loadModelDir(dir)).toThrow(/vocab\.txt: 300 tokens, but the model has 512 word embeddings/);
    const bigger = withConfig({ ...good, vocab_size: 600 });
    expect(() => loadModelDir(bigger)).toThrow(/512 tokens, but the model has 600 word embeddings/);
  });

  it('parseBertConfig fills Hugging Face defaults for optional fields', () => {
    const c = parseBertConfig(
      { vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 },
      'x',
    );
    expect(c).toMatchObject({
      hidden_act: 'gelu',
      layer_norm_eps: 1e-12,
      max_position_embeddings: 512,
      type_vocab_size: 2,
      pad_token_id: 0,
    });
    expect(parseBertConfig({ ...c, pad_token_id: null }, 'x').pad_token_id).toBeNull();
  });
});

describe('saving', () => {
  /** Parse the safetensors header by hand: the format's rules, independent of our reader. */
  function header(path: string): {
    json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    n: number;
    size: number;
  } {
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    return { json: JSON.parse(text), n, size: bytes.length };
  }

  it('writes config, F32 safetensors with HF keys, vocab and tokenizer config; re-read tensors are identical', async () => {
    const loaded = loadModelDir(TINY, { head: 'mlm' });
    const dir = freshDir();
    await saveModelDir(dir, loaded.mlm!, { tokenizer: loaded.tokenizer!, pooling: { mode: 'mean', normalize: true } });
    expect(readdirSync(dir).sort()).toEqual([
      '1_Pooling',
      '2_Normalize',
      'config.json',
      'model.safetensors',
      'modules.json',
      'tokenizer_config.json',
      'vocab.txt',
    ]);
    expect(readdirSync(scratch).some((f) => f.includes('.tmp-'))).toBe(false);

    const { json, n, size } = header(join(dir, 'model.safetensors'));
    expect(n % 8).toBe(0);
    const meta = json.__metadata__ as unknown as Record<string, string>;
    expect(meta).toEqual({ format: 'pt' });
    const entries = Object.entries(json).filter(([k]) => k !== '__metadata__');
    let end = 0;
    for (const [key, e] of entries.sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])) {
      expect(e.dtype, key).toBe('F32');
      expect(e.data_offsets[0], key).toBe(end);
      expect(e.data_offsets[1] - e.data_offsets[0], key).toBe(4 * e.shape.reduce((a, b) => a * b, 1));
      end = e.data_offsets[1];
    }
    expect(8 + n + end).toBe(size);

    const original = fixtureTensors(TINY);
    const saved = readSafetensors(join(dir, 'model.safetensors')).tensors;
    expect([...saved.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [key, t] of original) {
      expect(saved.get(key)!.shape).toEqual(t.shape);
      assertClose(saved.get(key)!.data as Float32Array, t.data as Float32Array, { atol: 0, rtol: 0 }, key);
    }

    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['BertForMaskedLM'],
      model_type: 'bert',
      hidden_size: 32,
      layer_norm_eps: 1e-12,
      hidden_act: 'gelu',
    });
    expect(readFileSync(join(dir, 'vocab.txt'), 'utf8')).toBe(readFileSync(join(TINY, 'vocab.txt'), 'utf8'));
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'))).toMatchObject({
      do_lower_case: true,
      tokenizer_class: 'BertTokenizer',
    });
    expect(readPoolingConfig(dir)).toEqual({ mode: 'mean', normalize: true });

    const again = loadModelDir(dir);
    expect(again.pooling).toEqual({ mode: 'mean', normalize: true });
    assertClose(hidden(again.model), expectedTiny, { atol: 0, rtol: 0 }, 'reloaded hidden states');
    again.model.dispose();
    loaded.mlm!.dispose();
  });

  it('a BertModel saves bare keys; saving into an existing directory replaces our files and keeps others', async () => {
    const loaded = loadModelDir(TINY_RELU);
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, 'README.md'), 'mine');
    writeFileSync(join(dir, 'config.json'), '{"stale": true}');
    await saveModelDir(dir, loaded.model, { tokenizer: loaded.tokenizer! });
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('mine');
    expect(readdirSync(dir).some((f) => f.includes('.tmp-'))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).architectures).toEqual(['BertModel']);
    const keys = [...readSafetensors(join(dir, 'model.safetensors')).tensors.keys()];
    expect(keys.every((k) => !k.startsWith('bert.'))).toBe(true);
    expect(keys).toContain('embeddings.word_embeddings.weight');
    loaded.model.dispose();
  });

  it('a failing save writes nothing', async () => {
    const loaded = loadModelDir(TINY_RELU);
    const small = new BertTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    const dir = freshDir();
    await expect(saveModelDir(dir, loaded.model, { tokenizer: small })).rejects.toThrow(
      /tokenizer has 5 tokens, but the model has 512/,
    );
    expect(existsSync(dir)).toBe(false);
    loaded.model.dispose();
  });
});

describe('sentence-transformers pooling config', () => {
  it('reads and writes 1_Pooling/config.json', () => {
    expect(poolingModeFromSentenceTransformers(poolingToSentenceTransformers('cls', 8), 'x')).toBe('cls');
    expect(poolingModeFromSentenceTransformers(poolingToSentenceTransformers('mean', 8), 'x')).toBe('mean');
    expect(poolingToSentenceTransformers('mean', 384)).toMatchObject({
      word_embedding_dimension: 384,
      pooling_mode_mean_tokens: true,
      pooling_mode_cls_token: false,
    });
    expect(() => poolingModeFromSentenceTransformers({ pooling_mode_max_tokens: true }, 'p.json')).toThrow(
      /p\.json: pooling_mode_max_tokens is not supported/,
    );
    expect(() =>
      poolingModeFromSentenceTransformers({ pooling_mode_cls_token: true, pooling_mode_mean_tokens: true }, 'p.json'),
    ).toThrow(/exactly one pooling mode/);
  });

  it('reads a directory as sentence-transformers lays it out, and nothing when there is no record', () => {
    const dir = freshDir();
    mkdirSync(join(dir, '1_Pooling'), { recursive: true });
    expect(readPoolingConfig(dir)).toBeNull();
    writeFileSync(join(dir, '1_Pooling', 'config.json'), JSON.stringify(poolingToSentenceTransformers('cls', 8)));
    expect(readPoolingConfig(dir)).toEqual({ mode: 'cls', normalize: false });
    writeFileSync(
      join(dir, 'modules.json'),
      JSON.stringify([
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
      ]),
    );
    expect(readPoolingConfig(dir)).toEqual({ mode: 'cls', normalize: true });
  });
});
