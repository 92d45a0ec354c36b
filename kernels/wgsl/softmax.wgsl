// softmax.wgsl: softmax, or log-softmax when logOutput = 1, over the last axis; float32.
//   out[r, c] = exp(x[r, c] - max_r) / sum_r      or   (x[r, c] - max_r) - log(sum_r)
// with sum_r = sum_c exp(x[r, c] - max_r).
//
// Parameters (by name: SoftmaxParams) and bindings: lib/softmax_io.wgsl.
// Workgroup: 256 invocations, one workgroup per row (grid-stride over rows). Max and sum are
// combined by lib/tree.wgsl's fixed binary trees in workgroup memory, so results are
// deterministic; the row statistics reach every invocation through its result slots (max in slot
// 0, sum in slot 1), not by reading the tree root (a Mesa llvmpipe workaround, see lib/tree.wgsl).
// #include lib/scalar_f32.wgsl
// #include lib/softmax_io.wgsl
// #include lib/tree.wgsl

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let rows = params.rows;
  let len = params.len;
  let logOutput = params.logOutput == 1u;
  let xStride = params.xStride;
  let outStride = params.outStride;
  for (var row = groupIndex(wid, nwg); row < rows; row += groupCount(nwg)) {
    let base = rowOffsets(row);
    var localMax = negInfinity();
    for (var c = lid; c < len; c += 256u) {
      let v = xBuf[base.x + i32(c) * xStride];
      localMax = select(localMax, v, v > localMax);
    }
    let rowMax = treeAll(lid, localMax, fold_max, 0u);
    var localSum = 0.0;
    for (var c = lid; c < len; c += 256u) {
      localSum += exp(xBuf[base.x + i32(c) * xStride] - rowMax);
    }
    let rowSum = treeAll(lid, localSum, fold_sum, 1u);
    let logSum = log(rowSum);
    for (var c = lid; c < len; c += 256u) {
      let shifted = xBuf[base.x + i32(c) * xStride] - rowMax;
      let y = select(exp(shifted) / rowSum, shifted - logSum, logOutput);
      outBuf[base.y + i32(c) * outStride] = y;
    }
  }
}
