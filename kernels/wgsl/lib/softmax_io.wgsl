// lib/softmax_io.wgsl: the host interface shared by softmax.wgsl and softmax_narrow.wgsl, its
// variant for rows of up to 256 (not a kernel): bindings, parameter layout and row indexing.
// Needs lib/params.wgsl.
//
// Softmax over the last axis of a [rows, C] view (leading dims flattened into rows):
//   P[0] = (rows, C row length, rows rank, log flag)
//   P[1] = (x offset, out offset, x stride along C, out stride along C) (i32 bits)
//   P[2], P[3] = shape of the leading (row) dims
//   P[4 + d] = (x row stride, out row stride, unused, unused) along row dim d (i32 bits)
// #include lib/strided.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> xBuf: array<f32>;

// (x, out) offsets of the first element of row `row`
fn rowOffsets(row: u32) -> vec2<i32> {
  return stridedOffsets(asI32(P[1]), row, P[0].z, 2u, 4u).xy;
}
