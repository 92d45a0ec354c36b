// Named kernel arguments of the cpu backend: each WebAssembly entry point reads its arguments from
// a descriptor in memory, whose fields are declared twice, by name and in order: here (the host
// writes `{ rows, H, x, ... }` with `writeDescriptor`) and in the kernel file's `;; @descriptor`
// lines, which kernels.ts turns into byte offsets for the kernel's `@field` references
// (`(i32.load offset=@rows (local.get $desc))`). test/kernel-params.test.ts checks that the
// two declarations agree field for field, so a mismatch fails the suite instead of giving wrong
// numbers.
//
// Field types: i32 (4 bytes), f32 (4), f64 (8, aligned to 8) and i32xN (N i32s; `@field.k` is
// element k). Offsets follow declaration order.

/** Descriptor layouts, by entry point. */
export const DESCRIPTORS = {
  matmul: {
    M: 'i32',
    N: 'i32',
    K: 'i32',
    batch: 'i32',
    sam: 'i32',
    sak: 'i32',
    sbk: 'i32',
    sbn: 'i32',
    ldc: 'i32',
    aTable: 'i32',
    bTable: 'i32',
    cTable: 'i32',
    mc: 'i32',
    nc: 'i32',
    scratch: 'i32',
    scratchStride: 'i32',
    next: 'i32',
  },
  softmax: { rows: 'i32', C: 'i32', x: 'i32', out: 'i32', log: 'i32', tables: 'i32', chunk: 'i32', next: 'i32' },
  gelu: { n: 'i32', x: 'i32', out: 'i32', grad: 'i32', tables: 'i32', chunk: 'i32', next: 'i32', scratch: 'i32' },
  layernorm: {
    rows: 'i32',
    H: 'i32',
    x: 'i32',
    w: 'i32',
    b: 'i32',
    out: 'i32',
    mean: 'i32',
    rstd: 'i32',
    eps: 'f32',
    chunk: 'i32',
    next: 'i32',
  },
  elementwise: {
    op: 'i32',
    n: 'i32',
    d1: 'i32',
    d2: 'i32',
    d3: 'i32',
    chunk: 'i32',
    next: 'i32',
    scratch: 'i32',
    out: 'i32x5',
    a: 'i32x5',
    b: 'i32x5',
    c: 'i32x5',
  },
  reduce: {
    op: 'i32',
    outN: 'i32',
    mode: 'i32',
    x: 'i32',
    out: 'i32',
    kd1: 'i32',
    kd2: 'i32',
    ks0: 'i32',
    ks1: 'i32',
    ks2: 'i32',
    R1: 'i32',
    R0: 'i32',
    rs1: 'i32',
    rs0: 'i32',
    chunk: 'i32',
    next: 'i32',
    scratch: 'i32',
  },
  rand: { n: 'i32', out: 'i32', k: 'i32', chunk: 'i32', next: 'i32' },
  adamw: {
    n: 'i32',
    p: 'i32',
    g: 'i32',
    m: 'i32',
    v: 'i32',
    chunk: 'i32',
    next: 'i32',
    lrwd: 'f64',
    beta1: 'f64',
    omb1: 'f64',
    beta2: 'f64',
    omb2: 'f64',
    lr: 'f64',
    bc1: 'f64',
    bc2: 'f64',
    eps: 'f64',
  },
} as const satisfies Record<string, Layout>;

export type FieldType = 'i32' | 'f32' | 'f64' | `i32x${number}`;
export type Layout = Readonly<Record<string, FieldType>>;
export type DescriptorName = keyof typeof DESCRIPTORS;

export interface Field {
  readonly name: string;
  readonly type: FieldType;
  /** Byte offset from the start of the descriptor. */
  readonly offset: number;
  /** Elements (1, or N for i32xN). */
  readonly count: number;
}

/** Values to write: a number per scalar field, N numbers per i32xN field. */
export type DescriptorValues<L extends Layout> = {
  readonly [K in keyof L]: L[K] extends 'i32' | 'f32' | 'f64' ? number : readonly number[];
};

