// The one place tolerances are defined and checked: |actual - expected| <= atol + rtol·|expected|.
// Tests pick a named tolerance from TOL, or pass their own with a comment saying why.

export interface Tolerance {
  atol: number;
  rtol: number;
}

export const TOL = {
  /** float64 vs float64 reference: only summation-order noise. */
  f64: { atol: 1e-12, rtol: 1e-10 },
  /** float32 kernel vs float64-accumulating reference, short reductions. */
  f32: { atol: 1e-5, rtol: 1e-4 },
  /** float32 over long reductions (K in the thousands) or transcendental approximations. */
  f32Loose: { atol: 1e-4, rtol: 1e-3 },
  /** Directional gradient check in float64 with central differences (h = 1e-6). */
  gradcheck: { atol: 1e-7, rtol: 1e-5 },
} as const satisfies Record<string, Tolerance>;

/**
 * Assert two arrays (or numbers) are elementwise close. NaN matches only NaN, ±Infinity only
 * itself. Throws naming the worst element, its values, and how many elements failed.
 */
export function assertClose(
  actual: ArrayLike<number> | number,
  expected: ArrayLike<number> | number,
  tol: Tolerance,
  label = 'values',
): void {
  const a = typeof actual === 'number' ? [actual] : actual;
  const e = typeof expected === 'number' ? [expected] : expected;
  if (a.length !== e.length) throw new Error(`${label}: length ${a.length} != expected ${e.length}`);
  let failures = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = e[i];
    if (Number.isNaN(y) || Number.isNaN(x)) {
      if (!(Number.isNaN(x) && Number.isNaN(y))) {
        failures++;
        if (worstExcess < Infinity) {
          worst = i;
          worstExcess = Infinity;
        }
      }
      continue;
    }
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) {
        failures++;
        worst = i;
        worstExcess = Infinity;
      }
      continue;
    }
    const excess = Math.abs(x - y) - (tol.atol + tol.rtol * Math.abs(y));
    if (excess > 0) {
      failures++;
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (failures > 0) {
    throw new Error(
      `${label}: ${failures}/${a.length} elements not close (atol ${tol.atol}, rtol ${tol.rtol}); ` +
        `worst at [${worst}]: actual ${a[worst]}, expected ${e[worst]}`,
    );
  }
}
