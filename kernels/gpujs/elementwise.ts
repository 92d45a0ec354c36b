// gpujs elementwise kernels: unary, binary, where, copy (strided, with int32 truncation), fill,
// and the two host-upload kernels (whole buffer, and a sub-range merged into a device buffer).
//
// One thread per element of the destination buffer (see spec.ts: passThrough). Operand reads go
// through generated index maps `<name>At(j)` (src/tensor/backends/gpujs/indexing.ts), so inputs
// may be any strided view, broadcasts (stride 0) included. Not here: reductions, which loop.

import type { BinaryOp, UnaryOp } from '../../src/tensor/backend.js';
import { binaryNative, unaryNative } from './math.js';
import { J, type KernelSpec, type NativeFn, glsl, params, passThrough } from './spec.js';

interface Out {
  /** Elements of the destination buffer: the kernel's thread count. */
  size: number;
  /** `outIdx` (identity or inverse view map) and whether a `prev` texture is passed. */
  outIdx: NativeFn;
  hasPrev: boolean;
}

/** out = f(x) with f a unary op; xAt maps logical index -> element of x. */
export function unaryKernel(op: UnaryOp, out: Out, xAt: NativeFn): KernelSpec {
  return {
    family: `unary.${op}`,
    source: `function (${params(['x'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return opUnary(x[xAt(${J})]);
}`,
    natives: [out.outIdx, xAt, unaryNative(op, 'opUnary')],
    output: [out.size],
  };
}

/** out = a op b; `int` for int32 operands (math.ts binaryNative: exact pow, truncated results). */
export function binaryKernel(op: BinaryOp, out: Out, aAt: NativeFn, bAt: NativeFn, int = false): KernelSpec {
  return {
    family: `binary.${op}`,
    source: `function (${params(['a', 'b'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return opBinary(a[aAt(${J})], b[bAt(${J})]);
}`,
    natives: [out.outIdx, aAt, bAt, binaryNative(op, 'opBinary', int)],
    output: [out.size],
  };
}

const SELECT = glsl(
  'float',
  'whereSelect',
  [
    ['float', 'c'],
    ['float', 'a'],
    ['float', 'b'],
  ],
  ['return c != 0.0 ? a : b;'],
);

export function whereKernel(out: Out, cAt: NativeFn, aAt: NativeFn, bAt: NativeFn): KernelSpec {
  return {
    family: 'where',
    source: `function (${params(['c', 'a', 'b'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return whereSelect(c[cAt(${J})], a[aAt(${J})], b[bAt(${J})]);
}`,
    natives: [out.outIdx, cAt, aAt, bAt, SELECT],
    output: [out.size],
  };
}

const TRUNCATE = glsl('float', 'truncate', [['float', 'x']], ['return x < 0.0 ? ceil(x) : floor(x);']);

/** dst = src through any two views of one shape; `truncate` when casting float -> int32. */
export function copyKernel(out: Out, srcAt: NativeFn, truncate: boolean): KernelSpec {
  const read = `src[srcAt(${J})]`;
  return {
    family: 'copy',
    source: `function (${params(['src'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return ${truncate ? `truncate(${read})` : read};
}`,
    natives: truncate ? [out.outIdx, srcAt, TRUNCATE] : [out.outIdx, srcAt],
    output: [out.size],
  };
}

/** out = value; the value is a uniform, so one compiled kernel serves every fill of a size. */
export function fillKernel(out: Out): KernelSpec {
  return {
    family: 'fill',
    source: `function (${params(['value'], out.hasPrev)}) {
  ${passThrough(out.hasPrev)}
  return value;
}`,
    natives: [out.outIdx],
    output: [out.size],
  };
}

/** A host Float32Array of the buffer's size becomes a device texture. */
export function uploadKernel(size: number): KernelSpec {
  return {
    family: 'upload',
    source: `function (data) {
  return data[this.thread.x];
}`,
    natives: [],
    output: [size],
  };
}

/** Host data for buffer elements [offset, offset + n) merged into a device-resident buffer. */
export function writeRangeKernel(out: Out): KernelSpec {
  return {
    family: 'writeRange',
    source: `function (${params(['data'], true)}) {
  ${passThrough(true)}
  return data[${J}];
}`,
    natives: [out.outIdx],
    output: [out.size],
  };
}
