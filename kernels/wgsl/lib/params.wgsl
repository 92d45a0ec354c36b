// lib/params.wgsl: the prelude of the kernels that read their 256-byte uniform slot as a raw
// block, P[0..15] as vec4<u32> (not a kernel itself). The host loader pastes this text where a
// kernel says `// #include lib/params.wgsl`.
//
// Signed values (strides, offsets) are stored as i32 bits, float values as f32 bits. What each
// slot means is documented at the top of the kernel (and packed in src/tensor/backends/webgpu).
// Kernels that read their parameters by name declare a `struct` instead (see lib/layernorm_io.wgsl
// and src/tensor/backends/webgpu/params.ts) and include lib/grid.wgsl and lib/runtime.wgsl.

@group(0) @binding(0) var<uniform> P: array<vec4<u32>, 16>;

// #include lib/grid.wgsl
// #include lib/runtime.wgsl

fn runtimeZero() -> u32 {
  return P[0].x & 0u;
}

fn asI32(v: vec4<u32>) -> vec4<i32> {
  return bitcast<vec4<i32>>(v);
}
