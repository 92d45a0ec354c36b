// The contextual model's training loop (src/train/contextual.ts, trainContextual) end to end on the
// synthetic retrieval set: deterministic for a seed, saves a loadable contextual model directory,
// evaluates with a corpus context; and the same loop behind `retrograd train --model-type contextual`.

import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContextualModel, isContextualDir } from '../src/nn/contextual.js';
import { trainContextual } from '../src/train/contextual.js';
import { registerTrain } from '../src/cli/train.js';
import { runCli } from './util/cli.js';
import { writeSyntheticRetrieval } from './util/synthetic-retrieval.js';

const scratch = mkdtempSync(join(tmpdir(), 'retrograd-contextual-loop-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('contextual training: the loop', () => {
  it('trains from a BERT directory, saves a loadable contextual model, evaluates, and repeats exactly', async () => {
    const { dataDir, modelDir } = await writeSyntheticRetrieval(join(scratch, 'synthetic'));
    const run = async (out: string) => {
      const losses: number[] = [];
      const result = await trainContextual({
        model: modelDir,
        data: dataDir,
        out,
        batchSize: 6,
        queryLength: 16,
        docLength: 32,
        lr: 1e-3,
        gamma: 1,
        weightDecay: 0.01,
        clip: 1,
        steps: 2,
        seed: 4,
        chunkSize: 4,
        config: { context_size: 6, prompt_length: 2 },
        evalSets: [{ name: 'test', dir: dataDir, split: 'test' }],
        progress: false,
        device: 'cpu',
        onLog: (e) => {
          if (e.kind === 'train') losses.push(e.loss as number);
        },
      });
      return { result, losses };
    };
    const a = await run(join(scratch, 'run-a'));
    const b = await run(join(scratch, 'run-b'));
    expect(a.losses).toHaveLength(2);
    expect(a.losses.every(Number.isFinite)).toBe(true);
    expect(b.losses).toEqual(a.losses);
    expect(isContextualDir(a.result.modelDir)).toBe(true);
    expect(a.result.final[0].metrics['nDCG@10']).toBeGreaterThanOrEqual(0);
    expect(b.result.final[0].metrics).toEqual(a.result.final[0].metrics);
    const loaded = ContextualModel.load(a.result.modelDir);
    expect(loaded.config.context_size).toBe(6);
    loaded.dispose();
    expect(JSON.parse(readFileSync(join(scratch, 'run-a', 'metrics.json'), 'utf8')).steps).toBe(2);
  });

  it('retrograd train --model-type contextual runs the same loop from the command line', async () => {
    const { dataDir, modelDir } = await writeSyntheticRetrieval(join(scratch, 'synthetic-cli'));
    const out = join(scratch, 'run-cli');
    await runCli(
      [registerTrain],
      [
        'train',
        '--model-type',
        'contextual',
        '--loss',
        'infonce',
        '--model',
        modelDir,
        '--data',
        dataDir,
        '--out',
        out,
        '--steps',
        '2',
        '--batch-size',
        '6',
        '--context-size',
        '4',
        '--chunk-size',
        '4',
        '--own-negatives',
        '--output-residual',
        '--query-length',
        '16',
        '--doc-length',
        '32',
      ],
    );
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.filter((e) => e.kind === 'train')).toHaveLength(2);
    const trained = ContextualModel.load(join(out, 'model'));
    expect(trained.config.context_size).toBe(4);
    expect(trained.config.output_residual).toBe(true);
    trained.dispose();
    await expect(
      runCli(
        [registerTrain],
        ['train', '--model-type', 'contextual', '--model', modelDir, '--data', dataDir, '--out', out],
      ),
    ).rejects.toThrow(/--model-type contextual trains with --loss infonce, got sdam/);
    await expect(
      runCli(
        [registerTrain],
        ['train', '--model', modelDir, '--data', dataDir, '--out', join(scratch, 'run-bi'), '--output-residual'],
      ),
    ).rejects.toThrow('--output-residual applies to --model-type contextual only');
  });
});
