// where on every device: out = cond != 0 ? a : b, all three already expanded to out's shape
// (broadcast operands arrive as stride-0 views); a NaN condition counts as true; values move bit
// for bit.
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/elementwise.wat (op where,
// float32 values; float64 runs the reference code); webgpu: kernels/wgsl/where.wgsl; gpujs:
// kernels/gpujs/elementwise.ts (whereKernel).
// Run: xvfb-run -a npx vitest run test/kernels/where.test.ts

import { describe, expect, it } from 'vitest';
import { type DType, sizeOf } from '../../src/tensor/backend.js';
import {
  chunkedThreads,
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
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { integers, uniform } from '../util/random.js';
import { DEVICES, type DeviceName, EXACT, SWEEP, useDevice, withDevice } from './harness.js';

/** The kernel each device runs for condition dtype c and value dtype t. */
function kernelFor(name: DeviceName, c: 'f32' | 'i32', t: 'f32' | 'i32'): string {
  if (name === 'webgpu') return `where[C=${c},T=${t}]`;
  if (name === 'cpu') return 'wasm.elementwise';
  return 'where';
}

describe.each(DEVICES)('where on %s', (name) => {
  const d = useDevice(name);

  it('an int32 condition over the sweep, bit for bit', async () => {
    const rnd = uniform(-1, 1, 8);
    for (const n of SWEEP) {
      const c = d.randomView([n], integers(0, 1, 9 + n), 'int32');
      const a = d.randomView([n], rnd);
      const b = d.randomView([n], rnd);
      const [out, outPair] = d.output([n]);
      d.ran(kernelFor(name, 'i32', 'f32'), () => d.backend.where(c.g, a.g, b.g, out.g));
      d.ref.where(c.r, a.r, b.r, out.r);
      await d.expectSame(outPair, EXACT, `where n=${n}`);
      d.freeAll();
    }
  });

  it('a float32 condition broadcast over rows, NaN counting as true; int32 values', async () => {
    const cf = d.pair(
      'float32',
      Array.from({ length: 65 }, (_, i) => (i % 3 === 0 ? 0 : i % 3 === 1 ? -0.5 : NaN)),
    );
    const cv = d.view(cf, [63, 65], [0, 1]);
    const a = d.randomView([63, 65], integers(-9, 9, 10), 'int32');
    const b = d.randomView([63, 65], integers(-9, 9, 11), 'int32');
    const [out, outPair] = d.output([63, 65], 'int32');
    // cpu: int32 values with a float32 condition run the reference code
    d.ran(name === 'cpu' ? 'where' : kernelFor(name, 'f32', 'i32'), () => d.backend.where(cv.g, a.g, b.g, out.g));
    d.ref.where(cv.r, a.r, b.r, out.r);
    await d.expectSame(outPair, EXACT, 'where broadcast float condition');
    const got = await d.backend.read(outPair.g, 'int32', 0, 3);
    const [av, bv] = [await d.backend.read(a.g.buf, 'int32', 0, 3), await d.backend.read(b.g.buf, 'int32', 0, 3)];
    expect(Array.from(got)).toEqual([bv[0], av[1], av[2]]);
    d.freeAll();
  });
});

withDevice('cpu', () => {
  describe('where on cpu: wasm.elementwise on 1 and 2 threads, bit for bit, fallbacks', () => {
    useCpuThreads();
    it('float32 and int32 conditions, broadcast and strided operands, bit-identical to RefBackend', () => {
      const shape = [3, 5, 67];
      const n = sizeOf(shape);
      const condF = edgyF32(n, 9100);
      const condI = Int32Array.from(randomF32(n, 9101), (u) => (u < -0.3 ? 0 : Math.round(u * 10)));
      const a = randomF32(n, 9102);
      const b = randomF32(67, 9103);
      const cases: {
        name: string;
        cond: { data: ArrayLike<number>; dtype: DType; strides: number[] };
        aStrides: number[];
      }[] = [
        {
          name: 'float32 condition',
          cond: { data: condF, dtype: 'float32', strides: [335, 67, 1] },
          aStrides: [335, 67, 1],
        },
        {
          name: 'int32 condition',
          cond: { data: condI, dtype: 'int32', strides: [335, 67, 1] },
          aStrides: [335, 67, 1],
        },
        {
          name: 'int32 condition [3, 5, 1] broadcast over the last dim',
          cond: { data: condI, dtype: 'int32', strides: [5, 1, 0] },
          aStrides: [335, 67, 1],
        },
        {
          name: 'float32 condition, a read transposed',
          cond: { data: condF, dtype: 'float32', strides: [335, 67, 1] },
          aStrides: [1, 3, 15],
        },
      ];
      for (const c of cases) {
        const out = refF32(new Float32Array(n));
        ref.where(
          view(refF32(c.cond.data, c.cond.dtype), c.cond.dtype, shape, c.cond.strides),
          view(refF32(a), 'float32', shape, c.aStrides),
          view(refF32(b), 'float32', shape, [0, 0, 1]),
          view(out, 'float32', shape),
        );
        for (const cpu of [cpu1, cpu2]) {
          const o = poisoned(cpu, n);
          cpu.where(
            view(cpuBuffer(cpu, c.cond.data, c.cond.dtype), c.cond.dtype, shape, c.cond.strides),
            view(cpuBuffer(cpu, a), 'float32', shape, c.aStrides),
            view(cpuBuffer(cpu, b), 'float32', shape, [0, 0, 1]),
            view(o, 'float32', shape),
          );
          const label = `where ${c.name} threads ${cpu.getThreads()}`;
          expect(cpu.lastKernel, label).toBe('wasm.elementwise');
          expect(cpu.lastThreads, label).toBe(chunkedThreads(cpu, n, 1));
          expectBitIdentical(readCpu(cpu, o, n), out.data, label);
        }
      }
      // float64 values fall back
      const o64 = cpu2.alloc('float64', 4);
      cpu2.where(
        view(cpuBuffer(cpu2, [1, 0, 2, 0], 'int32'), 'int32', [4]),
        view(cpuBuffer(cpu2, [1, 2, 3, 4], 'float64'), 'float64', [4]),
        view(cpuBuffer(cpu2, [5, 6, 7, 8], 'float64'), 'float64', [4]),
        view(o64, 'float64', [4]),
      );
      expect(cpu2.lastKernel).toBe('ref.where');
      expect(Array.from(readCpu(cpu2, o64, 4, 'float64'))).toEqual([1, 6, 3, 8]);
    });
  });
});
