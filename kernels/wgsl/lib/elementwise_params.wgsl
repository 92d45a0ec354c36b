// lib/elementwise_params.wgsl: the uniform of the elementwise kernels that take no parameters of
// their own (copy, unary, binary, where): lib/elementwise.wgsl's shared fields, nothing more
// (not a kernel). Checked against src/tensor/backends/webgpu/params.ts by test/kernel-params.test.ts.

struct ElementwiseParams {
  n: u32,
  rank: u32,
  offsets: vec4<i32>,
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<i32>, 6>,
}

@group(0) @binding(0) var<uniform> params: ElementwiseParams;
