// GLSL ES 1.00 math for the gpujs elementwise kernels: one `float op(...)` native per UNARY_OPS /
// BINARY_OPS entry, plus the error function behind erf, gelu and gelu_grad.
//
// Accuracy is float32 throughout. GLSL ES 1.00 has no erf, tanh or log1p, so they are written
// here: erf is a published single-precision minimax pair (N. Juffa's erff: about 1 ulp, |error| <
// 6e-8 measured against the float64 reference over [-6, 6]); gelu and gelu_grad go through the
// normal CDF computed from erfc directly (a continued fraction far out), so they stay relatively
// accurate in the left tail where 1 + erf(x/√2) would cancel to nothing; tanh
// switches to its Taylor series near 0 where (1-t)/(1+t) cancels. Comparisons return 1.0 or 0.0,
// and maximum/minimum propagate NaN like the reference (GLSL's max/min leave NaN undefined), as
// does pow. int32 binary ops (stored as floats, exact to 2^24) truncate their results, and int32
// pow is exact by repeated squaring within ±2^24 (POW_INT).

import type { BinaryOp, UnaryOp } from '../../src/tensor/backend.js';
import { type NativeFn, glsl, withHelpers } from './spec.js';

/** erfc(t) = exp(erfcLog(t)) for t > 0.927734375 (the large-argument branch of Juffa's erff). */
const ERFC_LOG = glsl(
  'float',
  'erfcLog',
  [['float', 't']],
  [
    'float s = t * t;',
    'float r = -1.72853470e-5 * t + 3.83197126e-4;',
    'float u = -3.88396438e-3 * t + 2.42546219e-2;',
    'r = r * s + u;',
    'r = r * t - 1.06777877e-1;',
    'r = r * t - 6.34846687e-1;',
    'r = r * t - 1.28717512e-1;',
    'return r * t - t;',
  ],
);

/** erf(x) for |x| <= 0.927734375 (the small-argument branch of Juffa's erff). */
const ERF_SMALL = glsl(
  'float',
  'erfSmall',
  [['float', 'x']],
  [
    'float s = x * x;',
    'float r = -5.96761703e-4;',
    'r = r * s + 4.99119423e-3;',
    'r = r * s - 2.67681349e-2;',
    'r = r * s + 1.12819925e-1;',
    'r = r * s - 3.76125336e-1;',
    'r = r * s + 1.28379166e-1;',
    'return r * x + x;',
  ],
);

const ERF = glsl(
  'float',
  'erf_',
  [['float', 'x']],
  [
    'float t = abs(x);',
    'if (t > 0.927734375) {',
    '  float r = 1.0 - exp(erfcLog(t));',
    '  return x < 0.0 ? -r : r;',
    '}',
    'return erfSmall(x);',
  ],
);

/**
 * erfc(t) for t >= 2 to float32 relative accuracy (2.2e-7 measured up to t = 9, where it nears
 * the float32 subnormals): the continued fraction erfc(t) = e^{-t²}/√π / (t + ½/(t + 1/(t + 3/2/
 * (t + ...)))) with 16 terms, and e^{-t²} split as e^{-h²}·e^{-(t-h)(t+h)} with h = t rounded to
 * 1/256, so that h² is exact. Juffa's branch is accurate in absolute terms only, which the
 * gelu/gelu_grad left tail (values below 1e-6) would lose.
 */
const ERFC_TAIL = glsl(
  'float',
  'erfcTail',
  [['float', 't']],
  [
    // beyond 10, erfc is below the smallest float32 subnormal (and t = inf would give inf - inf)
    'if (t > 10.0) return 0.0;',
    'float f = 0.0;',
    'for (int k = 16; k >= 1; k--) {',
    '  f = float(k) * 0.5 / (t + f);',
    '}',
    'float h = floor(t * 256.0) / 256.0;',
    'float e = exp(-h * h) * exp(-(t - h) * (t + h));',
    'return e * 0.56418958354775628 / (t + f);',
  ],
);

