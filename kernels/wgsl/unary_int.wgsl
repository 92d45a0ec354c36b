// unary_int.wgsl: out[i] = op(x[i]) for int32, op one of UNARY_OPS (substituted as {{OP}}).
//
// Integer-exact where the reference is exact (neg, abs, sign, relu, step, square: wrapping i32
// arithmetic); every other op goes through the f32 function and JavaScript's ToInt32, as the
// reference does when it stores a float result into an Int32Array.
// Parameters: lib/elementwise_params.wgsl, operand 0 = out, operand 1 = x.
// Workgroup: 256 invocations, grid-stride loop over the n logical elements.
// #include lib/elementwise_params.wgsl
// #include lib/elementwise_main.wgsl
// #include lib/math.wgsl
// #include lib/unary_ops.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<i32>;
@group(0) @binding(2) var<storage, read> xBuf: array<i32>;

fn iop_neg(x: i32) -> i32 { return -x; }
fn iop_abs(x: i32) -> i32 { return select(x, -x, x < 0); }
fn iop_sign(x: i32) -> i32 { return select(select(0, -1, x < 0), 1, x > 0); }
fn iop_relu(x: i32) -> i32 { return max(x, 0); }
fn iop_step(x: i32) -> i32 { return select(0, 1, x > 0); }
fn iop_square(x: i32) -> i32 { return x * x; }
fn iop_exp(x: i32) -> i32 { return toInt32(op_exp(f32(x))); }
fn iop_log(x: i32) -> i32 { return toInt32(op_log(f32(x))); }
fn iop_sqrt(x: i32) -> i32 { return toInt32(op_sqrt(f32(x))); }
fn iop_rsqrt(x: i32) -> i32 { return toInt32(op_rsqrt(f32(x))); }
fn iop_tanh(x: i32) -> i32 { return toInt32(op_tanh(f32(x))); }
fn iop_erf(x: i32) -> i32 { return toInt32(op_erf(f32(x))); }
fn iop_gelu(x: i32) -> i32 { return toInt32(op_gelu(f32(x))); }
fn iop_gelu_grad(x: i32) -> i32 { return toInt32(op_gelu_grad(f32(x))); }
fn iop_sigmoid(x: i32) -> i32 { return toInt32(op_sigmoid(f32(x))); }
fn iop_softplus(x: i32) -> i32 { return toInt32(op_softplus(f32(x))); }
fn iop_recip(x: i32) -> i32 { return toInt32(op_recip(f32(x))); }

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  outBuf[o.x] = iop_{{OP}}(xBuf[o.y]);
}
