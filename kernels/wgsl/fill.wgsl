// fill.wgsl: out[i] = value for every element of a (possibly strided) view; T = {{T}}.
//
// Layout: lib/elementwise.wgsl, operand 0 = out; P[0].z = the value's bits (f32 or i32).
// Workgroup: 256 invocations, grid-stride loop.
// #include lib/params.wgsl
// #include lib/elementwise.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let n = P[0].x;
  let value = bitcast<T>(P[0].z);
  let step = groupCount(nwg) * 256u;
  for (var i = groupIndex(wid, nwg) * 256u + lid; i < n; i += step) {
    outBuf[operandOffsets(i).x] = value;
  }
}
