// lib/scalar_f32.wgsl: element type T = f32 and its helpers for type-generic kernels (not a kernel).
// A kernel picks its element type with `// #include lib/scalar_{{T}}.wgsl`.

alias T = f32;

// Identity of max.
fn lowest() -> T {
  return negInfinity();
}

// max that propagates NaN from either side, as the reference backend does.
fn maxNan(a: T, b: T) -> T {
  return select(a, b, b > a || isNan(b));
}
