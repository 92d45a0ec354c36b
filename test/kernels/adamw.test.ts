// adamw on every device: in place on p, m, v given the gradient g (decoupled weight decay):
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g²,  p -= lr (m / bc1) / (sqrt(v / bc2) + eps) + lr wd p
// with bc = 1 - b^step (src/tensor/backends/ref.ts adamwScalar is the formula in float64).
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/adamw.wat (contiguous float32,
// bit-identical to the reference); webgpu: kernels/wgsl/adamw.wgsl; gpujs: kernels/gpujs/adamw.ts.
// Run: xvfb-run -a npx vitest run test/kernels/adamw.test.ts

import { describe, expect, it } from 'vitest';
import type { AdamWParams } from '../../src/tensor/backend.js';
import {
  chunkedThreads,
  cpu1,
  cpu2,
  cpuBuffer,
  expectBitIdentical,
  randomF32,
  readCpu,
  ref,
  refF32,
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { uniform } from '../util/random.js';
import { DEVICES, type DeviceName, SWEEP, tolerance, useDevice, withDevice } from './harness.js';

/** The kernel each device runs for contiguous float32 p, g, m, v. */
function kernelFor(name: DeviceName): string {
  if (name === 'cpu') return 'wasm.adamw';
  if (name === 'gpujs') return 'adamw.p';
  return 'adamw';
}

describe.each(DEVICES)('adamw on %s', (name) => {
  const d = useDevice(name);

  it('in place over three steps, over the sweep and a long vector', async () => {
    const rnd = uniform(-1, 1, 25);
    for (const n of [...SWEEP, 100003]) {
      const p = d.pair('float32', Array.from({ length: n }, rnd));
      const m = d.zeros('float32', n);
      const v = d.zeros('float32', n);
      for (let step = 1; step <= 3; step++) {
        const g = d.randomView([n], rnd);
        const h: AdamWParams = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step };
        d.ran(kernelFor(name), () => d.backend.adamw(d.view(p, [n]).g, g.g, d.view(m, [n]).g, d.view(v, [n]).g, h));
        d.ref.adamw(d.view(p, [n]).r, g.r, d.view(m, [n]).r, d.view(v, [n]).r, h);
      }
      await d.expectSame(p, tolerance('float32'), `adamw p n=${n}`);
      await d.expectSame(m, tolerance('float32'), `adamw m n=${n}`);
      await d.expectSame(v, tolerance('float32'), `adamw v n=${n}`);
      d.freeAll();
    }
  });

  it('a transposed gradient, a gradient read with stride 2, a parameter view at an offset', async () => {
    const rnd = uniform(-1, 1, 26);
    const pStore = d.pair('float32', Array.from({ length: 63 * 65 }, rnd));
    const gStore = d.pair('float32', Array.from({ length: 63 * 65 }, rnd));
    const g = d.view(gStore, [63, 65], [1, 63]);
    const m = d.zeros('float32', 63 * 65);
    const v = d.zeros('float32', 63 * 65);
    const h: AdamWParams = { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, step: 7 };
    d.backend.adamw(d.view(pStore, [63, 65]).g, g.g, d.view(m, [63, 65]).g, d.view(v, [63, 65]).g, h);
    d.ref.adamw(d.view(pStore, [63, 65]).r, g.r, d.view(m, [63, 65]).r, d.view(v, [63, 65]).r, h);
    await d.expectSame(pStore, tolerance('float32'), 'adamw transposed g: p');
    await d.expectSame(v, tolerance('float32'), 'adamw transposed g: v');
    const n = 4097;
    const p2 = d.pair('float32', Array.from({ length: n + 3 }, rnd));
    const g2 = d.pair('float32', Array.from({ length: 2 * n }, rnd));
    const [m2, v2] = [d.zeros('float32', n), d.zeros('float32', n)];
    for (let step = 1; step <= 3; step++) {
      const hs: AdamWParams = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step };
      d.backend.adamw(d.view(p2, [n], [1], 3).g, d.view(g2, [n], [2]).g, d.view(m2, [n]).g, d.view(v2, [n]).g, hs);
      d.ref.adamw(d.view(p2, [n], [1], 3).r, d.view(g2, [n], [2]).r, d.view(m2, [n]).r, d.view(v2, [n]).r, hs);
      await d.expectSame(p2, tolerance('float32'), `adamw offset p, strided g, step ${step}`);
      await d.expectSame(m2, tolerance('float32'), `adamw m step ${step}`);
    }
    d.freeAll();
  });
});

