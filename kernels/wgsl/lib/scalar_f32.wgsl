// lib/scalar_f32.wgsl: element type T = f32 and its helpers for type-generic kernels (not a kernel).
// Type-generic kernels pick it by including lib/scalar_<T>.wgsl with T substituted; kernels of
// one type may include it directly.

alias T = f32;

// Identity of max.
fn lowest() -> T {
  return negInfinity();
}

// max that propagates NaN from either side, as the reference backend does.
fn maxNan(a: T, b: T) -> T {
  return select(a, b, b > a || isNan(b));
}
