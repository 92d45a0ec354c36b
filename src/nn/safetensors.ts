// Reader and writer for the safetensors format (https://github.com/huggingface/safetensors), over
// plain typed arrays. It does not know about our Tensor class: the model loader turns these arrays
// into tensors. Validation mirrors the reference Rust implementation (`SafeTensors::read_metadata`
// and `Metadata::validate` in safetensors/src/tensor.rs), and every malformed file is reported as a
// single-line SafetensorsError naming the file and the problem.
//
// File layout: u64 little-endian header length N, N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}?, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
// (padded with spaces to a multiple of 8), then the data region. Offsets are relative to the data
// start; sorted by offset, the tensors must cover the data region exactly, without gaps or overlap.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { tempSibling } from '../io/atomic.js';

/** The one error type thrown for malformed files, unsupported content or invalid input to the writer. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Dtypes this module reads and writes. */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'U64'
  | 'I32'
  | 'U32'
  | 'I16'
  | 'U16'
  | 'I8'
  | 'U8'
  | 'BOOL';

/** Valid safetensors dtypes that we recognise but cannot decode: they are rejected by name. */
const UNSUPPORTED_DTYPES = new Set([
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'C64',
]);

/**
 * Bytes per element and the writer's ordering rank. The Rust writer sorts tensors by descending
 * dtype (its enum is declared in increasing alignment order), then by name, so every tensor starts
 * aligned to its element size once the header is padded to 8 bytes; rank follows that enum.
 */
const DTYPE_INFO: Record<SafetensorsDtype, { size: number; rank: number }> = {
  BOOL: { size: 1, rank: 0 },
  U8: { size: 1, rank: 3 },
  I8: { size: 1, rank: 4 },
  I16: { size: 2, rank: 10 },
  U16: { size: 2, rank: 11 },
  F16: { size: 2, rank: 12 },
  BF16: { size: 2, rank: 13 },
  I32: { size: 4, rank: 14 },
  U32: { size: 4, rank: 15 },
  F32: { size: 4, rank: 16 },
  F64: { size: 8, rank: 18 },
  I64: { size: 8, rank: 19 },
  U64: { size: 8, rank: 20 },
};

/** Same limit as the Rust implementation (MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

export type SafetensorsData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

export interface SafetensorsTensor {
  /** The dtype stored in the file (F16/BF16 data are decoded to Float32Array unless decodeHalf is false). */
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsData;
}

export interface SafetensorsFile {
  /** In file (offset) order. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** F16/BF16 become Float32Array (default true); false keeps the raw bit patterns as Uint16Array. */
  decodeHalf?: boolean;
}

