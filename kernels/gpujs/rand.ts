// gpujs `rand`: backend.ts's counter hash hashUniform(seed, i), bit-exact, in GLSL ES 1.00.
//
// GLSL ES 1.00 (all WebGL 1 offers, and so all headless gl offers) has no unsigned integers and
// no bitwise operators. A 32-bit word is therefore carried as two 16-bit limbs in floats, where
// every value stays an integer below 2^24 and so exact: xor works nibble by nibble on bits pulled
// out with floor and mod by powers of two (exact), shifts are limb arithmetic, and 32x32 -> low
// 32 multiplication splits one factor into bytes so that no partial product reaches 2^24.
// The host passes k = imul(seed, 0x9e3779b9) as two limbs, so one kernel serves every seed.

import { J, type KernelSpec, type NativeFn, glsl, params, passThrough, withHelpers } from './spec.js';

const XOR16 = glsl(
  'float',
  'xor16',
  [
    ['float', 'a'],
    ['float', 'b'],
  ],
  [
    'vec4 p = vec4(1.0, 2.0, 4.0, 8.0);',
    'float r = 0.0;',
    'for (int g = 0; g < 4; g++) {',
    '  vec4 da = mod(floor(vec4(a) / p), 2.0);',
    '  vec4 db = mod(floor(vec4(b) / p), 2.0);',
    '  r += dot(abs(da - db), p);',
    '  p *= 16.0;',
    '}',
    'return r;',
  ],
);

/** (x·y) mod 2^16 for limbs x, y < 2^16. */
const MULMOD16 = glsl(
  'float',
  'mulmod16',
  [
    ['float', 'x'],
    ['float', 'y'],
  ],
  [
    'float y1 = floor(y / 256.0);',
    'float y0 = y - y1 * 256.0;',
    'float lo = mod(x * y0, 65536.0);',
    'float hi = mod(x * y1, 256.0) * 256.0;',
    'return mod(lo + hi, 65536.0);',
  ],
);

/** 32-bit words as vec2(hi, lo): xor, low 32 bits of a product, sum mod 2^32, murmur3's fmix32. */
const WORD_FNS = `vec2 xor32(vec2 a, vec2 b) {
  return vec2(xor16(a.x, b.x), xor16(a.y, b.y));
}
vec2 mul32(vec2 a, vec2 b) {
  float b1 = floor(b.y / 256.0);
  float b0 = b.y - b1 * 256.0;
  float p0 = a.y * b0;
  float p1 = a.y * b1;
  float lo = mod(p0, 65536.0) + mod(p1, 256.0) * 256.0;
  float carry = floor(p0 / 65536.0) + floor(p1 / 256.0) + floor(lo / 65536.0);
  lo = mod(lo, 65536.0);
  float hi = mod(carry + mulmod16(a.x, b.y) + mulmod16(a.y, b.x), 65536.0);
  return vec2(hi, lo);
}
vec2 add32(vec2 a, vec2 b) {
  float lo = a.y + b.y;
  float carry = floor(lo / 65536.0);
  return vec2(mod(a.x + b.x + carry, 65536.0), lo - carry * 65536.0);
}
vec2 fmix32(vec2 h) {
  h = xor32(h, vec2(0.0, h.x));
  h = mul32(h, vec2(34283.0, 51819.0));
  h = xor32(h, vec2(floor(h.x / 8192.0), mod(h.x, 8192.0) * 8.0 + floor(h.y / 8192.0)));
  h = mul32(h, vec2(49842.0, 44597.0));
  return xor32(h, vec2(0.0, h.x));
}`;

/**
 * `float hashUniform(int i, float kHi, float kLo)`: (fmix32(fmix32(i ^ k) + k) >>> 8) / 2^24.
 * The word helpers, xor16 and mulmod16 ride along in the same native source.
 */
const HASH: NativeFn = withHelpers(
  {
    name: 'hashUniform',
    source: `${WORD_FNS}
float hashUniform(int i, float kHi, float kLo) {
  float hi = float(i / 65536);
  float lo = float(i - (i / 65536) * 65536);
  vec2 k = vec2(kHi, kLo);
  vec2 h = fmix32(add32(fmix32(xor32(vec2(hi, lo), k)), k));
  return (h.x * 256.0 + floor(h.y / 256.0)) / 16777216.0;
}`,
    returnType: 'Float',
    argumentTypes: { i: 'Integer', kHi: 'Float', kLo: 'Float' },
  },
  [XOR16, MULMOD16],
);

/** out[j] = hashUniform(seed, j) for logical j of the (contiguous) out view. */
export function randKernel(out: { size: number; outIdx: NativeFn; hasPrev: boolean }): KernelSpec {
  return {
    family: 'rand',
    source: `function (${params(['kHi', 'kLo'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return hashUniform(${J}, kHi, kLo);
}`,
    natives: [out.outIdx, HASH],
    output: [out.size],
  };
}
