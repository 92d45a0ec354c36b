// where.wgsl: out[i] = cond[i] != 0 ? a[i] : b[i]; value type {{T}}, condition type {{C}}.
//
// Parameters: lib/elementwise_params.wgsl, operand 0 = out, 1 = cond, 2 = a, 3 = b (all already expanded
// to out's shape). Workgroup: 256 invocations, grid-stride loop.
// #include lib/elementwise_params.wgsl
// #include lib/elementwise_main.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> condBuf: array<{{C}}>;
@group(0) @binding(3) var<storage, read> aBuf: array<T>;
@group(0) @binding(4) var<storage, read> bBuf: array<T>;

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  // NaN != 0 is true, as in the reference
  let c = condBuf[o.y];
  outBuf[o.x] = select(bBuf[o.w], aBuf[o.z], c != {{C}}(0));
}
