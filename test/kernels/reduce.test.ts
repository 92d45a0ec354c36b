// reduce (sum, max) on every device: over any sorted set of axes, keeping dims; sums accumulate
// in float64 in the reference (so float32 kernels are checked against rounded float64 sums), max
// propagates NaN.
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/reduce.wat (float32, bit-identical
// to the reference); webgpu: kernels/wgsl/reduce.wgsl and reduce_narrow.wgsl (reductions of up to
// 256 elements); gpujs: kernels/gpujs/reduce.ts.
// Run: xvfb-run -a npx vitest run test/kernels/reduce.test.ts

import { describe, expect, it } from 'vitest';
import { contiguousStrides, sizeOf } from '../../src/tensor/backend.js';
import { type CpuBackend, reduceChunk } from '../../src/tensor/backends/cpu/index.js';
import { TOL, assertClose } from '../util/close.js';
import {
  FORCE_POOL,
  cpu1,
  cpu2,
  cpuBuffer,
  edgyF32,
  expectBitIdentical,
  poisoned,
  randomF32,
  readCpu,
  ref,
  refF32,
  span,
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { integers, uniform } from '../util/random.js';
import { DEVICES, type DeviceName, EXACT, tolerance, useDevice, withDevice } from './harness.js';

/** The kernel each device runs for a float32 reduction of R elements per output. */
function kernelFor(name: DeviceName, op: 'sum' | 'max', R: number): string {
  if (name === 'cpu') return 'wasm.reduce';
  if (name === 'webgpu') return `${R <= 256 ? 'reduce_narrow' : 'reduce'}[OP=${op},T=f32]`;
  return `reduce.${op}`;
}

/** cpuFallback: more dims than wasm.reduce takes after merging (cpu runs the reference code). */
const CASES: Array<{ shape: number[]; axes: number[]; cpuFallback?: boolean }> = [
  ...[1, 63, 64, 65, 256, 257, 4097].map((n) => ({ shape: [n], axes: [0] })),
  { shape: [63, 65], axes: [0] },
  { shape: [63, 65], axes: [1] },
  { shape: [63, 65], axes: [0, 1] },
  { shape: [300, 70], axes: [0] },
  { shape: [2, 257], axes: [1] },
  { shape: [5, 4097], axes: [1] },
  { shape: [2, 3, 64, 65], axes: [1, 3] },
  { shape: [2, 3, 64, 65], axes: [0, 2] },
  { shape: [2, 3, 4, 5, 6, 7], axes: [1, 3, 5], cpuFallback: true },
  { shape: [70000, 3], axes: [1] },
  { shape: [3, 50000], axes: [1] },
  // Long reductions: gpujs runs on llvmpipe, which ends a shader invocation's loops after 65,535
  // iterations in all (kernels/gpujs/reduce.ts), so these check its unrolled blocks (200,003: 3,125
  // blocks and a tail of 3) and its chunked reductions past 2^18 per thread (2 x 300,007: two
  // chunks per output, the second shorter, its tail ragged).
  { shape: [50003], axes: [0] },
  { shape: [200003], axes: [0] },
  { shape: [2, 300007], axes: [1] },
];

describe.each(DEVICES)('reduce on %s', (name) => {
  const d = useDevice(name);

  for (const op of ['sum', 'max'] as const) {
    it(`${op}: over any axes, long and short reductions, deterministic`, async () => {
      const rnd = uniform(-1, 1, 12);
      for (const { shape, axes, cpuFallback } of CASES) {
        const x = d.randomView(shape, rnd);
        const outShape = shape.map((s, i) => (axes.includes(i) ? 1 : s));
        const [out, outPair] = d.output(outShape);
        const R = sizeOf(shape) / sizeOf(outShape);
        const kernel = name === 'cpu' && cpuFallback ? `reduce.${op}` : kernelFor(name, op, R);
        d.ran(kernel, () => d.backend.reduce(op, x.g, axes, out.g));
        d.ref.reduce(op, x.r, axes, out.r);
        await d.expectSame(outPair, tolerance('float32', R), `${op} [${shape}] axes [${axes}]`);
        if (op === 'sum' && R > 1000) {
          // the same reduction twice gives the same bits
          const first = await d.backend.read(outPair.g, 'float32', 0, outPair.size);
          d.backend.reduce(op, x.g, axes, out.g);
          expect(await d.backend.read(outPair.g, 'float32', 0, outPair.size)).toEqual(first);
        }
        d.freeAll();
      }
    });

    it(`${op}: strided inputs (transposed, permuted, an offset, a broadcast dim)`, async () => {
      const rnd = uniform(-1, 1, 13);
      const src = d.pair('float32', Array.from({ length: 63 * 65 }, rnd));
      for (const axes of [[0], [1]]) {
        const xt = d.view(src, [65, 63], [1, 65]);
        const [out, outPair] = d.output(axes[0] === 0 ? [1, 63] : [65, 1]);
        d.backend.reduce(op, xt.g, axes, out.g);
        d.ref.reduce(op, xt.r, axes, out.r);
        await d.expectSame(outPair, tolerance('float32', 65), `${op} transposed axes [${axes}]`);
      }
      const cases = [
        { shape: [5, 64, 7], strides: [1, 35, 5], offset: 0, axes: [0, 2] },
        { shape: [6, 50], strides: [51, 1], offset: 5, axes: [1] },
        { shape: [6, 7, 50], strides: [50, 0, 1], offset: 0, axes: [1] },
      ];
      for (const c of cases) {
        const store = d.pair('float32', Array.from({ length: span(c.shape, c.strides, c.offset) }, rnd));
        const x = d.view(store, c.shape, c.strides, c.offset);
        const outShape = c.shape.map((s, i) => (c.axes.includes(i) ? 1 : s));
        const [out, outPair] = d.output(outShape);
        d.backend.reduce(op, x.g, c.axes, out.g);
        d.ref.reduce(op, x.r, c.axes, out.r);
        await d.expectSame(outPair, tolerance('float32', 64 * 5), `${op} [${c.shape}] strides [${c.strides}]`);
      }
      d.freeAll();
    });
  }

  it('long reductions see every element: sums of ones are exact, the maximum is the last element', async () => {
    // 70,000 passed gpujs's old loops' budget (their sums stopped at 63,551); 300,007 is chunked
    for (const n of [64000, 70000, 200003, 300007]) {
      const data = new Float32Array(n).fill(1);
      data[n - 1] = 2;
      const x = d.view(d.pair('float32', data), [n]);
      for (const op of ['sum', 'max'] as const) {
        const [out, outPair] = d.output([1]);
        d.backend.reduce(op, x.g, [0], out.g);
        d.ref.reduce(op, x.r, [0], out.r);
        expect(Array.from(await d.backend.read(outPair.g, 'float32', 0, 1)), `${op} of ${n}`).toEqual([
          op === 'sum' ? n + 1 : 2,
        ]);
        await d.expectSame(outPair, EXACT, `${op} of ${n}`);
      }
      d.freeAll();
    }
  });

  it('max: NaN wins, -Infinity rows stay -Infinity; int32 sum and max are exact', async () => {
    const x = d.view(d.pair('float32', [1, NaN, 3, -1, 2, 5, -Infinity, -Infinity, -Infinity]), [3, 3]);
    const [out, outPair] = d.output([3, 1]);
    d.backend.reduce('max', x.g, [1], out.g);
    const got = Array.from(await d.backend.read(outPair.g, 'float32', 0, 3));
    expect(Number.isNaN(got[0])).toBe(true);
    expect(got.slice(1)).toEqual([5, -Infinity]);
    const xi = d.randomView([65, 63], integers(-1000, 1000, 13), 'int32');
    for (const op of ['sum', 'max'] as const) {
      const [oi, oiPair] = d.output([65, 1], 'int32');
      d.backend.reduce(op, xi.g, [1], oi.g);
      d.ref.reduce(op, xi.r, [1], oi.r);
      await d.expectSame(oiPair, tolerance('int32'), `int32 ${op}`);
    }
    d.freeAll();
  });
});

withDevice('webgpu', () => {
  describe('reduce on webgpu: one sum over 200003 elements (a tree of partial sums)', () => {
    const d = useDevice('webgpu');

    it('matches the reference and repeats bit for bit', async () => {
      const x = d.randomView([200003], uniform(-1, 1, 14));
      const [out, outPair] = d.output([1]);
      d.ran('reduce[OP=sum,T=f32]', () => d.backend.reduce('sum', x.g, [0], out.g));
      d.ref.reduce('sum', x.r, [0], out.r);
      await d.expectSame(outPair, tolerance('float32', 200003), 'sum [200003]');
      const first = await d.backend.read(outPair.g, 'float32', 0, 1);
      d.backend.reduce('sum', x.g, [0], out.g);
      expect(await d.backend.read(outPair.g, 'float32', 0, 1)).toEqual(first);
      d.freeAll();
    });
  });
});

withDevice('cpu-ref', () => {
  describe('reduce oracle: cpu-ref against the formulas', () => {
    it('float64 sum and max over axis sets of a [3, 4, 5] tensor', () => {
      const shape = [3, 4, 5];
      const data = Array.from({ length: 60 }, uniform(-2, 2, 50));
      const at = (i: number, j: number, k: number): number => data[i * 20 + j * 5 + k];
      const buf = ref.alloc('float64', 60);
      ref.write(buf, 'float64', data);
      for (const op of ['sum', 'max'] as const) {
        const out = ref.alloc('float64', 15);
        ref.reduce(op, { buf, dtype: 'float64', shape, strides: contiguousStrides(shape), offset: 0 }, [1], {
          buf: out,
          dtype: 'float64',
          shape: [3, 1, 5],
          strides: contiguousStrides([3, 1, 5]),
          offset: 0,
        });
        const want: number[] = [];
        for (let i = 0; i < 3; i++)
          for (let k = 0; k < 5; k++) {
            const col = [0, 1, 2, 3].map((j) => at(i, j, k));
            want.push(op === 'sum' ? col.reduce((a, b) => a + b, 0) : Math.max(...col));
          }
        assertClose(ref.readSync(out, 'float64', 0, 15), want, TOL.f64, `${op} over axis 1`);
      }
    });
  });
});

withDevice('cpu', () => {
  interface ReduceCase {
    shape: number[];
    axes: number[];
    strides?: number[];
    offset?: number;
    fast?: boolean;
  }

  /** Threads the reduce kernel wakes: as many as there are chunks of outputs (see reduceChunk). */
  function reduceThreads(cpu: CpuBackend, shape: number[], strides: number[], axes: number[]): number {
    const outN = sizeOf(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
    const R = sizeOf(axes.map((a) => shape[a]));
    // mode 1 when the last dim that is kept and not 1 is contiguous and at least 4 long
    const inner = shape
      .map((_, i) => i)
      .filter((i) => !axes.includes(i) && shape[i] !== 1)
      .at(-1);
    const mode = inner !== undefined && strides[inner] === 1 && shape[inner] >= 4 ? 1 : 0;
    const chunk = reduceChunk(mode, outN, R, cpu.getThreads(), FORCE_POOL.chunkElements);
    return Math.min(cpu.getThreads(), Math.ceil(outN / chunk));
  }

  describe('reduce on cpu: wasm.reduce on 1 and 2 threads, bit for bit, fallbacks', () => {
    useCpuThreads();
    const cases: ReduceCase[] = [
      // total sums: one output, lengths 1, 63, 64, 65, 4097
      ...[1, 63, 64, 65, 4097].map((n) => ({ shape: [n], axes: [0] })),
      // last axis (rows) and leading axis (columns), across the vector widths 4 and 16
      ...[
        [5, 63],
        [7, 64],
        [9, 65],
        [3, 4097],
        [4097, 3],
        [4097, 5],
        [33, 17],
      ].flatMap((shape) => [
        { shape, axes: [1] },
        { shape, axes: [0] },
        { shape, axes: [0, 1] },
      ]),
      // bias gradients [B, T, H] over (B, T); LayerNorm statistics over H; softmax backward rows
      { shape: [4, 33, 40], axes: [0, 1] },
      { shape: [4, 33, 40], axes: [2] },
      { shape: [2, 4, 16, 128], axes: [3] },
      { shape: [2, 4, 16, 128], axes: [0, 2] },
      { shape: [2, 4, 16, 128], axes: [1, 3] },
      { shape: [2, 4, 16, 128], axes: [0, 1, 2] },
      // transposed input [A, B] stored as [B, A], an offset, a broadcast (stride-0) dim
      { shape: [37, 29], axes: [0], strides: [1, 37] },
      { shape: [37, 29], axes: [1], strides: [1, 37] },
      { shape: [6, 50], axes: [1], strides: [51, 1], offset: 5 },
      { shape: [6, 7, 50], axes: [1], strides: [50, 0, 1] },
      // empty reduction: sum 0, max -Infinity
      { shape: [3, 0], axes: [1] },
      // four kept dims that do not merge (falls back)
      { shape: [2, 3, 2, 3, 5], axes: [4], strides: [1, 2, 6, 12, 36], fast: false },
    ];

    for (const op of ['sum', 'max'] as const) {
      it(`${op}: equals RefBackend bit for bit over the shape sweep, 1 and 2 threads`, () => {
        let seed = 9300;
        for (const c of cases) {
          const strides = c.strides ?? contiguousStrides(c.shape);
          const offset = c.offset ?? 0;
          const outShape = c.shape.map((d, i) => (c.axes.includes(i) ? 1 : d));
          const outN = sizeOf(outShape);
          const size = sizeOf(c.shape) === 0 ? 1 : span(c.shape, strides, offset);
          // sums of random values (with a few infinities and NaNs in the edgy set for max)
          const x = op === 'max' ? edgyF32(size, seed++) : randomF32(size, seed++, 10);
          const expected = refF32(new Float32Array(outN));
          ref.reduce(
            op,
            view(refF32(x), 'float32', c.shape, strides, offset),
            c.axes,
            view(expected, 'float32', outShape),
          );
          for (const cpu of [cpu1, cpu2]) {
            const o = poisoned(cpu, outN);
            cpu.reduce(
              op,
              view(cpuBuffer(cpu, x), 'float32', c.shape, strides, offset),
              c.axes,
              view(o, 'float32', outShape),
            );
            const label = `${op} [${c.shape}] axes [${c.axes}] strides [${strides}] threads ${cpu.getThreads()}`;
            expect(cpu.lastKernel, label).toBe(c.fast === false ? `ref.reduce.${op}` : 'wasm.reduce');
            if (c.fast !== false) expect(cpu.lastThreads, label).toBe(reduceThreads(cpu, c.shape, strides, c.axes));
            expectBitIdentical(readCpu(cpu, o, outN), expected.data, label);
          }
        }
      });
    }

    it('sum keeps float64 accuracy: 1 + 4096 terms of 2^-24 is not 1', () => {
      // float32 accumulation from the left would round every 1 + 2^-24 back to 1
      const x = new Float32Array(4097).fill(2 ** -24);
      x[0] = 1;
      const o = poisoned(cpu2, 1);
      cpu2.reduce('sum', view(cpuBuffer(cpu2, x), 'float32', [4097]), [0], view(o, 'float32', [1]));
      expect(cpu2.lastKernel).toBe('wasm.reduce');
      expect(readCpu(cpu2, o, 1)[0]).toBe(Math.fround(1 + 4096 * 2 ** -24));
    });

    it('max: NaN wins, the first of -0 and +0 is kept, -Infinity rows stay -Infinity', () => {
      const rows = [
        [1, NaN, 2, 3, 0, 0, 0, 0],
        [-0, 0, -1, -2, -0, 0, -3, -4],
        [0, -0, -1, -2, -5, -6, -7, -8],
        [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
      ];
      const x = Float32Array.from(rows.flat());
      for (const [axes, outShape] of [
        [[1], [4, 1]],
        [[0], [1, 8]],
      ] as const) {
        const outN = sizeOf(outShape);
        const expected = refF32(new Float32Array(outN));
        ref.reduce('max', view(refF32(x), 'float32', [4, 8]), axes, view(expected, 'float32', [...outShape]));
        const o = poisoned(cpu2, outN);
        cpu2.reduce('max', view(cpuBuffer(cpu2, x), 'float32', [4, 8]), axes, view(o, 'float32', [...outShape]));
        expect(cpu2.lastKernel).toBe('wasm.reduce');
        expectBitIdentical(readCpu(cpu2, o, outN), expected.data, `max over axes [${axes}]`);
      }
      const o = poisoned(cpu2, 4);
      cpu2.reduce('max', view(cpuBuffer(cpu2, x), 'float32', [4, 8]), [1], view(o, 'float32', [4, 1]));
      const got = readCpu(cpu2, o, 4);
      expect(Number.isNaN(got[0])).toBe(true);
      expect(Object.is(got[1], -0)).toBe(true);
      expect(Object.is(got[2], 0)).toBe(true);
      expect(got[3]).toBe(-Infinity);
    });

    it('float64 falls back to the reference kernel', () => {
      const x = randomF32(12, 9400);
      const o = cpu2.alloc('float64', 3);
      cpu2.reduce('sum', view(cpuBuffer(cpu2, x, 'float64'), 'float64', [3, 4]), [1], view(o, 'float64', [3, 1]));
      expect(cpu2.lastKernel).toBe('ref.reduce.sum');
      assertClose(
        readCpu(cpu2, o, 3, 'float64'),
        [0, 1, 2].map((r) => x[4 * r] + x[4 * r + 1] + x[4 * r + 2] + x[4 * r + 3]),
        TOL.f64,
        'float64 sum',
      );
    });
  });
});
