// Learning-rate schedules: pure functions of the 1-based update index, so a resumed run recomputes
// the rate from its step count alone (nothing to checkpoint).
//
// linear        BERT's: linear warm-up to the peak, then linear decay to zero at `total`.
// inverse-sqrt  warm-up, then peak·sqrt(warmup/step): no end point, so a run can be extended.
// exponential   peak·gamma^(step-1), no warm-up (the SDAM paper's setting).
// constant      the peak throughout (after an optional warm-up).

export type Schedule = (step: number) => number;

export const SCHEDULES = ['linear', 'inverse-sqrt', 'exponential', 'constant'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

export interface ScheduleOptions {
  peak: number;
  warmup?: number;
  /** Last step of the linear schedule (where the rate reaches zero). */
  total?: number;
  /** Per-step factor of the exponential schedule. */
  gamma?: number;
}

function warm(step: number, warmup: number): number {
  return warmup > 0 && step < warmup ? step / warmup : 1;
}

export function makeSchedule(name: ScheduleName, o: ScheduleOptions): Schedule {
  const warmup = o.warmup ?? 0;
  if (!(o.peak > 0)) throw new Error(`schedule: peak learning rate must be positive, got ${o.peak}`);
  if (!(warmup >= 0)) throw new Error(`schedule: warmup must be >= 0, got ${warmup}`);
  switch (name) {
    case 'linear': {
      const total = o.total ?? NaN;
      if (!(total > warmup)) throw new Error(`schedule linear: total steps (${total}) must exceed warmup (${warmup})`);
      return (step) =>
        step < warmup ? o.peak * (step / warmup) : o.peak * Math.max(0, (total - step) / (total - warmup));
    }
    case 'inverse-sqrt':
      return (step) => o.peak * (step < warmup ? step / warmup : Math.sqrt(Math.max(warmup, 1) / step));
    case 'exponential': {
      const gamma = o.gamma ?? 1;
      if (!(gamma > 0 && gamma <= 1)) throw new Error(`schedule exponential: gamma must be in (0, 1], got ${gamma}`);
      return (step) => o.peak * warm(step, warmup) * gamma ** (step - 1);
    }
    case 'constant':
      return (step) => o.peak * warm(step, warmup);
  }
}
