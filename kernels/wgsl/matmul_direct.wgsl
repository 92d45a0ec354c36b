// matmul_direct.wgsl: batched float32 matmul out[p, m, n] = sum_k a[p, m, k] * b[p, k, n] for CPU
// adapters (Mesa llvmpipe / lavapipe), where the tiled kernel (matmul.wgsl) is slow: there every
// load costs per lane and element whatever memory it reads, and each barrier is a coroutine
// switch. So this kernel uses no workgroup memory and no barriers; each invocation computes a
// 16x16 output block held in registers as 4x4 mat4x4 accumulators, loading 16 values of a and 16
// of b per k for 256 multiply-adds. On a real GPU those 256 accumulators would spill: the
// backend uses matmul.wgsl there.
// Operands are strided views (transposed operands = swapped strides, broadcast batches = stride 0);
// rows and columns past the edge are clamped to the last one on load and skipped on store.
// Summation over k is in increasing order within each output: deterministic.
//
// Parameters (by name: MatmulParams) and batch indexing: lib/matmul_io.wgsl, as matmul.wgsl,
// except that tilesM and tilesN count 16x16 blocks (aKFast and bKFast are not read).
// Workgroup: 64 invocations, one 16x16 block each, grid-stride over batch * blocksM * blocksN.
// #include lib/matmul_io.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> aBuf: array<f32>;
@group(0) @binding(3) var<storage, read> bBuf: array<f32>;

// c[i][j] = a[i] * b[j]
fn outer(a: vec4<f32>, b: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(b * a.x, b * a.y, b * a.z, b * a.w);
}

