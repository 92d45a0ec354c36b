// softmax and log-softmax over the last axis on every device:
//   softmax: exp(x - max) / Σ exp(x - max);  log-softmax: (x - max) - log Σ exp(x - max).
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/softmax.wat (contiguous float32;
// other views run the reference code); webgpu: kernels/wgsl/softmax.wgsl (rows longer than 256)
// and softmax_narrow.wgsl; gpujs: kernels/gpujs/softmax.ts.
// Run: xvfb-run -a npx vitest run test/kernels/softmax.test.ts

import { describe, expect, it } from 'vitest';
import { contiguousStrides, sizeOf } from '../../src/tensor/backend.js';
import { RefBackend } from '../../src/tensor/backends/ref.js';
import { TOL, assertClose } from '../util/close.js';
import {
  chunkedThreads,
  cpu1,
  cpu2,
  cpuBuffer,
  expectBitIdentical,
  randomF32,
  readCpu,
  readRef,
  ref as ref64,
  refBuffer,
  rowTol,
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { uniform } from '../util/random.js';
import { DEVICES, type DeviceName, ROW_SHAPES, SWEEP, tolerance, useDevice, withDevice } from './harness.js';

/** The kernel each device runs on contiguous float32 rows of length C. */
function kernelFor(name: DeviceName, C: number, log: boolean): string {
  const op = log ? 'logsoftmax' : 'softmax';
  if (name === 'cpu') return 'wasm.softmax';
  if (name === 'webgpu') return `${C <= 256 ? 'softmax_narrow' : 'softmax'}:${op}`;
  return op;
}

describe.each(DEVICES)('softmax on %s', (name) => {
  const d = useDevice(name);

  for (const log of [false, true]) {
    const op = log ? 'log-softmax' : 'softmax';

    it(`${op}: rows over the sweep, logits in [-30, 30) and attention-mask entries (-1e9)`, async () => {
      const rnd = uniform(-30, 30, log ? 17 : 16);
      for (const C of SWEEP) {
        const data = Array.from({ length: 3 * C }, rnd);
        for (let i = 0; i < data.length; i += 7) data[i] = -1e9;
        const x = d.view(d.pair('float32', data), [3, C]);
        const [out, outPair] = d.output([3, C]);
        d.ran(kernelFor(name, C, log), () => d.backend.softmax(x.g, out.g, log));
        d.ref.softmax(x.r, out.r, log);
        // log-softmax of a masked entry is about -1e9: compared relatively
        await d.expectSame(outPair, tolerance('float32', C), `${op} C=${C}`);
        d.freeAll();
      }
    });

    it(`${op}: strided rows (transposed, short and long), rank 3, and more rows than one grid dimension`, async () => {
      const rnd = uniform(-8, 8, 18);
      // a [65, 63] view of a [63, 65] buffer, and [3, 300] of a [300, 3] one
      for (const [R, C] of [
        [65, 63],
        [3, 300],
      ]) {
        const xt = d.view(d.pair('float32', Array.from({ length: R * C }, rnd)), [R, C], [1, R]);
        const [out, outPair] = d.output([R, C]);
        // strided rows run the device's kernel, except on cpu (its wasm kernel takes contiguous rows)
        d.ran(name === 'cpu' ? (log ? 'logsoftmax' : 'softmax') : kernelFor(name, C, log), () =>
          d.backend.softmax(xt.g, out.g, log),
        );
        d.ref.softmax(xt.r, out.r, log);
        await d.expectSame(outPair, tolerance('float32', C), `${op} transposed [${R}, ${C}]`);
      }
      const x3 = d.randomView([2, 3, 65], rnd);
      const [out3, out3Pair] = d.output([2, 3, 65]);
      d.backend.softmax(x3.g, out3.g, log);
      d.ref.softmax(x3.r, out3.r, log);
      await d.expectSame(out3Pair, tolerance('float32', 65), `${op} [2, 3, 65]`);
      const many = d.randomView([70001, 2], rnd);
      const [outMany, outManyPair] = d.output([70001, 2]);
      d.backend.softmax(many.g, outMany.g, log);
      d.ref.softmax(many.r, outMany.r, log);
      await d.expectSame(outManyPair, tolerance('float32', 2), `${op} 70001 rows`);
      d.freeAll();
    });
  }

  it('rows of 200,003 (gpujs: past the 65,535 loop iterations llvmpipe runs per thread, kernels/gpujs/reduce.ts)', async () => {
    const C = 200003;
    const x = d.randomView([2, C], uniform(-30, 30, 20));
    for (const log of [false, true]) {
      const [out, outPair] = d.output([2, C]);
      d.ran(kernelFor(name, C, log), () => d.backend.softmax(x.g, out.g, log));
      d.ref.softmax(x.r, out.r, log);
      await d.expectSame(outPair, tolerance('float32', C), `${log ? 'log-softmax' : 'softmax'} C=${C}`);
    }
    d.freeAll();
  });

  it('a NaN anywhere in a row makes the whole row NaN, as in the reference', async () => {
    // rows of 9: a NaN in the vector part (index 2) of row 0 and in the scalar tail (index 8) of row 1
    const data = Array.from(randomF32(27, 2050));
    data[2] = NaN;
    data[9 + 8] = NaN;
    for (const log of [false, true]) {
      const x = d.view(d.pair('float32', data), [3, 9]);
      const [out, outPair] = d.output([3, 9]);
      d.ran(kernelFor(name, 9, log), () => d.backend.softmax(x.g, out.g, log));
      d.ref.softmax(x.r, out.r, log);
      const got = await d.backend.read(outPair.g, 'float32', 0, 27);
      expect(Array.from(got.subarray(0, 18)).every(Number.isNaN), `log=${log}`).toBe(true);
      await d.expectSame(outPair, tolerance('float32'), `softmax with NaN rows, log=${log}`);
      d.freeAll();
    }
  });
});

withDevice('cpu-ref', () => {
  describe('softmax oracle: cpu-ref against the formula', () => {
    it('float64, rows of 1, 65 and 4097, both forms', () => {
      const ref = new RefBackend();
      for (const C of [1, 65, 4097]) {
        const R = 2;
        const x = Array.from({ length: R * C }, uniform(-20, 20, C));
        const buf = (data: number[]) => {
          const t = ref.alloc('float64', data.length);
          ref.write(t, 'float64', data);
          return t;
        };
        const v = (t: ReturnType<typeof buf>) => ({
          buf: t,
          dtype: 'float64' as const,
          shape: [R, C],
          strides: contiguousStrides([R, C]),
          offset: 0,
        });
        for (const log of [false, true]) {
          const out = buf(new Array(R * C).fill(0));
          ref.softmax(v(buf(x)), v(out), log);
          const want: number[] = [];
          for (let r = 0; r < R; r++) {
            const row = x.slice(r * C, (r + 1) * C);
            const m = Math.max(...row);
            const s = row.reduce((acc, xi) => acc + Math.exp(xi - m), 0);
            for (const xi of row) want.push(log ? xi - m - Math.log(s) : Math.exp(xi - m) / s);
          }
          assertClose(ref.readSync(out, 'float64', 0, R * C), want, TOL.f64, `C=${C} log=${log}`);
        }
      }
    });
  });
});

withDevice('cpu', () => {
  describe('softmax on cpu: 1 and 2 threads, against a float64 reference', () => {
    useCpuThreads();

    it('matches the reference over row lengths 1, 63, 64, 65, 4097 and attention-like rows, bit-identical across thread counts', () => {
      let seed = 2000;
      for (const shape of ROW_SHAPES) {
        const n = sizeOf(shape);
        const x = randomF32(n, seed++, 8);
        // attention-style mask values in some rows: a large finite negative
        for (let i = 0; i < n; i += 7) x[i] = -1e9;
        for (const log of [false, true]) {
          const out = ref64.alloc('float64', n);
          ref64.softmax(view(refBuffer(x), 'float64', shape), view(out, 'float64', shape), log);
          const expected = readRef(out, n);
          const results: ArrayLike<number>[] = [];
          for (const cpu of [cpu1, cpu2]) {
            const o = cpu.alloc('float32', n);
            cpu.softmax(view(cpuBuffer(cpu, x), 'float32', shape), view(o, 'float32', shape), log);
            const label = `${log ? 'log-' : ''}softmax [${shape}] threads ${cpu.getThreads()}`;
            expect(cpu.lastKernel, label).toBe('wasm.softmax');
            const C = shape[shape.length - 1];
            expect(cpu.lastThreads, label).toBe(chunkedThreads(cpu, n / C, C));
            const got = readCpu(cpu, o, n);
            // log-softmax of a masked entry is about -1e9: compare it relatively
            assertClose(got, expected, rowTol, label);
            results.push(got);
          }
          expectBitIdentical(results[0], results[1], `softmax [${shape}] log=${log}: 1 vs 2 threads`);
        }
      }
    });

    it('a strided input falls back to the reference kernel', () => {
      const x = randomF32(6 * 5, 2100);
      const o = cpu2.alloc('float32', 30);
      // the transpose of a [6, 5] matrix: softmax over its columns
      cpu2.softmax(view(cpuBuffer(cpu2, x), 'float32', [5, 6], [1, 5]), view(o, 'float32', [5, 6]), false);
      expect(cpu2.lastKernel).toBe('ref.softmax');
      const out = ref64.alloc('float64', 30);
      ref64.softmax(view(refBuffer(x), 'float64', [5, 6], [1, 5]), view(out, 'float64', [5, 6]), false);
      assertClose(readCpu(cpu2, o, 30), readRef(out, 30), rowTol, 'strided softmax');
    });
  });
});
