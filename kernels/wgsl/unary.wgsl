// unary.wgsl: out[i] = op(x[i]) for float32, op one of UNARY_OPS (substituted as {{OP}}).
//
// Layout: lib/elementwise.wgsl, operand 0 = out, operand 1 = x; both may be strided views.
// Workgroup: 256 invocations, grid-stride loop over the n logical elements.
// #include lib/params.wgsl
// #include lib/elementwise.wgsl
// #include lib/math.wgsl
// #include lib/unary_ops.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> xBuf: array<f32>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let n = P[0].x;
  let step = groupCount(nwg) * 256u;
  for (var i = groupIndex(wid, nwg) * 256u + lid; i < n; i += step) {
    let o = operandOffsets(i);
    outBuf[o.x] = op_{{OP}}(xBuf[o.y]);
  }
}