// write the 4x4 block c at rows m.., columns n.., skipping what lies past the edge
fn store(outOffset: i32, m: u32, n: u32, c: mat4x4<f32>) {
  let outStrides = vec2<i32>(params.outStrideM, params.outStrideN);
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      if (m + i < params.M && n + j < params.N) {
        outBuf[outOffset + i32(m + i) * outStrides.x + i32(n + j) * outStrides.y] = c[i][j];
      }
    }
  }
}

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let strides = vec4<i32>(params.sam, params.sak, params.sbk, params.sbn);
  let blocksM = params.tilesM;
  let blocksN = params.tilesN;
  let tasks = params.batches * blocksM * blocksN;
  let lane = vec4<u32>(0u, 1u, 2u, 3u);
  let lastM = vec4<u32>(M - 1u);
  let lastN = vec4<u32>(N - 1u);
  for (var task = groupIndex(wid, nwg) * 64u + lid; task < tasks; task += groupCount(nwg) * 64u) {
    let bn = task % blocksN;
    let bm = (task / blocksN) % blocksM;
    let base = batchOffsets(task / (blocksN * blocksM));
    let m0 = bm * 16u;
    let n0 = bn * 16u;
    // element offsets of the block's 16 rows of a and 16 columns of b (clamped at the edges)
    let aRow0 = base.x + vec4<i32>(min(vec4<u32>(m0 + 0u) + lane, lastM)) * strides.x;
    let aRow1 = base.x + vec4<i32>(min(vec4<u32>(m0 + 4u) + lane, lastM)) * strides.x;
    let aRow2 = base.x + vec4<i32>(min(vec4<u32>(m0 + 8u) + lane, lastM)) * strides.x;
    let aRow3 = base.x + vec4<i32>(min(vec4<u32>(m0 + 12u) + lane, lastM)) * strides.x;
    let bCol0 = base.y + vec4<i32>(min(vec4<u32>(n0 + 0u) + lane, lastN)) * strides.w;
    let bCol1 = base.y + vec4<i32>(min(vec4<u32>(n0 + 4u) + lane, lastN)) * strides.w;
    let bCol2 = base.y + vec4<i32>(min(vec4<u32>(n0 + 8u) + lane, lastN)) * strides.w;
    let bCol3 = base.y + vec4<i32>(min(vec4<u32>(n0 + 12u) + lane, lastN)) * strides.w;
    var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c02 = mat4x4<f32>(); var c03 = mat4x4<f32>();
    var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>(); var c12 = mat4x4<f32>(); var c13 = mat4x4<f32>();
    var c20 = mat4x4<f32>(); var c21 = mat4x4<f32>(); var c22 = mat4x4<f32>(); var c23 = mat4x4<f32>();
    var c30 = mat4x4<f32>(); var c31 = mat4x4<f32>(); var c32 = mat4x4<f32>(); var c33 = mat4x4<f32>();
    for (var k = 0u; k < K; k++) {
      let ka = i32(k) * strides.y;
      let kb = i32(k) * strides.z;
      let a0 = vec4<f32>(aBuf[aRow0.x + ka], aBuf[aRow0.y + ka], aBuf[aRow0.z + ka], aBuf[aRow0.w + ka]);
      let a1 = vec4<f32>(aBuf[aRow1.x + ka], aBuf[aRow1.y + ka], aBuf[aRow1.z + ka], aBuf[aRow1.w + ka]);
      let a2 = vec4<f32>(aBuf[aRow2.x + ka], aBuf[aRow2.y + ka], aBuf[aRow2.z + ka], aBuf[aRow2.w + ka]);
      let a3 = vec4<f32>(aBuf[aRow3.x + ka], aBuf[aRow3.y + ka], aBuf[aRow3.z + ka], aBuf[aRow3.w + ka]);
      let b0 = vec4<f32>(bBuf[kb + bCol0.x], bBuf[kb + bCol0.y], bBuf[kb + bCol0.z], bBuf[kb + bCol0.w]);
      let b1 = vec4<f32>(bBuf[kb + bCol1.x], bBuf[kb + bCol1.y], bBuf[kb + bCol1.z], bBuf[kb + bCol1.w]);
      let b2 = vec4<f32>(bBuf[kb + bCol2.x], bBuf[kb + bCol2.y], bBuf[kb + bCol2.z], bBuf[kb + bCol2.w]);
      let b3 = vec4<f32>(bBuf[kb + bCol3.x], bBuf[kb + bCol3.y], bBuf[kb + bCol3.z], bBuf[kb + bCol3.w]);
      c00 += outer(a0, b0); c01 += outer(a0, b1); c02 += outer(a0, b2); c03 += outer(a0, b3);
      c10 += outer(a1, b0); c11 += outer(a1, b1); c12 += outer(a1, b2); c13 += outer(a1, b3);
      c20 += outer(a2, b0); c21 += outer(a2, b1); c22 += outer(a2, b2); c23 += outer(a2, b3);
      c30 += outer(a3, b0); c31 += outer(a3, b1); c32 += outer(a3, b2); c33 += outer(a3, b3);
    }
    store(base.z, m0 + 0u, n0 + 0u, c00);
    store(base.z, m0 + 0u, n0 + 4u, c01);
    store(base.z, m0 + 0u, n0 + 8u, c02);
    store(base.z, m0 + 0u, n0 + 12u, c03);
    store(base.z, m0 + 4u, n0 + 0u, c10);
    store(base.z, m0 + 4u, n0 + 4u, c11);
    store(base.z, m0 + 4u, n0 + 8u, c12);
    store(base.z, m0 + 4u, n0 + 12u, c13);
    store(base.z, m0 + 8u, n0 + 0u, c20);
    store(base.z, m0 + 8u, n0 + 4u, c21);
    store(base.z, m0 + 8u, n0 + 8u, c22);
    store(base.z, m0 + 8u, n0 + 12u, c23);
    store(base.z, m0 + 12u, n0 + 0u, c30);
    store(base.z, m0 + 12u, n0 + 4u, c31);
    store(base.z, m0 + 12u, n0 + 8u, c32);
    store(base.z, m0 + 12u, n0 + 12u, c33);
  }
}