/** Phi(x), the standard normal CDF, = erfc(-x/sqrt 2)/2 without cancellation in either tail. */
const PHI = glsl(
  'float',
  'phi_',
  [['float', 'x']],
  [
    'float z = x * 0.70710678118654752;',
    'float t = abs(z);',
    'if (t >= 2.0) {',
    '  float far = 0.5 * erfcTail(t);',
    '  return z < 0.0 ? far : 1.0 - far;',
    '}',
    'if (t > 0.927734375) {',
    '  float tail = 0.5 * exp(erfcLog(t));',
    '  return z < 0.0 ? tail : 1.0 - tail;',
    '}',
    'return 0.5 + 0.5 * erfSmall(z);',
  ],
);

const TANH = glsl(
  'float',
  'tanh_',
  [['float', 'x']],
  [
    'float ax = abs(x);',
    'if (ax < 0.1) {',
    '  float x2 = x * x;',
    '  return x * (1.0 + x2 * (-0.33333333333 + x2 * (0.13333333333 + x2 * -0.05396825397)));',
    '}',
    'float t = exp(-2.0 * ax);',
    'float r = (1.0 - t) / (1.0 + t);',
    'return x < 0.0 ? -r : r;',
  ],
);

/** log(1 + y) for y in [0, 1]: a short series below 1e-2, where 1 + y would round y away. */
const LOG1P_UNIT = glsl(
  'float',
  'log1pUnit',
  [['float', 'y']],
  ['if (y < 0.01) return y * (1.0 - y * (0.5 - y * (0.33333333333 - y * 0.25)));', 'return log(1.0 + y);'],
);

/** The GLSL expression of each unary op in terms of `x`. */
const UNARY_EXPR: Record<UnaryOp, string> = {
  neg: '-x',
  exp: 'exp(x)',
  log: 'log(x)',
  sqrt: 'sqrt(x)',
  rsqrt: '1.0 / sqrt(x)',
  tanh: 'tanh_(x)',
  erf: 'erf_(x)',
  // gelu(x) = x·Phi(x)
  gelu: 'x * phi_(x)',
  // gelu'(x) = Phi(x) + x·phi(x), phi the normal density
  gelu_grad: 'phi_(x) + x * 0.39894228040143268 * exp(-0.5 * x * x)',
  relu: 'x > 0.0 ? x : 0.0',
  sigmoid: 'x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x))',
  abs: 'abs(x)',
  sign: 'x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0)',
  // softplus(x) = max(x, 0) + log(1 + e^-|x|); NaN falls through the second term
  softplus: '(x > 0.0 ? x : 0.0) + log1pUnit(exp(-abs(x)))',
  recip: '1.0 / x',
  square: 'x * x',
  step: 'x > 0.0 ? 1.0 : 0.0',
};

/** Natives each unary op needs besides its own function. */
const UNARY_DEPS: Partial<Record<UnaryOp, NativeFn[]>> = {
  tanh: [TANH],
  erf: [ERFC_LOG, ERF_SMALL, ERF],
  gelu: [ERFC_LOG, ERF_SMALL, ERFC_TAIL, PHI],
  gelu_grad: [ERFC_LOG, ERF_SMALL, ERFC_TAIL, PHI],
  softplus: [LOG1P_UNIT],
};

/** pow with JavaScript's Math.pow semantics for negative bases and zero exponents. */
const POW = glsl(
  'float',
  'pow_',
  [
    ['float', 'a'],
    ['float', 'b'],
  ],
  [
    'if (b == 0.0) return 1.0;',
    // NaN operands give NaN (JavaScript's 1^NaN too). Without this, Mesa fuses exp2(b * log2(a))
    // below into one pow, and llvmpipe's pow gives 0 for a NaN base (pow(NaN, 1) = 0), though
    // exp2 and log2 alone pass NaN on. `x != x` is the NaN test that holds here (maxNan uses it).
    'if (a != a || b != b) return a + b;',
    // 0^negative is infinite, signed like 1/a for odd integer exponents (Mesa's pow gives 0 here)
    'if (a == 0.0 && b < 0.0) {',
    '  float inv = 1.0 / a;',
    '  return (floor(b) == b && floor(b * 0.5) * 2.0 != b) ? inv : abs(inv);',
    '}',
    'if (a < 0.0 && floor(b) == b) {',
    '  float m = exp2(b * log2(-a));',
    '  return floor(b * 0.5) * 2.0 == b ? m : -m;',
    '}',
    // a < 0 with a fractional exponent: log2 of a negative number is NaN, as in JavaScript
    'return exp2(b * log2(a));',
  ],
);

