// gather.wgsl: row gather out[n, h] = table[idx[n], h]; T = {{T}}, idx int32.
// Out-of-range indices (idx < 0 or idx >= V) give 0: a GPU kernel cannot throw.
//
// Layout: lib/elementwise.wgsl over out's shape [N, H]: operand 0 = out, 1 = idx (strides
// (idx stride, 0)), 2 = table column (strides (0, table column stride)).
// P[0].z = V (table rows), P[0].w = table row stride (i32 bits).
// Workgroup: 256 invocations, grid-stride loop over N*H.
// #include lib/params.wgsl
// #include lib/elementwise.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> idxBuf: array<i32>;
@group(0) @binding(3) var<storage, read> tableBuf: array<T>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let n = P[0].x;
  let rows = i32(P[0].z);
  let rowStride = bitcast<i32>(P[0].w);
  let step = groupCount(nwg) * 256u;
  for (var i = groupIndex(wid, nwg) * 256u + lid; i < n; i += step) {
    let o = operandOffsets(i);
    let row = idxBuf[o.y];
    var value = T(0);
    if (row >= 0 && row < rows) {
      value = tableBuf[o.z + row * rowStride];
    }
    outBuf[o.x] = value;
  }
}
