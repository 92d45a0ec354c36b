// lib/elementwise_main.wgsl: the entry point of the elementwise kernels (not a kernel). A kernel
// that includes it defines
//   fn element(i: u32, o: vec4<i32>)
// and `main` calls it once for every logical element i (row-major over the iteration shape), with
// o = the buffer offsets of operands 0..3 at i (lib/elementwise.wgsl).
// Workgroup: 256 invocations, grid-stride loop over the params.n logical elements.
// #include lib/elementwise.wgsl

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let n = params.n;
  let step = groupCount(nwg) * 256u;
  for (var i = groupIndex(wid, nwg) * 256u + lid; i < n; i += step) {
    element(i, operandOffsets(i));
  }
}
