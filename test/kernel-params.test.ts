// Kernel arguments by name: the host's declaration of each kernel's parameters against the
// kernel source. A renamed, reordered, retyped, missing or unused field fails here instead of
// producing wrong numbers.
//   cpu: src/tensor/backends/cpu/descriptors.ts (DESCRIPTORS, written with writeDescriptor) against
//        the `;; @descriptor` lines of kernels/wasm/*.wat, whose code reads fields as `@name`.
//   webgpu: the TypeScript param layouts (src/tensor/backends/webgpu/params.ts) against the WGSL
//        `struct` each kernel reads its uniform through.

import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DESCRIPTORS,
  fieldsOf,
  parseDescriptor,
  resolveFields,
  writeDescriptor,
} from '../src/tensor/backends/cpu/descriptors.js';
import { ENTRY_POINTS } from '../src/tensor/backends/cpu/kernels.js';
import {
  PARAMS,
  PARAM_LAYOUTS,
  paramBlock,
  paramFields,
  parseWgslStruct,
} from '../src/tensor/backends/webgpu/params.js';
import { kernelSource } from '../src/tensor/backends/webgpu/kernels.js';

const WASM_DIR = new URL('../kernels/wasm/', import.meta.url);
const WGSL_DIR = new URL('../kernels/wgsl/', import.meta.url);
const wat = (file: string): string => readFileSync(new URL(file, WASM_DIR), 'utf8');

/** Differences between two field lists, one line each (empty when they agree). */
interface Named {
  readonly name: string;
  readonly type: string;
  readonly offset: number;
}

function diff(host: readonly Named[], kernel: readonly Named[]): string[] {
  const out: string[] = [];
  const n = Math.max(host.length, kernel.length);
  for (let i = 0; i < n; i++) {
    const h = host[i];
    const k = kernel[i];
    if (!h || !k || h.name !== k.name || h.type !== k.type || h.offset !== k.offset) {
      out.push(
        `field ${i}: host ${h ? `${h.name}:${h.type}@${h.offset}` : '-'}, kernel ${k ? `${k.name}:${k.type}@${k.offset}` : '-'}`,
      );
    }
  }
  return out;
}

describe('cpu: WebAssembly descriptors, host against kernel source', () => {
  const files = readdirSync(WASM_DIR).filter((f) => f.endsWith('.wat'));
  const declared = new Map(
    files.flatMap((f) => {
      const d = parseDescriptor(wat(f), f);
      return d ? [[d.name, { file: f, fields: d.fields }] as const] : [];
    }),
  );

  it('every entry point has a descriptor in its kernel file and in descriptors.ts', () => {
    expect([...declared.keys()].sort()).toEqual([...ENTRY_POINTS].sort());
    expect(Object.keys(DESCRIPTORS).sort()).toEqual([...ENTRY_POINTS].sort());
  });

  for (const name of ENTRY_POINTS) {
    it(`${name}: the same fields, types and offsets on both sides; the code reads every field by name`, () => {
      const kernel = declared.get(name)!;
      expect(diff(fieldsOf(DESCRIPTORS[name]), kernel.fields), `${kernel.file} vs descriptors.ts`).toEqual([]);
      const text = wat(kernel.file);
      const code = text
        .split('\n')
        .map((l) => l.replace(/;;.*$/, ''))
        .join('\n');
      // no descriptor field is read at a numeric offset
      expect(
        code.match(/offset=\d+ \(local\.get \$desc\)/g) ?? [],
        `${kernel.file}: numeric descriptor offsets`,
      ).toEqual([]);
      // every declared field is read somewhere (a field nobody reads is stale)
      const unread = kernel.fields.filter((f) => !new RegExp(`@${f.name}\\b`).test(code)).map((f) => f.name);
      expect(unread, `${kernel.file}: declared but never read`).toEqual([]);
    });
  }

  it('a mismatch is caught: a reordered declaration differs, an unknown @field does not assemble', () => {
    const swapped = fieldsOf([
      ['rows', 'i32'],
      ['H', 'i32'],
      ['x', 'i32'],
      ['w', 'i32'],
      ['b', 'i32'],
      ['out', 'i32'],
      ['mean', 'i32'],
      ['rstd', 'i32'],
      ['chunk', 'i32'],
      ['eps', 'f32'],
      ['next', 'i32'],
    ]);
    expect(diff(fieldsOf(DESCRIPTORS.layernorm), swapped)).toHaveLength(2);
    expect(() => resolveFields('(i32.load offset=@nope (local.get $desc))', swapped, 'x.wat')).toThrow(
      /x\.wat: @nope is not a field/,
    );
  });

  it('writeDescriptor puts each value at its field (f64 aligned to 8, i32xN as N words)', () => {
    const buffer = new ArrayBuffer(256);
    const views = { i32: new Int32Array(buffer), f32: new Float32Array(buffer), f64: new Float64Array(buffer) };
    writeDescriptor(views, 64, 'adamw', {
      n: 1,
      p: 2,
      g: 3,
      m: 4,
      v: 5,
      chunk: 6,
      next: 0,
      lrwd: 0.5,
      beta1: 0.9,
      omb1: 0.1,
      beta2: 0.99,
      omb2: 0.01,
      lr: 1e-3,
      bc1: 0.1,
      bc2: 0.01,
      eps: 1e-8,
    });
    expect(Array.from(views.i32.subarray(16, 23))).toEqual([1, 2, 3, 4, 5, 6, 0]);
    expect(views.f64[(64 + 32) / 8]).toBe(0.5);
    expect(views.f64[(64 + 96) / 8]).toBe(1e-8);
    writeDescriptor(views, 0, 'elementwise', {
      op: 1,
      n: 2,
      d1: 3,
      d2: 4,
      d3: 5,
      chunk: 6,
      next: 0,
      scratch: 7,
      out: [10, 11, 12, 13, 14],
      a: [20, 21, 22, 23, 24],
      b: [30, 31, 32, 33, 34],
      c: [40, 41, 42, 43, 44],
    });
    expect(views.i32[52 / 4]).toBe(20);
    expect(views.i32[(92 + 16) / 4]).toBe(44);
    expect(() =>
      writeDescriptor(views, 0, 'elementwise', {
        op: 1,
        n: 2,
        d1: 3,
        d2: 4,
        d3: 5,
        chunk: 6,
        next: 0,
        scratch: 7,
        out: [1],
        a: [],
        b: [],
        c: [],
      }),
    ).toThrow(/out takes 5 values/);
  });
});

