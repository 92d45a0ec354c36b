// layernorm.wgsl: LayerNorm over the last axis with affine weight and bias, float32:
//   mean_r = sum_h x / H,  rstd_r = 1 / sqrt(sum_h (x - mean_r)^2 / H + eps),
//   out[r, h] = (x[r, h] - mean_r) * rstd_r * w[h] + b[h]; also writes mean[r] and rstd[r].
// The variance is the two-pass form (no E[x^2] - mean^2 cancellation).
//
// Parameters (by name: LayerNormParams) and bindings: lib/layernorm_io.wgsl.
// Workgroup: 256 invocations, one workgroup per row (grid-stride over rows); sums use
// lib/tree.wgsl's fixed binary trees in workgroup memory, so results are deterministic; the sums
// reach every invocation through its result slots (sum of x in slot 0, of squares in slot 1), not
// by reading the tree root (a Mesa llvmpipe workaround, see lib/tree.wgsl).
// #include lib/scalar_f32.wgsl
// #include lib/layernorm_io.wgsl
// #include lib/tree.wgsl

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let rows = params.rows;
  let len = params.len;
  let eps = params.eps;
  let xStride = params.xStride;
  let outStride = params.outStride;
  for (var row = groupIndex(wid, nwg); row < rows; row += groupCount(nwg)) {
    let base = rowOffsets(row);
    var localSum = 0.0;
    for (var h = lid; h < len; h += 256u) {
      localSum += xBuf[base.x + i32(h) * xStride];
    }
    let mean = treeAll(lid, localSum, fold_sum, 0u) / f32(len);
    var localSq = 0.0;
    for (var h = lid; h < len; h += 256u) {
      let d = xBuf[base.x + i32(h) * xStride] - mean;
      localSq += d * d;
    }
    let variance = treeAll(lid, localSq, fold_sum, 1u) / f32(len);
    let rstd = 1.0 / sqrt(variance + eps);
    if (lid == 0u) {
      meanBuf[params.meanOffset + i32(row)] = mean;
      rstdBuf[params.rstdOffset + i32(row)] = rstd;
    }
    for (var h = lid; h < len; h += 256u) {
      let xh = xBuf[base.x + i32(h) * xStride];
      let wh = wBuf[params.wOffset + i32(h) * params.wStride];
      let bh = bBuf[params.bOffset + i32(h) * params.bStride];
      outBuf[base.y + i32(h) * outStride] = (xh - mean) * rstd * wh + bh;
    }
  }
}
