// GLSL index maps for strided views, generated per kernel for the gpujs backend.
//
// gpu.js stores every local `let` of a kernel function as a float, which is exact only below 2^24,
// and GLSL ES 1.00 has no integer `%`. So all element-offset arithmetic lives in small generated
// GLSL functions over `int` (32-bit on every GL this backend accepts), with the view's shape,
// strides and offset baked in as literals. Kernel functions call them inside array subscripts,
// where gpu.js keeps the expression an integer. This file is pure string generation: no GL here.

import { type NativeFn, glsl } from '../../../../kernels/gpujs/spec.js';

export type { NativeFn };

/** A strided view without its buffer: the part of backend.View that addressing needs. */
export interface Layout {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

function int(name: string, params: string[], body: string[]): NativeFn {
  return glsl(
    'int',
    name,
    params.map((p) => ['int', p] as const),
    body,
  );
}

/**
 * Joint simplification of several views iterated over one shape: size-1 dims are dropped and
 * neighbouring dims merged wherever every view steps through them as one (stride[i] ==
 * stride[i+1]·shape[i+1] for all views). Fewer dims means fewer integer divisions per element.
 */
export function coalesce(
  shape: readonly number[],
  stridesList: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const strides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    const mergeable = last >= 0 && stridesList.every((s, v) => strides[v][last] === s[d] * shape[d]);
    if (mergeable) {
      dims[last] *= shape[d];
      stridesList.forEach((s, v) => {
        strides[v][last] = s[d];
      });
    } else {
      dims.push(shape[d]);
      stridesList.forEach((s, v) => strides[v].push(s[d]));
    }
  }
  return { shape: dims, strides };
}

/**
 * `int name(int j)`: buffer offset of the j-th element, in row-major order of `shape`, of a view
 * with the given strides and offset. Shape and strides should already be coalesced.
 */
export function viewMap(name: string, shape: readonly number[], strides: readonly number[], offset: number): NativeFn {
  if (shape.length === 0) return int(name, ['j'], [`return ${offset};`]);
  if (shape.length === 1 && strides[0] === 1) return int(name, ['j'], [`return ${offset} + j;`]);
  const body = [`int a = ${offset};`, 'int q = j;', 'int c = 0;'];
  for (let d = shape.length - 1; d >= 1; d--) {
    // c = q mod shape[d], then q = q div shape[d]
    body.push(`c = q - (q / ${shape[d]}) * ${shape[d]};`);
    body.push(`q = q / ${shape[d]};`);
    if (strides[d] !== 0) body.push(`a += c * ${strides[d]};`);
  }
  if (strides[0] !== 0) body.push(`a += q * ${strides[0]};`);
  body.push('return a;');
  return int(name, ['j'], body);
}

/** viewMap for one layout over its own shape, coalesced. */
export function layoutMap(name: string, v: Layout): NativeFn {
  const c = coalesce(v.shape, [v.strides]);
  return viewMap(name, c.shape, c.strides[0], v.offset);
}

/** The identity `int name(int i) { return i; }`: the output view is its whole buffer. */
export function identityMap(name: string): NativeFn {
  return int(name, ['i'], ['return i;']);
}

/** True when the view is exactly buffer elements [0, bufferSize) in row-major order. */
export function coversBuffer(v: Layout, bufferSize: number): boolean {
  let n = 1;
  for (const d of v.shape) n *= d;
  if (n !== bufferSize || v.offset !== 0) return false;
  let s = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] !== 1 && v.strides[i] !== s) return false;
    s *= v.shape[i];
  }
  return true;
}

/**
 * `int name(int i)`: the inverse of a destination view's map. For buffer element i it returns the
 * view's logical (row-major) index j with map(j) == i, or -1 when the view does not cover i; a
 * kernel then passes the old value of i through. Works by greedy division by the strides sorted in
 * decreasing order, which is exact for non-overlapping nested layouts (each stride larger than the
 * span of all smaller ones): every slice, permutation or sub-block of a contiguous tensor. Other
 * layouts (overlapping, broadcast or negative strides) are rejected, since writes through them are
 * ill-defined.
 */
export function inverseMap(name: string, v: Layout): NativeFn {
  const dims = v.shape.map((size, axis) => ({ size, axis, stride: v.strides[axis] })).filter((d) => d.size !== 1);
  for (const d of dims) {
    if (d.stride <= 0) {
      throw new Error(
        `gpujs: cannot write through a view with stride ${d.stride} (shape [${v.shape}], strides [${v.strides}])`,
      );
    }
  }
  const sorted = [...dims].sort((a, b) => b.stride - a.stride);
  for (let k = 0; k < sorted.length; k++) {
    let span = 0;
    for (let l = k + 1; l < sorted.length; l++) span += (sorted[l].size - 1) * sorted[l].stride;
    if (sorted[k].stride <= span) {
      throw new Error(
        `gpujs: cannot write through an overlapping or interleaved view (shape [${v.shape}], strides [${v.strides}])`,
      );
    }
  }
  // Logical index weight of each axis: row-major over the view's own shape.
  const weight = new Array<number>(v.shape.length);
  let w = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    weight[i] = w;
    w *= v.shape[i];
  }
  const body = [`int r = i - ${v.offset};`, 'if (r < 0) return -1;', 'int j = 0;', 'int c = 0;'];
  for (const d of sorted) {
    body.push(`c = r / ${d.stride};`);
    body.push(`if (c >= ${d.size}) return -1;`);
    body.push(`r -= c * ${d.stride};`);
    body.push(`j += c * ${weight[d.axis]};`);
  }
  body.push('if (r != 0) return -1;');
  body.push('return j;');
  return int(name, ['i'], body);
}

/** `int name(int j)`: j div d, for splitting a flat index into (outer, inner). */
export function divBy(name: string, d: number): NativeFn {
  return int(name, ['j'], [`return j / ${d};`]);
}

/** `int name(int j)`: j mod d. */
export function modBy(name: string, d: number): NativeFn {
  return int(name, ['j'], [`return j - (j / ${d}) * ${d};`]);
}
