// gpujs row gather (embedding lookup) and its backward, a deterministic scatter-add.
//
// gather: out[n, h] = table[idx[n], h], 0 for an out-of-range index (the device interface's rule,
// src/tensor/backend.ts). Indices are floats holding integers, exact below 2^24.
// scatterAdd: a GPU cannot scatter from a fragment shader, and a thread per (v, h) scanning all N
// indices costs V·H·N reads. Instead the host sorts the N indices into rows (a CSR list: for each
// row v the positions n with idx[n] == v, ascending; out-of-range indices are left out) and each thread (v, h) sums src[n, h] over its
// own list in ascending n: the reference's order, so the float32 sums match it bit for bit.
// Texture reads are kept out of subscripts (`const n = perm[...]` first): gpu.js hoists a read
// nested in an index expression into a float temporary, which breaks the int index maps.

import { J, type KernelSpec, type NativeFn, glsl, params, passThrough } from './spec.js';

interface Out {
  size: number;
  outIdx: NativeFn;
  hasPrev: boolean;
}

/**
 * out logical j = n·H + h. `idxAt(n)` addresses idx; `tableAt(row, h)` takes the row as a float.
 * `nOf`/`hOf` split j.
 */
export function gatherKernel(
  out: Out,
  V: number,
  idxAt: NativeFn,
  tableAt: NativeFn,
  nOf: NativeFn,
  hOf: NativeFn,
): KernelSpec {
  const row = `idx[idxAt(nOf(${J}))]`;
  return {
    family: 'gather',
    source: `function (${params(['table', 'idx'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  const row = ${row};
  if (row < 0 || row >= this.constants.V) { return 0; }
  return table[tableAt(row, hOf(${J}))];
}`,
    natives: [out.outIdx, idxAt, tableAt, nOf, hOf],
    output: [out.size],
    constants: { V },
  };
}

/** `int name(float row, int h)`: table address of (row, h) for a table view. */
export function tableAddress(name: string, offset: number, strideRow: number, strideCol: number): NativeFn {
  return glsl(
    'int',
    name,
    [
      ['float', 'row'],
      ['int', 'h'],
    ],
    [`return ${offset} + int(row) * ${strideRow} + h * ${strideCol};`],
  );
}

/**
 * out [V, H] logical j = v·H + h: sum over t < count(v) of src[perm[start[v] + t], h].
 * `maxCount` bounds the loop (a compile-time constant, rounded up by the caller to limit
 * recompiles); threads stop at their own count.
 */
export function scatterAddKernel(
  out: Out,
  maxCount: number,
  srcAt: NativeFn,
  vOf: NativeFn,
  hOf: NativeFn,
): KernelSpec {
  const v = `vOf(${J})`;
  return {
    family: 'scatterAdd',
    source: `function (${params(['src', 'perm', 'start'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  const first = start[${v}];
  const count = start[${v} + 1] - first;
  let acc = 0;
  for (let t = 0; t < this.constants.MAXC; t++) {
    if (t >= count) { break; }
    const n = perm[first + t];
    acc += src[srcAt(n, hOf(${J}))];
  }
  return acc;
}`,
    natives: [out.outIdx, srcAt, vOf, hOf],
    output: [out.size],
    constants: { MAXC: maxCount },
  };
}
