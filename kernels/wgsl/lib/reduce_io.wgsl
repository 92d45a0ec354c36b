// lib/reduce_io.wgsl: the host interface shared by reduce.wgsl and reduce_narrow.wgsl, its
// variant for reductions of up to 256 elements (not a kernel): bindings, parameter layout and
// indexing. Needs lib/params.wgsl and a lib/scalar_*.wgsl.
//
// A keep-dims reduction out[j] = op_k x[j, k]: j runs over the kept dims, k over the reduced dims
// (both row-major).
//   P[0] = (M outputs, R reduced elements per output, kept rank, reduced rank)
//   P[1] = (x offset, out offset, chunk length L, chunks per output C)
//   P[2], P[3] = kept shape (dims 0..3, 4..5);  P[4], P[5] = reduced shape
//   P[6 + d] = (x kept stride, out kept stride, x reduced stride, unused) along dim d (i32 bits)
//   P[12].x = out stride between chunks (i32 bits)
// The chunk fields are used by reduce.wgsl only (reduce_narrow.wgsl always has one chunk).
// #include lib/strided.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> xBuf: array<T>;

// (x, out) offsets of kept index j
fn keptOffsets(j: u32) -> vec2<i32> {
  return stridedOffsets(asI32(P[1]), j, P[0].z, 2u, 6u).xy;
}

// x offset of reduced index r (relative to the kept offset)
fn reducedOffset(r: u32) -> i32 {
  return stridedOffsets(vec4<i32>(0), r, P[0].w, 4u, 6u).z;
}
