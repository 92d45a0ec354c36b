// scatter_sort.wgsl: one compare-exchange stage (k, j) of a bitonic sort of the positions
// n = 0..N-1 by the key (idx[n], n); the first step of the deterministic scatter-add.
// The key is a strict total order (ties broken by n), so the sorted permutation is unique and
// equals a stable sort by idx: equal indices keep their order n = 0..N-1.
// Padding positions n >= N sort last; out-of-range indices (idx < 0 or >= V) sort as V.
//
// Parameters by name (ScatterSortParams below, written by src/tensor/backends/webgpu/params.ts).
// Bindings: perm (u32 [Npad], in place), idx (i32 view).
// Workgroup: 256 invocations; invocation t owns the pair (i, i + j), grid-stride over Npad/2.
// #include lib/grid.wgsl
// #include lib/runtime.wgsl

struct ScatterSortParams {
  count: u32,                         // N
  padded: u32,                        // Npad, a power of two >= N
  k: u32,                             // the bitonic stage (k, j)
  j: u32,
  idxOffset: i32,
  idxStride: i32,
  rows: u32,                          // V; out-of-range indices sort as V
}

@group(0) @binding(0) var<uniform> params: ScatterSortParams;
@group(0) @binding(1) var<storage, read_write> perm: array<u32>;
@group(0) @binding(2) var<storage, read> idxBuf: array<i32>;

fn runtimeZero() -> u32 {
  return params.count & 0u;
}

fn sortKey(n: u32) -> u32 {
  if (n >= params.count) {
    return 0xffffffffu;
  }
  let v = idxBuf[params.idxOffset + i32(n) * params.idxStride];
  let rows = params.rows;
  return select(rows, u32(v), v >= 0 && u32(v) < rows);
}

fn before(a: u32, b: u32) -> bool {
  let ka = sortKey(a);
  let kb = sortKey(b);
  return ka < kb || (ka == kb && a < b);
}

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let pairs = params.padded / 2u;
  let k = params.k;
  let j = params.j;
  let step = groupCount(nwg) * 256u;
  for (var t = groupIndex(wid, nwg) * 256u + lid; t < pairs; t += step) {
    // i has bit j clear; its partner is i + j
    let i = 2u * j * (t / j) + t % j;
    let l = i + j;
    let ascending = (i & k) == 0u;
    let x = perm[i];
    let y = perm[l];
    if (before(y, x) == ascending) {
      perm[i] = y;
      perm[l] = x;
    }
  }
}
