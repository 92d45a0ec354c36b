// fill.wgsl: out[i] = value for every element of a (possibly strided) view; T = {{T}}.
//
// Parameters: lib/elementwise.wgsl's fields (operand 0 = out), then the value's bits (f32 or i32).
// Workgroup: 256 invocations, grid-stride loop.
// #include lib/elementwise_main.wgsl
// #include lib/scalar_{{T}}.wgsl

struct FillParams {
  n: u32,
  rank: u32,
  offsets: vec4<i32>,
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<i32>, 6>,
  valueBits: u32,
}

@group(0) @binding(0) var<uniform> params: FillParams;

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  outBuf[o.x] = bitcast<T>(params.valueBits);
}
