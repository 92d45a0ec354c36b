// The bookkeeping the resumable trainers share (trainBiencoder and trainContextual all of it,
// trainCrossEncoder the signals and the log, pretrain the signals): Ctrl-C / SIGTERM as a flag read between steps, the append-only
// JSONL logs cut back to the checkpoint's step on resume, and the loop state a checkpoint carries
// besides the weights (step times, the best validation score, early stopping).

import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { rewriteLog, type TrainerState } from './checkpoint.js';

export type Signal = 'SIGINT' | 'SIGTERM';

/** Steps at the start of each process (a fresh start or a resume) left out of `medianStepMs`. */
export const WARMUP_STEPS = 3;

/** Median of a list (mean of the middle two for an even length); null for an empty list. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Ctrl-C / SIGTERM as a flag: the loop asks `requested()` before each step and saves a checkpoint when set. */
export class Interruption {
  signal: Signal | null = null;
  private readonly handler = (s: NodeJS.Signals): void => {
    this.signal = s === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
  };

  constructor() {
    process.once('SIGINT', this.handler);
    process.once('SIGTERM', this.handler);
  }

  /** Gives the event loop a turn (on the cpu device no await reaches it), so a signal is seen between steps. */
  async requested(): Promise<boolean> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return this.signal !== null;
  }

  /** Removes the handlers (a second signal then ends the process as usual). */
  close(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

export interface RunLogOptions {
  /** The checkpoint's step: entries of later steps (and any without a step) are dropped. */
  step: number;
  /** Entries written first (e.g. the initial evaluation). */
  head?: readonly object[];
  /** Entries without a step that are kept all the same (e.g. the cross-encoder's `start`). */
  keepAlso?: (entry: Record<string, unknown>) => boolean;
  /** internals.jsonl: cut back like log.jsonl, created empty ('always') or only when present. Absent: no such file. */
  internals?: 'always' | 'if-present';
  onLog?: (entry: Record<string, unknown>) => void;
}

/**
 * `<run>/log.jsonl` (and `internals.jsonl`), append-only, one whole line per write. Opening cuts them
 * back to the checkpoint's step, so what a run wrote after its last checkpoint is written again,
 * identically, by the resumed run.
 */
export class RunLog {
  private constructor(
    private readonly dir: string,
    /** The entries of log.jsonl kept from before this process (what the checkpoint's run wrote). */
    readonly kept: readonly Record<string, unknown>[],
    private readonly onLog?: (entry: Record<string, unknown>) => void,
  ) {}

  static open(dir: string, o: RunLogOptions): RunLog {
    const keep = (e: Record<string, unknown>): boolean =>
      (typeof e.step === 'number' && e.step <= o.step) || (o.keepAlso?.(e) ?? false);
    const kept = rewriteLog(join(dir, 'log.jsonl'), keep, o.head ?? []);
    const internals = join(dir, 'internals.jsonl');
    if (o.internals === 'always' || (o.internals === 'if-present' && existsSync(internals)))
      rewriteLog(internals, keep);
    return new RunLog(dir, kept, o.onLog);
  }

  /** Appends one entry; entries of log.jsonl also go to `onLog`. */
  write(entry: Record<string, unknown>, file: 'log' | 'internals' = 'log'): void {
    appendFileSync(join(this.dir, `${file}.jsonl`), `${JSON.stringify(entry)}\n`);
    if (file === 'log') this.onLog?.(entry);
  }
}

/** The loop state a checkpoint's trainer_state.json carries besides step, optimizerStep and args. */
export interface LoopFields {
  best: number | null;
  bestStep: number;
  sinceBest: number;
  stoppedEarly: boolean;
  /** Sum of all step times (ms), warm-up included. */
  stepMs: number;
  /** Step times (ms) past each process's warm-up, for medianStepMs. */
  timedMs: number[];
}

/**
 * Step count, step times and validation-based early stopping of a training loop, restored from and
 * written into a TrainerState. Other keys of the state (the run's arguments, initial evaluations...)
 * are carried through unchanged.
 */
export class TrainingLoop {
  step: number;
  best: number;
  bestStep: number;
  sinceBest: number;
  stoppedEarly: boolean;
  stepMs: number;
  readonly timedMs: number[];
  /** The step this process started (or resumed) at. */
  readonly resumedAt: number;

  /** The state of a run that has not taken a step, with `extra` keys (at least `args`). */
  static fresh(extra: Record<string, unknown>): TrainerState {
    const fields: LoopFields = { best: null, bestStep: 0, sinceBest: 0, stoppedEarly: false, stepMs: 0, timedMs: [] };
    return { step: 0, optimizerStep: 0, ...fields, ...extra };
  }

  constructor(private readonly state: TrainerState) {
    this.step = state.step;
    this.resumedAt = state.step;
    this.best = (state.best as number | null) ?? -Infinity;
    this.bestStep = state.bestStep as number;
    this.sinceBest = state.sinceBest as number;
    this.stoppedEarly = state.stoppedEarly as boolean;
    this.stepMs = state.stepMs as number;
    this.timedMs = [...(state.timedMs as number[])];
  }

  /** Records a finished step's time; the first WARMUP_STEPS of each process are left out of the median. */
  timed(ms: number): void {
    this.stepMs += ms;
    if (this.step - this.resumedAt > WARMUP_STEPS) this.timedMs.push(ms);
  }

  /**
   * A validation score at the current step: a new best is kept (`saveBest` writes the model), else
   * `patience` evaluations without one stop the run early.
   */
  async validated(score: number, patience: number, saveBest: () => Promise<void>): Promise<void> {
    if (score > this.best) {
      this.best = score;
      this.bestStep = this.step;
      this.sinceBest = 0;
      await saveBest();
    } else if (++this.sinceBest >= patience) {
      this.stoppedEarly = true;
    }
  }

  /** The state to checkpoint now. */
  snapshot(optimizerStep: number): TrainerState {
    return {
      ...this.state,
      step: this.step,
      optimizerStep,
      best: Number.isFinite(this.best) ? this.best : null,
      bestStep: this.bestStep,
      sinceBest: this.sinceBest,
      stoppedEarly: this.stoppedEarly,
      stepMs: this.stepMs,
      timedMs: this.timedMs,
    };
  }

  /** The timing and stopping part of a trainer's result. */
  summary(): {
    steps: number;
    bestStep: number;
    stoppedEarly: boolean;
    msPerStep: number;
    medianStepMs: number | null;
  } {
    return {
      steps: this.step,
      bestStep: this.bestStep,
      stoppedEarly: this.stoppedEarly,
      msPerStep: this.stepMs / Math.max(this.step, 1),
      medianStepMs: median(this.timedMs),
    };
  }
}
