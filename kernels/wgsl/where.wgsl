// where.wgsl: out[i] = cond[i] != 0 ? a[i] : b[i]; value type {{T}}, condition type {{C}}.
//
// Layout: lib/elementwise.wgsl, operand 0 = out, 1 = cond, 2 = a, 3 = b (all already expanded
// to out's shape). Workgroup: 256 invocations, grid-stride loop.
// #include lib/params.wgsl
// #include lib/elementwise.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> condBuf: array<{{C}}>;
@group(0) @binding(3) var<storage, read> aBuf: array<T>;
@group(0) @binding(4) var<storage, read> bBuf: array<T>;

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
    // NaN != 0 is true, as in the reference
    let c = condBuf[o.y];
    outBuf[o.x] = select(bBuf[o.w], aBuf[o.z], c != {{C}}(0));
  }
}
