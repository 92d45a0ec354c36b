// lib/elementwise.wgsl: strided-view indexing shared by the elementwise kernels (not a kernel);
// most of them take their entry point from lib/elementwise_main.wgsl. Needs lib/params.wgsl.
//
// Parameter layout (vec4<u32> slots of P):
//   P[0]      = (n elements, rank, kernel-specific, kernel-specific)
//   P[1]      = element offsets of operands 0..3 (i32 bits); operand 0 is the output
//   P[2], P[3] = shape dims 0..3 and 4..5 of the common iteration shape (rank <= 6)
//   P[4 + d]  = strides of operands 0..3 along dim d (i32 bits; 0 = broadcast, may be negative)
//   P[10..15] = kernel-specific
// The host coalesces dims first, so contiguous operands usually arrive as rank 1.
// #include lib/strided.wgsl

// Buffer offsets of logical element i for operands 0..3.
fn operandOffsets(i: u32) -> vec4<i32> {
  let rank = P[0].y;
  let base = asI32(P[1]);
  // the common case (contiguous or uniformly strided operands): no division per element, which
  // CPU adapters cannot vectorise (it halves fill/copy/adamw time on llvmpipe)
  if (rank == 1u) {
    return base + i32(i) * asI32(P[4]);
  }
  return stridedOffsets(base, i, rank, 2u, 4u);
}
