// gather.wgsl: row gather out[n, h] = table[idx[n], h]; T = {{T}}, idx int32.
// Out-of-range indices (idx < 0 or idx >= V) give 0, the device interface's rule on every device.
//
// Parameters: lib/elementwise.wgsl's fields over out's shape [N, H]: operand 0 = out, 1 = idx
// (strides (idx stride, 0)), 2 = table column (strides (0, table column stride)); then the table's
// row count V and row stride.
// Workgroup: 256 invocations, grid-stride loop over N*H.
// #include lib/elementwise_main.wgsl
// #include lib/scalar_{{T}}.wgsl

struct GatherParams {
  n: u32,
  rank: u32,
  offsets: vec4<i32>,
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<i32>, 6>,
  rows: u32,
  rowStride: i32,
}

@group(0) @binding(0) var<uniform> params: GatherParams;

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> idxBuf: array<i32>;
@group(0) @binding(3) var<storage, read> tableBuf: array<T>;

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  let row = idxBuf[o.y];
  var value = T(0);
  if (row >= 0 && row < i32(params.rows)) {
    value = tableBuf[o.z + row * params.rowStride];
  }
  outBuf[o.x] = value;
}
