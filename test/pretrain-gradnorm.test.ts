// An infinite gradient norm stops pretraining (clipping would otherwise scale every gradient to zero
// and the run would go on silently). The norm is made infinite at one step by wrapping clipGradNorm:
// a finite loss with an overflowing norm is hard to produce on purpose in a tiny model.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Generator } from '../src/index.js';
import { BERT_PRESETS, type BertConfig } from '../src/nn/bert.js';
import { BertTokenizer } from '../src/nn/tokenizer.js';

const infiniteAt = { step: -1, calls: 0 };
vi.mock('../src/train/optim.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/train/optim.js')>();
  return {
    ...actual,
    clipGradNorm: async (...args: Parameters<typeof actual.clipGradNorm>) => {
      const norm = await actual.clipGradNorm(...args);
      return ++infiniteAt.calls === infiniteAt.step ? Infinity : norm;
    },
  };
});
const { pretrain } = await import('../src/train/pretrain.js');

const VOCAB = new URL('../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'retrograd-gradnorm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('pretrain with an infinite gradient norm', () => {
  it('stops at that step naming the norm, and keeps the last checkpoint as latest', async () => {
    const corpus = join(work, 'corpus.jsonl.gz');
    const gen = new Generator(5);
    const words = ['tensor', 'gradient', 'matrix', 'vector', 'kernel', 'layer'];
    writeFileSync(
      corpus,
      gzipSync(
        Array.from({ length: 30 }, () =>
          JSON.stringify({ text: Array.from({ length: 40 }, () => words[gen.int(words.length)]).join(' ') }),
        ).join('\n'),
      ),
    );
    const config: BertConfig = {
      ...BERT_PRESETS.tiny,
      hidden_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 32,
    };
    const out = join(work, 'run');
    infiniteAt.step = 3;
    await expect(
      pretrain({
        corpus,
        out,
        config,
        tokenizer: BertTokenizer.fromVocabFile(VOCAB),
        steps: 5,
        batchSize: 4,
        seqLen: 24,
        lr: 1e-3,
        warmup: 1,
        schedule: 'linear',
        weightDecay: 0.01,
        clip: 1,
        seed: 1,
        valSequences: 4,
        evalEvery: 100,
        saveEvery: 1,
        logEvery: 1,
        device: 'cpu',
        progress: false,
      }),
    ).rejects.toThrow(/^step 3: gradient norm is Infinity; stopped, .*step-0000002 is the last finite checkpoint$/);
    expect(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim()).toBe('step-0000002');
    expect(existsSync(join(out, 'checkpoints', 'step-0000003'))).toBe(false);
  }, 60_000);
});
