// scatter_add.wgsl: deterministic scatter-add without atomics, the second step after
// scatter_sort.wgsl: out[v, h] = sum of src[n, h] over the n with idx[n] = v, added in
// increasing n, starting from 0 (bit-identical to the reference's sequential loop).
// Rows no index refers to are zeroed beforehand by the fill kernel.
//
// perm is sorted by (idx[n], n), so each output row is one run of perm. The invocation for
// (p, h) with p the first position of a run walks that run in order and writes out[v, h]:
// every output element has exactly one writer.
//
// Parameters by name (ScatterAddParams below, written by src/tensor/backends/webgpu/params.ts).
// Workgroup: 256 invocations, grid-stride over N*H (p = i / H, h = i % H).
// #include lib/grid.wgsl
// #include lib/runtime.wgsl
// #include lib/scalar_{{T}}.wgsl

struct ScatterAddParams {
  count: u32,                         // N
  width: u32,                         // H
  rows: u32,                          // V
  srcOffset: i32,
  srcStrideN: i32,
  srcStrideH: i32,
  idxOffset: i32,
  idxStride: i32,
  outOffset: i32,
  outStrideV: i32,
  outStrideH: i32,
}

@group(0) @binding(0) var<uniform> params: ScatterAddParams;
@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> srcBuf: array<T>;
@group(0) @binding(3) var<storage, read> idxBuf: array<i32>;
@group(0) @binding(4) var<storage, read> perm: array<u32>;

fn runtimeZero() -> u32 {
  return params.count & 0u;
}

// idx[n] as a row, or V when out of range
fn rowOf(n: u32) -> u32 {
  let v = idxBuf[params.idxOffset + i32(n) * params.idxStride];
  let rows = params.rows;
  return select(rows, u32(v), v >= 0 && u32(v) < rows);
}

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let count = params.count;
  let width = params.width;
  let rows = params.rows;
  let src = vec3<i32>(params.srcOffset, params.srcStrideN, params.srcStrideH);
  let dst = vec3<i32>(params.outOffset, params.outStrideV, params.outStrideH);
  let total = count * width;
  let step = groupCount(nwg) * 256u;
  for (var i = groupIndex(wid, nwg) * 256u + lid; i < total; i += step) {
    let p = i / width;
    let h = i % width;
    let row = rowOf(perm[p]);
    let startsRun = p == 0u || rowOf(perm[p - 1u]) != row;
    if (row < rows && startsRun) {
      var acc = T(0);
      for (var q = p; q < count; q++) {
        let n = perm[q];
        if (rowOf(n) != row) {
          break;
        }
        acc += srcBuf[src.x + i32(n) * src.y + i32(h) * src.z];
      }
      outBuf[dst.x + i32(row) * dst.y + i32(h) * dst.z] = acc;
    }
  }
}
