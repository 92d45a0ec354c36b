// softmax_narrow.wgsl: softmax or log-softmax over the last axis for short rows, float32:
// one invocation per row, three serial passes (max, sum of exp, write). Same results contract
// and parameter layout as softmax.wgsl, which the host uses for rows longer than 256.
// Serial sums in increasing c: deterministic. No workgroup memory, no barriers (on the software
// adapter a barrier-synchronised workgroup per short row costs far more than the row itself).
//
// Layout: as softmax.wgsl (P[0] = (rows, C, rows rank, log flag), P[1] = offsets and strides
// along C, P[2..3] = row shape, P[4 + d] = row strides).
// Workgroup: 256 invocations, grid-stride over rows.
// #include lib/params.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> xBuf: array<f32>;

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

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let rows = P[0].x;
  let len = i32(P[0].y);
  let logOutput = P[0].w == 1u;
  let xStride = bitcast<i32>(P[1].z);
  let outStride = bitcast<i32>(P[1].w);
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
