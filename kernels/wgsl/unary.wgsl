// unary.wgsl: out[i] = op(x[i]) for float32, op one of UNARY_OPS (substituted as {{OP}}).
//
// Parameters: lib/elementwise_params.wgsl, operand 0 = out, operand 1 = x; both may be strided views.
// Workgroup: 256 invocations, grid-stride loop over the n logical elements.
// #include lib/elementwise_params.wgsl
// #include lib/elementwise_main.wgsl
// #include lib/math.wgsl
// #include lib/unary_ops.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> xBuf: array<f32>;

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  outBuf[o.x] = op_{{OP}}(xBuf[o.y]);
}
