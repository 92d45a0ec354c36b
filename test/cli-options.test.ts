// Option values of the `retrograd` commands are parsed and checked where each option is declared
// (src/cli/options.ts's parsers, commander's .choices()): a bad value stops the command before its
// action runs, so no model is loaded and nothing is written. The binary prints one line naming the
// option and exits 1; in-process, the error is commander's, one line. Cross-option rules stay in the
// actions, and fail with one line before any work too.

import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerBench } from '../src/cli/bench.js';
import { registerCrossEncoder } from '../src/cli/cross-encoder.js';
import { registerEmbed } from '../src/cli/embed.js';
import { registerEval } from '../src/cli/eval.js';
import { registerPretrain } from '../src/cli/pretrain.js';
import { registerTrain, parseEvalSet } from '../src/cli/train.js';
import { runCli } from './util/cli.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'retrograd.mjs');
const work = mkdtempSync(join(tmpdir(), 'retrograd-cli-options-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Nothing here exists: a parse that reached the action would fail on the missing model or data.
const TRAIN = ['train', '--model', join(work, 'no-model'), '--data', join(work, 'no-data')];

describe('retrograd train: a bad option value', () => {
  const cases: [string[], RegExp][] = [
    [
      ['--loss', 'foo'],
      /^retrograd: option '--loss <name>' argument 'foo' is invalid\. Allowed choices are sdam, margin-mse, infonce\.$/,
    ],
    [
      ['--batch-size', '0'],
      /^retrograd: option '--batch-size <n>' argument '0' is invalid\. expected an integer >= 2$/,
    ],
    [['--lr', 'abc'], /^retrograd: option '--lr <x>' argument 'abc' is invalid\. expected a positive number$/],
    [
      ['--eval', 'nodir'],
      /^retrograd: option '--eval <list>' argument 'nodir' is invalid\. item "nodir": expected DIR:SPLIT/,
    ],
  ];
  for (const [extra, message] of cases) {
    it(`${extra.join(' ')}: one line naming the option, exit 1, no run directory`, () => {
      const out = join(work, `run-${extra[0].slice(2)}`);
      const r = spawnSync(process.execPath, [BIN, ...TRAIN, '--out', out, ...extra], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(existsSync(out)).toBe(false);
    });
  }
});

/** Run in-process; the one-line message it fails with. Nothing may appear in `work`. */
async function failure(args: string[]): Promise<string> {
  const before = readdirSync(work).sort();
  let err: unknown;
  try {
    await runCli(
      [registerTrain, registerPretrain, registerEval, registerEmbed, registerCrossEncoder, registerBench],
      args,
    );
  } catch (e) {
    err = e;
  }
  expect(err, args.join(' ')).toBeInstanceOf(Error);
  const message = (err as Error).message;
  expect(message).not.toContain('\n');
  expect(readdirSync(work).sort()).toEqual(before);
  return message;
}

describe('every command checks its option values before its action', () => {
  const out = ['--out', join(work, 'never')];
  it('train: enumerations, numbers and DIR:SPLIT sets', async () => {
    const bad: [string[], string][] = [
      [
        ['--margin-mode', 'x'],
        "option '--margin-mode <mode>' argument 'x' is invalid. Allowed choices are rowwise, as-released.",
      ],
      [['--error', 'l3'], "option '--error <fn>' argument 'l3' is invalid. Allowed choices are l2, l1, soft."],
      [['--pooling', 'max'], "option '--pooling <mode>' argument 'max' is invalid. Allowed choices are mean, cls."],
      [
        ['--batching', 'x'],
        "option '--batching <kind>' argument 'x' is invalid. Allowed choices are random, contextual.",
      ],
      [['--order', 'x'], "option '--order <order>' argument 'x' is invalid. Allowed choices are random, tsp."],
      [['--init', 'x'], "option '--init <init>' argument 'x' is invalid. Allowed choices are random, kmeans++."],
      [
        ['--optimizer', 'adam'],
        "option '--optimizer <name>' argument 'adam' is invalid. Allowed choices are adamw, sgd.",
      ],
      [
        ['--model-type', 'x'],
        "option '--model-type <type>' argument 'x' is invalid. Allowed choices are biencoder, contextual.",
      ],
      [
        ['--target', 'big'],
        "option '--target <t>' argument 'big' is invalid. expected adaptive, distributed or a number",
      ],
      [
        ['--teacher', 'cross-encoder:'],
        "option '--teacher <name>' argument 'cross-encoder:' is invalid. expected bm25, triples or cross-encoder:DIR",
      ],
      [
        ['--teacher-scale', '-1'],
        "option '--teacher-scale <k>' argument '-1' is invalid. expected auto, raw or a positive number",
      ],
      [['--filter', 'model:'], "option '--filter <f>' argument 'model:' is invalid. expected none, tfidf or model:DIR"],
      [['--validation', 'dir'], "option '--validation <dir:split>' argument 'dir' is invalid. expected DIR:SPLIT"],
      [['--query-length', '2'], "option '--query-length <n>' argument '2' is invalid. expected an integer >= 3"],
      [['--seed', '-1'], "option '--seed <n>' argument '-1' is invalid. expected an integer >= 0"],
      [['--steps', '1.5'], "option '--steps <n>' argument '1.5' is invalid. expected a positive integer"],
      [['--gamma', '0'], "option '--gamma <x>' argument '0' is invalid. expected a positive number"],
      [['--clip', '-1'], "option '--clip <x>' argument '-1' is invalid. expected a non-negative number"],
      [['--temperature', 'hot'], "option '--temperature <t>' argument 'hot' is invalid. expected a positive number"],
      [['--dropout', '1'], "option '--dropout [p]' argument '1' is invalid. expected a number in [0, 1)"],
      [['--threads', '0'], "option '--threads <n>' argument '0' is invalid. expected a positive integer"],
    ];
    for (const [extra, message] of bad) expect(await failure([...TRAIN, ...out, ...extra])).toBe(`error: ${message}`);
  });

  it('train: cross-option rules fail in the action with one line, before any work', async () => {
    expect(await failure([...TRAIN, ...out, '--cluster-size', '4'])).toBe(
      '--cluster-size applies to --batching contextual only',
    );
    expect(await failure([...TRAIN, ...out, '--batches', 'b.jsonl', '--batching', 'contextual'])).toBe(
      '--batches FILE replaces --batching; give one of them',
    );
    expect(await failure([...TRAIN, ...out, '--model-type', 'contextual'])).toBe(
      '--model-type contextual trains with --loss infonce, got sdam',
    );
    expect(await failure([...TRAIN, ...out, '--dropout'])).toBe(
      '--dropout: expected a probability in [0, 1) for --model-type biencoder',
    );
  });

  it('the other commands', async () => {
    const bad: [string[], string][] = [
      [
        ['pretrain', '--corpus', 'c.jsonl', ...out, '--schedule', 'cosine'],
        "option '--schedule <name>' argument 'cosine' is invalid. Allowed choices are linear, inverse-sqrt, exponential, constant.",
      ],
      [
        ['pretrain', '--corpus', 'c.jsonl', ...out, '--mask-rate', '0'],
        "option '--mask-rate <p>' argument '0' is invalid. expected a number in (0, 1)",
      ],
      [
        ['pretrain', '--corpus', 'c.jsonl', ...out, '--warmup', '-1'],
        "option '--warmup <n>' argument '-1' is invalid. expected an integer >= 0",
      ],
      [
        ['eval', '--data', 'd', '--bm25', '--similarity', 'l2'],
        "option '--similarity <s>' argument 'l2' is invalid. Allowed choices are cos, dot.",
      ],
      [
        ['eval', '--data', 'd', '--bm25', '--depth', '99'],
        "option '--depth <n>' argument '99' is invalid. expected an integer >= 100",
      ],
      [
        ['embed', '--model', 'm', '--input', 'i', '--output', 'o', '--kind', 'passage'],
        "option '--kind <kind>' argument 'passage' is invalid. Allowed choices are query, document.",
      ],
      [
        ['embed', '--model', 'm', '--input', 'i', '--output', 'o', '--pooling', 'max'],
        "option '--pooling <mode>' argument 'max' is invalid. Allowed choices are cls, mean.",
      ],
      [
        ['train-cross-encoder', '--model', 'm', '--data', 'd', ...out, '--lr', '0'],
        "option '--lr <x>' argument '0' is invalid. expected a positive number",
      ],
      [
        ['train-cross-encoder', '--model', 'm', '--data', 'd', ...out, '--random-negatives', '-1'],
        "option '--random-negatives <n>' argument '-1' is invalid. expected an integer >= 0",
      ],
      [
        ['train-cross-encoder', '--model', 'm', '--data', 'd', ...out, '--eval', 'nodir'],
        "option '--eval <dir:split>' argument 'nodir' is invalid. expected DIR:SPLIT",
      ],
      [
        ['bench', 'bert', '--mode', 'serve'],
        "option '--mode <mode>' argument 'serve' is invalid. Allowed choices are train, infer, mlm.",
      ],
      [
        ['bench', 'matmul', '--threads', '1,x'],
        "option '--threads <list>' argument '1,x' is invalid. item \"x\": expected a positive integer (items separated by commas)",
      ],
    ];
    for (const [args, message] of bad) expect(await failure(args)).toBe(`error: ${message}`);
  });
});

describe('parseEvalSet (kept for the scripts)', () => {
  it('reads DIR:SPLIT as evalSetOption does, and names the option in its error', () => {
    expect(parseEvalSet('data/faq/:test', 'eval')).toEqual({ name: 'faq', dir: 'data/faq/', split: 'test' });
    expect(() => parseEvalSet('data/faq', 'validation')).toThrow(/^--validation: expected DIR:SPLIT, got data\/faq$/);
  });
});