/** Fields with their byte offsets, in declaration order. */
export function fieldsOf(layout: Layout | ReadonlyArray<readonly [string, FieldType]>): Field[] {
  const entries = Array.isArray(layout) ? layout : Object.entries(layout as Layout);
  let at = 0;
  return entries.map(([name, type]) => {
    const vector = /^i32x(\d+)$/.exec(type);
    if (!vector && type !== 'i32' && type !== 'f32' && type !== 'f64')
      throw new Error(`descriptor field ${name}: unknown type ${type}`);
    const count = vector ? Number(vector[1]) : 1;
    if (type === 'f64') at = Math.ceil(at / 8) * 8;
    const field = { name, type, offset: at, count };
    at += type === 'f64' ? 8 : 4 * count;
    return field;
  });
}

const FIELDS = Object.fromEntries(
  Object.entries(DESCRIPTORS).map(([name, layout]) => [name, fieldsOf(layout)]),
) as Record<DescriptorName, Field[]>;

/** Typed views of the memory the descriptor lives in. */
export interface MemoryViews {
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
}

/** Write entry point `name`'s descriptor at byte address `base`, every field by name. */
export function writeDescriptor<E extends DescriptorName>(
  memory: MemoryViews,
  base: number,
  name: E,
  values: DescriptorValues<(typeof DESCRIPTORS)[E]>,
): void {
  const given = values as unknown as Record<string, number | readonly number[]>;
  for (const f of FIELDS[name]) {
    const v = given[f.name];
    const at = base + f.offset;
    if (f.count > 1) {
      const list = v as readonly number[];
      if (list.length !== f.count)
        throw new Error(`${name} descriptor: ${f.name} takes ${f.count} values, got ${list.length}`);
      memory.i32.set(list, at >> 2);
    } else if (f.type === 'f32') {
      memory.f32[at >> 2] = v as number;
    } else if (f.type === 'f64') {
      memory.f64[at >> 3] = v as number;
    } else {
      memory.i32[at >> 2] = v as number;
    }
  }
}

/** The `;; @descriptor NAME field:type ...` declaration of a kernel file (continued by `;; @descriptor+`). */
export function parseDescriptor(text: string, file: string): { name: string; fields: Field[] } | null {
  const DECL = /^\s*;; @descriptor(\+?) ?(.*)$/;
  let name: string | null = null;
  const entries: Array<[string, FieldType]> = [];
  for (const line of text.split('\n')) {
    const m = DECL.exec(line);
    if (!m) continue;
    const words = m[2]
      .trim()
      .split(/\s+/)
      .filter((w) => w.length > 0);
    if (m[1] === '') {
      if (name !== null) throw new Error(`${file}: more than one @descriptor`);
      name = words.shift() ?? '';
    } else if (name === null) {
      throw new Error(`${file}: @descriptor+ before @descriptor`);
    }
    for (const w of words) {
      const [field, type] = w.split(':');
      if (!field || !type) throw new Error(`${file}: @descriptor field '${w}' is not name:type`);
      entries.push([field, type as FieldType]);
    }
  }
  return name === null ? null : { name, fields: fieldsOf(entries) };
}

/**
 * Replace every `@field` (and `@field.k`) in the code of a kernel file (not in its comments) by the
 * field's byte offset. An unknown field is an error naming the file.
 */
export function resolveFields(text: string, fields: readonly Field[], file: string): string {
  const byName = new Map(fields.map((f) => [f.name, f]));
  return text
    .split('\n')
    .map((line) => {
      const cut = line.indexOf(';;');
      const code = cut < 0 ? line : line.slice(0, cut);
      const comment = cut < 0 ? '' : line.slice(cut);
      return (
        code.replace(/@(\w+)(?:\.(\d+))?/g, (_, name: string, k: string | undefined) => {
          const f = byName.get(name);
          if (!f) throw new Error(`${file}: @${name} is not a field of its @descriptor`);
          const index = k === undefined ? 0 : Number(k);
          if (index >= f.count)
            throw new Error(`${file}: @${name}.${index} is past the ${f.count} elements of ${name}`);
          return String(f.offset + 4 * index);
        }) + comment
      );
    })
    .join('\n');
}
