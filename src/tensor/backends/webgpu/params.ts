// Named kernel parameters of the webgpu backend: a kernel that reads its uniform slot by name
// declares a WGSL `struct` (e.g. lib/layernorm_io.wgsl's LayerNormParams) and the host writes the
// same fields, by name, with `paramBlock(layout, values)`. The layouts below are the host's
// declaration; test/kernel-params.test.ts parses each kernel's struct and checks that it
// matches field for field (name, type and byte offset under WGSL's uniform layout rules).
// Kernels not yet converted read the raw P[0..15] block (lib/params.wgsl, layout.ts's ParamBlock).

import { ParamBlock } from './layout.js';

/** WGSL types a parameter struct may hold. */
export type ParamType = 'u32' | 'i32' | 'f32' | `array<vec4<${'u32' | 'i32'}>, ${number}>`;
export type ParamLayout = Readonly<Record<string, ParamType>>;

/** LayerNorm over the last axis of a [rows, H] view (leading dims flattened into rows). */
const LAYERNORM = {
  rows: 'u32',
  len: 'u32',
  rowRank: 'u32',
  eps: 'f32',
  xOffset: 'i32',
  outOffset: 'i32',
  xStride: 'i32',
  outStride: 'i32',
  wOffset: 'i32',
  bOffset: 'i32',
  wStride: 'i32',
  bStride: 'i32',
  meanOffset: 'i32',
  rstdOffset: 'i32',
  rowShape: 'array<vec4<u32>, 2>',
  rowStrides: 'array<vec4<i32>, 6>',
} as const satisfies ParamLayout;

/** Batched matmul out [batch..., M, N] = a [batch..., M, K] · b [batch..., K, N]. */
const MATMUL = {
  M: 'u32',
  N: 'u32',
  K: 'u32',
  batches: 'u32',
  aOffset: 'i32',
  bOffset: 'i32',
  outOffset: 'i32',
  batchRank: 'u32',
  sam: 'i32',
  sak: 'i32',
  sbk: 'i32',
  sbn: 'i32',
  outStrideM: 'i32',
  outStrideN: 'i32',
  tilesM: 'u32',
  tilesN: 'u32',
  batchShape: 'array<vec4<u32>, 1>',
  batchStrides: 'array<vec4<i32>, 4>',
  aKFast: 'u32',
  bKFast: 'u32',
} as const satisfies ParamLayout;

/** Softmax or log-softmax over the last axis of a [rows, C] view (leading dims flattened). */
const SOFTMAX = {
  rows: 'u32',
  len: 'u32',
  rowRank: 'u32',
  logOutput: 'u32',
  xOffset: 'i32',
  outOffset: 'i32',
  xStride: 'i32',
  outStride: 'i32',
  rowShape: 'array<vec4<u32>, 2>',
  rowStrides: 'array<vec4<i32>, 8>',
} as const satisfies ParamLayout;

/** Keep-dims reduction over kept dims j and reduced dims k, optionally in chunks along k. */
const REDUCE = {
  outputs: 'u32',
  total: 'u32',
  keptRank: 'u32',
  reducedRank: 'u32',
  xOffset: 'i32',
  outOffset: 'i32',
  chunkLength: 'u32',
  chunks: 'u32',
  keptShape: 'array<vec4<u32>, 2>',
  reducedShape: 'array<vec4<u32>, 2>',
  strides: 'array<vec4<i32>, 6>',
  chunkStride: 'i32',
} as const satisfies ParamLayout;

/** One bitonic stage (k, j) sorting positions n by (idx[n], n): scatterAdd's first step. */
const SCATTER_SORT = {
  count: 'u32',
  padded: 'u32',
  k: 'u32',
  j: 'u32',
  idxOffset: 'i32',
  idxStride: 'i32',
  rows: 'u32',
} as const satisfies ParamLayout;

/** scatterAdd's second step: out[v, h] = Σ src[n, h] over the sorted run of v. */
const SCATTER_ADD = {
  count: 'u32',
  width: 'u32',
  rows: 'u32',
  srcOffset: 'i32',
  srcStrideN: 'i32',
  srcStrideH: 'i32',
  idxOffset: 'i32',
  idxStride: 'i32',
  outOffset: 'i32',
  outStrideV: 'i32',
  outStrideH: 'i32',
} as const satisfies ParamLayout;

/** The host's layout of each kernel file that reads its parameters through a struct. */
export const PARAM_LAYOUTS = {
  'layernorm.wgsl': LAYERNORM,
  'layernorm_narrow.wgsl': LAYERNORM,
  'matmul.wgsl': MATMUL,
  'matmul_direct.wgsl': MATMUL,
  'softmax.wgsl': SOFTMAX,
  'softmax_narrow.wgsl': SOFTMAX,
  'reduce.wgsl': REDUCE,
  'reduce_narrow.wgsl': REDUCE,
  'scatter_sort.wgsl': SCATTER_SORT,
  'scatter_add.wgsl': SCATTER_ADD,
} as const satisfies Record<string, ParamLayout>;

