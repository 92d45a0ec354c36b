// lib/layernorm_io.wgsl: the host interface shared by layernorm.wgsl and layernorm_narrow.wgsl,
// its variant for rows of up to 256 (not a kernel): bindings, parameter layout and row indexing.
// Needs lib/params.wgsl.
//
// LayerNorm over the last axis of a [rows, H] view (leading dims flattened into rows):
//   P[0] = (rows, H, rows rank, eps f32 bits)
//   P[1] = (x offset, out offset, x stride along H, out stride along H) (i32 bits)
//   P[2] = (w offset, b offset, w stride, b stride) (i32 bits)
//   P[3] = (mean offset, rstd offset, unused, unused); mean and rstd are contiguous [rows]
//   P[4], P[5] = shape of the leading (row) dims
//   P[6 + d] = (x row stride, out row stride, unused, unused) along row dim d (i32 bits)
// #include lib/strided.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read_write> meanBuf: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstdBuf: array<f32>;
@group(0) @binding(4) var<storage, read> xBuf: array<f32>;
@group(0) @binding(5) var<storage, read> wBuf: array<f32>;
@group(0) @binding(6) var<storage, read> bBuf: array<f32>;

// (x, out) offsets of the first element of row `row`
fn rowOffsets(row: u32) -> vec2<i32> {
  return stridedOffsets(asI32(P[1]), row, P[0].z, 4u, 6u).xy;
}
