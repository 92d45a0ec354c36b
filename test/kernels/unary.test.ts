// The unary primitives on every device (src/tensor/backend.ts UNARY_OPS: neg, exp, log, sqrt,
// rsqrt, tanh, erf, gelu (exact erf form), gelu_grad, relu, sigmoid, abs, sign, softplus, recip,
// square, step), float32 and int32, contiguous, transposed and offset views, special values.
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/gelu.wat for gelu and gelu_grad
// on contiguous float32 (everything else runs the reference code); webgpu: kernels/wgsl/unary.wgsl
// and unary_int.wgsl (lib/unary_ops.wgsl, lib/math.wgsl); gpujs: kernels/gpujs/elementwise.ts
// (unaryKernel) with kernels/gpujs/math.ts.
// Run: xvfb-run -a npx vitest run test/kernels/unary.test.ts

import { describe, expect, it } from 'vitest';
import { UNARY_OPS, type UnaryOp } from '../../src/tensor/backend.js';
import { UNARY_FNS, erf } from '../../src/tensor/backends/ref.js';
import { type Tensor, randn, tensor } from '../../src/tensor/tensor.js';
import * as ops from '../../src/autograd/ops.js';
import { indices, oracleViews, rawGet } from '../util/oracle.js';
import { TOL, assertClose } from '../util/close.js';
import {
  chunkedThreads,
  cpu1,
  cpu2,
  cpuBuffer,
  expectBitIdentical,
  geluTol,
  randomF32,
  readCpu,
  readRef,
  ref,
  refBuffer,
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { erfcLarge } from '../util/erfc.js';
import { integers, uniform } from '../util/random.js';
import { DEVICES, type DeviceName, EXACT, SWEEP, tolerance, useDevice, withDevice } from './harness.js';

/** The kernel each device runs for op on contiguous float32 (or int32) input. */
function kernelFor(name: DeviceName, op: UnaryOp, dtype: 'float32' | 'int32' = 'float32'): string {
  if (name === 'cpu') return dtype === 'float32' && (op === 'gelu' || op === 'gelu_grad') ? 'wasm.gelu' : `unary.${op}`;
  if (name === 'webgpu') return dtype === 'int32' ? `unary_int[OP=${op}]` : `unary[OP=${op}]`;
  return `unary.${op}`;
}

/** Inputs inside each op's domain (log, sqrt, rsqrt, recip: positive). */
function unaryInput(op: UnaryOp, seed: number): () => number {
  if (['log', 'sqrt', 'rsqrt', 'recip'].includes(op)) return uniform(0.05, 20, seed);
  if (op === 'exp') return uniform(-20, 20, seed);
  return uniform(-8, 8, seed);
}

/** More than 65535 workgroups of 256 invocations: webgpu's 2-D grid and grid-stride loops. */
const LARGE = 65537 * 256 + 3;

describe.each(DEVICES)('unary on %s', (name) => {
  const d = useDevice(name);

  it('every op on float32 over the sweep, a transposed view and a view at an offset', async () => {
    for (const op of UNARY_OPS) {
      for (const n of SWEEP) {
        const x = d.randomView([n], unaryInput(op, n));
        const [out, outPair] = d.output([n]);
        d.ran(kernelFor(name, op), () => d.backend.unary(op, x.g, out.g));
        d.ref.unary(op, x.r, out.r);
        await d.expectSame(outPair, tolerance('float32'), `${op} n=${n}`);
      }
      // [65, 63] read through a transpose of a [63, 65] buffer, and a view at offset 5
      const src = d.pair('float32', Array.from({ length: 63 * 65 + 5 }, unaryInput(op, 7)));
      const [out, outPair] = d.output([65, 63]);
      d.backend.unary(op, d.view(src, [65, 63], [1, 65]).g, out.g);
      d.ref.unary(op, d.view(src, [65, 63], [1, 65]).r, out.r);
      await d.expectSame(outPair, tolerance('float32'), `${op} transposed`);
      const [out2, out2Pair] = d.output([3, 7]);
      d.backend.unary(op, d.view(src, [3, 7], [7, 1], 5).g, out2.g);
      d.ref.unary(op, d.view(src, [3, 7], [7, 1], 5).r, out2.r);
      await d.expectSame(out2Pair, tolerance('float32'), `${op} offset`);
      d.freeAll();
    }
  });

  it('special values (±0, ±inf, NaN, domain edges)', async () => {
    const special = [0, -0, Infinity, -Infinity, NaN, -1, 1e-30, -1e-30, 88, -88, 1e30, -1e30, 0.927734375, -0.93];
    for (const op of UNARY_OPS) {
      const x = d.view(d.pair('float32', special), [special.length]);
      const [out, outPair] = d.output([special.length]);
      d.backend.unary(op, x.g, out.g);
      d.ref.unary(op, x.r, out.r);
      await d.expectSame(outPair, tolerance('float32'), `${op} special values`);
    }
    d.freeAll();
  });

  it('erf, gelu and gelu_grad: erf within 1e-6 absolute over [-12, 12], gelu tails relative', async () => {
    const n = 24001;
    const xs = Array.from({ length: n }, (_, i) => -12 + (24 * i) / (n - 1));
    const xf = new Float32Array(xs);
    const x = d.view(d.pair('float32', xs), [n]);
    const [out, outPair] = d.output([n]);
    d.backend.unary('erf', x.g, out.g);
    const got = await d.backend.read(outPair.g, 'float32', 0, n);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] - erf(xf[i])));
    expect(worst).toBeLessThan(1e-6);
    // over [-12, 12] against the reference with a tight absolute floor: a tanh-style gelu
    // approximation misses this by about 1e-3
    const wide = Array.from({ length: 64 }, (_, i) => -12 + i * 0.375);
    for (const op of ['erf', 'gelu', 'gelu_grad'] as const) {
      const xw = d.view(d.pair('float32', wide), [wide.length]);
      const [o, oPair] = d.output([wide.length]);
      d.backend.unary(op, xw.g, o.g);
      d.ref.unary(op, xw.r, o.r);
      await d.expectSame(oPair, { atol: 1e-7, rtol: 2e-5 }, `${op} over [-12, 12]`);
    }
    // the left tail relatively, where gelu is below 1e-3 and down to 1e-35 (1 + erf(x/√2) cancels
    // there), against Φ from erfc's continued fraction; cpu-ref takes Φ from its own erfc and is held
    // to the same bound.
    const tail = Array.from({ length: 96 }, (_, i) => Math.fround(-3 - i * 0.1));
    const xt = d.view(d.pair('float32', tail), [tail.length]);
    for (const op of ['gelu', 'gelu_grad'] as const) {
      const [o, oPair] = d.output([tail.length]);
      d.backend.unary(op, xt.g, o.g);
      const expected = tail.map((v) => {
        const cdf = 0.5 * erfcLarge(-v / Math.SQRT2);
        return op === 'gelu' ? v * cdf : cdf + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
      });
      // float32 exp of arguments down to -80 carries a few ulp of relative error
      assertClose(
        await d.backend.read(oPair.g, 'float32', 0, tail.length),
        expected,
        { atol: 0, rtol: 2e-5 },
        `${op} left tail`,
      );
    }
    d.freeAll();
  });

  it('every op on int32, exact', async () => {
    const exact = new Set(['neg', 'abs', 'sign', 'relu', 'step', 'square']);
    for (const op of UNARY_OPS) {
      // float ops on ints: small inputs, where the f32 result truncates like the float64 one
      const rnd = exact.has(op) ? integers(-4000, 4000, 4) : integers(-3, 3, 4);
      const x = d.randomView([257], rnd, 'int32');
      const [out, outPair] = d.output([257], 'int32');
      d.ran(kernelFor(name, op, 'int32'), () => d.backend.unary(op, x.g, out.g));
      d.ref.unary(op, x.r, out.r);
      await d.expectSame(outPair, EXACT, `int32 ${op}`);
    }
    d.freeAll();
  });
});

