// lib/softmax_io.wgsl: the host interface shared by softmax.wgsl and softmax_narrow.wgsl, its
// variant for rows of up to 256 (not a kernel): parameters by name, bindings, row indexing.
//
// Softmax over the last axis of a [rows, C] view (leading dims flattened into rows). Offsets and
// strides count elements. The host writes this struct with src/tensor/backends/webgpu/params.ts
// (PARAMS.softmax), and test/kernel-params.test.ts checks that the two agree.
// #include lib/grid.wgsl
// #include lib/runtime.wgsl

struct SoftmaxParams {
  rows: u32,
  len: u32,                           // C, the row length
  rowRank: u32,                       // rank of the leading (row) dims after coalescing, <= 8
  logOutput: u32,                     // 1: log-softmax
  xOffset: i32,
  outOffset: i32,
  xStride: i32,                       // along C
  outStride: i32,
  rowShape: array<vec4<u32>, 2>,      // row dims 0..3, 4..7
  rowStrides: array<vec4<i32>, 8>,    // (x, out, 0, 0) strides along row dim d
}

@group(0) @binding(0) var<uniform> params: SoftmaxParams;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> xBuf: array<f32>;

fn runtimeZero() -> u32 {
  return params.rows & 0u;
}

// (x, out) offsets of the first element of row `row`
fn rowOffsets(row: u32) -> vec2<i32> {
  var rem = row;
  var off = vec2<i32>(params.xOffset, params.outOffset);
  for (var k = 0u; k < params.rowRank; k++) {
    let d = params.rowRank - 1u - k;
    let size = params.rowShape[d / 4u][d % 4u];
    off += i32(rem % size) * params.rowStrides[d].xy;
    rem = rem / size;
  }
  return off;
}
