// Named kernel parameters of the webgpu backend: every kernel reads its uniform slot through a
// WGSL `struct` (e.g. lib/layernorm_io.wgsl's LayerNormParams) and the host writes the same
// fields, by name, with `paramBlock(layout, values)`. The layouts below are the host's
// declaration; test/kernel-params.test.ts parses each kernel's struct and checks that it
// matches field for field (name, type and byte offset under WGSL's uniform layout rules).

/** One uniform slot: 64 u32 words, viewable as u32, i32 or f32. */
export class ParamBlock {
  readonly u32 = new Uint32Array(64);
  private readonly i32 = new Int32Array(this.u32.buffer);
  private readonly f32 = new Float32Array(this.u32.buffer);

  /** Unsigned value into lane `lane` of vec4 `slot`. */
  u(slot: number, lane: number, value: number): this {
    if (!(value >= 0 && value <= 0xffffffff && Number.isInteger(value))) {
      throw new RangeError(`webgpu: parameter ${value} does not fit a u32`);
    }
    this.u32[slot * 4 + lane] = value;
    return this;
  }

  /** Signed value (stride, offset) into lane `lane` of vec4 `slot` as i32 bits. */
  i(slot: number, lane: number, value: number): this {
    if (!(value >= -0x80000000 && value <= 0x7fffffff && Number.isInteger(value))) {
      throw new RangeError(`webgpu: parameter ${value} does not fit an i32`);
    }
    this.i32[slot * 4 + lane] = value;
    return this;
  }

  /** Float value into lane `lane` of vec4 `slot` as f32 bits. */
  f(slot: number, lane: number, value: number): this {
    this.f32[slot * 4 + lane] = value;
    return this;
  }
}

/** WGSL types a parameter struct may hold. */
export type ParamType = 'u32' | 'i32' | 'f32' | `vec4<${'u32' | 'i32'}>` | `array<vec4<${'u32' | 'i32'}>, ${number}>`;
export type ParamLayout = Readonly<Record<string, ParamType>>;

/**
 * The fields every elementwise kernel's struct starts with (lib/elementwise.wgsl): a strided
 * iteration over `n` elements of a shape of rank <= 6, for up to four operands (lanes; operand 0 is
 * the output). layout.ts's elementwiseFields computes them.
 */
const ELEMENTWISE = {
  n: 'u32',
  rank: 'u32',
  offsets: 'vec4<i32>',
  shape: 'array<vec4<u32>, 2>',
  strides: 'array<vec4<i32>, 6>',
} as const satisfies ParamLayout;

/** fill: the value's 32 bits (an f32's or an i32's, as the kernel's element type reads them). */
const FILL = { ...ELEMENTWISE, valueBits: 'u32' } as const satisfies ParamLayout;

/** gather over out [N, H]: the table's row count and row stride. */
const GATHER = { ...ELEMENTWISE, rows: 'u32', rowStride: 'i32' } as const satisfies ParamLayout;

/** rand: the seed of the counter-based hash. */
const RAND = { ...ELEMENTWISE, seed: 'u32' } as const satisfies ParamLayout;

/** AdamW: the step's scalars, computed in float64 on the host and rounded to f32. */
const ADAMW = {
  ...ELEMENTWISE,
  lr: 'f32',
  lrWd: 'f32',
  beta1: 'f32',
  oneMinusBeta1: 'f32',
  beta2: 'f32',
  oneMinusBeta2: 'f32',
  bc1: 'f32',
  bc2: 'f32',
  eps: 'f32',
} as const satisfies ParamLayout;

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
  'fill.wgsl': FILL,
  'copy.wgsl': ELEMENTWISE,
  'unary.wgsl': ELEMENTWISE,
  'unary_int.wgsl': ELEMENTWISE,
  'binary.wgsl': ELEMENTWISE,
  'binary_int.wgsl': ELEMENTWISE,
  'where.wgsl': ELEMENTWISE,
  'gather.wgsl': GATHER,
  'rand.wgsl': RAND,
  'adamw.wgsl': ADAMW,
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
  elementwise: ELEMENTWISE,
  fill: FILL,
  gather: GATHER,
  rand: RAND,
  adamw: ADAMW,
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
const VEC4 = /^vec4<(u32|i32)>$/;

/** Fields with their byte offsets under WGSL's uniform layout (scalars 4; vec4s and their arrays 16-aligned). */
export function paramFields(layout: ParamLayout | ReadonlyArray<readonly [string, string]>): ParamField[] {
  const entries = Array.isArray(layout) ? layout : Object.entries(layout as ParamLayout);
  let at = 0;
  return entries.map(([name, type]) => {
    const array = ARRAY.exec(type);
    const vec4 = VEC4.exec(type);
    if (!array && !vec4 && type !== 'u32' && type !== 'i32' && type !== 'f32')
      throw new Error(`webgpu params: field ${name} has unsupported type ${type}`);
    if (array || vec4) at = Math.ceil(at / 16) * 16;
    const field = { name, type, offset: at };
    at += array ? 16 * Number(array[2]) : vec4 ? 16 : 4;
    return field;
  });
}

/**
 * Values to write: a number per scalar, up to 4 lanes per vec4, up to N vec4s (lists of up to 4
 * lanes) per array.
 */
export type ParamValues<L extends ParamLayout> = {
  readonly [K in keyof L]: L[K] extends 'u32' | 'i32' | 'f32'
    ? number
    : L[K] extends `vec4<${string}>`
      ? readonly number[]
      : readonly (readonly number[])[];
};

/** A uniform slot holding `values` laid out as `layout` (lanes not given are 0). */
export function paramBlock<L extends ParamLayout>(layout: L, values: ParamValues<L>): ParamBlock {
  const block = new ParamBlock();
  const given = values as unknown as Record<string, number | readonly number[] | readonly (readonly number[])[]>;
  for (const f of paramFields(layout)) {
    const v = given[f.name];
    const word = f.offset / 4;
    const array = ARRAY.exec(f.type);
    const vec4 = VEC4.exec(f.type);
    if (vec4) {
      const lanes = v as readonly number[];
      if (lanes.length > 4) throw new RangeError(`webgpu params: ${f.name} is a vec4, got ${lanes.length} lanes`);
      lanes.forEach((x, lane) => (vec4[1] === 'u32' ? block.u(word >> 2, lane, x) : block.i(word >> 2, lane, x)));
    } else if (array) {
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
