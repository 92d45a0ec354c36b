// copy.wgsl: dst[i] = convert(src[i]) over the common shape of two strided views, with an
// optional cast: source type {{S}}, destination type {{D}}, conversion {{CONVERT}} (a type
// constructor, or toInt32 for float -> int32, which truncates like the reference).
//
// Layout: lib/elementwise.wgsl, operand 0 = dst, operand 1 = src.
// Workgroup: 256 invocations, grid-stride loop.
// #include lib/params.wgsl
// #include lib/elementwise.wgsl

@group(0) @binding(1) var<storage, read_write> dstBuf: array<{{D}}>;
@group(0) @binding(2) var<storage, read> srcBuf: array<{{S}}>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let n = P[0].x;
  let step = groupCount(nwg) * 256u;
  for (var i = groupIndex(wid, nwg) * 256u + lid; i < n; i += step) {
    let o = operandOffsets(i);
    dstBuf[o.x] = {{CONVERT}}(srcBuf[o.y]);
  }
}
