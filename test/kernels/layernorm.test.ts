// layernorm on every device: out = (x - mean)·rstd·w + b over the last axis, rstd = 1/sqrt(var + eps),
// with mean and rstd written per row.
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/layernorm.wat (contiguous
// float32; other views run the reference code); webgpu: kernels/wgsl/layernorm.wgsl (rows longer
// than 256) and layernorm_narrow.wgsl; gpujs: kernels/gpujs/layernorm.ts.
// Run: xvfb-run -a npx vitest run test/kernels/layernorm.test.ts

import { describe, expect, it } from 'vitest';
import { contiguousStrides, sizeOf } from '../../src/tensor/backend.js';
import { RefBackend } from '../../src/tensor/backends/ref.js';
import { assertClose, TOL } from '../util/close.js';
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

/** The kernel each device runs on contiguous float32 rows of length H. */
function kernelFor(name: DeviceName, H: number): string {
  if (name === 'cpu') return 'wasm.layernorm';
  if (name === 'webgpu') return H <= 256 ? 'layernorm_narrow' : 'layernorm';
  return 'layernorm';
}

describe.each(DEVICES)('layernorm on %s', (name) => {
  const d = useDevice(name);

  it('rows over the sweep, eps 1e-12 and 1e-5, an offset mean; out, mean and rstd', async () => {
    const rnd = uniform(-3, 3, 18);
    for (const H of SWEEP) {
      for (const eps of [1e-12, 1e-5]) {
        // an offset mean (x in [-1, 5)), so the two-pass variance is exercised
        const x = d.view(
          d.pair(
            'float32',
            Array.from({ length: 6 * H }, () => rnd() + 2),
          ),
          [2, 3, H],
        );
        const w = d.randomView([H], rnd);
        const b = d.randomView([H], rnd);
        const [out, outPair] = d.output([2, 3, H]);
        const [mean, meanPair] = d.output([2, 3, 1]);
        const [rstd, rstdPair] = d.output([2, 3, 1]);
        d.ran(kernelFor(name, H), () => d.backend.layernorm(x.g, w.g, b.g, eps, out.g, mean.g, rstd.g));
        d.ref.layernorm(x.r, w.r, b.r, eps, out.r, mean.r, rstd.r);
        const tol = tolerance('float32', H);
        await d.expectSame(outPair, tol, `layernorm H=${H} eps=${eps} out`);
        await d.expectSame(meanPair, tol, `layernorm H=${H} mean`);
        // H = 1: variance 0, rstd = 1/sqrt(eps) (1e6 for eps 1e-12): a relative check
        await d.expectSame(rstdPair, tol, `layernorm H=${H} rstd`);
        // the same rows with weight and bias read with stride 2 (cpu: the reference code runs)
        const ws = d.view(d.pair('float32', Array.from({ length: 2 * H }, rnd)), [H], [2], 1);
        const bs = d.view(d.pair('float32', Array.from({ length: 2 * H }, rnd)), [H], [2]);
        d.backend.layernorm(x.g, ws.g, bs.g, eps, out.g, mean.g, rstd.g);
        d.ref.layernorm(x.r, ws.r, bs.r, eps, out.r, mean.r, rstd.r);
        await d.expectSame(outPair, tol, `layernorm H=${H} eps=${eps} strided weight and bias`);
        d.freeAll();
      }
    }
  });

  it('strided views: weight and bias read with stride 2, x transposed (the normalised axis strided)', async () => {
    const rnd = uniform(-3, 3, 19);
    for (const H of [65, 300]) {
      const w = d.view(d.pair('float32', Array.from({ length: 2 * H }, rnd)), [H], [2], 1);
      const b = d.view(d.pair('float32', Array.from({ length: 2 * H }, rnd)), [H], [2]);
      // x [7, H] read from a [H, 7] buffer
      const xt = d.view(d.pair('float32', Array.from({ length: H * 7 }, rnd)), [7, H], [1, 7]);
      const [out, outPair] = d.output([7, H]);
      const [mean, meanPair] = d.output([7, 1]);
      const [rstd, rstdPair] = d.output([7, 1]);
      d.backend.layernorm(xt.g, w.g, b.g, 1e-12, out.g, mean.g, rstd.g);
      d.ref.layernorm(xt.r, w.r, b.r, 1e-12, out.r, mean.r, rstd.r);
      const tol = tolerance('float32', H);
      await d.expectSame(outPair, tol, `layernorm transposed H=${H} out`);
      await d.expectSame(meanPair, tol, `layernorm transposed H=${H} mean`);
      await d.expectSame(rstdPair, tol, `layernorm transposed H=${H} rstd`);
      d.freeAll();
    }
  });

  it('rows of 200,003 (gpujs: past the 65,535 loop iterations llvmpipe runs per thread, kernels/gpujs/reduce.ts)', async () => {
    const H = 200003;
    const rnd = uniform(-3, 3, 21);
    const x = d.view(
      d.pair(
        'float32',
        Array.from({ length: 2 * H }, () => rnd() + 2),
      ),
      [2, H],
    );
    const w = d.randomView([H], rnd);
    const b = d.randomView([H], rnd);
    const [out, outPair] = d.output([2, H]);
    const [mean, meanPair] = d.output([2, 1]);
    const [rstd, rstdPair] = d.output([2, 1]);
    d.ran(kernelFor(name, H), () => d.backend.layernorm(x.g, w.g, b.g, 1e-5, out.g, mean.g, rstd.g));
    d.ref.layernorm(x.r, w.r, b.r, 1e-5, out.r, mean.r, rstd.r);
    const tol = tolerance('float32', H);
    await d.expectSame(outPair, tol, `layernorm H=${H} out`);
    await d.expectSame(meanPair, tol, `layernorm H=${H} mean`);
    await d.expectSame(rstdPair, tol, `layernorm H=${H} rstd`);
    d.freeAll();
  });

  it('float64 where the device stores it (cpu-ref, cpu), refused with a message elsewhere', async () => {
    if (!d.supports('float64')) {
      expect(() => d.backend.alloc('float64', 4)).toThrow(/float64|f64/);
      return;
    }
    const [R, H] = [5, 33];
    const rnd = uniform(-2, 2, 20);
    const mk = (n: number) => {
      const buf = d.backend.alloc('float64', n);
      d.backend.write(buf, 'float64', Array.from({ length: n }, rnd));
      return buf;
    };
    const v = (buf: unknown, shape: number[]) => ({
      buf,
      dtype: 'float64' as const,
      shape,
      strides: contiguousStrides(shape),
      offset: 0,
    });
    const [x, w, b, out, mean, rstd] = [mk(R * H), mk(H), mk(H), mk(R * H), mk(R), mk(R)];
    d.backend.layernorm(v(x, [R, H]), v(w, [H]), v(b, [H]), 1e-5, v(out, [R, H]), v(mean, [R]), v(rstd, [R]));
    const xs = await d.backend.read(x, 'float64', 0, R * H);
    const ws = await d.backend.read(w, 'float64', 0, H);
    const bs = await d.backend.read(b, 'float64', 0, H);
    assertClose(
      await d.backend.read(out, 'float64', 0, R * H),
      layerNormFormula(xs, ws, bs, R, H, 1e-5).out,
      tolerance('float64'),
      'float64 out',
    );
    for (const buf of [x, w, b, out, mean, rstd]) d.backend.free(buf);
  });
});

/** The formula in float64, two-pass: mean, then the mean of squared deviations. */
function layerNormFormula(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  R: number,
  H: number,
  eps: number,
) {
  const out = new Float64Array(R * H);
  const mean = new Float64Array(R);
  const rstd = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let h = 0; h < H; h++) s += x[r * H + h];
    mean[r] = s / H;
    let q = 0;
    for (let h = 0; h < H; h++) q += (x[r * H + h] - mean[r]) ** 2;
    rstd[r] = 1 / Math.sqrt(q / H + eps);
    for (let h = 0; h < H; h++) out[r * H + h] = (x[r * H + h] - mean[r]) * rstd[r] * w[h] + b[h];
  }
  return { out, mean, rstd };
}

