// layernorm_narrow.wgsl: LayerNorm over the last axis for short rows, float32: one invocation
// per row, serial two-pass mean and variance. Same results contract and parameter layout as
// layernorm.wgsl, which the host uses for rows longer than 256. Serial sums in increasing h:
// deterministic; no workgroup memory or barriers.
//
// Parameters (by name: LayerNormParams) and bindings: lib/layernorm_io.wgsl, as layernorm.wgsl.
// Workgroup: 256 invocations, grid-stride over rows.
// #include lib/layernorm_io.wgsl

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let rows = params.rows;
  let len = i32(params.len);
  let eps = params.eps;
  let xStride = params.xStride;
  let outStride = params.outStride;
  let step = groupCount(nwg) * 256u;
  for (var row = groupIndex(wid, nwg) * 256u + lid; row < rows; row += step) {
    let base = rowOffsets(row);
    var sum = 0.0;
    for (var h = 0; h < len; h++) {
      sum += xBuf[base.x + h * xStride];
    }
    let mean = sum / f32(len);
    var sq = 0.0;
    for (var h = 0; h < len; h++) {
      let d = xBuf[base.x + h * xStride] - mean;
      sq += d * d;
    }
    let rstd = 1.0 / sqrt(sq / f32(len) + eps);
    meanBuf[params.meanOffset + i32(row)] = mean;
    rstdBuf[params.rstdOffset + i32(row)] = rstd;
    for (var h = 0; h < len; h++) {
      let xh = xBuf[base.x + h * xStride];
      let wh = wBuf[params.wOffset + h * params.wStride];
      let bh = bBuf[params.bOffset + h * params.bStride];
      outBuf[base.y + h * outStride] = (xh - mean) * rstd * wh + bh;
    }
  }
}