withDevice('cpu-ref', () => {
  describe('unary oracle: cpu-ref against element-by-element evaluation (float64)', () => {
    for (const [label, a] of oracleViews()) {
      it(`every op on ${label}`, () => {
        for (const op of UNARY_OPS) {
          const fn = (ops as unknown as Record<string, (p: Tensor) => Tensor>)[op === 'gelu_grad' ? 'geluGrad' : op];
          const y = fn(a);
          const expected = indices(y.shape).map((i) => UNARY_FNS[op](rawGet(a, i)));
          assertClose(y.toArray(), expected, TOL.f64, `${op} on ${label}`);
        }
      });
    }

    it('0-d tensors and size-0 dims', () => {
      const s = tensor(3, { dtype: 'float64', device: 'cpu-ref' });
      expect(s.shape).toEqual([]);
      expect(s.add(tensor(4, { dtype: 'float64', device: 'cpu-ref' })).item()).toBe(7);
      const e = randn([2, 0, 3], { dtype: 'float64', device: 'cpu-ref' });
      expect(e.exp().size).toBe(0);
      expect(e.sum(1).toArray().length).toBe(6);
    });

    it('erf matches reference values to double precision', () => {
      // erf values from Abramowitz & Stegun table 7.1 / high-precision sources
      const known: Array<[number, number]> = [
        [0, 0],
        [0.1, 0.1124629160182849],
        [0.5, 0.5204998778130465],
        [1, 0.8427007929497149],
        [2, 0.9953222650189527],
        [3, 0.9999779095030014],
        [-1.5, -0.9661051464753108],
        [5.9, 0.9999999999999999],
      ];
      for (const [x, v] of known) expect(Math.abs(erf(x) - v)).toBeLessThanOrEqual(4.5e-16); // ≤ 2 ulp near 1
    });
  });
});