withDevice('cpu-ref', () => {
  describe('layernorm oracle: cpu-ref against the formula', () => {
    it('float64, rows of 1, 64 and 4097', () => {
      const ref = new RefBackend();
      for (const H of [1, 64, 4097]) {
        const R = 3;
        const x = Array.from({ length: R * H }, uniform(-3, 5, H));
        const w = Array.from({ length: H }, uniform(0.5, 1.5, 1));
        const b = Array.from({ length: H }, uniform(-1, 1, 2));
        const buf = (data: number[]) => {
          const t = ref.alloc('float64', data.length);
          ref.write(t, 'float64', data);
          return t;
        };
        const v = (t: ReturnType<typeof buf>, shape: number[]) => ({
          buf: t,
          dtype: 'float64' as const,
          shape,
          strides: contiguousStrides(shape),
          offset: 0,
        });
        const [out, mean, rstd] = [buf(new Array(R * H).fill(0)), buf([0, 0, 0]), buf([0, 0, 0])];
        ref.layernorm(
          v(buf(x), [R, H]),
          v(buf(w), [H]),
          v(buf(b), [H]),
          1e-12,
          v(out, [R, H]),
          v(mean, [R]),
          v(rstd, [R]),
        );
        const want = layerNormFormula(x, w, b, R, H, 1e-12);
        assertClose(ref.readSync(out, 'float64', 0, R * H), want.out, TOL.f64, `out H=${H}`);
        assertClose(ref.readSync(mean, 'float64', 0, R), want.mean, TOL.f64, `mean H=${H}`);
        assertClose(ref.readSync(rstd, 'float64', 0, R), want.rstd, TOL.f64, `rstd H=${H}`);
      }
    });
  });
});