/**
 * int32 pow, exact by repeated squaring, like the reference's ToInt32(Math.pow(a, b)) whenever
 * |a^b| <= 2^24 (what float32 storage holds exactly; every product formed on the way that is used
 * is at most |a^b| then). Negative exponents: 1 / a^|b| truncates to 0 unless |a| == 1, and 0^-n
 * (Infinity) becomes 0. Past 2^24 the result is the float32 product, rounded (the reference wraps
 * the exact power past 2^31; gpujs refuses int32 data past 2^24 on upload for the same reason).
 * The exponent's bits are peeled in at most 25 steps (exponents below 2^25).
 */
const POW_INT = glsl(
  'float',
  'powInt',
  [
    ['float', 'a'],
    ['float', 'b'],
  ],
  [
    'if (b < 0.0) {',
    '  if (a == 1.0) return 1.0;',
    '  if (a == -1.0) return floor(b * 0.5) * 2.0 == b ? 1.0 : -1.0;',
    '  return 0.0;',
    '}',
    // past the loop's 25 bits (only device-computed exponents get here; float32 makes them even):
    // 0, 1 and -1 stay put, any other base's power is infinite even in float64, which ToInt32 makes 0
    'if (b >= 33554432.0) return (a == 0.0 || a == 1.0) ? a : (a == -1.0 ? 1.0 : 0.0);',
    'float result = 1.0;',
    'float base = a;',
    'int e = int(b);',
    'for (int i = 0; i < 25; i++) {',
    '  if (e == 0) break;',
    '  if (e - (e / 2) * 2 == 1) result *= base;',
    '  base *= base;',
    '  e = e / 2;',
    '}',
    'return result;',
  ],
);

/**
 * An int32 result from the float one: truncated toward zero, NaN and ±Infinity to 0, as the
 * reference's store into an Int32Array (ToInt32) does within ±2^24.
 */
const TO_INT = glsl(
  'float',
  'toInt32',
  [['float', 'x']],
  ['if (x != x || abs(x) > 3.0e38) return 0.0;', 'return x < 0.0 ? ceil(x) : floor(x);'],
);

const BINARY_EXPR: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'pow_(a, b)',
  maximum: '(a >= b || a != a) ? a : b',
  minimum: '(a <= b || a != a) ? a : b',
  eq: 'a == b ? 1.0 : 0.0',
  ne: 'a != b ? 1.0 : 0.0',
  lt: 'a < b ? 1.0 : 0.0',
  le: 'a <= b ? 1.0 : 0.0',
  gt: 'a > b ? 1.0 : 0.0',
  ge: 'a >= b ? 1.0 : 0.0',
};

/** `float name(float x)` computing a unary op, carrying the helpers it calls. */
export function unaryNative(op: UnaryOp, name: string): NativeFn {
  return withHelpers(glsl('float', name, [['float', 'x']], [`return ${UNARY_EXPR[op]};`]), UNARY_DEPS[op] ?? []);
}

/**
 * `float name(float a, float b)` computing a binary op, carrying the helpers it calls. With `int`
 * (int32 operands, stored as floats): pow is exact (powInt) and every result is truncated to an
 * integer (toInt32), so device-resident int32 data holds integers, as the reference's does.
 */
export function binaryNative(op: BinaryOp, name: string, int = false): NativeFn {
  const expr = int && op === 'pow' ? 'powInt(a, b)' : BINARY_EXPR[op];
  const body = glsl(
    'float',
    name,
    [
      ['float', 'a'],
      ['float', 'b'],
    ],
    [`return ${int ? `toInt32(${expr})` : expr};`],
  );
  const helpers = op === 'pow' ? [int ? POW_INT : POW] : [];
  return withHelpers(body, int ? [...helpers, TO_INT] : helpers);
}

/** NaN-propagating running maximum, shared by reduce-max and softmax. */
export const MAX_NAN = glsl(
  'float',
  'maxNan',
  [
    ['float', 'acc'],
    ['float', 'v'],
  ],
  ['return (v > acc || v != v) ? v : acc;'],
);
