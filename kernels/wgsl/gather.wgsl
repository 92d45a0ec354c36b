// gather.wgsl: row gather out[n, h] = table[idx[n], h]; T = {{T}}, idx int32.
// Out-of-range indices (idx < 0 or idx >= V) give 0, the device interface's rule on every device.
//
// Layout: lib/elementwise.wgsl over out's shape [N, H]: operand 0 = out, 1 = idx (strides
// (idx stride, 0)), 2 = table column (strides (0, table column stride)).
// P[0].z = V (table rows), P[0].w = table row stride (i32 bits).
// Workgroup: 256 invocations, grid-stride loop over N*H.
// #include lib/params.wgsl
// #include lib/elementwise_main.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> idxBuf: array<i32>;
@group(0) @binding(3) var<storage, read> tableBuf: array<T>;

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  let rows = i32(P[0].z);
  let rowStride = bitcast<i32>(P[0].w);
  let row = idxBuf[o.y];
  var value = T(0);
  if (row >= 0 && row < rows) {
    value = tableBuf[o.z + row * rowStride];
  }
  outBuf[o.x] = value;
}