/** A tensor to write. F16/BF16 take a Float32Array (rounded to nearest even) or a Uint16Array of raw bits. */
export interface SafetensorsTensorInput {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: SafetensorsData;
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

interface ParsedHeader {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors.ts assumes a little-endian host');
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** Matches an unpaired UTF-16 surrogate, which has no UTF-8 encoding (serde_json rejects it too). */
const LONE_SURROGATE = /\p{Cs}/u;

function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

// ---------------------------------------------------------------------------------------------
// Half-precision conversions
// ---------------------------------------------------------------------------------------------

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);
let f16ToF32BitsTable: Uint32Array | undefined;

/** float32 bit pattern of every float16 bit pattern (NaN payloads kept), built on first use. */
function f16Table(): Uint32Array {
  if (f16ToF32BitsTable) return f16ToF32BitsTable;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      table[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else if (exp === 0) {
      // Subnormal (or zero): mant * 2^-24, exact in float32.
      scratchF32[0] = mant * 2 ** -24;
      table[h] = (sign | scratchU32[0]!) >>> 0;
    } else {
      table[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  f16ToF32BitsTable = table;
  return table;
}

/** Decode float16 bit patterns to float32 (exact; NaN payloads kept). */
export function f16BitsToF32(bits: Uint16Array): Float32Array {
  const table = f16Table();
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = table[bits[i]!]!;
  return out;
}

/** Decode bfloat16 bit patterns to float32 (exact: bf16 is the top half of a float32). */
export function bf16BitsToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/** float32 bit pattern -> float16 bit pattern, round to nearest even; NaN stays a quiet NaN. */
function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e16 = exp - 112; // re-biased exponent: float16 bias 15 vs float32 bias 127
  if (e16 >= 0x1f) return sign | 0x7c00;
  if (e16 >= 1) {
    let half = (e16 << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++; // a carry may reach infinity: correct
    return sign | half;
  }
  if (e16 < -10) return sign; // below half the smallest subnormal: rounds to zero
  // Subnormal result. With the implicit bit restored the value is m * 2^(exp - 150); counted in
  // units of 2^-24 (the float16 subnormal step) that is m / 2^(126 - exp) = m / 2^(14 - e16).
  const m = mant | 0x800000;
  const shift = 14 - e16;
  let half = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
  return sign | half;
}

/** float32 bit pattern -> bfloat16 bit pattern, round to nearest even; NaN stays a quiet NaN. */
function f32BitsToBf16Bits(b: number): number {
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return (b >>> 16) | 0x40;
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}

/** Encode float32 values as float16 bit patterns (round to nearest even, overflow to ±inf). */
export function f32ToF16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16Bits(bits[i]!);
  return out;
}

/** Encode float32 values as bfloat16 bit patterns (round to nearest even). */
export function f32ToBf16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToBf16Bits(bits[i]!);
  return out;
}

/** Narrow int64 data (e.g. token ids, position ids) to Int32Array, failing on any value out of range. */
export function int64ToInt32(data: BigInt64Array | BigUint64Array, label = 'tensor'): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      throw new SafetensorsError(`${label}: element ${i} = ${v} does not fit in int32`);
    }
    out[i] = Number(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

function fail(file: string, problem: string): never {
  throw new SafetensorsError(`${file}: ${problem}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Quote a tensor name for messages, shortened so an error stays one readable line. */
function quote(name: string): string {
  const shown = name.length > 80 ? `${name.slice(0, 77)}...` : name;
  return JSON.stringify(shown);
}

function isSupportedDtype(dtype: string): dtype is SafetensorsDtype {
  return Object.hasOwn(DTYPE_INFO, dtype);
}

/** The 8-byte header length, checked against the cap and the file size. */
function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) fail(file, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const length = Number(n);
  if (8 + length > fileSize) {
    fail(file, `header length ${length} runs past the end of the ${fileSize}-byte file`);
  }
  return length;
}

function parseEntry(name: string, value: unknown, file: string): HeaderEntry {
  const what = `tensor ${quote(name)}`;
  if (!wellFormed(name)) fail(file, `${what}: name is not valid Unicode`);
  if (!isPlainObject(value)) fail(file, `${what}: entry is ${describe(value)}, not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (dtype === undefined) fail(file, `${what}: missing "dtype"`);
  if (shape === undefined) fail(file, `${what}: missing "shape"`);
  if (offsets === undefined) fail(file, `${what}: missing "data_offsets"`);
  if (typeof dtype !== 'string') fail(file, `${what}: dtype is ${describe(dtype)}, not a string`);
  if (!isSupportedDtype(dtype)) {
    if (UNSUPPORTED_DTYPES.has(dtype)) fail(file, `${what}: dtype ${dtype} is not supported by this reader`);
    fail(file, `${what}: unknown dtype ${JSON.stringify(dtype.slice(0, 40))}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(file, `${what}: shape must be an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(file, `${what}: data_offsets must be [begin, end], two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(file, `${what}: data_offsets end ${end} < begin ${begin}`);
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (numel > Number.MAX_SAFE_INTEGER) fail(file, `${what}: shape [${shape.join(', ')}] overflows`);
  }
  const nbytes = numel * DTYPE_INFO[dtype].size;
  if (!Number.isSafeInteger(nbytes)) fail(file, `${what}: shape [${shape.join(', ')}] overflows`);
  if (end - begin !== nbytes) {
    fail(
      file,
      `${what}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} [${shape.join(', ')}] needs ${nbytes}`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

/** Parse and validate the JSON header against a data region of `dataLength` bytes. */
function parseHeader(headerBytes: Uint8Array, dataLength: number, file: string): ParsedHeader {
  let text: string;
  try {
    text = utf8Decoder.decode(headerBytes);
  } catch {
    fail(file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0]!.slice(0, 120) : 'parse error';
    fail(file, `header is not valid JSON (${reason})`);
  }
  if (!isPlainObject(json)) fail(file, `header is ${describe(json)}, not a JSON object`);

  const metadataPairs: [string, string][] = [];
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name !== '__metadata__') {
      entries.push(parseEntry(name, value, file));
      continue;
    }
    if (value === null) continue;
    if (!isPlainObject(value)) fail(file, `__metadata__ is ${describe(value)}, not an object`);
    for (const [key, v] of Object.entries(value)) {
      if (typeof v !== 'string') fail(file, `__metadata__[${quote(key)}] is ${describe(v)}, not a string`);
      if (!wellFormed(key) || !wellFormed(v)) fail(file, `__metadata__[${quote(key)}] is not valid Unicode`);
      metadataPairs.push([key, v]);
    }
  }

  // Same rule as the Rust reader: sorted by offsets, each tensor starts where the previous one
  // ended, and the last one ends at the end of the file.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const entry of entries) {
    if (entry.begin > cursor) {
      fail(
        file,
        `tensor ${quote(entry.name)} starts at ${entry.begin}, leaving bytes ${cursor}..${entry.begin} of the data unused`,
      );
    }
    if (entry.begin < cursor) {
      fail(
        file,
        `tensor ${quote(entry.name)} at offset ${entry.begin} overlaps the previous tensor (which ends at ${cursor})`,
      );
    }
    cursor = entry.end;
  }
  if (cursor !== dataLength) {
    fail(file, `tensors cover ${cursor} bytes but the data region holds ${dataLength}`);
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays an ordinary key.
  return { entries, metadata: Object.fromEntries(metadataPairs) };
}

/** Turn the raw little-endian bytes of one tensor into its typed array (always a fresh copy). */
function decodeTensor(entry: HeaderEntry, bytes: Uint8Array, decodeHalf: boolean): SafetensorsData {
  // Copy into a new, aligned buffer: offsets inside the file need not be aligned for typed arrays.
  const buffer = bytes.slice().buffer;
  switch (entry.dtype) {
    case 'F64':
      return new Float64Array(buffer);
    case 'F32':
      return new Float32Array(buffer);
    case 'F16':
      return decodeHalf ? f16BitsToF32(new Uint16Array(buffer)) : new Uint16Array(buffer);
    case 'BF16':
      return decodeHalf ? bf16BitsToF32(new Uint16Array(buffer)) : new Uint16Array(buffer);
    case 'I64':
      return new BigInt64Array(buffer);
    case 'U64':
      return new BigUint64Array(buffer);
    case 'I32':
      return new Int32Array(buffer);
    case 'U32':
      return new Uint32Array(buffer);
    case 'I16':
      return new Int16Array(buffer);
    case 'U16':
      return new Uint16Array(buffer);
    case 'I8':
      return new Int8Array(buffer);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buffer);
  }
}

/** Parse a whole safetensors file held in memory. `name` is used in error messages. */
export function parseSafetensors(bytes: Uint8Array, name: string, options: ReadOptions = {}): SafetensorsFile {
  const n = headerLength(bytes, bytes.length, name);
  const dataStart = 8 + n;
  const header = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, name);
  const decodeHalf = options.decodeHalf ?? true;
  const tensors = new Map<string, SafetensorsTensor>();
  for (const entry of header.entries) {
    const raw = bytes.subarray(dataStart + entry.begin, dataStart + entry.end);
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: decodeTensor(entry, raw, decodeHalf) });
  }
  return { tensors, metadata: header.metadata };
}

/** Read exactly `target.length` bytes at `position`, failing clearly if the file is shorter. */
function readFully(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.length) {
    const chunk = Math.min(target.length - done, 1 << 30);
    const got = readSync(fd, target, done, chunk, position + done);
    if (got === 0) fail(file, `unexpected end of file at byte ${position + done}`);
    done += got;
  }
}

/**
 * Read a safetensors file. The header is read and validated first, so a corrupt header never
 * causes a large allocation; each tensor is then read straight into its own buffer.
 */
export function readSafetensors(path: string, options: ReadOptions = {}): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    fail(path, `cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    const prefix = new Uint8Array(8);
    if (fileSize >= 8) readFully(fd, prefix, 0, path);
    const n = headerLength(prefix, fileSize, path);
    const headerBytes = new Uint8Array(n);
    readFully(fd, headerBytes, 8, path);
    const dataStart = 8 + n;
    const header = parseHeader(headerBytes, fileSize - dataStart, path);
    const decodeHalf = options.decodeHalf ?? true;
    const tensors = new Map<string, SafetensorsTensor>();
    for (const entry of header.entries) {
      const raw = new Uint8Array(entry.end - entry.begin);
      readFully(fd, raw, dataStart + entry.begin, path);
      tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: decodeTensor(entry, raw, decodeHalf) });
    }
    return { tensors, metadata: header.metadata };
  } catch (err) {
    if (err instanceof SafetensorsError) throw err;
    fail(path, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

interface PreparedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: Uint8Array;
}

function typedArrayName(data: unknown): string {
  return ArrayBuffer.isView(data) ? data.constructor.name : describe(data);
}

/** Check a tensor against its declared dtype and shape, and produce its little-endian bytes. */
function prepareTensor(name: string, tensor: SafetensorsTensorInput): PreparedTensor {
  const what = `tensor ${quote(name)}`;
  if (name === '__metadata__') throw new SafetensorsError(`${what}: this name is reserved for the metadata`);
  if (!wellFormed(name)) throw new SafetensorsError(`${what}: name is not valid Unicode`);
  const { dtype, shape, data } = tensor;
  if (!isSupportedDtype(dtype)) throw new SafetensorsError(`${what}: unsupported dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`${what}: shape must be an array of non-negative integers`);
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  if (!ArrayBuffer.isView(data) || data.length !== numel) {
    const len = ArrayBuffer.isView(data) ? (data as SafetensorsData).length : 'no';
    throw new SafetensorsError(`${what}: shape [${shape.join(', ')}] needs ${numel} elements, data has ${len}`);
  }
  const expected: Record<SafetensorsDtype, string[]> = {
    F64: ['Float64Array'],
    F32: ['Float32Array'],
    F16: ['Float32Array', 'Uint16Array'],
    BF16: ['Float32Array', 'Uint16Array'],
    I64: ['BigInt64Array'],
    U64: ['BigUint64Array'],
    I32: ['Int32Array'],
    U32: ['Uint32Array'],
    I16: ['Int16Array'],
    U16: ['Uint16Array'],
    I8: ['Int8Array'],
    U8: ['Uint8Array'],
    BOOL: ['Uint8Array'],
  };
  if (!expected[dtype].includes(typedArrayName(data))) {
    throw new SafetensorsError(`${what}: ${dtype} needs ${expected[dtype].join(' or ')}, got ${typedArrayName(data)}`);
  }
  let encoded: SafetensorsData = data;
  if (dtype === 'F16' && data instanceof Float32Array) encoded = f32ToF16Bits(data);
  if (dtype === 'BF16' && data instanceof Float32Array) encoded = f32ToBf16Bits(data);
  const bytes = new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  return { name, dtype, shape: [...shape], bytes };
}

/** Rust's String ordering: byte-wise on UTF-8 (differs from JS code-unit order for astral characters). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Lay out tensors as the Rust writer does; returns the padded header and tensors in data order. */
function prepare(
  tensors: Map<string, SafetensorsTensorInput> | Record<string, SafetensorsTensorInput>,
  metadata: Record<string, string> | undefined,
): { header: Uint8Array; ordered: PreparedTensor[] } {
  const items = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const ordered = items.map(([name, t]) => prepareTensor(name, t));
  ordered.sort((a, b) => DTYPE_INFO[b.dtype].rank - DTYPE_INFO[a.dtype].rank || compareUtf8(a.name, b.name));

  // The JSON object is assembled by hand so that keys keep this order (a JS object would move
  // integer-like names first) and so that a name such as "__proto__" is an ordinary key.
  const members: string[] = [];
  if (metadata !== undefined) {
    const pairs: string[] = [];
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string' || !wellFormed(key) || !wellFormed(value)) {
        throw new SafetensorsError(`metadata ${quote(key)}: values must be well-formed strings`);
      }
      pairs.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    }
    members.push(`"__metadata__":{${pairs.join(',')}}`);
  }
  let offset = 0;
  for (const t of ordered) {
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    members.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    offset += t.bytes.length;
  }
  const text = `{${members.join(',')}}`;
  const padded = text + ' '.repeat((8 - (Buffer.byteLength(text, 'utf8') % 8)) % 8);
  const header = utf8Encoder.encode(padded);
  if (header.length > MAX_HEADER_BYTES) {
    throw new SafetensorsError(`header of ${header.length} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  return { header, ordered };
}

function lengthPrefix(n: number): Uint8Array {
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(n), true);
  return prefix;
}

/**
 * Serialize tensors to the bytes of a safetensors file, laid out like the Rust/Python writer:
 * sorted by descending dtype alignment then name, header JSON padded with spaces to 8 bytes.
 */
export function serializeSafetensors(
  tensors: Map<string, SafetensorsTensorInput> | Record<string, SafetensorsTensorInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const { header, ordered } = prepare(tensors, metadata);
  const total = 8 + header.length + ordered.reduce((sum, t) => sum + t.bytes.length, 0);
  const out = new Uint8Array(total);
  out.set(lengthPrefix(header.length), 0);
  out.set(header, 8);
  let position = 8 + header.length;
  for (const t of ordered) {
    out.set(t.bytes, position);
    position += t.bytes.length;
  }
  return out;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
}

/**
 * Write a safetensors file atomically: the bytes go to a temporary file in the same directory,
 * which is then renamed over `path`, so readers never see a half-written file.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, SafetensorsTensorInput> | Record<string, SafetensorsTensorInput>,
  metadata?: Record<string, string>,
): void {
  const { header, ordered } = prepare(tensors, metadata);
  const tmpPath = tempSibling(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmpPath, 'wx');
    writeAll(fd, lengthPrefix(header.length));
    writeAll(fd, header);
    for (const t of ordered) writeAll(fd, t.bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmpPath, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmpPath);
    } catch {
      // The temporary file may not exist (open failed) or may already have been renamed.
    }
    if (err instanceof SafetensorsError) throw err;
    throw new SafetensorsError(`${path}: cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
