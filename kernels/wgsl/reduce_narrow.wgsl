// reduce_narrow.wgsl: keep-dims reduction for short reductions (R <= 256): one invocation per
// output folds its R elements serially in increasing k; op = {{OP}} (sum | max), T = {{T}}.
// Same results contract and parameter layout as reduce.wgsl (always one chunk here), which the
// host uses for longer reductions. Deterministic; no workgroup memory or barriers.
//
// Layout: as reduce.wgsl (P[0] = (M, R, kept rank, reduced rank), P[1] = (x offset, out offset,
// -, -), P[2..3] kept shape, P[4..5] reduced shape, P[6 + d] = (x kept, out kept, x reduced) strides).
// Workgroup: 256 invocations, grid-stride over the M outputs.
// #include lib/params.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> xBuf: array<T>;

fn identity_sum() -> T { return T(0); }
fn combine_sum(a: T, b: T) -> T { return a + b; }
fn identity_max() -> T { return lowest(); }
fn combine_max(a: T, b: T) -> T { return maxNan(a, b); }

fn keptOffsets(j: u32) -> vec2<i32> {
  let rank = P[0].z;
  var rem = j;
  var off = asI32(P[1]).xy;
  for (var k = 0u; k < rank; k++) {
    let d = rank - 1u - k;
    let size = P[2u + d / 4u][d % 4u];
    off += i32(rem % size) * asI32(P[6u + d]).xy;
    rem = rem / size;
  }
  return off;
}

fn reducedOffset(r: u32) -> i32 {
  let rank = P[0].w;
  var rem = r;
  var off = 0;
  for (var k = 0u; k < rank; k++) {
    let d = rank - 1u - k;
    let size = P[4u + d / 4u][d % 4u];
    off += i32(rem % size) * asI32(P[6u + d]).z;
    rem = rem / size;
  }
  return off;
}

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let outputs = P[0].x;
  let total = P[0].y;
  let step = groupCount(nwg) * 256u;
  for (var j = groupIndex(wid, nwg) * 256u + lid; j < outputs; j += step) {
    let base = keptOffsets(j);
    var acc = identity_{{OP}}();
    for (var k = 0u; k < total; k++) {
      acc = combine_{{OP}}(acc, xBuf[base.x + reducedOffset(k)]);
    }
    outBuf[base.y] = acc;
  }
}
