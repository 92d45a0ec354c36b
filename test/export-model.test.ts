// scripts/export_model.ts: a pretraining run becomes a model directory whose pretraining.json carries
// the lineage of every segment; a segment from other weights is exported only when held-out accuracy
// rose by --min-gain, and a refused export leaves the directory as it was; a bad flag fails in one line.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator } from '../src/index.js';
import { BERT_PRESETS, type BertConfig } from '../src/nn/bert.js';
import { BertTokenizer } from '../src/nn/tokenizer.js';
import { pretrain, type PretrainOptions } from '../src/train/pretrain.js';

const VOCAB = new URL('../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'retrograd-export-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function exportModel(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx/esm', 'scripts/export_model.ts', ...args], {
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('export_model', () => {
  const corpusDir = join(work, 'corpus');
  const corpus = join(corpusDir, 'pretrain.jsonl.gz');
  const gen = new Generator(3);
  const words = ['tensor', 'gradient', 'matrix', 'vector', 'kernel', 'layer', 'token', 'query'];
  const lines = Array.from({ length: 40 }, () =>
    JSON.stringify({ text: Array.from({ length: 40 }, () => words[gen.int(words.length)]).join(' ') }),
  );
  rmSync(corpusDir, { recursive: true, force: true });
  const config: BertConfig = {
    ...BERT_PRESETS.tiny,
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 64,
    max_position_embeddings: 32,
  };
  const tokenizer = BertTokenizer.fromVocabFile(VOCAB);
  const base = (out: string, steps: number, init?: string): PretrainOptions => ({
    corpus,
    out,
    config,
    tokenizer,
    init,
    steps,
    batchSize: 4,
    seqLen: 24,
    lr: 3e-3,
    warmup: 2,
    schedule: 'linear',
    weightDecay: 0.01,
    clip: 1,
    seed: 4,
    valSequences: 8,
    evalEvery: steps,
    saveEvery: steps,
    logEvery: 1,
    device: 'cpu',
    progress: false,
    dropout: 0,
  });

  it('writes the lineage, refuses a segment that gained too little, and appends one that gained enough', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(corpusDir, { recursive: true });
    writeFileSync(corpus, gzipSync(`${lines.join('\n')}\n`));
    writeFileSync(join(corpusDir, 'PROVENANCE.md'), '# test corpus\n');
    const model = join(work, 'model');
    const first = join(work, 'run-1');
    await pretrain(base(first, 6));
    let r = exportModel('--run', first, '--out', model, '--date', '2026-12-07', '--hardware', 'test');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lineage1 = JSON.parse(readFileSync(join(model, 'pretraining.json'), 'utf8'));
    expect(lineage1.segments).toHaveLength(1);
    expect(lineage1.segments[0]).toMatchObject({
      from: 'scratch',
      init: null,
      steps: 6,
      tokens: 6 * 4 * 24,
      hardware: 'test',
    });
    expect(lineage1.segments[0].args).toMatchObject({ dropout: 0, maskRate: 0.15, lr: 3e-3 });

    const second = join(work, 'run-2');
    await pretrain(base(second, 6, model));
    const log = readFileSync(join(second, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const [start, end] = [
      log.find((e) => e.kind === 'eval' && e.step === 0),
      log.filter((e) => e.kind === 'eval').at(-1),
    ];
    const card1 = readFileSync(join(model, 'README.md'), 'utf8');
    r = exportModel('--run', second, '--out', model, '--min-gain', String(end.accuracy - start.accuracy + 0.01));
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^export_model: not exported: held-out accuracy [\d.]+% -> [\d.]+% at step 6 \(\+-?[\d.]+ points; committing weights needs \+[\d.]+\)$/,
    );
    expect(readFileSync(join(model, 'README.md'), 'utf8')).toBe(card1);

    // --baseline: another run's step-0 evaluation of the committed weights on the same held-out set.
    const baseline = join(work, 'run-baseline');
    await pretrain({ ...base(baseline, 1, model), warmup: 0 });
    r = exportModel(
      '--run',
      second,
      '--out',
      model,
      '--baseline',
      baseline,
      '--min-gain',
      String(end.accuracy - start.accuracy + 0.01),
    );
    expect(r.stderr.trim()).toBe(
      `export_model: not exported: held-out accuracy ${(100 * start.accuracy).toFixed(1)}% -> ${(100 * end.accuracy).toFixed(1)}% at step 6 (+${(100 * (end.accuracy - start.accuracy)).toFixed(1)} points; committing weights needs +${(100 * (end.accuracy - start.accuracy + 0.01)).toFixed(1)})`,
    );
    const otherSet = join(work, 'run-baseline-other');
    await pretrain({ ...base(otherSet, 1, model), warmup: 0, seed: 5 });
    r = exportModel('--run', second, '--out', model, '--baseline', otherSet, '--min-gain', '0');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/run-baseline-other: --baseline has seed=5, the run 4: not the same held-out set$/);

    r = exportModel('--run', second, '--out', model, '--min-gain', '0', '--date', '2026-12-08');
    expect(r.status).toBe(0);
    const lineage2 = JSON.parse(readFileSync(join(model, 'pretraining.json'), 'utf8'));
    expect(lineage2.segments.map((s: { from: string; date: string }) => `${s.from} ${s.date}`)).toEqual([
      'scratch 2026-12-07',
      'init 2026-12-08',
    ]);
    expect(lineage2.segments[1].evals[0].step).toBe(0);
    const card2 = readFileSync(join(model, 'README.md'), 'utf8');
    expect(card2).toContain(`${((2 * 6 * 4 * 24) / 1e6).toFixed(1)}M tokens seen in 2 segment(s)`);
    expect(card2).toMatch(/\| 2 \| 2026-12-08 \| init .*model \|/);
    // the card's figure: a PNG next to it, redrawn alone by --card-only
    expect(card2).toContain('](pretraining-curve.png)');
    const png = readFileSync(join(model, 'pretraining-curve.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    rmSync(join(model, 'pretraining-curve.png'));
    r = exportModel('--card-only', '--out', model);
    expect(r.status).toBe(0);
    expect(readFileSync(join(model, 'pretraining-curve.png')).equals(png)).toBe(true);
    expect(readFileSync(join(model, 'README.md'), 'utf8')).toBe(card2);
  }, 180_000);

  it('fails in one line naming the option on a bad flag value or a missing one', () => {
    const out = join(work, 'never');
    for (const [args, message] of [
      [
        ['--run', work, '--out', out, '--dtype', 'F8'],
        "option '--dtype <dtype>' argument 'F8' is invalid. Allowed choices are F16, BF16, F32.",
      ],
      [
        ['--run', work, '--out', out, '--min-gain', '-1'],
        "option '--min-gain <x>' argument '-1' is invalid. expected a non-negative number",
      ],
      [['--run', work], "required option '--out <dir>' not specified"],
      [['--out', out], '--run RUN_DIR is required (or --recipe-only --ab DIR, or --card-only)'],
      [['--out', out, '--recipe-only'], '--recipe-only needs --ab DIR'],
    ] as const) {
      const r = exportModel(...args);
      expect(r.status, message).toBe(1);
      expect(r.stderr, message).toBe(`export_model: ${message}\n`);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('fails in one line on a run without checkpoints', () => {
    const r = exportModel('--run', join(work, 'nothing'), '--out', join(work, 'never'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nothing/);
  });
});
