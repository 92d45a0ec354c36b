// lib/runtime.wgsl: float constants made at run time, NaN tests and float -> int32 conversion
// (not a kernel). Needs runtimeZero() from the file that declares the uniform (the kernel's
// parameter struct, or the lib/*_io.wgsl or lib/elementwise.wgsl it includes).

// Infinities and NaN are not WGSL constant values (constant evaluation rejects them), so they are
// made at run time: OR-ing in a zero derived from the uniform block (runtimeZero(), defined by the
// file that declares the uniform) keeps the expression out of constant evaluation.
fn runtimeF32(bits: u32) -> f32 {
  return bitcast<f32>(bits | runtimeZero());
}

fn infinity() -> f32 {
  return runtimeF32(0x7f800000u);
}

fn negInfinity() -> f32 {
  return runtimeF32(0xff800000u);
}

fn quietNan() -> f32 {
  return runtimeF32(0x7fc00000u);
}

// NaN test on the bits: compilers may assume `x != x` is false.
fn isNan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// JavaScript's ToInt32(x) for float x: truncate toward zero, NaN and infinities give 0, and
// values beyond the i32 range wrap modulo 2^32 (as storing into an Int32Array does).
fn toInt32(x: f32) -> i32 {
  let bits = bitcast<u32>(x) & 0x7fffffffu;
  if (bits >= 0x7f800000u) {
    return 0;
  }
  if (abs(x) < 2147483648.0) {
    return i32(trunc(x));
  }
  // |x| >= 2^31 is an integer; reduce it modulo 2^32 exactly (the scaling by 2^32 is exact).
  let wrapped = x - 4294967296.0 * floor(x / 4294967296.0);
  return bitcast<i32>(u32(wrapped));
}
