// Progress reporting (src/cli/progress.ts): plain lines at the interval with fields, rate and ETA,
// a closing summary ("stopped at" when unfinished), silence when disabled; and a real command run
// with stderr not a terminal prints those lines.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { formatDuration, progressIntervalFromEnv, startProgress, type ProgressOptions } from '../src/cli/progress.js';

const ROOT = join(import.meta.dirname, '..');

function capture(opts: Omit<ProgressOptions, 'stream' | 'now'>): {
  lines: string[];
  clock: { ms: number };
  bar: ReturnType<typeof startProgress>;
} {
  const lines: string[] = [];
  const clock = { ms: 0 };
  const stream = {
    isTTY: false,
    write: (s: string) => lines.push(...s.trimEnd().split('\n')),
  } as unknown as NodeJS.WritableStream;
  return { lines, clock, bar: startProgress({ ...opts, stream, now: () => clock.ms }) };
}

describe('startProgress, not on a terminal', () => {
  it('prints a line per interval with fields, rate and ETA, then a summary', () => {
    const { lines, clock, bar } = capture({ label: 'train', total: 200, unit: 'step', intervalSec: 10 });
    for (let step = 1; step <= 200; step++) {
      clock.ms = step * 2500; // 2.5 s per step
      bar.update(step, { loss: (1 / step).toFixed(4) });
    }
    bar.finish();
    bar.finish();
    expect(lines).toHaveLength(50); // steps 4, 8, ..., 196 and the summary
    expect(lines[0]).toBe('train: 4/200 steps (2%) | loss 0.2500 | 2.50 s/step | 10s elapsed, ETA 8m10s');
    expect(lines[48]).toBe('train: 196/200 steps (98%) | loss 0.0051 | 2.50 s/step | 8m10s elapsed, ETA 10s');
    expect(lines[49]).toBe('train: 200/200 steps in 8m20s (2.50 s/step) | loss 0.0050');
  });

  it('counts rate from a resumed start and reports an unfinished run as stopped', () => {
    const { lines, clock, bar } = capture({ label: 'pretrain', total: 1000, unit: 'step', start: 500, intervalSec: 0 });
    clock.ms = 4000;
    bar.update(600, { 'tok/s': 2000 });
    bar.finish();
    expect(lines).toEqual([
      'pretrain: 600/1000 steps (60%) | tok/s 2000 | 25.0 steps/s | 4.0s elapsed, ETA 16s',
      'pretrain: stopped at 600/1000 steps after 4.0s (25.0 steps/s) | tok/s 2000',
    ]);
  });

  it('is silent when disabled or when nothing advanced', () => {
    const off = capture({ label: 'embed', total: 10, unit: 'text', enabled: false, intervalSec: 0 });
    off.bar.update(5);
    off.bar.finish();
    const idle = capture({ label: 'embed', total: 10, unit: 'text', intervalSec: 0 });
    idle.bar.finish();
    expect([...off.lines, ...idle.lines]).toEqual([]);
  });

  it('leaves out rate and ETA for stages, and pluralises units', () => {
    const { lines, clock, bar } = capture({ label: 'cluster', total: 2, unit: 'query', eta: false, intervalSec: 0 });
    clock.ms = 1000;
    bar.update(1, { done: 'load (1.0s)' });
    bar.update(2);
    bar.finish();
    expect(lines).toEqual(['cluster: 1/2 queries (50%) | done load (1.0s)', 'cluster: 2/2 queries in 1.0s']);
  });

  it('formats durations and reads the interval from the environment', () => {
    expect([0.25, 42.4, 61, 3599.6, 7380].map(formatDuration)).toEqual(['0.3s', '42s', '1m01s', '1h00m', '2h03m']);
    expect(progressIntervalFromEnv({})).toBe(10);
    expect(progressIntervalFromEnv({ RETROGRAD_PROGRESS_SECONDS: '2.5' })).toBe(2.5);
    expect(() => progressIntervalFromEnv({ RETROGRAD_PROGRESS_SECONDS: 'often' })).toThrow(
      'RETROGRAD_PROGRESS_SECONDS must be a non-negative number of seconds, got "often"',
    );
  });
});

describe('a command with stderr not a terminal', () => {
  it('retrograd eval --bm25 prints progress lines and a summary on stderr, the result on stdout', () => {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'bin', 'retrograd.mjs'),
        'eval',
        '--data',
        join(ROOT, 'test', 'fixtures', 'eval', 'pkgdesc-mini'),
        '--split',
        'test',
        '--bm25',
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, RETROGRAD_PROGRESS_SECONDS: '0' },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(8);
    lines
      .slice(0, 7)
      .forEach((line, i) =>
        expect(line).toMatch(
          new RegExp(`^bm25: ${i + 1}/8 queries \\(\\d+%\\) \\| \\S+ (queries/s|s/query) \\| \\S+ elapsed, ETA \\S+$`),
        ),
      );
    expect(lines[7]).toMatch(/^bm25: 8\/8 queries in \S+ \(\S+ (queries\/s|s\/query)\)$/);
    expect(r.stdout).toMatch(/nDCG@10 {2}\d\.\d{4}/);
  });
});
