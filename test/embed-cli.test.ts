// `retrograd embed` end to end (src/cli/embed.ts): spawns `node bin/retrograd.mjs embed ...` on a
// tiny random model directory saved in a temp folder, and checks the output against the same model
// run in-process one text at a time (so batching, length sorting and padding must not change a
// row), the pooling defaults recorded in the directory, the option overrides, the device that ran
// (the summary line names it), and that bad input exits non-zero with one line and writes nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, fromArray, noGrad, tidy } from '../src/index.js';
import { BertModel, BERT_PRESETS } from '../src/nn/bert.js';
import { BertTokenizer } from '../src/nn/tokenizer.js';
import { loadModelDir, saveModelDir } from '../src/nn/model-dir.js';
import { pool, type PoolingConfig } from '../src/nn/pooling.js';
import { assertClose } from './util/close.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'retrograd.mjs');
const work = mkdtempSync(join(tmpdir(), 'retrograd-embed-'));
const MODEL = join(work, 'model');
const INPUT = join(work, 'in.jsonl');

const TEXTS: [unknown, string][] = [
  ['a', 'The cat sat on the mat.'],
  [2, 'hello, world! this sentence is quite a bit longer than the others, is it not?'],
  ['c', ''],
  [{ nested: true }, 'Café déjà vu — ÉTÉ'],
  ['e', 'x'],
];

function vocab(): string[] {
  const letters = [...'abcdefghijklmnopqrstuvwxyz'];
  const words = 'the cat sat on mat hello world this is a it not'.split(' ');
  return [
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    ...letters,
    ...letters.map((c) => `##${c}`),
    ...'.,!?-'.split(''),
    ...words,
  ];
}

interface Run {
  status: number | null;
  stderr: string;
}

