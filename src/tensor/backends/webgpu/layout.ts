// Host-side packing for the webgpu kernels: strided views coalesced into the dims and strides
// that the kernels' parameter structs hold (written by name through params.ts), and the dispatch
// grid. Pure TypeScript, no GPU calls.

import { type Coalesced, coalesceDims } from '../../backend.js';
import type { PARAMS, ParamValues } from './params.js';

/** Max rank after coalescing that the kernels index (WGSL parameter blocks hold 6 dims). */
export const MAX_RANK = 6;

export interface Operand {
  offset: number;
  strides: readonly number[];
}

/**
 * The fields every elementwise kernel's struct starts with (lib/elementwise.wgsl, PARAMS.elementwise)
 * for a strided iteration over `shape`: operand k's offset and strides go to lane k (operand 0 is
 * the output). Dims are coalesced first, so contiguous operands arrive as rank 1.
 */
export function elementwiseFields(
  shape: readonly number[],
  operands: readonly Operand[],
): ParamValues<typeof PARAMS.elementwise> {
  if (operands.length > 4) throw new Error('webgpu: elementwise kernels take at most 4 operands');
  const n = shape.reduce((a, b) => a * b, 1);
  const c = coalesceDims(
    shape,
    operands.map((o) => o.strides),
  );
  const rank = c.shape.length;
  if (rank > MAX_RANK) throw new Error(`webgpu: views of rank ${rank} after coalescing exceed ${MAX_RANK}`);
  return {
    n,
    rank,
    offsets: operands.map((o) => o.offset),
    shape: [c.shape.slice(0, 4), c.shape.slice(4)],
    strides: c.shape.map((_, d) => operands.map((_, k) => c.strides[k][d])),
  };
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
