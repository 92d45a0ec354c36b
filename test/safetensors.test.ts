// Tests for src/nn/safetensors.ts: byte-exact layout against the reference library's own test
// vectors, round trips of every dtype (F16/BF16 special values included), half-precision rounding
// against an independent nearest-even search and against numpy/torch, one clear SafetensorsError
// per kind of malformed file, and a seeded fuzz over thousands of mutated files.
// Run: npx vitest run test/safetensors.test.ts
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  int64ToInt32,
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsData,
  type SafetensorsTensorInput,
} from '../src/nn/safetensors.js';
import { rng } from './util/random.js';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bitsOf(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

function f32(value: number): number {
  return Math.fround(value);
}

/** Build a file from a header object (or raw header text) and a data region, the way a hostile writer could. */
function rawFile(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const headerBytes = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

function expectSafetensorsError(fn: () => unknown, fragment: string, file = 'bad.safetensors'): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a SafetensorsError mentioning "${fragment}"`).toBeInstanceOf(SafetensorsError);
  const message = (caught as Error).message;
  expect(message.startsWith(`${file}: `), message).toBe(true);
  expect(message).toContain(fragment);
  expect(message.includes('\n'), 'error must be one line').toBe(false);
}

describe('layout matches the reference implementation byte for byte', () => {
  // Expected bytes copied from the Rust crate's unit tests (safetensors/src/tensor.rs:
  // test_serialization, test_empty, test_serialization_forced_alignement), which the Python
  // package wraps.
  it('one F32 tensor', () => {
    const out = serializeSafetensors({
      'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
    });
    expect(Array.from(out)).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34,
      70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95,
      111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0,
      64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('padding with spaces forces 8-byte alignment of the data', () => {
    const out = serializeSafetensors({
      attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) },
    });
    expect(Array.from(out)).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70,
      51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97,
      95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0,
      0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('empty file, with and without metadata', () => {
    expect(Array.from(serializeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(Array.from(serializeSafetensors({}, { framework: 'pt' }))).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114,
      97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
    const parsed = parseSafetensors(serializeSafetensors({}, { framework: 'pt' }), 'empty');
    expect(parsed.tensors.size).toBe(0);
    expect(parsed.metadata).toEqual({ framework: 'pt' });
  });

  it('orders tensors by descending dtype alignment, then by UTF-8 name, so all data is aligned', () => {
    const out = serializeSafetensors({
      b: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      a: { dtype: 'F16', shape: [1], data: new Float32Array([1]) },
      z: { dtype: 'F64', shape: [1], data: new Float64Array([1]) },
      y: { dtype: 'F32', shape: [1], data: new Float32Array([1]) },
      '\u{1F600}': { dtype: 'F32', shape: [1], data: new Float32Array([2]) },
      '\uFFFD': { dtype: 'F32', shape: [1], data: new Float32Array([3]) },
      x: { dtype: 'I64', shape: [1], data: new BigInt64Array([1n]) },
    });
    const n = Number(new DataView(out.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(Buffer.from(out.subarray(8, 8 + n)).toString('utf8'));
    // UTF-8 order puts U+FFFD (EF BF BD) before U+1F600 (F0 9F 98 80); UTF-16 order would not.
    expect(Object.keys(header)).toEqual(['x', 'z', 'y', '\uFFFD', '\u{1F600}', 'a', 'b']);
    const sizes: Record<string, number> = { I64: 8, F64: 8, F32: 4, F16: 2, U8: 1 };
    for (const info of Object.values(header) as { dtype: string; data_offsets: [number, number] }[]) {
      expect(info.data_offsets[0] % sizes[info.dtype]!).toBe(0);
    }
  });
});

describe('round trips', () => {
  const specialsF32 = new Float32Array([
    0,
    -0,
    1,
    -1,
    Infinity,
    -Infinity,
    NaN,
    1e-45,
    -1e-45,
    1.17549435e-38,
    3.4028234663852886e38,
    Math.PI,
  ]);
  const all: Record<string, SafetensorsTensorInput> = {
    f64: { dtype: 'F64', shape: [2, 3], data: new Float64Array([0, -0, Infinity, -Infinity, NaN, 5e-324]) },
    f32: { dtype: 'F32', shape: [3, 4], data: specialsF32 },
    i64: {
      dtype: 'I64',
      shape: [4],
      data: new BigInt64Array([0n, -1n, 9223372036854775807n, -9223372036854775808n]),
    },
    u64: { dtype: 'U64', shape: [2], data: new BigUint64Array([0n, 18446744073709551615n]) },
    i32: { dtype: 'I32', shape: [3], data: new Int32Array([0, -2147483648, 2147483647]) },
    u32: { dtype: 'U32', shape: [2], data: new Uint32Array([0, 4294967295]) },
    i16: { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) },
    u16: { dtype: 'U16', shape: [2], data: new Uint16Array([0, 65535]) },
    i8: { dtype: 'I8', shape: [3], data: new Int8Array([-128, 0, 127]) },
    u8: { dtype: 'U8', shape: [1, 1, 3], data: new Uint8Array([0, 128, 255]) },
    bool: { dtype: 'BOOL', shape: [2], data: new Uint8Array([0, 1]) },
    scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
    empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
    emptyToo: { dtype: 'I64', shape: [3, 0], data: new BigInt64Array(0) },
  };

  function checkSame(name: string, got: SafetensorsData, want: SafetensorsData): void {
    expect(got.constructor.name, name).toBe(want.constructor.name);
    const gotBytes = Array.from(new Uint8Array(got.buffer, got.byteOffset, got.byteLength));
    const wantBytes = Array.from(new Uint8Array(want.buffer, want.byteOffset, want.byteLength));
    expect(gotBytes, name).toEqual(wantBytes);
  }

  it('every dtype, through bytes and through a file, keeps bits, shapes and metadata', () => {
    const metadata = { format: 'pt', note: 'ünïcödé "quoted"\n', __proto__: 'kept as a key' };
    const bytes = serializeSafetensors(all, metadata);
    const path = join(dir, 'all.safetensors');
    writeSafetensors(path, all, metadata);
    expect(Array.from(readFileSync(path))).toEqual(Array.from(bytes));
    for (const parsed of [parseSafetensors(bytes, 'all'), readSafetensors(path)]) {
      expect(Object.entries(parsed.metadata)).toEqual(Object.entries(metadata));
      expect([...parsed.tensors.keys()].sort()).toEqual(Object.keys(all).sort());
      for (const [name, want] of Object.entries(all)) {
        const got = parsed.tensors.get(name)!;
        expect(got.dtype, name).toBe(want.dtype);
        expect(got.shape, name).toEqual(want.shape);
        checkSame(name, got.data, want.data);
      }
    }
  });

  it('F16 and BF16 special values: inf, nan, subnormals, -0, extremes', () => {
    // float16: 0, -0, +-inf, nan, min subnormal, max subnormal, min normal, max finite, 1, -2.
    const f16Bits = new Uint16Array([
      0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x3c00, 0xc000,
    ]);
    const f16Values = [0, -0, Infinity, -Infinity, NaN, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, 1, -2];
    // bfloat16: 0, -0, +-inf, nan, min subnormal, min normal, max finite, 1.
    const bf16Bits = new Uint16Array([0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x0080, 0x7f7f, 0x3f80]);
    const bf16Values = [0, -0, Infinity, -Infinity, NaN, 2 ** -133, 2 ** -126, 3.3895313892515355e38, 1];
    const tensors: Record<string, SafetensorsTensorInput> = {
      h: { dtype: 'F16', shape: [f16Bits.length], data: f16Bits },
      b: { dtype: 'BF16', shape: [bf16Bits.length], data: bf16Bits },
      hf: { dtype: 'F16', shape: [f16Values.length], data: new Float32Array(f16Values) },
      bf: { dtype: 'BF16', shape: [bf16Values.length], data: new Float32Array(bf16Values) },
    };
    const bytes = serializeSafetensors(tensors);
    const decoded = parseSafetensors(bytes, 'half');
    const raw = parseSafetensors(bytes, 'half', { decodeHalf: false });
    for (const [name, values] of [
      ['h', f16Values],
      ['hf', f16Values],
      ['b', bf16Values],
      ['bf', bf16Values],
    ] as const) {
      const data = decoded.tensors.get(name)!.data;
      expect(data).toBeInstanceOf(Float32Array);
      expect(Array.from(data as Float32Array), name).toEqual(values);
      const rawData = raw.tensors.get(name)!.data;
      expect(rawData).toBeInstanceOf(Uint16Array);
      expect(Array.from(rawData as Uint16Array), name).toEqual(Array.from(name.startsWith('h') ? f16Bits : bf16Bits));
    }
    expect(Object.is((decoded.tensors.get('h')!.data as Float32Array)[1], -0)).toBe(true);
    expect(Object.is((decoded.tensors.get('b')!.data as Float32Array)[1], -0)).toBe(true);
  });

  it('reads tensors whose offsets are misaligned for their typed array (copying them)', () => {
    // 1 byte of U8 then an F32 at data offset 1, then an I64 at offset 5: neither is aligned.
    const data = new Uint8Array(1 + 4 + 8);
    data[0] = 7;
    new DataView(data.buffer).setFloat32(1, -1.5, true);
    new DataView(data.buffer).setBigInt64(5, -3n, true);
    const header = {
      a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
      b: { dtype: 'F32', shape: [1], data_offsets: [1, 5] },
      c: { dtype: 'I64', shape: [1], data_offsets: [5, 13] },
    };
    for (const pad of [true, false]) {
      const parsed = parseSafetensors(rawFile(header, data, pad), 'misaligned');
      expect(Array.from(parsed.tensors.get('a')!.data as Uint8Array)).toEqual([7]);
      expect(Array.from(parsed.tensors.get('b')!.data as Float32Array)).toEqual([-1.5]);
      expect(Array.from(parsed.tensors.get('c')!.data as BigInt64Array)).toEqual([-3n]);
    }
  });

  it('int64ToInt32 converts in range and names the first value out of range', () => {
    expect(Array.from(int64ToInt32(new BigInt64Array([0n, -2147483648n, 2147483647n])))).toEqual([
      0, -2147483648, 2147483647,
    ]);
    expect(() => int64ToInt32(new BigInt64Array([1n, 2147483648n]), 'input_ids')).toThrow(
      new SafetensorsError('input_ids: element 1 = 2147483648 does not fit in int32'),
    );
    expect(() => int64ToInt32(new BigUint64Array([18446744073709551615n]))).toThrow(SafetensorsError);
  });
});

describe('half precision conversions', () => {
  it('decode then encode is the identity on all 65536 float16 and bfloat16 bit patterns (NaN stays NaN)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    for (const [decode, encode, expMask] of [
      [f16BitsToF32, f32ToF16Bits, 0x7c00],
      [bf16BitsToF32, f32ToBf16Bits, 0x7f80],
    ] as const) {
      const back = encode(decode(all));
      for (let h = 0; h < 65536; h++) {
        const isNaN = (h & expMask) === expMask && (h & ~expMask & 0x7fff) !== 0;
        if (isNaN) {
          expect((back[h]! & expMask) === expMask && (back[h]! & ~expMask & 0x7fff) !== 0, `NaN ${h}`).toBe(true);
        } else if (back[h] !== h) {
          throw new Error(`pattern 0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
        }
      }
    }
  });

  /** Independent reference: nearest representable value by binary search, ties to even bit pattern. */
  function nearestEvenReference(
    decodeAll: (bits: Uint16Array) => Float32Array,
    expMask: number,
  ): (x: number) => number {
    const positives: { value: number; bits: number }[] = [];
    const decoded = decodeAll(new Uint16Array(0x8000).map((_, i) => i));
    for (let h = 0; h < 0x8000; h++) if ((h & expMask) !== expMask) positives.push({ value: decoded[h]!, bits: h });
    const maxFinite = positives[positives.length - 1]!;
    const step = maxFinite.value - positives[positives.length - 2]!.value;
    return (x: number) => {
      const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
      const a = Math.abs(x);
      // Beyond max + half an ulp (the next, unrepresentable, value's midpoint) rounds to infinity.
      if (a >= maxFinite.value + step / 2) return sign | expMask;
      let lo = 0;
      let hi = positives.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (positives[mid]!.value <= a) lo = mid;
        else hi = mid;
      }
      const below = positives[lo]!;
      const above = positives[hi]!;
      const dBelow = a - below.value;
      const dAbove = above.value - a;
      if (a >= above.value) return sign | above.bits;
      if (dBelow < dAbove) return sign | below.bits;
      if (dAbove < dBelow) return sign | above.bits;
      return sign | ((below.bits & 1) === 0 ? below.bits : above.bits);
    };
  }

  it('float32 -> float16/bfloat16 rounds to nearest even, checked against a binary-search reference', () => {
    const rand = rng(1234);
    const samples: number[] = [];
    for (let i = 0; i < 20000; i++) {
      // Random bit patterns concentrated on the float16 range, plus exact midpoints.
      const exponent = Math.floor(rand() * 60) - 30;
      samples.push(f32((rand() * 2 - 1) * 2 ** exponent));
    }
    const all16 = new Uint16Array(65536).map((_, i) => i);
    for (const [decode, encode, expMask] of [
      [f16BitsToF32, f32ToF16Bits, 0x7c00],
      [bf16BitsToF32, f32ToBf16Bits, 0x7f80],
    ] as const) {
      const values = decode(all16);
      const mids: number[] = [];
      for (let h = 0; h < 0x7fff; h++) {
        const a = values[h]!;
        const b = values[h + 1]!;
        if (Number.isFinite(a) && Number.isFinite(b)) mids.push(f32((a + b) / 2), f32(-(a + b) / 2));
      }
      const inputs = new Float32Array([...samples, ...mids.filter((_, i) => i % 7 === 0)]);
      const reference = nearestEvenReference(decode, expMask);
      const got = encode(inputs);
      for (let i = 0; i < inputs.length; i++) {
        const want = reference(inputs[i]!);
        if (got[i] !== want) {
          throw new Error(`${inputs[i]} encoded as 0x${got[i]!.toString(16)}, reference 0x${want.toString(16)}`);
        }
      }
    }
  });

  // Golden values from numpy 1.24 / torch 1.13 (Debian 12), generated by:
  //   import numpy as np, torch
  //   f = np.array(VALUES_F16, dtype=np.float32); print([hex(x) for x in f.astype(np.float16).view(np.uint16)])
  //   b = torch.tensor(VALUES_BF16, dtype=torch.float32); print([hex(x & 0xffff) for x in b.to(torch.bfloat16).view(torch.int16).tolist()])
  it('matches numpy float16 and torch bfloat16 on edge cases', () => {
    const valuesF16 = [
      0,
      -0,
      1,
      -2.5,
      1 / 3,
      65504,
      65519,
      65520,
      1e6,
      2 ** -24,
      2 ** -25,
      1.5 * 2 ** -25,
      2 ** -14,
      2 ** -14 - 2 ** -24,
      3 * 2 ** -25,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      Infinity,
      -Infinity,
      1e-40,
      0.1,
    ];
    const numpy = [
      0x0, 0x8000, 0x3c00, 0xc100, 0x3555, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x1, 0x0, 0x1, 0x400, 0x3ff, 0x2, 0x3c00,
      0x3c02, 0x7c00, 0xfc00, 0x0, 0x2e66,
    ];
    expect(Array.from(f32ToF16Bits(new Float32Array(valuesF16)))).toEqual(numpy);
    const valuesBf16 = [
      0,
      -0,
      1,
      1 / 3,
      3.3895313892515355e38,
      3.4028234663852886e38,
      1 + 2 ** -8,
      1 + 3 * 2 ** -8,
      1e-40,
      9.2e-41,
      Infinity,
      0.1,
      -0.1,
    ];
    const torch = [0x0, 0x8000, 0x3f80, 0x3eab, 0x7f7f, 0x7f80, 0x3f80, 0x3f82, 0x1, 0x1, 0x7f80, 0x3dcd, 0xbdcd];
    expect(Array.from(f32ToBf16Bits(new Float32Array(valuesBf16)))).toEqual(torch);
  });

  it('NaN payloads survive decoding and come back as quiet NaNs', () => {
    const decoded = f16BitsToF32(new Uint16Array([0x7c01, 0xfe00]));
    expect(bitsOf(decoded)).toEqual([0x7f802000, 0xffc00000]);
    expect(Array.from(f32ToF16Bits(decoded))).toEqual([0x7e01, 0xfe00]);
    const signalling = new Float32Array(new Uint32Array([0x7f800001]).buffer);
    expect(Array.from(f32ToBf16Bits(signalling))).toEqual([0x7fc0]);
  });
});