withDevice('cpu', () => {
  describe('adamw on cpu: wasm.adamw on 1 and 2 threads, bit for bit, fallbacks', () => {
    useCpuThreads();
    const settings: AdamWParams[] = [
      { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 },
      { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0, step: 2 },
      { lr: 3e-2, beta1: 0.8, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1000 },
    ];

    it('equals adamwScalar bit for bit for lengths 1, 63, 64, 65, 4097, 1 and 2 threads', () => {
      let seed = 9500;
      for (const n of [1, 63, 64, 65, 4097]) {
        const p = randomF32(n, seed++);
        const g = randomF32(n, seed++, 0.1);
        const m = randomF32(n, seed++, 0.01);
        const v = randomF32(n, seed++, 1e-4).map(Math.abs);
        for (const h of settings) {
          const [rp, rg, rm, rv] = [p, g, m, v].map((x) => refF32(x));
          ref.adamw(
            view(rp, 'float32', [n]),
            view(rg, 'float32', [n]),
            view(rm, 'float32', [n]),
            view(rv, 'float32', [n]),
            h,
          );
          for (const cpu of [cpu1, cpu2]) {
            const bufs = [p, g, m, v].map((x) => cpuBuffer(cpu, x));
            const [vp, vg, vm, vv] = bufs.map((b) => view(b, 'float32', [n]));
            cpu.adamw(vp, vg, vm, vv, h);
            const label = `adamw n=${n} step ${h.step} threads ${cpu.getThreads()}`;
            expect(cpu.lastKernel, label).toBe('wasm.adamw');
            expect(cpu.lastThreads, label).toBe(chunkedThreads(cpu, n, 1));
            expectBitIdentical(readCpu(cpu, bufs[0], n), rp.data, `${label} p`);
            expectBitIdentical(readCpu(cpu, bufs[2], n), rm.data, `${label} m`);
            expectBitIdentical(readCpu(cpu, bufs[3], n), rv.data, `${label} v`);
            expectBitIdentical(readCpu(cpu, bufs[1], n), g, `${label} g unchanged`);
          }
        }
      }
    });

    it('a strided gradient falls back to the reference kernel', () => {
      const n = 12;
      const h = settings[0];
      const [p, m, v] = [randomF32(n, 9600), randomF32(n, 9601, 0.01), randomF32(n, 9602, 1e-4).map(Math.abs)];
      const g = randomF32(n, 9603);
      const [rp, rm, rv] = [p, m, v].map((x) => refF32(x));
      ref.adamw(
        view(rp, 'float32', [3, 4]),
        view(refF32(g), 'float32', [3, 4], [1, 3]),
        view(rm, 'float32', [3, 4]),
        view(rv, 'float32', [3, 4]),
        h,
      );
      const [cp, cm, cv] = [p, m, v].map((x) => cpuBuffer(cpu2, x));
      cpu2.adamw(
        view(cp, 'float32', [3, 4]),
        view(cpuBuffer(cpu2, g), 'float32', [3, 4], [1, 3]),
        view(cm, 'float32', [3, 4]),
        view(cv, 'float32', [3, 4]),
        h,
      );
      expect(cpu2.lastKernel).toBe('ref.adamw');
      expectBitIdentical(readCpu(cpu2, cp, n), rp.data, 'strided g: p');
    });
  });
});
