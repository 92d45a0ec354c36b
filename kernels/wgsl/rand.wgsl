// rand.wgsl: out[i] = hashUniform(seed, i), bit-exact with `hashUniform` in src/tensor/backend.ts:
// k = seed * 0x9e3779b9, h = fmix32(fmix32(i ^ k) + k), out = (h >> 8) / 2^24 (u32 arithmetic
// wraps exactly like Math.imul). i is the logical (row-major) index into out's shape.
//
// Parameters: lib/elementwise.wgsl's fields (operand 0 = out, float32), then the seed as u32.
// Workgroup: 256 invocations, grid-stride loop.
// #include lib/elementwise_main.wgsl

struct RandParams {
  n: u32,
  rank: u32,
  offsets: vec4<i32>,
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<i32>, 6>,
  seed: u32,
}

@group(0) @binding(0) var<uniform> params: RandParams;

@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;

// murmur3's 32-bit finaliser
fn fmix32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

// element i, operands at offsets o (called by the entry point in lib/elementwise_main.wgsl)
fn element(i: u32, o: vec4<i32>) {
  let k = params.seed * 0x9e3779b9u;
  let h = fmix32(fmix32(i ^ k) + k);
  // exact: a 24-bit integer times a power of two
  outBuf[o.x] = f32(h >> 8u) * (1.0 / 16777216.0);
}
