// lib/params.wgsl: the shared prelude of every kernel (not a kernel itself).
// The host loader pastes this text where a kernel says `// #include lib/params.wgsl`.
//
// Each dispatch reads its parameters from one 256-byte uniform slot, P[0..15] as vec4<u32>.
// Signed values (strides, offsets) are stored as i32 bits, float values as f32 bits. What each
// slot means is documented at the top of the kernel (and packed in src/tensor/backends/webgpu).
// Dispatches are 2-D (x, y) grids of workgroups; kernels walk their work in grid-stride loops,
// so any problem size runs within the 65535-workgroups-per-dimension limit.

@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 16>;

fn asI32(v: vec4<u32>) -> vec4<i32> {
  return bitcast<vec4<i32>>(v);
}

// Linear id of this workgroup in the 2-D dispatch, and the number of workgroups launched.
fn groupIndex(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.y * nwg.x + wid.x;
}

fn groupCount(nwg: vec3<u32>) -> u32 {
  return nwg.x * nwg.y;
}

// Infinities and NaN are not WGSL constant values (constant evaluation rejects them), so they are
// made at run time: OR-ing in a zero derived from the uniform block keeps the expression out of
// constant evaluation.
fn runtimeF32(bits: u32) -> f32 {
  return bitcast<f32>(bits | (P[0].x & 0u));
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
