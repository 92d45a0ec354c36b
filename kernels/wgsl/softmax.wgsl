// softmax.wgsl: softmax, or log-softmax when P[0].w = 1, over the last axis; float32.
//   out[r, c] = exp(x[r, c] - max_r) / sum_r      or   (x[r, c] - max_r) - log(sum_r)
// with sum_r = sum_c exp(x[r, c] - max_r).
//
// Layout:
//   P[0] = (rows, C row length, rows rank, log flag)
//   P[1] = (x offset, out offset, x stride along C, out stride along C) (i32 bits)
//   P[2], P[3] = shape of the leading (row) dims
//   P[4 + d] = (x row stride, out row stride, unused, unused) along row dim d (i32 bits)
// Workgroup: 256 invocations, one workgroup per row (grid-stride over rows). Max and sum are
// combined by fixed binary trees in workgroup memory, so results are deterministic.
// #include lib/params.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> xBuf: array<f32>;

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
    let size = P[2u + d / 4u][d % 4u];
    off += i32(rem % size) * asI32(P[4u + d]).xy;
    rem = rem / size;
  }
  return off;
}

fn treeMax(lid: u32, value: f32, slot: u32) -> f32 {
  tree[lid] = value;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      tree[lid] = max(tree[lid], tree[lid + s]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    rowStats[slot] = tree[0];
  }
  workgroupBarrier();
  return rowStats[slot];
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
  let logOutput = P[0].w == 1u;
  let xStride = bitcast<i32>(P[1].z);
  let outStride = bitcast<i32>(P[1].w);
  for (var row = groupIndex(wid, nwg); row < rows; row += groupCount(nwg)) {
    let base = rowOffsets(row);
    var localMax = negInfinity();
    for (var c = lid; c < len; c += 256u) {
      let v = xBuf[base.x + i32(c) * xStride];
      localMax = select(localMax, v, v > localMax);
    }
    let rowMax = treeMax(lid, localMax, 0u);
    var localSum = 0.0;
    for (var c = lid; c < len; c += 256u) {
      localSum += exp(xBuf[base.x + i32(c) * xStride] - rowMax);
    }
    let rowSum = treeSum(lid, localSum, 1u);
    let logSum = log(rowSum);
    for (var c = lid; c < len; c += 256u) {
      let shifted = xBuf[base.x + i32(c) * xStride] - rowMax;
      let y = select(exp(shifted) / rowSum, shifted - logSum, logOutput);
      outBuf[base.y + i32(c) * outStride] = y;
    }
  }
}
