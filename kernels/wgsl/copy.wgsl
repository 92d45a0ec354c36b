// copy.wgsl: dst[i] = convert(src[i]) over the common shape of two strided views, with an
// optional cast: source type {{S}}, destination type {{D}}, conversion {{CONVERT}} (a type
// constructor, or toInt32 for float -> int32, which truncates like the reference).
//
// Parameters: lib/elementwise_params.wgsl, operand 0 = dst, operand 1 = src.
// Workgroup: 256 invocations, grid-stride loop.
// #include lib/elementwise_params.wgsl
// #include lib/elementwise_main.wgsl

@group(0) @binding(1) var<storage, read_write> dstBuf: array<{{D}}>;
@group(0) @binding(2) var<storage, read> srcBuf: array<{{S}}>;

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  dstBuf[o.x] = {{CONVERT}}(srcBuf[o.y]);
}
