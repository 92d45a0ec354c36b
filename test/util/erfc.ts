// A float64 reference for the far tail of erfc, used by the GPU backends' gelu tail checks,
// where the reference backend's 1 - erf(z) cancels to nothing. Not a general erfc: z >= 2 only.

/**
 * erfc(z) for z >= 2 by its continued fraction, evaluated backwards to float64 precision:
 * erfc(z) = exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))).
 */
export function erfcLarge(z: number): number {
  let t = 0;
  for (let k = 200; k >= 1; k--) t = k / 2 / (z + t);
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + t);
}
