// Seeded fuzz of the real loaders on a real checkpoint: test/fixtures/bert/tiny (written by Hugging
// Face transformers) and a checkpoint written by saveCheckpoint (model + AdamW moments). Thousands of
// mutations of their safetensors files (bit flips, truncation, a wrong header length, trailing bytes,
// edits of the JSON header: numbers, dtypes, shapes, offsets, names) go through readSafetensors from
// disk and (every 5th, a model build being the slow part) through loadModelDir. Every outcome must be a clean error — a
// SafetensorsError or ModelDirError whose one line names the file or directory — or a valid file:
// tensors whose data agree with their shapes, and a model that loads.
// Run: npx vitest run test/safetensors-fuzz.test.ts

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator } from '../src/index.js';
import { BertModel } from '../src/nn/bert.js';
import { loadModelDir, ModelDirError } from '../src/nn/model-dir.js';
import { readSafetensors, SafetensorsError } from '../src/nn/safetensors.js';
import { AdamW } from '../src/train/optim.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { CHECKPOINT_CONFIG } from './util/checkpoint-model.js';
import { rng } from './util/random.js';

const work = mkdtempSync(join(tmpdir(), 'retrograd-safetensors-fuzz-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const FIXTURE = join(import.meta.dirname, 'fixtures', 'bert', 'tiny');

/** Mutations of a safetensors file, drawn from a seeded stream; most of them hit the header. */
function mutator(file: Uint8Array, seed: number): () => Uint8Array {
  const base = new Uint8Array(file); // a copy: Buffer.slice would share memory, and mutations would pile up
  const rand = rng(seed);
  const pick = (n: number): number => Math.floor(rand() * n);
  const headerLen = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const headerText = Buffer.from(base.subarray(8, 8 + headerLen)).toString('utf8');
  const data = base.subarray(8 + headerLen);
  const jsonEdits: [RegExp, () => string][] = [
    [/\d+/, () => String(pick(1 << pick(24)))],
    [/\d+/, () => String(-pick(5))],
    [/\d+/, () => ['1.5', '1e400', '9007199254740993', '0x10', ''][pick(5)]!],
    [
      /"(F32|F16|BF16|I64)"/,
      () => ['"F64"', '"F16"', '"BF16"', '"I64"', '"BOOL"', '"U8"', '"XX"', '3', 'null'][pick(9)]!,
    ],
    [/\[[\d, ]*\]/, () => ['[]', '[0]', '[1,2,3]', '"x"', '{}', '[0,0]', '[-1]', '[99999999999999999999]'][pick(8)]!],
    [/"(shape|dtype|data_offsets|__metadata__|format)"/, () => '"other"'],
    [/[{}[\],:"]/, () => ['', ' ', '"', '\\'][pick(4)]!],
    [
      /"[a-z._0-9]+\.(weight|bias)"/,
      () =>
        ['"bert.embeddings.word_embeddings.weight"', '"x.weight"', '"__metadata__"', '"pooler.dense.weight"'][pick(4)]!,
    ],
  ];
  const withHeader = (text: string, pad: boolean): Uint8Array => {
    const padded = pad ? text + ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8) : text;
    const header = Buffer.from(padded, 'utf8');
    const out = new Uint8Array(8 + header.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
    out.set(header, 8);
    out.set(data, 8 + header.length);
    return out;
  };
  return () => {
    const kind = pick(8);
    const bytes = base.slice();
    if (kind === 0) {
      // bit flips in the length prefix and header
      for (let i = 1 + pick(4); i > 0; i--) bytes[pick(8 + headerLen)] ^= 1 << pick(8);
      return bytes;
    }
    if (kind === 1) {
      // bit flips anywhere
      for (let i = 1 + pick(4); i > 0; i--) bytes[pick(bytes.length)] ^= 1 << pick(8);
      return bytes;
    }
    if (kind === 2) return bytes.slice(0, pick(2) === 0 ? pick(8 + headerLen + 16) : pick(bytes.length));
    if (kind === 3) {
      const choices = [
        BigInt(pick(2 * headerLen)),
        BigInt(headerLen + pick(16) - 8),
        1n << BigInt(pick(64)),
        0n,
        BigInt(bytes.length),
      ];
      new DataView(bytes.buffer).setBigUint64(0, choices[pick(choices.length)]!, true);
      return bytes;
    }
    if (kind === 4) {
      const out = new Uint8Array(bytes.length + 1 + pick(16));
      out.set(bytes);
      out.set(
        new Uint8Array(out.length - bytes.length).map(() => pick(256)),
        bytes.length,
      );
      return out;
    }
    let text = headerText;
    for (let i = 1 + pick(3); i > 0; i--) {
      const [pattern, replacement] = jsonEdits[pick(jsonEdits.length)]!;
      const matches = [...text.matchAll(new RegExp(pattern.source, 'g'))];
      if (matches.length === 0) continue;
      const m = matches[pick(matches.length)]!;
      text = text.slice(0, m.index) + replacement() + text.slice(m.index! + m[0].length);
    }
    return withHeader(text, pick(2) === 0);
  };
}

/** A clean error: our error type, one line, naming `where`. */
function expectClean(err: unknown, where: string, what: string): void {
  if (!(err instanceof SafetensorsError || err instanceof ModelDirError))
    throw new Error(`${what}: threw ${String(err)} instead of a clean error`);
  if (err.message.includes('\n') || !err.message.includes(where))
    throw new Error(`${what}: unclean message ${JSON.stringify(err.message)}`);
}

/** A parsed file is consistent: every tensor's data agrees with its shape. */
function expectConsistent(file: ReturnType<typeof readSafetensors>, what: string): void {
  for (const [name, t] of file.tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) throw new Error(`${what}: ${name} has ${t.data.length} values for shape [${t.shape}]`);
  }
}

describe('fuzzing the real loaders on real checkpoints', () => {
  it('mutated model.safetensors of a transformers checkpoint: readSafetensors and loadModelDir give a clean error or a valid model', () => {
    const dir = join(work, 'tiny');
    cpSync(FIXTURE, dir, { recursive: true });
    const path = join(dir, 'model.safetensors');
    const mutate = mutator(readFileSync(path), 20261207);
    const outcome = { read: 0, loaded: 0, rejected: 0 };
    const started = Date.now();
    for (let i = 0; i < 2000; i++) {
      writeFileSync(path, mutate());
      const what = `mutation ${i}`;
      try {
        expectConsistent(readSafetensors(path), what);
        outcome.read++;
      } catch (err) {
        expectClean(err, path, what);
      }
      if (i % 5 !== 0) continue; // building a model is the slow part: every 5th mutation goes through the loader
      try {
        loadModelDir(dir, { device: 'cpu-ref' }).model.dispose();
        outcome.loaded++;
      } catch (err) {
        expectClean(err, dir, what);
        outcome.rejected++;
      }
    }
    expect(outcome.loaded + outcome.rejected).toBe(400);
    expect(outcome.loaded).toBeGreaterThan(30);
    expect(outcome.rejected).toBeGreaterThan(200);
    expect(outcome.read).toBeGreaterThan(150);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);

  it('mutated optimizer.safetensors of a retrograd checkpoint: readSafetensors gives a clean error or a consistent file', async () => {
    const model = new BertModel(
      { ...CHECKPOINT_CONFIG, vocab_size: 64 },
      { device: 'cpu-ref', generator: new Generator(1) },
    );
    const optimizer = new AdamW(model.parameters());
    for (const p of model.parameters()) p.grad = p.mul(0.01).detach();
    optimizer.step();
    const checkpoint = await saveCheckpoint(join(work, 'run'), model, optimizer, { step: 1, optimizerStep: 1 });
    model.dispose();
    const path = join(work, 'moments.safetensors');
    const mutate = mutator(readFileSync(join(checkpoint, 'optimizer.safetensors')), 7);
    let read = 0;
    for (let i = 0; i < 1000; i++) {
      writeFileSync(path, mutate());
      try {
        expectConsistent(readSafetensors(path), `mutation ${i}`);
        read++;
      } catch (err) {
        expectClean(err, path, `mutation ${i}`);
      }
    }
    expect(read).toBeGreaterThan(50);
  }, 60_000);
});
