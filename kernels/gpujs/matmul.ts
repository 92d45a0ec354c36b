// gpujs batched matmul: out[p, m, n] = sum_k a[p, m, k] · b[p, k, n], operands as any strided
// views (transposes and broadcast batch dims arrive as strides).
//
// Four passes, because texture fetches are what a software GL pays for:
// 1. packA gathers A into an RGBA float texture, four consecutive k per texel, one row per (p, m);
// 2. packB does the same for B transposed, one row per (p, n), with n padded to a multiple of 4;
//    both are zero-padded along k to a multiple of 4, so the main loop needs no bounds checks;
// 3. the main kernel computes four neighbouring columns per thread: per texel step it reads one
//    A texel and four B texels for 16 multiply-adds (GLSL dot) and writes an RGBA texel;
// 4. unpack writes those columns into the destination buffer (through its view).
// Packed textures are 1-D so that P·M rows may exceed the 16384 texture-size limit. Each sum runs
// in a fixed order (deterministic): four products by dot, then sequentially over k/4. Blocking the
// sum (partial sums per 64 products) measured 2-3x slower on llvmpipe, so it is not done; the
// float32 error stays within the tests' K = 4097 tolerance.

import { J, type KernelSpec, type NativeFn, glsl, params, passThrough, withHelpers } from './spec.js';

export interface MatmulDims {
  /** Batch count (product of batch dims), rows, inner and columns. */
  P: number;
  M: number;
  K: number;
  N: number;
}

/** Packed geometry: texels per row along k (K4) and column quads (N4). */
export function packedGeometry(d: MatmulDims): { K4: number; N4: number } {
  return { K4: Math.ceil(d.K / 4), N4: Math.ceil(d.N / 4) };
}

/**
 * Pack one operand: texel f holds packed row f / K4 and k = 4·(f mod K4) + lane, lanes 0..3.
 * `addr(f, lane)` (carrying the operand's batch map) is the element address, clamped in range;
 * `keep(f, lane, v)` zeroes padding (k >= K, or a padding row of B).
 */
function packKernel(which: 'A' | 'B', rows: number, d: MatmulDims, addr: NativeFn, keep: NativeFn): KernelSpec {
  const { K4 } = packedGeometry(d);
  const lane = (c: number): string => `keep(this.thread.x, ${c}, src[addr(this.thread.x, ${c})])`;
  return {
    family: `matmul.pack${which}`,
    source: `function (src) {
  return [${lane(0)}, ${lane(1)}, ${lane(2)}, ${lane(3)}];
}`,
    natives: [addr, keep],
    output: [rows * K4],
  };
}

/** Lines shared by both address maps: packed row and clamped k of texel f, lane `lane`. */
function rowAndK(K4: number, K: number): string[] {
  return [`int row = f / ${K4};`, `int k = (f - row * ${K4}) * 4 + lane;`, `if (k > ${K - 1}) k = ${K - 1};`];
}

/** packA: rows (p, m) of A; `aBatch(p)` is the element offset of batch p. */
export function packAKernel(d: MatmulDims, aBatch: NativeFn, strideM: number, strideK: number): KernelSpec {
  const { K4 } = packedGeometry(d);
  const addr = withHelpers(
    glsl(
      'int',
      'addr',
      [
        ['int', 'f'],
        ['int', 'lane'],
      ],
      [
        ...rowAndK(K4, d.K),
        `int p = row / ${d.M};`,
        `int m = row - p * ${d.M};`,
        `return aBatch(p) + m * ${strideM} + k * ${strideK};`,
      ],
    ),
    [aBatch],
  );
  const keep = glsl(
    'float',
    'keep',
    [
      ['int', 'f'],
      ['int', 'lane'],
      ['float', 'v'],
    ],
    [`int k = (f - (f / ${K4}) * ${K4}) * 4 + lane;`, `return k < ${d.K} ? v : 0.0;`],
  );
  return packKernel('A', d.P * d.M, d, addr, keep);
}

