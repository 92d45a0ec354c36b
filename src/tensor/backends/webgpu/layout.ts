// Host-side packing for the webgpu kernels: strided views coalesced into dims and the 256-byte
// uniform parameter block each dispatch reads. Kernels with a parameter struct (layernorm, matmul, softmax, reduce, scatterAdd)
// are written by name through params.ts; the others still read P[0..15] as vec4<u32>, with slots
// documented at the top of each kernels/wgsl file. Pure TypeScript, no GPU calls.

import { type Coalesced, coalesceDims } from '../../backend.js';

/** Max rank after coalescing that the kernels index (WGSL parameter blocks hold 6 dims). */
export const MAX_RANK = 6;

/** One uniform slot: 64 u32 words, viewable as u32, i32 or f32. */
export class ParamBlock {
  readonly u32 = new Uint32Array(64);
  private readonly i32 = new Int32Array(this.u32.buffer);
  private readonly f32 = new Float32Array(this.u32.buffer);

  /** Unsigned value into P[slot][lane]. */
  u(slot: number, lane: number, value: number): this {
    if (!(value >= 0 && value <= 0xffffffff && Number.isInteger(value))) {
      throw new RangeError(`webgpu: parameter ${value} does not fit a u32`);
    }
    this.u32[slot * 4 + lane] = value;
    return this;
  }

  /** Signed value (stride, offset) into P[slot][lane] as i32 bits. */
  i(slot: number, lane: number, value: number): this {
    if (!(value >= -0x80000000 && value <= 0x7fffffff && Number.isInteger(value))) {
      throw new RangeError(`webgpu: parameter ${value} does not fit an i32`);
    }
    this.i32[slot * 4 + lane] = value;
    return this;
  }

  /** Float value into P[slot][lane] as f32 bits. */
  f(slot: number, lane: number, value: number): this {
    this.f32[slot * 4 + lane] = value;
    return this;
  }

  /** Raw 32-bit pattern (e.g. int32 fill value) into P[slot][lane]. */
  bits(slot: number, lane: number, value: number): this {
    this.u32[slot * 4 + lane] = value >>> 0;
    return this;
  }
}

export interface Operand {
  offset: number;
  strides: readonly number[];
}

/**
 * The lib/elementwise.wgsl block: P[0] = (n, rank, -, -), P[1] = offsets of operands 0..3,
 * P[2..3] = shape, P[4 + d] = strides of operands 0..3 along dim d. Returns the block and n.
 */
export function elementwiseParams(
  shape: readonly number[],
  operands: readonly Operand[],
): { params: ParamBlock; n: number } {
  if (operands.length > 4) throw new Error('webgpu: elementwise kernels take at most 4 operands');
  const n = shape.reduce((a, b) => a * b, 1);
  const c = coalesceDims(
    shape,
    operands.map((o) => o.strides),
  );
  const rank = c.shape.length;
  if (rank > MAX_RANK) throw new Error(`webgpu: views of rank ${rank} after coalescing exceed ${MAX_RANK}`);
  const params = new ParamBlock().u(0, 0, n).u(0, 1, rank);
  operands.forEach((o, k) => params.i(1, k, o.offset));
  c.shape.forEach((size, d) => params.u(2 + (d >> 2), d & 3, size));
  for (let d = 0; d < rank; d++) {
    operands.forEach((_, k) => params.i(4 + d, k, c.strides[k][d]));
  }
  return { params, n };
}

/** Row-major dims, strides and count of the leading ("row") dims of a view, coalesced. */
export function rowDims(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): Coalesced & { rows: number } {
  const lead = shape.slice(0, -1);
  const c = coalesceDims(
    lead,
    strides.map((s) => s.slice(0, -1)),
  );
  return { ...c, rows: lead.reduce((a, b) => a * b, 1) };
}

/** A 2-D workgroup grid covering `groups` workgroups (capped; kernels grid-stride the rest). */
export function grid(groups: number, cap = 1 << 18): [number, number] {
  const total = Math.max(1, Math.min(groups, cap));
  const x = Math.min(total, 65535);
  return [x, Math.ceil(total / x)];
}
