// fill.wgsl: out[i] = value for every element of a (possibly strided) view; T = {{T}}.
//
// Layout: lib/elementwise.wgsl, operand 0 = out; P[0].z = the value's bits (f32 or i32).
// Workgroup: 256 invocations, grid-stride loop.
// #include lib/params.wgsl
// #include lib/elementwise_main.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  outBuf[o.x] = bitcast<T>(P[0].z);
}
