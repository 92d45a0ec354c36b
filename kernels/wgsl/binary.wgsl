// binary.wgsl: out[i] = op(a[i], b[i]) for float32, op one of BINARY_OPS (substituted as {{OP}}).
// Comparisons give 1.0 or 0.0. NaN semantics follow the reference backend.
//
// Parameters: lib/elementwise_params.wgsl, operand 0 = out, 1 = a, 2 = b (already expanded to out's shape;
// broadcast operands arrive with stride 0). Workgroup: 256 invocations, grid-stride loop.
// #include lib/elementwise_params.wgsl
// #include lib/elementwise_main.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> aBuf: array<f32>;
@group(0) @binding(3) var<storage, read> bBuf: array<f32>;

fn isOddInteger(y: f32) -> bool {
  // every f32 of magnitude >= 2^24 is an even integer
  return abs(y) < 16777216.0 && floor(y) == y && (i32(y) & 1) != 0;
}

fn bop_add(a: f32, b: f32) -> f32 { return a + b; }
fn bop_sub(a: f32, b: f32) -> f32 { return a - b; }
fn bop_mul(a: f32, b: f32) -> f32 { return a * b; }
fn bop_div(a: f32, b: f32) -> f32 { return a / b; }
// JavaScript's Math.pow: x^0 = 1 (even for NaN), negative bases need integer exponents,
// and 0^y is handled explicitly (WGSL leaves pow(0, y) undefined).
fn bop_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0) {
    return 1.0;
  }
  if (isNan(x) || isNan(y)) {
    return quietNan();
  }
  let negative = (bitcast<u32>(x) >> 31u) == 1u;
  let flip = negative && isOddInteger(y);
  if (x == 0.0) {
    let magnitude = select(0.0, infinity(), y < 0.0);
    return select(magnitude, -magnitude, flip);
  }
  if (negative && floor(y) != y) {
    return quietNan();
  }
  let magnitude = pow(abs(x), y);
  return select(magnitude, -magnitude, flip);
}
fn bop_maximum(a: f32, b: f32) -> f32 { return select(b, a, a >= b || isNan(a)); }
fn bop_minimum(a: f32, b: f32) -> f32 { return select(b, a, a <= b || isNan(a)); }
fn bop_eq(a: f32, b: f32) -> f32 { return select(0.0, 1.0, a == b); }
fn bop_ne(a: f32, b: f32) -> f32 { return select(0.0, 1.0, a != b); }
fn bop_lt(a: f32, b: f32) -> f32 { return select(0.0, 1.0, a < b); }
fn bop_le(a: f32, b: f32) -> f32 { return select(0.0, 1.0, a <= b); }
fn bop_gt(a: f32, b: f32) -> f32 { return select(0.0, 1.0, a > b); }
fn bop_ge(a: f32, b: f32) -> f32 { return select(0.0, 1.0, a >= b); }

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  outBuf[o.x] = bop_{{OP}}(aBuf[o.y], bBuf[o.z]);
}