export const PARAMS = {
  layernorm: LAYERNORM,
  matmul: MATMUL,
  softmax: SOFTMAX,
  reduce: REDUCE,
  scatterSort: SCATTER_SORT,
  scatterAdd: SCATTER_ADD,
} as const;

export interface ParamField {
  readonly name: string;
  readonly type: string;
  /** Byte offset in the uniform block. */
  readonly offset: number;
}

const ARRAY = /^array<vec4<(u32|i32)>, (\d+)>$/;

/** Fields with their byte offsets under WGSL's uniform layout (scalars 4, vec4 arrays 16-aligned). */
export function paramFields(layout: ParamLayout | ReadonlyArray<readonly [string, string]>): ParamField[] {
  const entries = Array.isArray(layout) ? layout : Object.entries(layout as ParamLayout);
  let at = 0;
  return entries.map(([name, type]) => {
    const array = ARRAY.exec(type);
    if (!array && type !== 'u32' && type !== 'i32' && type !== 'f32')
      throw new Error(`webgpu params: field ${name} has unsupported type ${type}`);
    if (array) at = Math.ceil(at / 16) * 16;
    const field = { name, type, offset: at };
    at += array ? 16 * Number(array[2]) : 4;
    return field;
  });
}

/** Values to write: a number per scalar, up to N vec4s (lists of up to 4 lanes) per array. */
export type ParamValues<L extends ParamLayout> = {
  readonly [K in keyof L]: L[K] extends 'u32' | 'i32' | 'f32' ? number : readonly (readonly number[])[];
};

/** A uniform slot holding `values` laid out as `layout` (lanes not given are 0). */
export function paramBlock<L extends ParamLayout>(layout: L, values: ParamValues<L>): ParamBlock {
  const block = new ParamBlock();
  const given = values as unknown as Record<string, number | readonly (readonly number[])[]>;
  for (const f of paramFields(layout)) {
    const v = given[f.name];
    const word = f.offset / 4;
    const array = ARRAY.exec(f.type);
    if (array) {
      const vecs = v as readonly (readonly number[])[];
      if (vecs.length > Number(array[2]))
        throw new RangeError(`webgpu params: ${f.name} holds ${array[2]} vec4s, got ${vecs.length}`);
      vecs.forEach((lanes, k) =>
        lanes.forEach((x, lane) => {
          const slot = (word >> 2) + k;
          if (array[1] === 'u32') block.u(slot, lane, x);
          else block.i(slot, lane, x);
        }),
      );
    } else if (f.type === 'u32') {
      block.u(word >> 2, word & 3, v as number);
    } else if (f.type === 'i32') {
      block.i(word >> 2, word & 3, v as number);
    } else {
      block.f(word >> 2, word & 3, v as number);
    }
  }
  return block;
}

/**
 * The fields of the struct a kernel's `var<uniform> params: NAME` has, from its WGSL source
 * (includes expanded), with WGSL's offsets. Throws naming the file if there is none.
 */
export function parseWgslStruct(source: string, file: string): ParamField[] {
  const code = source.replace(/\/\/.*$/gm, '');
  const binding = /var<uniform>\s+params\s*:\s*(\w+)\s*;/.exec(code);
  if (!binding) throw new Error(`${file}: no \`var<uniform> params: <Struct>\``);
  const struct = new RegExp(`struct\\s+${binding[1]}\\s*\\{([^}]*)\\}`).exec(code);
  if (!struct) throw new Error(`${file}: struct ${binding[1]} not found`);
  const entries = struct[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    // a trailing comma inside array<...> splits the type: join "array<vec4<u32>" with " 2>"
    .reduce<string[]>((acc, part) => {
      const last = acc[acc.length - 1];
      if (last !== undefined && (last.match(/</g) ?? []).length > (last.match(/>/g) ?? []).length)
        acc[acc.length - 1] = `${last}, ${part}`;
      else acc.push(part);
      return acc;
    }, [])
    .map((entry): [string, string] => {
      const m = /^(\w+)\s*:\s*(.+)$/.exec(entry);
      if (!m) throw new Error(`${file}: cannot read struct member '${entry}'`);
      return [
        m[1],
        m[2]
          .replace(/\s+/g, ' ')
          .replace(/\s*,\s*/g, ', ')
          .replace(/<\s+/g, '<')
          .replace(/\s+>/g, '>'),
      ];
    });
  return paramFields(entries);
}