function embed(args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, 'embed', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

function readOutput(path: string): { id: unknown; embedding: number[] }[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** The model in-process, one text per forward pass (no padding at all). */
function expected(pooling: PoolingConfig, maxLength = 32): Float64Array[] {
  const loaded = loadModelDir(MODEL, { device: 'cpu-ref' });
  const tok = loaded.tokenizer!;
  const out = TEXTS.map(([, text]) =>
    noGrad(() =>
      tidy(() => {
        const e = tok.encode(text, undefined, { maxLength, truncation: true });
        const shape = [1, e.inputIds.length];
        const ids = fromArray(e.inputIds, shape, { dtype: 'int32', device: 'cpu-ref' });
        const h = loaded.model.forward({ inputIds: ids }).lastHiddenState;
        return Float64Array.from(pool(h, undefined, pooling).toArray());
      }),
    ),
  );
  loaded.model.dispose();
  return out;
}

beforeAll(async () => {
  const tokenizer = new BertTokenizer(vocab(), { modelMaxLength: 32 });
  const config = {
    ...BERT_PRESETS.mini,
    vocab_size: tokenizer.vocabSize,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 32,
    initializer_range: 0.5,
  };
  const model = new BertModel(config, { device: 'cpu-ref', generator: new Generator(7) });
  await saveModelDir(MODEL, model, { tokenizer, pooling: { mode: 'mean', normalize: true } });
  model.dispose();
  writeFileSync(INPUT, `${TEXTS.map(([id, text]) => JSON.stringify({ id, text })).join('\n')}\n\n`);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('retrograd embed', () => {
  it("uses the directory's pooling (mean, normalized), keeps input order, and matches the model run text by text", () => {
    const output = join(work, 'out-default.jsonl');
    const r = embed([
      '--model',
      MODEL,
      '--input',
      INPUT,
      '--output',
      output,
      '--device',
      'cpu-ref',
      '--batch-size',
      '2',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('embedded 5 texts (16 dims, mean pooling, normalized, max length 32) on cpu-ref');
    const rows = readOutput(output);
    expect(rows.map((row) => row.id)).toEqual(TEXTS.map(([id]) => id));
    const want = expected({ mode: 'mean', normalize: true });
    rows.forEach((row, i) => {
      expect(row.embedding.length).toBe(16);
      assertClose(Math.hypot(...row.embedding), 1, { atol: 1e-6, rtol: 0 }, `norm of row ${i}`);
      assertClose(row.embedding, want[i], { atol: 1e-6, rtol: 1e-6 }, `row ${i}`);
    });
  });

  it('--pooling cls --no-normalize --max-length override the directory', () => {
    const output = join(work, 'out-cls.jsonl');
    const r = embed([
      '--model',
      MODEL,
      '--input',
      INPUT,
      '--output',
      output,
      '--device',
      'cpu-ref',
      '--pooling',
      'cls',
      '--no-normalize',
      '--max-length',
      '5',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('cls pooling, max length 5) on cpu-ref');
    const want = expected({ mode: 'cls', normalize: false }, 5);
    readOutput(output).forEach((row, i) => assertClose(row.embedding, want[i], { atol: 1e-6, rtol: 1e-6 }, `row ${i}`));
  });

  it('runs on the default device (the WebAssembly cpu backend) with the same results', () => {
    const output = join(work, 'out-cpu.jsonl');
    const r = embed(['--model', MODEL, '--input', INPUT, '--output', output]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ on cpu -> /);
    const want = expected({ mode: 'mean', normalize: true });
    // float32 SIMD kernels against cpu-ref's float64-accumulated float32
    readOutput(output).forEach((row, i) => assertClose(row.embedding, want[i], { atol: 1e-5, rtol: 1e-4 }, `row ${i}`));
  });

  describe('bad input exits non-zero with one line and writes nothing', () => {
    function broken(edit: (dir: string) => void): string {
      const dir = join(work, `broken-${Math.random().toString(36).slice(2)}`);
      cpSync(MODEL, dir, { recursive: true });
      edit(dir);
      return dir;
    }
    const cases: [string, () => string[], RegExp][] = [
      [
        'missing model directory',
        () => ['--model', join(work, 'absent'), '--input', INPUT],
        /model directory .*absent does not exist/,
      ],
      [
        'bad config',
        () => [
          '--model',
          broken((d) => writeFileSync(join(d, 'config.json'), '{"vocab_size": 68, "hidden_size": 16}')),
          '--input',
          INPUT,
        ],
        /config\.json: missing required field num_hidden_layers/,
      ],
      [
        'vocab size != embedding rows',
        () => [
          '--model',
          broken((d) => writeFileSync(join(d, 'vocab.txt'), vocab().slice(0, 40).join('\n'))),
          '--input',
          INPUT,
        ],
        /vocab\.txt: 40 tokens, but the model has \d+ word embeddings/,
      ],
      [
        'malformed line',
        () => {
          const input = join(work, 'bad-json.jsonl');
          writeFileSync(input, '{"id": 1, "text": "ok"}\n\n{"id": 2, "text": "unterminated}\n');
          return ['--model', MODEL, '--input', input];
        },
        /bad-json\.jsonl:3: malformed JSON/,
      ],
      [
        'text not a string',
        () => {
          const input = join(work, 'bad-text.jsonl');
          writeFileSync(input, '{"id": 1, "text": "ok"}\n{"id": 2, "text": 7}\n');
          return ['--model', MODEL, '--input', input];
        },
        /bad-text\.jsonl:2: "text" must be a string/,
      ],
      [
        'missing input',
        () => ['--model', MODEL, '--input', join(work, 'none.jsonl')],
        /input file .*none\.jsonl does not exist/,
      ],
      [
        'NaN weights',
        () => [
          '--model',
          broken((d) => {
            const file = join(d, 'model.safetensors');
            const bytes = readFileSync(file);
            bytes.writeFloatLE(NaN, 8 + Number(bytes.readBigUInt64LE(0))); // the first value of the first tensor
            writeFileSync(file, bytes);
          }),
          '--input',
          INPUT,
        ],
        /broken-\w+: weight [\w.]+ holds NaN at index 0$/,
      ],
      [
        'max length beyond the position table',
        () => ['--model', MODEL, '--input', INPUT, '--max-length', '64'],
        /--max-length: max length 64 exceeds the model's max_position_embeddings 32/,
      ],
    ];
    it('output is a directory', () => {
      const r = embed(['--model', MODEL, '--input', INPUT, '--output', work, '--device', 'cpu-ref']);
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toMatch(/^retrograd: --output .*: is a directory$/);
    });
    for (const [name, args, message] of cases) {
      it(name, () => {
        const output = join(work, `out-${name.replace(/\W+/g, '-')}.jsonl`);
        writeFileSync(output, 'previous contents\n');
        const r = embed([...args(), '--output', output, '--device', 'cpu-ref']);
        expect(r.status).not.toBe(0);
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/^retrograd: /);
        expect(lines[0]).toMatch(message);
        expect(readFileSync(output, 'utf8')).toBe('previous contents\n');
        expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
      });
    }
  });
});
