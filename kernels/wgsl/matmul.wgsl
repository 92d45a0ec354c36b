// matmul.wgsl: batched matmul out[p, m, n] = sum_k a[p, m, k] * b[p, k, n]; T = {{T}}.
// Every operand is a strided view: transposed operands arrive as swapped strides and broadcast
// batch dims as stride 0, so nothing is copied before the kernel.
//
// Tiling: a workgroup of 16x16 invocations computes a 64x64 output tile. Each K step of 16
// stages a 64x16 tile of a and a 16x64 tile of b in workgroup memory (bounds-checked, zero
// padded); each invocation then accumulates a 4x4 register block: rows ty + 16i, columns
// tx + 16j (i, j < 4), so neighbouring invocations read neighbouring workgroup-memory words.
// Tile loads walk the operand's unit-stride direction when it has one (aKFast, bKFast) for coalescing.
// Summation over k is in increasing order within each output: deterministic.
//
// Parameters (by name: MatmulParams) and batch indexing: lib/matmul_io.wgsl.
// Dispatch: grid-stride over batch * tilesM * tilesN workgroup tasks.
// #include lib/matmul_io.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> aBuf: array<T>;
@group(0) @binding(3) var<storage, read> bBuf: array<T>;

// tile of a, [k][m] (64 m per k); tile of b, [k][n] (64 n per k)
var<workgroup> aTile: array<T, 1024>;
var<workgroup> bTile: array<T, 1024>;

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) local: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let strides = vec4<i32>(params.sam, params.sak, params.sbk, params.sbn);
  let outStrides = vec2<i32>(params.outStrideM, params.outStrideN);
  let tilesM = params.tilesM;
  let tilesN = params.tilesN;
  let aKFast = params.aKFast == 1u;
  let bKFast = params.bKFast == 1u;
  let tasks = params.batches * tilesM * tilesN;
  let tx = local.x;
  let ty = local.y;
  for (var task = groupIndex(wid, nwg); task < tasks; task += groupCount(nwg)) {
    let tn = task % tilesN;
    let tm = (task / tilesN) % tilesM;
    let base = batchOffsets(task / (tilesN * tilesM));
    let m0 = tm * 64u;
    let n0 = tn * 64u;
    var acc0 = vec4<T>(T(0));
    var acc1 = vec4<T>(T(0));
    var acc2 = vec4<T>(T(0));
    var acc3 = vec4<T>(T(0));
    for (var k0 = 0u; k0 < K; k0 += 16u) {
      for (var q = 0u; q < 4u; q++) {
        let e = lid + 256u * q;
        // element e of the 64x16 a tile, and of the 16x64 b tile
        let am = select(e % 64u, e / 16u, aKFast);
        let ak = select(e / 64u, e % 16u, aKFast);
        let gm = m0 + am;
        let gak = k0 + ak;
        var av = T(0);
        if (gm < M && gak < K) {
          av = aBuf[base.x + i32(gm) * strides.x + i32(gak) * strides.y];
        }
        aTile[ak * 64u + am] = av;
        let bn = select(e % 64u, e / 16u, bKFast);
        let bk = select(e / 64u, e % 16u, bKFast);
        let gn = n0 + bn;
        let gbk = k0 + bk;
        var bv = T(0);
        if (gn < N && gbk < K) {
          bv = bBuf[base.y + i32(gbk) * strides.z + i32(gn) * strides.w];
        }
        bTile[bk * 64u + bn] = bv;
      }
      workgroupBarrier();
      for (var k = 0u; k < 16u; k++) {
        let a = vec4<T>(aTile[k * 64u + ty], aTile[k * 64u + ty + 16u], aTile[k * 64u + ty + 32u], aTile[k * 64u + ty + 48u]);
        let b = vec4<T>(bTile[k * 64u + tx], bTile[k * 64u + tx + 16u], bTile[k * 64u + tx + 32u], bTile[k * 64u + tx + 48u]);
        acc0 += a.x * b;
        acc1 += a.y * b;
        acc2 += a.z * b;
        acc3 += a.w * b;
      }
      workgroupBarrier();
    }
    let rows = array<vec4<T>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i++) {
      let gm = m0 + ty + 16u * i;
      for (var j = 0u; j < 4u; j++) {
        let gn = n0 + tx + 16u * j;
        if (gm < M && gn < N) {
          outBuf[base.z + i32(gm) * outStrides.x + i32(gn) * outStrides.y] = rows[i][j];
        }
      }
    }
  }
}
