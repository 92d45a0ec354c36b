// lib/elementwise.wgsl: strided-view indexing shared by the elementwise kernels (not a kernel);
// most of them take their entry point from lib/elementwise_main.wgsl.
//
// Every elementwise kernel reads its uniform through a struct whose first fields are these
// (lib/elementwise_params.wgsl declares it for kernels with no parameters of their own; fill, gather,
// rand and adamw declare their own struct with the same first fields and theirs after them):
//   n: u32                         logical elements
//   rank: u32                      rank of the common iteration shape after coalescing, <= 6
//   offsets: vec4<i32>             element offsets of operands 0..3; operand 0 is the output
//   shape: array<vec4<u32>, 2>     iteration dims 0..3 and 4..5
//   strides: array<vec4<i32>, 6>   strides of operands 0..3 (lanes) along dim d (0 = broadcast,
//                                  may be negative)
// The host writes them with src/tensor/backends/webgpu/params.ts (ELEMENTWISE and the layouts that
// extend it); the host coalesces dims first, so contiguous operands usually arrive as rank 1.
// #include lib/grid.wgsl
// #include lib/runtime.wgsl

fn runtimeZero() -> u32 {
  return params.n & 0u;
}

// Buffer offsets of logical element i (row-major over the iteration shape) for operands 0..3.
fn operandOffsets(i: u32) -> vec4<i32> {
  let rank = params.rank;
  // the common case (contiguous or uniformly strided operands): no division per element, which
  // CPU adapters cannot vectorise (it halves fill/copy/adamw time on llvmpipe)
  if (rank == 1u) {
    return params.offsets + i32(i) * params.strides[0];
  }
  var rem = i;
  var off = params.offsets;
  for (var k = 0u; k < rank; k++) {
    let d = rank - 1u - k;
    let size = params.shape[d / 4u][d % 4u];
    off += i32(rem % size) * params.strides[d];
    rem = rem / size;
  }
  return off;
}
