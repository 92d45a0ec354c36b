// reduce.wgsl: keep-dims reduction out[j] = op_k x[j, k] over any set of axes; op = {{OP}}
// (sum | max), T = {{T}}. j runs over the kept dims, k over the reduced dims (both row-major).
//
// Parameters (by name: ReduceParams) and bindings: lib/reduce_io.wgsl.
// Workgroup: 256 invocations; one workgroup per (output, chunk) task, grid-stride over M*C tasks.
// Determinism: invocation t folds k = t, t+256, ... of its chunk in order, then lib/tree.wgsl's
// fixed binary tree combines the 256 partials. The order depends only on R, L and the
// workgroup size, never on scheduling. With C > 1 the host reduces the C partials in a second
// pass (long reductions into few outputs would otherwise run on one workgroup).
// #include lib/scalar_{{T}}.wgsl
// #include lib/reduce_io.wgsl
// #include lib/tree.wgsl

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let outputs = params.outputs;
  let total = params.total;
  let chunkLength = params.chunkLength;
  let chunks = params.chunks;
  let chunkStride = params.chunkStride;
  let tasks = outputs * chunks;
  for (var task = groupIndex(wid, nwg); task < tasks; task += groupCount(nwg)) {
    let j = task / chunks;
    let c = task % chunks;
    let base = keptOffsets(j);
    let start = c * chunkLength;
    let end = min(total, start + chunkLength);
    var acc = identity_{{OP}}();
    for (var k = start + lid; k < end; k += 256u) {
      acc = combine_{{OP}}(acc, xBuf[base.x + reducedOffset(k)]);
    }
    let result = treeRoot(lid, acc, fold_{{OP}});
    if (lid == 0u) {
      outBuf[base.y + i32(c) * chunkStride] = result;
    }
  }
}
