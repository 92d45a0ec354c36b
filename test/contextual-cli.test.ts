// Using a contextual model from the command line (src/cli/eval.ts, src/cli/embed.ts,
// src/cli/embed-contextual.ts), in-process through commander: `eval` with a context sampled from
// the evaluated corpus equals the library's evaluateContextual; `embed --context-corpus` equals the
// library's two-stage encoding, and --context-out / --context-in reproduce it bit for bit; bad input
// (missing or empty context corpus, J of 0, a plain BERT directory given context options, a
// contextual one given none) fails with one line and writes nothing. One spawned run checks the
// exit status and the single stderr line of the real binary.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContextualModel, sampleContext } from '../src/nn/contextual.js';
import { evaluateContextual } from '../src/train/contextual.js';
import { loadBeir } from '../src/data/beir.js';
import { registerEval } from '../src/cli/eval.js';
import { registerEmbed } from '../src/cli/embed.js';
import { runCli } from './util/cli.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const ROOT = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'retrograd-contextual-cli-'));
let dataDir = '';
let bertDir = '';
const CDE = join(work, 'cde');
const INPUT = join(work, 'in.jsonl');
const CORPUS = join(work, 'corpus.jsonl');
const TEXTS = ['python tool', 'a font library for the editor', 'kernel', 'music and audio files'];
const DOCS = ['network utility package', 'simple fast database', 'image editor', 'shell program', 'game data'];

beforeAll(async () => {
  ({ dataDir, modelDir: bertDir } = await writeSyntheticRetrieval(join(work, 'synthetic')));
  const m = ContextualModel.fromBert(bertDir, {
    device: 'cpu',
    config: { context_size: 6, prompt_length: 2 },
    seed: 5,
  });
  await m.save(CDE);
  m.dispose();
  writeFileSync(INPUT, TEXTS.map((text, i) => JSON.stringify({ id: `t${i}`, text })).join('\n'));
  writeFileSync(CORPUS, DOCS.map((text, i) => JSON.stringify({ id: `d${i}`, text })).join('\n'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function readEmbeddings(path: string): number[][] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).embedding);
}

async function failsWith(args: string[], re: RegExp): Promise<void> {
  const before = readdirSync(work).sort();
  let err: unknown;
  try {
    await runCli([registerEmbed, registerEval], args);
  } catch (e) {
    err = e;
  }
  expect(err, args.join(' ')).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toContain('\n');
  expect(readdirSync(work).sort()).toEqual(before);
}

describe('retrograd eval with a contextual model', () => {
  it('samples the context from the evaluated corpus and matches the library', async () => {
    const out = await runCli(
      [registerEval],
      ['eval', '--data', dataDir, '--model', CDE, '--context-seed', '3', '--json', '--batch-size', '8'],
    );
    const report = JSON.parse(out);
    expect(report.method).toBe('dense');
    const m = ContextualModel.load(CDE);
    const data = await loadBeir(dataDir, 'test');
    const lib = await evaluateContextual(m, data, {
      name: 'test',
      queryLength: 64,
      docLength: 64,
      batchSize: 8,
      contextSeed: 3,
    });
    m.dispose();
    expect(report['nDCG@10']).toBe(lib.metrics['nDCG@10']);
    expect(report['R@100']).toBe(lib.metrics['R@100']);
  });
});

describe('retrograd embed with a contextual model', () => {
  it('embeds with a context from --context-corpus, equal to the library; --context-out then --context-in reproduces it', async () => {
    const out1 = join(work, 'e1.jsonl');
    const ctxFile = join(work, 'ctx.safetensors');
    await runCli(
      [registerEmbed],
      [
        'embed',
        '--model',
        CDE,
        '--input',
        INPUT,
        '--output',
        out1,
        '--context-corpus',
        CORPUS,
        '--context-seed',
        '2',
        '--context-out',
        ctxFile,
        '--kind',
        'query',
        '--batch-size',
        '3',
      ],
    );
    const got = readEmbeddings(out1);
    expect(got).toHaveLength(TEXTS.length);
    const m = ContextualModel.load(CDE);
    const ctx = m.computeContext(sampleContext(DOCS, 6, 2));
    const lib = await m.encoder(ctx, 'query', 64)(TEXTS);
    ctx.dispose();
    m.dispose();
    got.forEach((row, i) => expect(row).toEqual(Array.from(lib[i], (x) => Number(x.toPrecision(9)))));
    const out2 = join(work, 'e2.jsonl');
    await runCli(
      [registerEmbed],
      ['embed', '--model', CDE, '--input', INPUT, '--output', out2, '--context-in', ctxFile, '--kind', 'query'],
    );
    expect(readFileSync(out2, 'utf8')).toBe(readFileSync(out1, 'utf8'));
    // Documents get the other prefix, so other embeddings.
    const out3 = join(work, 'e3.jsonl');
    await runCli(
      [registerEmbed],
      ['embed', '--model', CDE, '--input', INPUT, '--output', out3, '--context-in', ctxFile],
    );
    expect(readFileSync(out3, 'utf8')).not.toBe(readFileSync(out1, 'utf8'));
    for (const f of [out1, out2, out3, ctxFile]) rmSync(f);
  });

  it('rejects bad input with one line and writes nothing', async () => {
    const out = join(work, 'never.jsonl');
    const ctxOut = join(work, 'never.safetensors');
    const base = ['embed', '--model', CDE, '--input', INPUT, '--output', out];
    await failsWith(
      [...base, '--context-corpus', join(work, 'missing.jsonl'), '--context-out', ctxOut],
      /--context-corpus: .*missing\.jsonl does not exist/,
    );
    const empty = join(work, 'empty.jsonl');
    writeFileSync(empty, '\n\n');
    await failsWith(
      [...base, '--context-corpus', empty, '--context-out', ctxOut],
      /--context-corpus: .*empty\.jsonl holds no documents/,
    );
    await failsWith(
      [...base, '--context-corpus', CORPUS, '--context-size', '0'],
      /option '--context-size <n>' argument '0' is invalid\. expected a positive integer/,
    );
    await failsWith(base, /is a contextual model: give exactly one of --context-corpus FILE or --context-in FILE/);
    await failsWith(
      [...base, '--context-in', join(work, 'nope.safetensors')],
      /--context-in: .*nope\.safetensors does not exist/,
    );
    await failsWith([...base, '--context-in', INPUT], /in\.jsonl/);
    await failsWith(
      ['embed', '--model', bertDir, '--input', INPUT, '--output', out, '--context-corpus', CORPUS],
      /model is not a contextual model directory .*--context-corpus needs one/,
    );
    await failsWith(
      ['eval', '--data', dataDir, '--model', CDE, '--pooling', 'cls'],
      /--pooling does not apply to the contextual model/,
    );
    rmSync(empty);
    expect(existsSync(out) || existsSync(ctxOut)).toBe(false);
  });

  it('the binary exits non-zero with one line on stderr', () => {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'bin', 'retrograd.mjs'),
        'embed',
        '--model',
        CDE,
        '--input',
        INPUT,
        '--output',
        join(work, 'x.jsonl'),
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/give exactly one of --context-corpus FILE or --context-in FILE/);
    expect(existsSync(join(work, 'x.jsonl'))).toBe(false);
  });
});
