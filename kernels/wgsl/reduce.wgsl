// reduce.wgsl: keep-dims reduction out[j] = op_k x[j, k] over any set of axes; op = {{OP}}
// (sum | max), T = {{T}}. j runs over the kept dims, k over the reduced dims (both row-major).
//
// Layout:
//   P[0] = (M outputs, R reduced elements per output, kept rank, reduced rank)
//   P[1] = (x offset, out offset, chunk length L, chunks per output C)
//   P[2], P[3] = kept shape (dims 0..3, 4..5);  P[4], P[5] = reduced shape
//   P[6 + d] = (x kept stride, out kept stride, x reduced stride, unused) along dim d (i32 bits)
//   P[12].x = out stride between chunks (i32 bits)
// Workgroup: 256 invocations; one workgroup per (output, chunk) task, grid-stride over M*C tasks.
// Determinism: invocation t folds k = t, t+256, ... of its chunk in order, then a fixed binary
// tree in workgroup memory combines the 256 partials. The order depends only on R, L and the
// workgroup size, never on scheduling. With C > 1 the host reduces the C partials in a second
// pass (long reductions into few outputs would otherwise run on one workgroup).
// #include lib/params.wgsl
// #include lib/scalar_{{T}}.wgsl

@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> xBuf: array<T>;

var<workgroup> partial: array<T, 256>;

fn identity_sum() -> T { return T(0); }
fn combine_sum(a: T, b: T) -> T { return a + b; }
fn identity_max() -> T { return lowest(); }
fn combine_max(a: T, b: T) -> T { return maxNan(a, b); }

// (x, out) offsets of kept index j
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

// x offset of reduced index r (relative to the kept offset)
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
  let chunkLength = P[1].z;
  let chunks = P[1].w;
  let chunkStride = bitcast<i32>(P[12].x);
  let tasks = outputs * chunks;
  for (var task = groupIndex(wid, nwg); task < tasks; task += groupCount(nwg)) {
    let j = task / chunks;
    let c = task % chunks;
    let base = keptOffsets(j);
    let start = c * chunkLength;
    let end = min(total, start + chunkLength);
    var acc = identity_{{OP}}();
    for (var k = start + lid; k < end; k += 256u) {
      acc = combine_{{OP}}(acc, xBuf[base.x + reducedOffset(k)]);
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
      if (lid < s) {
        partial[lid] = combine_{{OP}}(partial[lid], partial[lid + s]);
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      outBuf[base.y + i32(c) * chunkStride] = partial[0];
    }
    // partial[0] must be read before the next task overwrites it
    workgroupBarrier();
  }
}