describe('webgpu: WGSL parameter structs, host against kernel source', () => {
  /** Any specialization (element type f32): parameter structs do not depend on it. */
  const ANY_SPEC = new Proxy({}, { get: () => 'f32' }) as Record<string, string>;

  for (const [kernel, layout] of Object.entries(PARAM_LAYOUTS)) {
    it(`${kernel}: the struct the kernel reads its uniform through matches the host's layout`, () => {
      const source = kernelSource(kernel, ANY_SPEC);
      const struct = parseWgslStruct(source, kernel);
      expect(diff(paramFields(layout), struct), `${kernel} vs params.ts`).toEqual([]);
      // the kernel reads its parameters through the struct only
      expect(source.match(/\bP\[/g) ?? [], `${kernel}: reads the raw P[] block`).toEqual([]);
    });
  }

  it('every kernel file reads its parameters through a struct with a host layout', () => {
    const kernels = readdirSync(WGSL_DIR).filter((f) => f.endsWith('.wgsl'));
    const withStruct = kernels.filter((f) => /var<uniform>\s+params\s*:/.test(kernelSource(f, ANY_SPEC)));
    expect(withStruct.sort()).toEqual(kernels.sort());
    expect(Object.keys(PARAM_LAYOUTS).sort()).toEqual(kernels.sort());
  });

  it('vec4 fields are 16-aligned and written lane by lane; a mismatch in a shared prefix is caught', () => {
    const fields = paramFields({ n: 'u32', rank: 'u32', offsets: 'vec4<i32>', shape: 'array<vec4<u32>, 2>' });
    expect(fields.map((f) => f.offset)).toEqual([0, 4, 16, 32]);
    const block = paramBlock(PARAMS.gather, {
      n: 6,
      rank: 2,
      offsets: [1, -2, 3],
      shape: [[2, 3]],
      strides: [
        [3, 1, 0],
        [1, 0, 1],
      ],
      rows: 7,
      rowStride: -5,
    });
    const i32 = new Int32Array(block.u32.buffer);
    expect(Array.from(i32.subarray(4, 8))).toEqual([1, -2, 3, 0]);
    expect(Array.from(block.u32.subarray(8, 12))).toEqual([2, 3, 0, 0]);
    expect(Array.from(i32.subarray(16, 20))).toEqual([3, 1, 0, 0]);
    expect([block.u32[40], i32[41]]).toEqual([7, -5]);
    // fill's struct with two shared fields swapped differs from the host's layout
    const swapped = parseWgslStruct(
      'struct S { rank: u32, n: u32, offsets: vec4<i32>, shape: array<vec4<u32>, 2>, strides: array<vec4<i32>, 6>, valueBits: u32, }\nvar<uniform> params: S;',
      'x.wgsl',
    );
    expect(diff(paramFields(PARAMS.fill), swapped)).toHaveLength(2);
  });
});