describe('malformed files give one SafetensorsError line naming the file', () => {
  const file = 'bad.safetensors';
  const f32Data = new Uint8Array(8);
  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  const cases: [string, Uint8Array, string][] = [
    ['shorter than 8 bytes', new Uint8Array(5), 'shorter than the 8-byte header length'],
    ['empty file', new Uint8Array(0), 'file is 0 bytes'],
    [
      'header length beyond the file',
      (() => {
        const b = rawFile(good, f32Data);
        new DataView(b.buffer).setBigUint64(0, BigInt(b.length), true);
        return b;
      })(),
      'runs past the end',
    ],
    [
      'absurd header length (2^63)',
      (() => {
        const b = rawFile(good, f32Data);
        new DataView(b.buffer).setBigUint64(0, 1n << 63n, true);
        return b;
      })(),
      'exceeds the 100000000-byte limit',
    ],
    ['invalid UTF-8', rawFile('{"a\xff":1}', new Uint8Array(0)).map((x) => (x === 0xc3 ? 0xff : x)), 'not valid UTF-8'],
    ['invalid JSON', rawFile('{"w": {', new Uint8Array(0)), 'not valid JSON'],
    ['header with a byte-order mark', rawFile('\uFEFF{}', new Uint8Array(0)), 'not valid JSON'],
    ['NUL padding instead of spaces', rawFile('{}\0\0\0\0\0\0', new Uint8Array(0), false), 'not valid JSON'],
    ['header is an array', rawFile([], new Uint8Array(0)), 'header is an array, not a JSON object'],
    ['header is null', rawFile('null', new Uint8Array(0)), 'header is null'],
    ['entry is a number', rawFile({ w: 3 }, new Uint8Array(0)), 'tensor "w": entry is a number'],
    ['missing dtype', rawFile({ w: { shape: [2], data_offsets: [0, 8] } }, f32Data), 'missing "dtype"'],
    ['missing shape', rawFile({ w: { dtype: 'F32', data_offsets: [0, 8] } }, f32Data), 'missing "shape"'],
    ['missing offsets', rawFile({ w: { dtype: 'F32', shape: [2] } }, f32Data), 'missing "data_offsets"'],
    [
      'unknown dtype',
      rawFile({ w: { dtype: 'F31', shape: [2], data_offsets: [0, 8] } }, f32Data),
      'unknown dtype "F31"',
    ],
    [
      'unsupported dtype',
      rawFile({ w: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, f32Data),
      'F8_E4M3 is not supported',
    ],
    [
      'negative dim',
      rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f32Data),
      'non-negative integers',
    ],
    [
      'fractional dim',
      rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, f32Data),
      'non-negative integers',
    ],
    [
      'string dim',
      rawFile({ w: { dtype: 'F32', shape: ['2'], data_offsets: [0, 8] } }, f32Data),
      'non-negative integers',
    ],
    [
      'shape overflow',
      rawFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, f32Data),
      'overflows',
    ],
    [
      'fractional offset',
      rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8.5] } }, f32Data),
      'two non-negative integers',
    ],
    [
      'three offsets',
      rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8, 8] } }, f32Data),
      'two non-negative integers',
    ],
    [
      'end before begin',
      rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, f32Data),
      'end 0 < begin 8',
    ],
    [
      'size mismatch',
      rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32Data),
      'hold 8 bytes but F32 [3] needs 12',
    ],
    [
      'offsets out of range',
      rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)),
      'tensors cover 8 bytes but the data region holds 4',
    ],
    ['data not fully covered', rawFile(good, new Uint8Array(12)), 'tensors cover 8 bytes but the data region holds 12'],
    [
      'gap between tensors',
      rawFile(
        {
          a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
          b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
        },
        new Uint8Array(12),
      ),
      'leaving bytes 4..8 of the data unused',
    ],
    [
      'overlapping tensors',
      rawFile(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        f32Data,
      ),
      'overlaps the previous tensor',
    ],
    [
      'two tensors on the same bytes',
      rawFile(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        },
        f32Data,
      ),
      'overlaps the previous tensor',
    ],
    [
      'metadata value not a string',
      rawFile({ __metadata__: { a: 1 } }, new Uint8Array(0)),
      '__metadata__["a"] is a number',
    ],
    ['metadata not an object', rawFile({ __metadata__: ['a'] }, new Uint8Array(0)), '__metadata__ is an array'],
    [
      'name with a lone surrogate',
      rawFile('{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}', new Uint8Array(0)),
      'not valid Unicode',
    ],
  ];

  it.each(cases)('%s', (_label, bytes, fragment) => {
    expectSafetensorsError(() => parseSafetensors(bytes, file), fragment, file);
    const path = join(dir, file);
    writeFileSync(path, bytes);
    expectSafetensorsError(() => readSafetensors(path), fragment, path);
  });

  it('accepts what the reference accepts: null metadata, zero-size tensors sharing an offset, extra fields', () => {
    const header = {
      __metadata__: null,
      a: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
      b: { dtype: 'F32', shape: [2, 0], data_offsets: [0, 0], extra: 'ignored' },
      c: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    };
    const parsed = parseSafetensors(rawFile(header, f32Data), file);
    expect([...parsed.tensors.keys()]).toEqual(['a', 'b', 'c']);
    expect(parsed.metadata).toEqual({});
  });

  it('missing files and directories are reported, not thrown raw', () => {
    const missing = join(dir, 'nope.safetensors');
    expectSafetensorsError(() => readSafetensors(missing), 'cannot open (ENOENT)', missing);
    expectSafetensorsError(() => readSafetensors(dir), 'cannot read (EISDIR)', dir);
  });
});

