// The trainers' shared bookkeeping (src/train/run.ts): the loop state's round trip through a
// checkpoint's trainer state, early stopping, the log's cut back to a checkpoint, and Ctrl-C as a flag.
// The trainers' own resume tests (train-resume, contextual-resume, cross-encoder-train) prove that
// runs using it continue bit for bit.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Interruption, RunLog, TrainingLoop, WARMUP_STEPS } from '../src/train/run.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'retrograd-run-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const lines = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('TrainingLoop', () => {
  it('a fresh state carries the extra keys and restores to the same loop', () => {
    const state = TrainingLoop.fresh({ args: { lr: 1e-4 }, initial: null });
    expect(state).toEqual({
      step: 0,
      optimizerStep: 0,
      best: null,
      bestStep: 0,
      sinceBest: 0,
      stoppedEarly: false,
      stepMs: 0,
      timedMs: [],
      args: { lr: 1e-4 },
      initial: null,
    });
    const loop = new TrainingLoop(state);
    expect(loop.best).toBe(-Infinity);
    expect(loop.snapshot(0)).toEqual(state); // -Infinity is written as null (JSON has no infinities)
  });

  it('leaves each process first WARMUP_STEPS steps out of the median, and resumes the timing', () => {
    const loop = new TrainingLoop(TrainingLoop.fresh({ args: {} }));
    for (let i = 1; i <= WARMUP_STEPS + 2; i++) {
      loop.step = i;
      loop.timed(10 * i);
    }
    expect(loop.timedMs).toEqual([10 * (WARMUP_STEPS + 1), 10 * (WARMUP_STEPS + 2)]);
    const saved = JSON.parse(JSON.stringify(loop.snapshot(7)));
    expect(saved.optimizerStep).toBe(7);
    const resumed = new TrainingLoop(saved);
    expect(resumed.resumedAt).toBe(WARMUP_STEPS + 2);
    resumed.step++;
    resumed.timed(1000); // the resumed process's first step: warm-up again
    expect(resumed.timedMs).toEqual(loop.timedMs);
    const s = resumed.summary();
    expect(s.steps).toBe(WARMUP_STEPS + 3);
    expect(s.msPerStep).toBeCloseTo((10 * ((WARMUP_STEPS + 2) * (WARMUP_STEPS + 3))) / 2 / s.steps + 1000 / s.steps);
    expect(s.medianStepMs).toBe(10 * (WARMUP_STEPS + 1.5));
  });

  it('keeps the best score, saves on a new best and stops after `patience` evaluations without one', async () => {
    const loop = new TrainingLoop(TrainingLoop.fresh({ args: {} }));
    const saved: number[] = [];
    const scores = [0.3, 0.5, 0.4, 0.5, 0.45];
    for (const [i, score] of scores.entries()) {
      loop.step = (i + 1) * 10;
      await loop.validated(score, 3, async () => {
        saved.push(loop.step);
      });
    }
    expect(saved).toEqual([10, 20]);
    expect(loop.best).toBe(0.5);
    expect(loop.bestStep).toBe(20);
    expect(loop.sinceBest).toBe(3);
    expect(loop.stoppedEarly).toBe(true);
    const back = new TrainingLoop(JSON.parse(JSON.stringify(loop.snapshot(50))));
    expect([back.best, back.bestStep, back.sinceBest, back.stoppedEarly]).toEqual([0.5, 20, 3, true]);
  });
});

describe('RunLog', () => {
  it('cuts log.jsonl back to the checkpoint step, keeps what it is told to, and drops a torn last line', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'log.jsonl'),
      `${[{ kind: 'start' }, { kind: 'initial' }, { step: 1 }, { step: 2 }, { step: 3 }].map((e) => JSON.stringify(e)).join('\n')}\n{"step": 4`,
    );
    const got: Record<string, unknown>[] = [];
    const log = RunLog.open(dir, {
      step: 2,
      head: [{ kind: 'head' }],
      keepAlso: (e) => e.kind === 'start',
      onLog: (e) => got.push(e),
    });
    expect(log.kept).toEqual([{ kind: 'start' }, { step: 1 }, { step: 2 }]); // without the head
    log.write({ step: 3, again: true });
    expect(lines(join(dir, 'log.jsonl'))).toEqual([
      { kind: 'head' },
      { kind: 'start' },
      { step: 1 },
      { step: 2 },
      { step: 3, again: true },
    ]);
    expect(got).toEqual([{ step: 3, again: true }]);
    expect(existsSync(join(dir, 'internals.jsonl'))).toBe(false);
  });

  it('internals.jsonl: created empty when always, cut only when present otherwise; its lines skip onLog', () => {
    const a = tempDir();
    RunLog.open(a, { step: 0, internals: 'always' });
    expect(readFileSync(join(a, 'internals.jsonl'), 'utf8')).toBe('');
    const b = tempDir();
    RunLog.open(b, { step: 0, internals: 'if-present' });
    expect(existsSync(join(b, 'internals.jsonl'))).toBe(false);
    writeFileSync(join(b, 'internals.jsonl'), `${JSON.stringify({ step: 1 })}\n${JSON.stringify({ step: 5 })}\n`);
    const got: unknown[] = [];
    const log = RunLog.open(b, { step: 1, internals: 'if-present', onLog: (e) => got.push(e) });
    log.write({ step: 2 }, 'internals');
    expect(lines(join(b, 'internals.jsonl'))).toEqual([{ step: 1 }, { step: 2 }]);
    expect(got).toEqual([]);
  });

  it('names the file and line of a malformed entry that is not the last', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'log.jsonl'), `{"step": 1}\nnot json\n{"step": 2}\n`);
    expect(() => RunLog.open(dir, { step: 2 })).toThrow(`${join(dir, 'log.jsonl')} line 2: not valid JSON`);
  });
});

describe('Interruption', () => {
  it('turns SIGTERM into a flag seen between steps, and removes its handlers when closed', async () => {
    const before = process.listenerCount('SIGTERM');
    const beforeInt = process.listenerCount('SIGINT');
    const stop = new Interruption();
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    expect(process.listenerCount('SIGINT')).toBe(beforeInt + 1);
    expect(await stop.requested()).toBe(false);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await stop.requested()).toBe(true);
    expect(stop.signal).toBe('SIGTERM');
    stop.close();
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(process.listenerCount('SIGINT')).toBe(beforeInt); // the unfired once-handler is removed too
  });
});
