// copy on every device: dst[i] = src[i] over their common shape, either side strided (permuted,
// sliced, transposed, reversed, at an offset); float32 <-> int32 casts truncate toward zero.
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/elementwise.wat (op copy, same
// dtype on both sides; casts and float64 run the reference code); webgpu: kernels/wgsl/copy.wgsl;
// gpujs: kernels/gpujs/elementwise.ts (copyKernel).
// Run: xvfb-run -a npx vitest run test/kernels/copy.test.ts

import { describe, expect, it } from 'vitest';
import { sizeOf } from '../../src/tensor/backend.js';
import {
  chunkedThreads,
  cpu1,
  cpu2,
  cpuBuffer,
  edgyF32,
  expectBitIdentical,
  randomF32,
  readCpu,
  ref,
  refF32,
  span,
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { uniform } from '../util/random.js';
import { TOL, assertClose } from '../util/close.js';
import { indices, oracleViews, rawGet } from '../util/oracle.js';
import { DEVICES, type DeviceName, EXACT, SWEEP, useDevice, withDevice } from './harness.js';

/** The kernel each device runs for a copy from dtype s to dtype d. */
function kernelFor(name: DeviceName, s: 'float32' | 'int32', dt: 'float32' | 'int32'): string {
  if (name === 'webgpu') {
    const w = (t: string): string => (t === 'float32' ? 'f32' : 'i32');
    return `copy[CONVERT=${dt === 'int32' && s === 'float32' ? 'toInt32' : w(dt)},D=${w(dt)},S=${w(s)}]`;
  }
  if (name === 'cpu') return s === dt ? 'wasm.elementwise' : 'copy';
  return 'copy';
}

interface Operand {
  strides: number[];
  offset?: number;
}

describe.each(DEVICES)('copy on %s', (name) => {
  const d = useDevice(name);

  it('permuted source, strided, sliced and transposed destinations, rank 6, reversed', async () => {
    const rnd = uniform(-100, 100, 1);
    // permuted source [4, 5, 6] viewed as [6, 4, 5]
    const src = d.pair('float32', Array.from({ length: 120 }, rnd));
    const [dst, dstPair] = d.output([6, 4, 5]);
    d.ran(kernelFor(name, 'float32', 'float32'), () => d.backend.copy(d.view(src, [6, 4, 5], [1, 30, 6]).g, dst.g));
    d.ref.copy(d.view(src, [6, 4, 5], [1, 30, 6]).r, dst.r);
    await d.expectSame(dstPair, EXACT, 'copy permuted -> contiguous');
    // contiguous source into every other column of a wider buffer, at an offset
    const wide = d.zeros('float32', 300);
    d.backend.copy(d.view(src, [6, 4, 5]).g, d.view(wide, [6, 4, 5], [50, 10, 2], 1).g);
    d.ref.copy(d.view(src, [6, 4, 5]).r, d.view(wide, [6, 4, 5], [50, 10, 2], 1).r);
    await d.expectSame(wide, EXACT, 'copy -> strided destination');
    // into a transposed destination
    const tdst = d.zeros('float32', 120);
    d.backend.copy(d.view(src, [6, 20]).g, d.view(tdst, [6, 20], [1, 6]).g);
    d.ref.copy(d.view(src, [6, 20]).r, d.view(tdst, [6, 20], [1, 6]).r);
    await d.expectSame(tdst, EXACT, 'copy -> transposed destination');
    // rank 6, permuted (nothing coalesces), and a reversed view (negative stride)
    const shape6 = [2, 3, 2, 3, 2, 3];
    const s6 = d.pair('float32', Array.from({ length: 216 }, rnd));
    const d6 = d.zeros('float32', 216);
    d.backend.copy(d.view(s6, shape6, [1, 2, 6, 12, 36, 72]).g, d.view(d6, shape6).g);
    d.ref.copy(d.view(s6, shape6, [1, 2, 6, 12, 36, 72]).r, d.view(d6, shape6).r);
    await d.expectSame(d6, EXACT, 'copy rank 6 permuted');
    d.backend.copy(d.view(s6, [216], [-1], 215).g, d.view(d6, [216]).g);
    d.ref.copy(d.view(s6, [216], [-1], 215).r, d.view(d6, [216]).r);
    await d.expectSame(d6, EXACT, 'copy reversed');
    d.freeAll();
  });

  it('float32 -> int32 truncates toward zero and int32 -> float32, over the sweep', async () => {
    const rnd = uniform(-100, 100, 2);
    for (const n of SWEEP) {
      const f = d.pair('float32', Array.from({ length: n }, rnd));
      const [i, iPair] = d.output([n], 'int32');
      d.ran(kernelFor(name, 'float32', 'int32'), () => d.backend.copy(d.view(f, [n]).g, i.g));
      d.ref.copy(d.view(f, [n]).r, i.r);
      await d.expectSame(iPair, EXACT, `copy f32->i32 n=${n}`);
      const [back, backPair] = d.output([n]);
      d.ran(kernelFor(name, 'int32', 'float32'), () => d.backend.copy(i.g, back.g));
      d.ref.copy(i.r, back.r);
      await d.expectSame(backPair, EXACT, `copy i32->f32 n=${n}`);
      d.freeAll();
    }
  });

  it('source and destination in one buffer, disjoint halves', async () => {
    const both = d.pair('float32', Array.from({ length: 128 }, uniform(-1, 1, 3)));
    d.backend.copy(d.view(both, [8, 8], [1, 8]).g, d.view(both, [8, 8], [8, 1], 64).g);
    d.ref.copy(d.view(both, [8, 8], [1, 8]).r, d.view(both, [8, 8], [8, 1], 64).r);
    await d.expectSame(both, EXACT, 'copy within one buffer');
    d.freeAll();
  });
});

withDevice('cpu-ref', () => {
  describe('copy oracle: cpu-ref against element-by-element evaluation (float64)', () => {
    for (const [label, a] of oracleViews()) {
      it(`a contiguous copy of ${label}`, () => {
        assertClose(
          a.contiguous().toArray(),
          indices(a.shape).map((i) => rawGet(a, i)),
          TOL.f64,
          `copy of ${label}`,
        );
      });
    }
  });
});

withDevice('gpujs', () => {
  describe('copy on gpujs: an overlapping destination', () => {
    const d = useDevice('gpujs');

    it('is refused rather than written in some order', () => {
      const src = d.pair(
        'float32',
        Array.from({ length: 6 }, (_, i) => i),
      );
      const dst = d.zeros('float32', 6);
      expect(() => d.backend.copy(d.view(src, [2, 3]).g, d.view(dst, [2, 3], [1, 1]).g)).toThrow(/overlapping/);
      d.freeAll();
    });
  });
});

withDevice('cpu', () => {
  describe('copy on cpu: wasm.elementwise on 1 and 2 threads, bit for bit, fallbacks', () => {
    useCpuThreads();
    const [B, T, h, d] = [3, 7, 4, 65];
    const n = B * T * h * d;
    const cases: { name: string; shape: number[]; src: Operand; dst: Operand; fast: boolean }[] = [
      {
        name: 'head split [B, T, h, d] -> [B, h, T, d]',
        shape: [B, h, T, d],
        src: { strides: [T * h * d, d, h * d, 1] },
        dst: { strides: [h * T * d, T * d, d, 1] },
        fast: true,
      },
      // rows of 16: the whole-row path, several rows per chunk of 64
      {
        name: 'head split with d = 16 (whole-row path)',
        shape: [B, h, T, 16],
        src: { strides: [T * h * 16, 16, h * 16, 1] },
        dst: { strides: [h * T * 16, T * 16, 16, 1] },
        fast: true,
      },
      {
        name: 'head merge into a permuted destination',
        shape: [B, h, T, d],
        src: { strides: [h * T * d, T * d, d, 1] },
        dst: { strides: [T * h * d, d, h * d, 1] },
        fast: true,
      },
      {
        name: 'matrix transpose',
        shape: [T * h, B * d],
        src: { strides: [1, T * h] },
        dst: { strides: [B * d, 1] },
        fast: true,
      },
      {
        name: 'into a narrowed slice with an offset',
        shape: [B, 5, d],
        src: { strides: [5 * d, d, 1] },
        dst: { strides: [T * d, d, 1], offset: 2 * d },
        fast: true,
      },
      {
        name: 'lengths 1, 63, 64, 65, 4097',
        shape: [4097],
        src: { strides: [1], offset: 1 },
        dst: { strides: [1] },
        fast: true,
      },
      {
        name: 'six unmergeable dims (falls back)',
        shape: [2, 3, 2, 3, 2, 3],
        src: { strides: [1, 2, 6, 12, 36, 72] },
        dst: { strides: [108, 36, 18, 6, 3, 1] },
        fast: false,
      },
    ];

    for (const dtype of ['float32', 'int32'] as const) {
      it(`${dtype}: strided source and destination, bit-identical to RefBackend, 1 and 2 threads`, () => {
        let seed = 9200;
        for (const c of cases) {
          const count = sizeOf(c.shape);
          const srcData =
            dtype === 'float32'
              ? edgyF32(span(c.shape, c.src.strides, c.src.offset), seed++)
              : Int32Array.from(randomF32(span(c.shape, c.src.strides, c.src.offset), seed++), (u) =>
                  Math.round(u * 2 ** 30),
                );
          const dstSize = Math.max(n, span(c.shape, c.dst.strides, c.dst.offset));
          const background =
            dtype === 'float32' ? randomF32(dstSize, seed++) : Int32Array.from({ length: dstSize }, (_, i) => i);
          const expected = refF32(background, dtype);
          ref.copy(
            view(refF32(srcData, dtype), dtype, c.shape, c.src.strides, c.src.offset),
            view(expected, dtype, c.shape, c.dst.strides, c.dst.offset),
          );
          for (const cpu of [cpu1, cpu2]) {
            const dst = cpuBuffer(cpu, background, dtype);
            cpu.copy(
              view(cpuBuffer(cpu, srcData, dtype), dtype, c.shape, c.src.strides, c.src.offset),
              view(dst, dtype, c.shape, c.dst.strides, c.dst.offset),
            );
            const label = `copy ${dtype} ${c.name} threads ${cpu.getThreads()}`;
            expect(cpu.lastKernel, label).toBe(c.fast ? 'wasm.elementwise' : 'ref.copy');
            if (c.fast) expect(cpu.lastThreads, label).toBe(chunkedThreads(cpu, count, 1));
            expectBitIdentical(readCpu(cpu, dst, dstSize, dtype), expected.data, label);
          }
        }
      });
    }

    it('casts and float64 fall back to the reference kernel', () => {
      const x = Float32Array.from([1.7, -1.7, 2.5, -0.2]);
      const oi = cpu2.alloc('int32', 4);
      cpu2.copy(view(cpuBuffer(cpu2, x), 'float32', [4]), view(oi, 'int32', [4]));
      expect(cpu2.lastKernel).toBe('ref.copy');
      expect(Array.from(readCpu(cpu2, oi, 4, 'int32'))).toEqual([1, -1, 2, 0]);
      const o64 = cpu2.alloc('float64', 4);
      cpu2.copy(view(cpuBuffer(cpu2, x, 'float64'), 'float64', [2, 2], [1, 2]), view(o64, 'float64', [2, 2]));
      expect(cpu2.lastKernel).toBe('ref.copy');
      expect(Array.from(readCpu(cpu2, o64, 4, 'float64'))).toEqual([x[0], x[2], x[1], x[3]]);
    });
  });
});