describe('writer', () => {
  it('rejects invalid input with a SafetensorsError', () => {
    const bad: [Record<string, SafetensorsTensorInput>, string][] = [
      [{ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }, 'needs 3 elements, data has 2'],
      [{ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }, 'F32 needs Float32Array, got Float64Array'],
      [{ w: { dtype: 'I64', shape: [1], data: new Int32Array(1) } }, 'I64 needs BigInt64Array'],
      [{ w: { dtype: 'F8_E4M3' as 'F32', shape: [1], data: new Uint8Array(1) } }, 'unsupported dtype'],
      [{ w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }, 'non-negative integers'],
      [{ __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } }, 'reserved'],
    ];
    for (const [tensors, fragment] of bad) {
      expect(() => serializeSafetensors(tensors)).toThrow(SafetensorsError);
      expect(() => serializeSafetensors(tensors)).toThrow(fragment);
    }
    expect(() => serializeSafetensors({}, { a: 3 as unknown as string })).toThrow(SafetensorsError);
  });

  it('writes atomically: replaces the old file whole and leaves no temporary file, also on failure', () => {
    const path = join(dir, 'atomic.safetensors');
    writeSafetensors(path, { a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    const first = readFileSync(path);
    expect(() => writeSafetensors(path, { a: { dtype: 'F32', shape: [2], data: new Float32Array([1]) } })).toThrow(
      SafetensorsError,
    );
    expect(readFileSync(path).equals(first)).toBe(true);
    writeSafetensors(path, { b: { dtype: 'I32', shape: [2], data: new Int32Array([5, 6]) } });
    const parsed = readSafetensors(path);
    expect([...parsed.tensors.keys()]).toEqual(['b']);
    expect(() => writeSafetensors(join(dir, 'no-such-dir', 'x.safetensors'), {})).toThrow(SafetensorsError);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(existsSync(path)).toBe(true);
  });
});

describe('fuzz', () => {
  /** A parsed file must be internally consistent: data lengths agree with shapes and dtypes. */
  function checkConsistent(parsed: ReturnType<typeof parseSafetensors>, fileLength: number): void {
    let bytes = 0;
    for (const [name, t] of parsed.tensors) {
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (t.data.length !== numel) throw new Error(`${name}: ${t.data.length} elements for shape ${t.shape}`);
      bytes += t.data.byteLength * (t.dtype === 'F16' || t.dtype === 'BF16' ? 0.5 : 1);
    }
    if (bytes > fileLength) throw new Error(`parsed ${bytes} data bytes from a ${fileLength}-byte file`);
    for (const v of Object.values(parsed.metadata)) if (typeof v !== 'string') throw new Error('metadata value');
  }

  it('thousands of mutated files either parse consistently or throw SafetensorsError', () => {
    const base = serializeSafetensors(
      {
        'encoder.layer.0.weight': { dtype: 'F32', shape: [3, 4], data: new Float32Array(12).map((_, i) => i) },
        'embeddings.position_ids': { dtype: 'I64', shape: [1, 5], data: new BigInt64Array([0n, 1n, 2n, 3n, 4n]) },
        'pooler.bias': { dtype: 'F16', shape: [6], data: new Float32Array([1, -1, 0.5, 0, Infinity, NaN]) },
        mask: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
        bf: { dtype: 'BF16', shape: [2, 1], data: new Float32Array([3, -3]) },
      },
      { format: 'pt' },
    );
    const headerLen = Number(new DataView(base.buffer).getBigUint64(0, true));
    const headerText = Buffer.from(base.subarray(8, 8 + headerLen)).toString('utf8');
    const rand = rng(20261125);
    const pick = (n: number) => Math.floor(rand() * n);
    const jsonEdits: [RegExp, () => string][] = [
      [/\d+/, () => String(pick(40))],
      [/\d+/, () => String(-pick(5))],
      [/\d+/, () => `${pick(10)}.5`],
      [/\d+/, () => '1e400'],
      [/"F32"|"I64"|"F16"|"BF16"|"BOOL"/, () => ['"F64"', '"U8"', '"XX"', '3', 'null', '"F8_E5M2"'][pick(6)]!],
      [/\[[\d,]*\]/, () => ['[]', '[0]', '[1,2,3]', '"x"', '{}', '[0,0]', '[99999999999999999999]'][pick(7)]!],
      [/"(shape|dtype|data_offsets)"/, () => '"other"'],
      [/"pt"/, () => ['1', 'null', '[]', '"\\ud800"'][pick(4)]!],
      [/[{}[\],:]/, () => ''],
      [/"[a-z._0-9]+"/, () => '"__metadata__"'],
    ];
    const mutate = (): Uint8Array => {
      const kind = pick(5);
      const bytes = base.slice();
      if (kind === 0) {
        const flips = 1 + pick(4);
        for (let i = 0; i < flips; i++) bytes[pick(bytes.length)] ^= 1 << pick(8);
        return bytes;
      }
      if (kind === 1) return bytes.slice(0, pick(bytes.length));
      if (kind === 2) {
        const view = new DataView(bytes.buffer);
        const choices = [BigInt(pick(2 * headerLen)), BigInt(headerLen + pick(16) - 8), 1n << BigInt(pick(64)), 0n];
        view.setBigUint64(0, choices[pick(choices.length)]!, true);
        return bytes;
      }
      if (kind === 3) {
        const extra = new Uint8Array(1 + pick(16)).map(() => pick(256));
        const out = new Uint8Array(bytes.length + extra.length);
        out.set(bytes);
        out.set(extra, bytes.length);
        return out;
      }
      let text = headerText;
      const edits = 1 + pick(3);
      for (let i = 0; i < edits; i++) {
        const [pattern, replacement] = jsonEdits[pick(jsonEdits.length)]!;
        const matches = [...text.matchAll(new RegExp(pattern.source, 'g'))];
        if (matches.length === 0) continue;
        const m = matches[pick(matches.length)]!;
        text = text.slice(0, m.index) + replacement() + text.slice(m.index! + m[0].length);
      }
      return rawFile(text, base.subarray(8 + headerLen), pick(2) === 0);
    };

    let parsedCount = 0;
    let rejected = 0;
    const started = Date.now();
    for (let i = 0; i < 5000; i++) {
      const bytes = mutate();
      try {
        const parsed = parseSafetensors(bytes, 'fuzz.safetensors');
        checkConsistent(parsed, bytes.length);
        parsedCount++;
      } catch (err) {
        if (!(err instanceof SafetensorsError)) {
          throw new Error(`mutation ${i} threw ${String(err)} instead of a SafetensorsError`);
        }
        expect(err.message.startsWith('fuzz.safetensors: ')).toBe(true);
        expect(err.message.includes('\n')).toBe(false);
        rejected++;
      }
    }
    expect(parsedCount + rejected).toBe(5000);
    expect(parsedCount).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(2000);
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
