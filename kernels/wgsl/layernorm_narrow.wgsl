// layernorm_narrow.wgsl: LayerNorm over the last axis for short rows, float32: one invocation
// per row, serial two-pass mean and variance. Same results contract and parameter layout as
// layernorm.wgsl, which the host uses for rows longer than 256. Serial sums in increasing h:
// deterministic; no workgroup memory or barriers.
//
// Layout: as layernorm.wgsl (P[0] = (rows, H, rows rank, eps), P[1] = x/out offsets and strides
// along H, P[2] = w/b offsets and strides, P[3] = mean/rstd offsets, P[4..5] = row shape,
// P[6 + d] = row strides).
// Workgroup: 256 invocations, grid-stride over rows.
// #include lib/params.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read_write> meanBuf: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstdBuf: array<f32>;
@group(0) @binding(4) var<storage, read> xBuf: array<f32>;
@group(0) @binding(5) var<storage, read> wBuf: array<f32>;
@group(0) @binding(6) var<storage, read> bBuf: array<f32>;

fn rowOffsets(row: u32) -> vec2<i32> {
  let rank = P[0].z;
  var rem = row;
  var off = asI32(P[1]).xy;
  for (var k = 0u; k < rank; k++) {
    let d = rank - 1u - k;
    let size = P[4u + d / 4u][d % 4u];
    off += i32(rem % size) * asI32(P[6u + d]).xy;
    rem = rem / size;
  }
  return off;
}

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let rows = P[0].x;
  let len = i32(P[0].y);
  let eps = bitcast<f32>(P[0].w);
  let xStride = bitcast<i32>(P[1].z);
  let outStride = bitcast<i32>(P[1].w);
  let affine = asI32(P[2]);
  let stats = asI32(P[3]);
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
    meanBuf[stats.x + i32(row)] = mean;
    rstdBuf[stats.y + i32(row)] = rstd;
    for (var h = 0; h < len; h++) {
      let xh = xBuf[base.x + h * xStride];
      let wh = wBuf[affine.x + h * affine.z];
      let bh = bBuf[affine.y + h * affine.w];
      outBuf[base.y + h * outStride] = (xh - mean) * rstd * wh + bh;
    }
  }
}
