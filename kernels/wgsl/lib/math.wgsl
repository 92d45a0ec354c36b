// lib/math.wgsl: accurate f32 special functions for the kernels (not a kernel).
//
// WGSL's builtins cover exp/log/sqrt; the rest is here, each accurate to a few f32 ulps
// (relative) over the whole float range. The polynomial coefficients were fitted for this
// project by weighted least squares against mpmath (40 digits), then checked in simulated f32
// arithmetic: erf on [0, 1] within 1.8e-7 relative, erfc on [1, 9] within 3.4e-7 relative,
// tanh within 1.1e-7 relative, log1p within 1e-7 relative.

// exp(-a*a) without the rounding error of a*a (which would cost up to 81 * 2^-24 relative at a = 9):
// split a = hi + lo with hi holding 12 significant bits, so hi*hi is exact.
fn expNegSquare(a: f32) -> f32 {
  let hi = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
  let lo = a - hi;
  return exp(-hi * hi) * exp(-lo * (a + hi));
}

// erfc(a) for a >= 1: exp(-a^2) * g(t), g a degree-8 polynomial in t = 1 / (1 + a/2).
// erfc underflows f32 beyond a = 10.
fn erfcTail(a: f32) -> f32 {
  if (a >= 10.0) {
    return 0.0;
  }
  let t = 1.0 / (1.0 + 0.5 * a);
  var g = 7.708026469e-02;
  g = g * t - 1.721104532e-01;
  g = g * t + 6.301706657e-03;
  g = g * t + 1.205169111e-01;
  g = g * t + 1.505671740e-01;
  g = g * t + 2.552594244e-01;
  g = g * t + 2.805639505e-01;
  g = g * t + 2.822434902e-01;
  g = g * t - 6.035190836e-06;
  return expNegSquare(a) * g;
}

// erf(x) for |x| < 1: x * P(x^2), P of degree 6.
fn erfSmall(x: f32) -> f32 {
  let z = x * x;
  var p = 7.897515025e-05;
  p = p * z - 8.024169947e-04;
  p = p * z + 5.190035794e-03;
  p = p * z - 2.685480192e-02;
  p = p * z + 1.128361225e-01;
  p = p * z - 3.761262894e-01;
  p = p * z + 1.128379226e+00;
  return x * p;
}

fn erf32(x: f32) -> f32 {
  let a = abs(x);
  if (a < 1.0) {
    return erfSmall(x);
  }
  return sign(x) * (1.0 - erfcTail(a));
}

// Standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2, computed through erfc in the lower
// tail so that Phi(-8) keeps its relative accuracy instead of cancelling to 0.
fn normalCdf(x: f32) -> f32 {
  let a = abs(x) * 0.70710678118654752;
  if (a < 1.0) {
    return 0.5 + 0.5 * erfSmall(x * 0.70710678118654752);
  }
  let tail = 0.5 * erfcTail(a);
  return select(1.0 - tail, tail, x < 0.0);
}

fn tanh32(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.625) {
    // tanh x = x + x^3 Q(x^2), Q of degree 4
    let z = x * x;
    var q = -6.138398312e-03;
    q = q * z + 2.103294060e-02;
    q = q * z - 5.386095122e-02;
    q = q * z + 1.333286911e-01;
    q = q * z - 3.333333135e-01;
    return x + x * (z * q);
  }
  if (a > 9.0) {
    return sign(x);
  }
  return sign(x) * (1.0 - 2.0 / (exp(2.0 * a) + 1.0));
}

// log(1 + t) for t >= 0 via 2 atanh(s), s = t / (2 + t) in [0, 1): all series terms are positive.
// Used for t in [0, 1] (softplus), where s <= 1/3 and eight terms reach f32 precision.
fn log1pUnit(t: f32) -> f32 {
  let s = t / (2.0 + t);
  let s2 = s * s;
  var q = 1.0 / 15.0;
  q = q * s2 + 1.0 / 13.0;
  q = q * s2 + 1.0 / 11.0;
  q = q * s2 + 1.0 / 9.0;
  q = q * s2 + 1.0 / 7.0;
  q = q * s2 + 1.0 / 5.0;
  q = q * s2 + 1.0 / 3.0;
  q = q * s2 + 1.0;
  return 2.0 * s * q;
}