withDevice('cpu', () => {
  describe('layernorm on cpu: 1 and 2 threads, against a float64 reference', () => {
    useCpuThreads();

    it('matches the reference (out, mean, rstd) over row lengths 1, 63, 64, 65, 4097, bit-identical across thread counts', () => {
      let seed = 3000;
      for (const shape of ROW_SHAPES) {
        const n = sizeOf(shape);
        const H = shape[shape.length - 1];
        const rows = n / H;
        // an offset mean, so the two-pass variance is exercised
        const x = randomF32(n, seed++, 3).map((v) => v + 2);
        const w = randomF32(H, seed++);
        const b = randomF32(H, seed++);
        const eps = 1e-12;
        const rOut = ref64.alloc('float64', n);
        const rMean = ref64.alloc('float64', rows);
        const rRstd = ref64.alloc('float64', rows);
        ref64.layernorm(
          view(refBuffer(x), 'float64', shape),
          view(refBuffer(w), 'float64', [H]),
          view(refBuffer(b), 'float64', [H]),
          eps,
          view(rOut, 'float64', shape),
          view(rMean, 'float64', [rows]),
          view(rRstd, 'float64', [rows]),
        );
        const results: ArrayLike<number>[] = [];
        for (const cpu of [cpu1, cpu2]) {
          const out = cpu.alloc('float32', n);
          const mean = cpu.alloc('float32', rows);
          const rstd = cpu.alloc('float32', rows);
          cpu.layernorm(
            view(cpuBuffer(cpu, x), 'float32', shape),
            view(cpuBuffer(cpu, w), 'float32', [H]),
            view(cpuBuffer(cpu, b), 'float32', [H]),
            eps,
            view(out, 'float32', shape),
            view(mean, 'float32', [rows]),
            view(rstd, 'float32', [rows]),
          );
          const label = `layernorm [${shape}] threads ${cpu.getThreads()}`;
          expect(cpu.lastKernel, label).toBe('wasm.layernorm');
          expect(cpu.lastThreads, label).toBe(chunkedThreads(cpu, rows, H));
          const got = readCpu(cpu, out, n);
          assertClose(got, readRef(rOut, n), rowTol, `${label} out`);
          assertClose(readCpu(cpu, mean, rows), readRef(rMean, rows), rowTol, `${label} mean`);
          // H = 1: variance 0, rstd = 1/sqrt(eps) = 1e6, still relative
          assertClose(readCpu(cpu, rstd, rows), readRef(rRstd, rows), rowTol, `${label} rstd`);
          results.push(got);
        }
        expectBitIdentical(results[0], results[1], `layernorm [${shape}]: 1 vs 2 threads`);
      }
    });
  });
});
