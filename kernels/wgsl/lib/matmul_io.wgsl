// lib/matmul_io.wgsl: the parameters of matmul.wgsl and matmul_direct.wgsl, by name, and the
// batch indexing they share (not a kernel).
//
// out [batch..., M, N] = a [batch..., M, K] · b [batch..., K, N]. Offsets and strides count
// elements; transposed operands arrive as swapped strides, broadcast batch dims as stride 0. The
// host writes this struct with src/tensor/backends/webgpu/params.ts (PARAMS.matmul), and
// test/kernel-params.test.ts checks that the two agree.
// #include lib/grid.wgsl
// #include lib/runtime.wgsl

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  batches: u32,                       // product of the batch dims
  aOffset: i32,
  bOffset: i32,
  outOffset: i32,
  batchRank: u32,                     // batch dims after coalescing, <= 4
  sam: i32,                           // a's stride along m
  sak: i32,                           // a's stride along k
  sbk: i32,                           // b's stride along k
  sbn: i32,                           // b's stride along n
  outStrideM: i32,
  outStrideN: i32,
  tilesM: u32,                        // output tiles along M (64 rows in matmul.wgsl, 16 in _direct)
  tilesN: u32,
  batchShape: array<vec4<u32>, 1>,    // batch dims 0..3
  batchStrides: array<vec4<i32>, 4>,  // (a, b, out, 0) strides along batch dim d
  aKFast: u32,                        // 1: load a k-fastest (its unit stride is along k)
  bKFast: u32,                        // 1: load b k-fastest
}

@group(0) @binding(0) var<uniform> params: MatmulParams;

fn runtimeZero() -> u32 {
  return params.M & 0u;
}

// (a, b, out) offsets of batch p
fn batchOffsets(p: u32) -> vec3<i32> {
  var rem = p;
  var off = vec3<i32>(params.aOffset, params.bOffset, params.outOffset);
  for (var k = 0u; k < params.batchRank; k++) {
    let d = params.batchRank - 1u - k;
    let size = params.batchShape[0][d];
    off += i32(rem % size) * params.batchStrides[d].xyz;
    rem = rem / size;
  }
  return off;
}
