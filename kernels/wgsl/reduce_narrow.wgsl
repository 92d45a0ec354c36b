// reduce_narrow.wgsl: keep-dims reduction for short reductions (R <= 256): one invocation per
// output folds its R elements serially in increasing k; op = {{OP}} (sum | max), T = {{T}}.
// Same results contract and parameter layout as reduce.wgsl (always one chunk here), which the
// host uses for longer reductions. Deterministic; no workgroup memory or barriers.
//
// Bindings and layout: lib/reduce_io.wgsl (P[0] = (M, R, kept rank, reduced rank),
// P[1] = (x offset, out offset, -, -), P[2..3] kept shape, P[4..5] reduced shape, P[6 + d] strides).
// Workgroup: 256 invocations, grid-stride over the M outputs.
// #include lib/params.wgsl
// #include lib/scalar_{{T}}.wgsl
// #include lib/reduce_io.wgsl
// #include lib/fold.wgsl

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let outputs = P[0].x;
  let total = P[0].y;
  let step = groupCount(nwg) * 256u;
  for (var j = groupIndex(wid, nwg) * 256u + lid; j < outputs; j += step) {
    let base = keptOffsets(j);
    var acc = identity_{{OP}}();
    for (var k = 0u; k < total; k++) {
      acc = combine_{{OP}}(acc, xBuf[base.x + reducedOffset(k)]);
    }
    outBuf[base.y] = acc;
  }
}
