// lib/reduce_io.wgsl: the host interface shared by reduce.wgsl and reduce_narrow.wgsl, its
// variant for reductions of up to 256 elements (not a kernel): parameters by name, bindings,
// indexing. Needs a lib/scalar_*.wgsl.
//
// A keep-dims reduction out[j] = op_k x[j, k]: j runs over the kept dims, k over the reduced dims
// (both row-major). The chunk fields are used by reduce.wgsl only (reduce_narrow.wgsl always has
// one chunk). The host writes this struct with src/tensor/backends/webgpu/params.ts
// (PARAMS.reduce), and test/kernel-params.test.ts checks that the two agree.
// #include lib/grid.wgsl
// #include lib/runtime.wgsl

struct ReduceParams {
  outputs: u32,                       // M, the kept elements
  total: u32,                         // R, reduced elements per output
  keptRank: u32,                      // <= 6
  reducedRank: u32,                   // <= 6
  xOffset: i32,
  outOffset: i32,
  chunkLength: u32,                   // L
  chunks: u32,                        // C, chunks per output
  keptShape: array<vec4<u32>, 2>,     // kept dims 0..3, 4..5
  reducedShape: array<vec4<u32>, 2>,  // reduced dims 0..3, 4..5
  strides: array<vec4<i32>, 6>,       // (x kept, out kept, x reduced, 0) strides along dim d
  chunkStride: i32,                   // out stride between chunks
}

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read_write> outBuf: array<T>;
@group(0) @binding(2) var<storage, read> xBuf: array<T>;

fn runtimeZero() -> u32 {
  return params.outputs & 0u;
}

// (x, out) offsets of kept index j
fn keptOffsets(j: u32) -> vec2<i32> {
  var rem = j;
  var off = vec2<i32>(params.xOffset, params.outOffset);
  for (var k = 0u; k < params.keptRank; k++) {
    let d = params.keptRank - 1u - k;
    let size = params.keptShape[d / 4u][d % 4u];
    off += i32(rem % size) * params.strides[d].xy;
    rem = rem / size;
  }
  return off;
}

// x offset of reduced index r (relative to the kept offset)
fn reducedOffset(r: u32) -> i32 {
  var rem = r;
  var off = 0;
  for (var k = 0u; k < params.reducedRank; k++) {
    let d = params.reducedRank - 1u - k;
    let size = params.reducedShape[d / 4u][d % 4u];
    off += i32(rem % size) * params.strides[d].z;
    rem = rem / size;
  }
  return off;
}
