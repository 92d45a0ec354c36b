// layernorm.wgsl: LayerNorm over the last axis with affine weight and bias, float32:
//   mean_r = sum_h x / H,  rstd_r = 1 / sqrt(sum_h (x - mean_r)^2 / H + eps),
//   out[r, h] = (x[r, h] - mean_r) * rstd_r * w[h] + b[h]; also writes mean[r] and rstd[r].
// The variance is the two-pass form (no E[x^2] - mean^2 cancellation).
//
// Layout:
//   P[0] = (rows, H, rows rank, eps f32 bits)
//   P[1] = (x offset, out offset, x stride along H, out stride along H) (i32 bits)
//   P[2] = (w offset, b offset, w stride, b stride) (i32 bits)
//   P[3] = (mean offset, rstd offset, unused, unused); mean and rstd are contiguous [rows]
//   P[4], P[5] = shape of the leading (row) dims
//   P[6 + d] = (x row stride, out row stride, unused, unused) along row dim d (i32 bits)
// Workgroup: 256 invocations, one workgroup per row (grid-stride over rows); sums use fixed
// binary trees in workgroup memory, so results are deterministic.
// #include lib/params.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read_write> meanBuf: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstdBuf: array<f32>;
@group(0) @binding(4) var<storage, read> xBuf: array<f32>;
@group(0) @binding(5) var<storage, read> wBuf: array<f32>;
@group(0) @binding(6) var<storage, read> bBuf: array<f32>;

var<workgroup> tree: array<f32, 256>;
// Row statistics, one slot each, written by invocation 0 and read by all after a barrier.
// (Reading tree[0] from every invocation instead lets Mesa 22.3's llvmpipe sink that load past the
// following barrier, where the next tree pass has already overwritten tree[0].)
var<workgroup> rowStats: array<f32, 2>;

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

fn treeSum(lid: u32, value: f32, slot: u32) -> f32 {
  tree[lid] = value;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      tree[lid] = tree[lid] + tree[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    rowStats[slot] = tree[0];
  }
  workgroupBarrier();
  return rowStats[slot];
}

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let rows = P[0].x;
  let len = P[0].y;
  let eps = bitcast<f32>(P[0].w);
  let xStride = bitcast<i32>(P[1].z);
  let outStride = bitcast<i32>(P[1].w);
  let affine = asI32(P[2]);
  let stats = asI32(P[3]);
  for (var row = groupIndex(wid, nwg); row < rows; row += groupCount(nwg)) {
    let base = rowOffsets(row);
    var localSum = 0.0;
    for (var h = lid; h < len; h += 256u) {
      localSum += xBuf[base.x + i32(h) * xStride];
    }
    let mean = treeSum(lid, localSum, 0u) / f32(len);
    var localSq = 0.0;
    for (var h = lid; h < len; h += 256u) {
      let d = xBuf[base.x + i32(h) * xStride] - mean;
      localSq += d * d;
    }
    let variance = treeSum(lid, localSq, 1u) / f32(len);
    let rstd = 1.0 / sqrt(variance + eps);
    if (lid == 0u) {
      meanBuf[stats.x + i32(row)] = mean;
      rstdBuf[stats.y + i32(row)] = rstd;
    }
    for (var h = lid; h < len; h += 256u) {
      let xh = xBuf[base.x + i32(h) * xStride];
      let wh = wBuf[affine.x + i32(h) * affine.z];
      let bh = bBuf[affine.y + i32(h) * affine.w];
      outBuf[base.y + i32(h) * outStride] = (xh - mean) * rstd * wh + bh;
    }
  }
}
