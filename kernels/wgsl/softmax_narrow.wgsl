// softmax_narrow.wgsl: softmax or log-softmax over the last axis for short rows, float32:
// one invocation per row, three serial passes (max, sum of exp, write). Same results contract
// and parameter layout as softmax.wgsl, which the host uses for rows longer than 256.
// Serial sums in increasing c: deterministic. No workgroup memory, no barriers (on the software
// adapter a barrier-synchronised workgroup per short row costs far more than the row itself).
//
// Bindings and layout: lib/softmax_io.wgsl, as softmax.wgsl.
// Workgroup: 256 invocations, grid-stride over rows.
// #include lib/softmax_io.wgsl

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let rows = params.rows;
  let len = i32(params.len);
  let logOutput = params.logOutput == 1u;
  let xStride = params.xStride;
  let outStride = params.outStride;
  let step = groupCount(nwg) * 256u;
  for (var row = groupIndex(wid, nwg) * 256u + lid; row < rows; row += step) {
    let base = rowOffsets(row);
    var rowMax = negInfinity();
    for (var c = 0; c < len; c++) {
      let v = xBuf[base.x + c * xStride];
      rowMax = select(rowMax, v, v > rowMax);
    }
    var rowSum = 0.0;
    for (var c = 0; c < len; c++) {
      rowSum += exp(xBuf[base.x + c * xStride] - rowMax);
    }
    let logSum = log(rowSum);
    for (var c = 0; c < len; c++) {
      let shifted = xBuf[base.x + c * xStride] - rowMax;
      outBuf[base.y + c * outStride] = select(exp(shifted) / rowSum, shifted - logSum, logOutput);
    }
  }
}
