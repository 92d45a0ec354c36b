// lib/unary_ops.wgsl: the f32 elementwise unary primitives, one function per UNARY_OPS entry
// (not a kernel). The unary kernels call `op_<name>`; the host substitutes the name.
// Semantics follow the reference backend (src/tensor/backends/ref.ts).
// Needs lib/math.wgsl.

fn op_neg(x: f32) -> f32 { return -x; }
fn op_exp(x: f32) -> f32 { return exp(x); }
fn op_log(x: f32) -> f32 { return log(x); }
fn op_sqrt(x: f32) -> f32 { return sqrt(x); }
fn op_rsqrt(x: f32) -> f32 { return 1.0 / sqrt(x); }
fn op_tanh(x: f32) -> f32 { return tanh32(x); }
fn op_erf(x: f32) -> f32 { return erf32(x); }
// gelu(x) = x * Phi(x), the exact erf form
fn op_gelu(x: f32) -> f32 { return x * normalCdf(x); }
// gelu'(x) = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
fn op_gelu_grad(x: f32) -> f32 {
  let a = abs(x) * 0.70710678118654752;
  return normalCdf(x) + x * 0.39894228040143268 * expNegSquare(a);
}
fn op_relu(x: f32) -> f32 { return select(0.0, x, x > 0.0); }
fn op_sigmoid(x: f32) -> f32 {
  // exp of a non-positive argument only, so neither branch overflows
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
fn op_abs(x: f32) -> f32 { return abs(x); }
fn op_sign(x: f32) -> f32 { return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0); }
// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
fn op_softplus(x: f32) -> f32 { return max(x, 0.0) + log1pUnit(exp(-abs(x))); }
fn op_recip(x: f32) -> f32 { return 1.0 / x; }
fn op_square(x: f32) -> f32 { return x * x; }
fn op_step(x: f32) -> f32 { return select(0.0, 1.0, x > 0.0); }
