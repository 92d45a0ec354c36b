// gpujs AdamW (decoupled weight decay), in place on p, m, v given the gradient g.
//
// A fragment shader writes one value per thread, so the update is three kernels, run in order
// m, v, p; the p kernel reads the new m and v. Hyperparameters and the bias corrections
// (computed on the host in float64) are uniforms, so the step count does not recompile anything.
// The expression order follows adamwScalar in src/tensor/backends/ref.ts.

import { J, type KernelSpec, type NativeFn, params, passThrough } from './spec.js';

interface Out {
  size: number;
  outIdx: NativeFn;
  hasPrev: boolean;
}

/** m' = beta1·m + (1 - beta1)·g */
export function adamwMomentKernel(out: Out, mAt: NativeFn, gAt: NativeFn): KernelSpec {
  return {
    family: 'adamw.m',
    source: `function (${params(['m', 'g', 'beta1', 'oneMinusBeta1'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return beta1 * m[mAt(${J})] + oneMinusBeta1 * g[gAt(${J})];
}`,
    natives: [out.outIdx, mAt, gAt],
    output: [out.size],
  };
}

/** v' = beta2·v + (1 - beta2)·g² */
export function adamwVarianceKernel(out: Out, vAt: NativeFn, gAt: NativeFn): KernelSpec {
  return {
    family: 'adamw.v',
    source: `function (${params(['v', 'g', 'beta2', 'oneMinusBeta2'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  const gj = g[gAt(${J})];
  return beta2 * v[vAt(${J})] + oneMinusBeta2 * gj * gj;
}`,
    natives: [out.outIdx, vAt, gAt],
    output: [out.size],
  };
}

/** p' = (p - lr·wd·p) - lr·(m'/bc1) / (sqrt(v'/bc2) + eps) */
export function adamwParamKernel(out: Out, pAt: NativeFn, mAt: NativeFn, vAt: NativeFn): KernelSpec {
  return {
    family: 'adamw.p',
    source: `function (${params(['p', 'm', 'v', 'lr', 'lrWd', 'bc1', 'bc2', 'eps'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  const pj = p[pAt(${J})];
  const decayed = pj - lrWd * pj;
  return decayed - (lr * (m[mAt(${J})] / bc1)) / (Math.sqrt(v[vAt(${J})] / bc2) + eps);
}`,
    natives: [out.outIdx, pAt, mAt, vAt],
    output: [out.size],
  };
}