/** packB: rows (p, n) of B transposed, n padded up to 4·N4 with zero rows. */
export function packBKernel(d: MatmulDims, bBatch: NativeFn, strideK: number, strideN: number): KernelSpec {
  const { K4, N4 } = packedGeometry(d);
  const nPad = 4 * N4;
  const addr = withHelpers(
    glsl(
      'int',
      'addr',
      [
        ['int', 'f'],
        ['int', 'lane'],
      ],
      [
        ...rowAndK(K4, d.K),
        `int p = row / ${nPad};`,
        `int n = row - p * ${nPad};`,
        `if (n > ${d.N - 1}) n = ${d.N - 1};`,
        `return bBatch(p) + k * ${strideK} + n * ${strideN};`,
      ],
    ),
    [bBatch],
  );
  const keep = glsl(
    'float',
    'keep',
    [
      ['int', 'f'],
      ['int', 'lane'],
      ['float', 'v'],
    ],
    [
      `int row = f / ${K4};`,
      `int k = (f - row * ${K4}) * 4 + lane;`,
      `int n = row - (row / ${nPad}) * ${nPad};`,
      `return (k < ${d.K} && n < ${d.N}) ? v : 0.0;`,
    ],
  );
  return packKernel('B', d.P * nPad, d, addr, keep);
}

/**
 * Main pass: texel f = (p·M + m)·N4 + q holds out[p, m, 4q .. 4q+3], the dot products of packed
 * A row p·M + m with packed B rows p·4N4 + 4q + c.
 */
export function matmulKernel(d: MatmulDims): KernelSpec {
  const { K4, N4 } = packedGeometry(d);
  const rowA = glsl('int', 'rowA', [['int', 'f']], [`return (f / ${N4}) * ${K4};`]);
  const rowB = glsl(
    'int',
    'rowB',
    [
      ['int', 'f'],
      ['int', 'c'],
    ],
    [`int p = f / ${d.M * N4};`, `int q = f - (f / ${N4}) * ${N4};`, `return (p * ${4 * N4} + 4 * q + c) * ${K4};`],
  );
  const b = (c: number): string => `b4[rowB(this.thread.x, ${c}) + k]`;
  return {
    family: 'matmul',
    source: `function (a4, b4) {
  let acc = [0, 0, 0, 0];
  for (let k = 0; k < this.constants.K4; k++) {
    const x = a4[rowA(this.thread.x) + k];
    acc[0] += dot(x, ${b(0)});
    acc[1] += dot(x, ${b(1)});
    acc[2] += dot(x, ${b(2)});
    acc[3] += dot(x, ${b(3)});
  }
  return acc;
}`,
    natives: [rowA, rowB],
    output: [d.P * d.M * N4],
    constants: { K4 },
  };
}

/** out logical j = (p·M + m)·N + n takes lane n mod 4 of texel (p·M + m)·N4 + n / 4. */
export function unpackKernel(out: { size: number; outIdx: NativeFn; hasPrev: boolean }, d: MatmulDims): KernelSpec {
  const { N4 } = packedGeometry(d);
  const texel = glsl(
    'int',
    'texelOf',
    [['int', 'j']],
    [`int n = j - (j / ${d.N}) * ${d.N};`, `return (j / ${d.N}) * ${N4} + n / 4;`],
  );
  const lane = glsl(
    'float',
    'laneOf',
    [
      ['int', 'j'],
      ['float', 'x'],
      ['float', 'y'],
      ['float', 'z'],
      ['float', 'w'],
    ],
    [
      `int n = j - (j / ${d.N}) * ${d.N};`,
      'int c = n - (n / 4) * 4;',
      'if (c == 0) return x;',
      'if (c == 1) return y;',
      'return c == 2 ? z : w;',
    ],
  );
  return {
    family: 'matmul.unpack',
    source: `function (${params(['c4'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  const v = c4[texelOf(${J})];
  return laneOf(${J}, v[0], v[1], v[2], v[3]);
}`,
    natives: [out.outIdx, texel, lane],
    output: [out.size],
  };
}
