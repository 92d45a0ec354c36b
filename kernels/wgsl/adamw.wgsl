// adamw.wgsl: in-place AdamW with decoupled weight decay, float32, element by element:
//   p -= lr*wd * p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),   bc1 = 1 - b1^t, bc2 = 1 - b2^t
// in the reference's order (adamwScalar in src/tensor/backends/ref.ts). The host computes the
// step-dependent scalars in float64 and passes them rounded to f32.
//
// Parameters: lib/elementwise.wgsl's fields (operand 0 = p, 1 = g, 2 = m, 3 = v; p, m, v are
// written), then the step's scalars.
// Workgroup: 256 invocations, grid-stride loop. Its own entry point rather than
// lib/elementwise_main.wgsl's, so that the step scalars are read once per invocation, not per
// element (per element costs about 11% on llvmpipe).
// #include lib/elementwise.wgsl

struct AdamWParams {
  n: u32,
  rank: u32,
  offsets: vec4<i32>,
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<i32>, 6>,
  lr: f32,
  lrWd: f32,                        // lr * weight decay
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  bc1: f32,                         // 1 - beta1^t
  bc2: f32,                         // 1 - beta2^t
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: AdamWParams;

@group(0) @binding(1) var<storage, read_write> pBuf: array<f32>;
@group(0) @binding(2) var<storage, read> gBuf: array<f32>;
@group(0) @binding(3) var<storage, read_write> mBuf: array<f32>;
@group(0) @binding(4) var<storage, read_write> vBuf: array<f32>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let n = params.n;
  let lr = params.lr;
  let lrWd = params.lrWd;
  let b1 = params.beta1;
  let oneMinusB1 = params.oneMinusBeta1;
  let b2 = params.beta2;
  let oneMinusB2 = params.oneMinusBeta2;
  let bc1 = params.bc1;
  let bc2 = params.bc2;
  let eps = params.eps;
  let step = groupCount(nwg) * 256u;
  for (var i = groupIndex(wid, nwg) * 256u + lid; i < n; i += step) {
    let o = operandOffsets(i);
    let g = gBuf[o.y];
    var p = pBuf[o.x];
    p -= lrWd * p;
    let m = b1 * mBuf[o.z] + oneMinusB1 * g;
    let v = b2 * vBuf[o.w] + oneMinusB2 * g * g;
    p -= (lr * (m / bc1)) / (sqrt(v / bc2) + eps);
    pBuf[o.x] = p;
    mBuf[o.z] = m;
    vBuf[o.w] = v;
  }
}
