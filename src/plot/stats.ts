// Small statistics behind the training charts: exponential smoothing of a noisy loss curve, the
// Pearson correlation, the split of recorded steps into training phases, and an evenly spaced
// subsample. Plain numbers in, plain numbers out; no drawing here.

/**
 * Exponential moving average with bias correction (TensorBoard's smoothing): s_t = w·s_{t-1} +
 * (1-w)·x_t divided by 1 - w^t, so the first value is x_1 and not pulled towards 0. weight in [0, 1);
 * 0 returns the input.
 */
export function ema(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`smoothing weight must be in [0, 1), got ${weight}`);
  let acc = 0;
  let norm = 0;
  return values.map((x) => {
    acc = weight * acc + (1 - weight) * x;
    norm = weight * norm + (1 - weight);
    return acc / norm;
  });
}

/** Pearson correlation of x and y; null when fewer than two points or either has no variance. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length) throw new Error(`pearson: ${x.length} x values but ${y.length} y values`);
  const n = x.length;
  if (n < 2) return null;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}

export interface Phase {
  /** "early (steps 1–100)" and the like: the legend label. */
  label: string;
  /** Index range [start, end) into the step list. */
  start: number;
  end: number;
}

const PHASE_NAMES = [['all'], ['early', 'late'], ['early', 'middle', 'late']];

/**
 * Split an increasing list of recorded steps into up to three phases of (nearly) equal counts:
 * early / middle / late, or early / late for two steps, or one phase for a single step.
 */
export function phases(steps: readonly number[]): Phase[] {
  const n = steps.length;
  if (n === 0) return [];
  const names = PHASE_NAMES[Math.min(n, 3) - 1];
  return names.map((name, i) => {
    const start = Math.floor((i * n) / names.length);
    const end = Math.floor(((i + 1) * n) / names.length);
    const first = steps[start];
    const last = steps[end - 1];
    const range = first === last ? `step ${first}` : `steps ${first}–${last}`;
    return { label: `${name} (${range})`, start, end };
  });
}

/** `count` indices spread evenly over 0..n-1, always including the first and the last. */
export function evenlySpaced(n: number, count: number): number[] {
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  if (count <= 1) return [n - 1];
  return Array.from({ length: count }, (_, i) => Math.round((i * (n - 1)) / (count - 1)));
}