withDevice('webgpu', () => {
  describe('unary on webgpu: transcendental accuracy and more than 65535 workgroups', () => {
    const d = useDevice('webgpu');

    it('every op on float32 within a few ulps of the reference (atol 1e-6, rtol 2e-6)', async () => {
      // domains keep log/sqrt/rsqrt/recip away from their poles
      const positive = new Set(['log', 'sqrt', 'rsqrt']);
      for (const op of UNARY_OPS) {
        const rnd = positive.has(op) ? uniform(0.01, 20, 2) : op === 'recip' ? uniform(0.1, 4, 2) : uniform(-9, 9, 2);
        const x = d.randomView([4097], rnd);
        const [out, outPair] = d.output([4097]);
        d.backend.unary(op, x.g, out.g);
        d.ref.unary(op, x.r, out.r);
        await d.expectSame(outPair, { atol: 1e-6, rtol: 2e-6 }, `${op}`);
        d.freeAll();
      }
    });

    it(`sigmoid over n = ${LARGE}`, async () => {
      const x = d.randomView([LARGE], uniform(-5, 5, 3));
      const [out, outPair] = d.output([LARGE]);
      d.ran('unary[OP=sigmoid]', () => d.backend.unary('sigmoid', x.g, out.g));
      d.ref.unary('sigmoid', x.r, out.r);
      await d.expectSame(outPair, TOL.f32, 'sigmoid large');
      d.freeAll();
    });
  });
});

withDevice('cpu', () => {
  describe('unary on cpu: gelu and gelu_grad (wasm.gelu) on 1 and 2 threads, fallbacks', () => {
    useCpuThreads();
    it('match the exact-erf reference on a grid over [-12, 12], random values and special values', () => {
      const grid = Array.from({ length: 4801 }, (_, i) => -12 + i * 0.005);
      const special = [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 30, -30, 87, -87, 100, -100, NaN];
      const values = Float32Array.from([...grid, ...special, ...randomF32(4097, 4000, 6)]);
      const n = values.length;
      for (const op of ['gelu', 'gelu_grad'] as const) {
        const out = ref.alloc('float64', n);
        ref.unary(op, view(refBuffer(values), 'float64', [n]), view(out, 'float64', [n]));
        const expected = readRef(out, n);
        const results: ArrayLike<number>[] = [];
        for (const cpu of [cpu1, cpu2]) {
          const o = cpu.alloc('float32', n);
          cpu.unary(op, view(cpuBuffer(cpu, values), 'float32', [n]), view(o, 'float32', [n]));
          const label = `${op} threads ${cpu.getThreads()}`;
          expect(cpu.lastKernel, label).toBe('wasm.gelu');
          expect(cpu.lastThreads, label).toBe(chunkedThreads(cpu, n, 1));
          const got = readCpu(cpu, o, n);
          assertClose(got, expected, geluTol, label);
          results.push(got);
        }
        expectBitIdentical(results[0], results[1], `${op}: 1 vs 2 threads`);
      }
    });

    it('lengths 1, 63, 64, 65, 4097 (vector tails), and other unary ops fall back', () => {
      for (const n of [1, 63, 64, 65, 4097]) {
        const x = randomF32(n, 4100 + n, 4);
        const out = ref.alloc('float64', n);
        ref.unary('gelu', view(refBuffer(x), 'float64', [n]), view(out, 'float64', [n]));
        const o = cpu2.alloc('float32', n);
        cpu2.unary('gelu', view(cpuBuffer(cpu2, x), 'float32', [n]), view(o, 'float32', [n]));
        expect(cpu2.lastKernel).toBe('wasm.gelu');
        assertClose(readCpu(cpu2, o, n), readRef(out, n), geluTol, `gelu n=${n}`);
      }
      const x = randomF32(10, 4200);
      const o = cpu2.alloc('float32', 10);
      cpu2.unary('tanh', view(cpuBuffer(cpu2, x), 'float32', [10]), view(o, 'float32', [10]));
      expect(cpu2.lastKernel).toBe('ref.unary.tanh');
      assertClose(readCpu(cpu2, o, 10), Array.from(x, Math.tanh), TOL.f32, 'tanh fallback');
    });
  });
});
