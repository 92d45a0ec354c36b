// adamw.wgsl: in-place AdamW with decoupled weight decay, float32, element by element:
//   p -= lr*wd * p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),   bc1 = 1 - b1^t, bc2 = 1 - b2^t
// in the reference's order (adamwScalar in src/tensor/backends/ref.ts). The host computes the
// step-dependent scalars in float64 and passes them rounded to f32.
//
// Layout: lib/elementwise.wgsl, operand 0 = p, 1 = g, 2 = m, 3 = v (p, m, v are written).
//   P[10] = (lr, lr*wd, b1, 1-b1) f32 bits;  P[11] = (b2, 1-b2, bc1, bc2);  P[12].x = eps
// Workgroup: 256 invocations, grid-stride loop. Its own entry point rather than
// lib/elementwise_main.wgsl's, so that the step scalars are read once per invocation, not per
// element (per element costs about 11% on llvmpipe).
// #include lib/params.wgsl
// #include lib/elementwise.wgsl

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
  let n = P[0].x;
  let h0 = bitcast<vec4<f32>>(P[10]);
  let h1 = bitcast<vec4<f32>>(P[11]);
  let lr = h0.x;
  let lrWd = h0.y;
  let b1 = h0.z;
  let oneMinusB1 = h0.w;
  let b2 = h1.x;
  let oneMinusB2 = h1.y;
  let bc1 = h1.z;
  let bc2 = h1.w;
  let eps = bitcast<f32>(P[12].x);
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
