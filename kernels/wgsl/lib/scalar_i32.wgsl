// lib/scalar_i32.wgsl: element type T = i32 and its helpers for type-generic kernels (not a kernel).
// Type-generic kernels pick it by including lib/scalar_<T>.wgsl with T substituted; kernels of
// one type may include it directly.

alias T = i32;

fn lowest() -> T {
  return -2147483647 - 1;
}

fn maxNan(a: T, b: T) -> T {
  return max(a, b);
}
