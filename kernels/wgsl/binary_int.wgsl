// binary_int.wgsl: out[i] = op(a[i], b[i]) for int32, op one of BINARY_OPS ({{OP}}).
// Matches the reference's JavaScript semantics after ToInt32: add/sub/mul wrap, division
// truncates toward zero and x/0 gives 0, pow is exact by repeated squaring (wrapping),
// comparisons give 1 or 0.
//
// Parameters: lib/elementwise_params.wgsl, operand 0 = out, 1 = a, 2 = b. Workgroup: 256, grid-stride loop.
// #include lib/elementwise_params.wgsl
// #include lib/elementwise_main.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<i32>;
@group(0) @binding(2) var<storage, read> aBuf: array<i32>;
@group(0) @binding(3) var<storage, read> bBuf: array<i32>;

fn bop_add(a: i32, b: i32) -> i32 { return a + b; }
fn bop_sub(a: i32, b: i32) -> i32 { return a - b; }
fn bop_mul(a: i32, b: i32) -> i32 { return a * b; }
fn bop_div(a: i32, b: i32) -> i32 { return select(a / b, 0, b == 0); }
fn bop_pow(a: i32, b: i32) -> i32 {
  if (b < 0) {
    // 1 / a^|b| truncates to 0 unless |a| == 1; 1/0 = Infinity becomes 0
    if (a == 1) {
      return 1;
    }
    if (a == -1) {
      return select(1, -1, (b & 1) != 0);
    }
    return 0;
  }
  var result = 1;
  var base = a;
  var e = u32(b);
  while (e != 0u) {
    if ((e & 1u) != 0u) {
      result = result * base;
    }
    base = base * base;
    e = e >> 1u;
  }
  return result;
}
fn bop_maximum(a: i32, b: i32) -> i32 { return max(a, b); }
fn bop_minimum(a: i32, b: i32) -> i32 { return min(a, b); }
fn bop_eq(a: i32, b: i32) -> i32 { return select(0, 1, a == b); }
fn bop_ne(a: i32, b: i32) -> i32 { return select(0, 1, a != b); }
fn bop_lt(a: i32, b: i32) -> i32 { return select(0, 1, a < b); }
fn bop_le(a: i32, b: i32) -> i32 { return select(0, 1, a <= b); }
fn bop_gt(a: i32, b: i32) -> i32 { return select(0, 1, a > b); }
fn bop_ge(a: i32, b: i32) -> i32 { return select(0, 1, a >= b); }

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  outBuf[o.x] = bop_{{OP}}(aBuf[o.y], bBuf[o.z]);
}
