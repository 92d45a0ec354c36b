// lib/strided.wgsl: buffer offsets of a row-major index into strided operands, for every kernel
// whose parameters hold an iteration shape and per-dim strides (not a kernel).
// Needs lib/params.wgsl.
//
// The shape is `rank` dims (rank <= 8) stored in P[shapeSlot] (dims 0..3) and P[shapeSlot + 1]
// (dims 4..7); the strides along dim d are P[strideSlot + d], one lane per operand (up to four
// operands at once; i32 bits, 0 = broadcast, may be negative).

// Offsets of index i for operands whose offsets at index 0 are `base`:
// lane q = base[q] + sum_d i_d * stride_d[q], where i_d are the coordinates of i over the shape
// (the last dim fastest).
fn stridedOffsets(
  base: vec4<i32>, i: u32, rank: u32, shapeSlot: u32, strideSlot: u32,
) -> vec4<i32> {
  var rem = i;
  var off = base;
  for (var k = 0u; k < rank; k++) {
    let d = rank - 1u - k;
    let size = P[shapeSlot + d / 4u][d % 4u];
    off += i32(rem % size) * asI32(P[strideSlot + d]);
    rem = rem / size;
  }
  return off;
}
