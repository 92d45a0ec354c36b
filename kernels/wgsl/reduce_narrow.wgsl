// reduce_narrow.wgsl: keep-dims reduction for short reductions (R <= 256): one invocation per
// output folds its R elements serially in increasing k; op = {{OP}} (sum | max), T = {{T}}.
// Same results contract and parameter layout as reduce.wgsl (always one chunk here), which the
// host uses for longer reductions. Deterministic; no workgroup memory or barriers.
//
// Parameters (by name: ReduceParams, one chunk) and bindings: lib/reduce_io.wgsl.
// Workgroup: 256 invocations, grid-stride over the M outputs.
// #include lib/scalar_{{T}}.wgsl
// #include lib/reduce_io.wgsl
// #include lib/fold.wgsl

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let outputs = params.outputs;
  let total = params.total;
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
