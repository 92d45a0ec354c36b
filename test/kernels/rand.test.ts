// rand on every device: out[i] = hashUniform(seed, i) for contiguous element i of out, the
// counter-based hash of src/tensor/backend.ts (dropout masks are the same on every device).
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/rand.wat (float32; float64
// runs the reference code); webgpu: kernels/wgsl/rand.wgsl; gpujs: kernels/gpujs/rand.ts.
// The oracle is hashUniform itself: every device must equal it bit for bit.
// Run: xvfb-run -a npx vitest run test/kernels/rand.test.ts

import { describe, expect, it } from 'vitest';
import { hashUniform } from '../../src/tensor/backend.js';
import {
  chunkedThreads,
  cpu1,
  cpu2,
  expectBitIdentical,
  poisoned,
  readCpu,
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { DEVICES, type KernelNames, SWEEP, useDevice, withDevice } from './harness.js';

const RAND: KernelNames = { 'cpu-ref': 'rand', cpu: 'wasm.rand', webgpu: 'rand', gpujs: 'rand' };
const SEEDS = [0, 1, 42, 12345, 0x9e3779b9, 0xdeadbeef, 2 ** 32 - 1, -5];
/** More than 65535 workgroups of 256 invocations: webgpu's 2-D grid and grid-stride loops. */
const LARGE = 65537 * 256 + 3;

describe.each(DEVICES)('rand on %s', (name) => {
  const d = useDevice(name);

  it('equals hashUniform bit for bit over the sweep and several seeds, in a view at an offset', async () => {
    for (const seed of SEEDS) {
      for (const n of SWEEP) {
        // a view of n elements at offset 3 of its buffer: element i of the view is hashUniform(seed, i)
        const p = d.zeros('float32', n + 5);
        d.ran(RAND[name], () => d.backend.rand(seed, d.view(p, [n], [1], 3).g));
        const got = await d.backend.read(p.g, 'float32', 0, n + 5);
        const expected = [0, 0, 0, ...Array.from({ length: n }, (_, i) => Math.fround(hashUniform(seed, i))), 0, 0];
        expect(Array.from(got), `rand seed=${seed} n=${n}`).toEqual(expected);
        d.freeAll();
      }
    }
  });

  it('float64 where the device stores it', async () => {
    if (!d.supports('float64')) return;
    const o = d.backend.alloc('float64', 5);
    d.backend.rand(7, { buf: o, dtype: 'float64', shape: [5], strides: [1], offset: 0 });
    expect(Array.from(await d.backend.read(o, 'float64', 0, 5))).toEqual([0, 1, 2, 3, 4].map((i) => hashUniform(7, i)));
    d.backend.free(o);
  });
});

withDevice('webgpu', () => {
  describe('rand on webgpu: more than 65535 workgroups', () => {
    const d = useDevice('webgpu');

    it(`n = ${LARGE}, bit for bit`, async () => {
      const p = d.zeros('float32', LARGE);
      d.ran('rand', () => d.backend.rand(1, d.view(p, [LARGE]).g));
      const got = await d.backend.read(p.g, 'float32', 0, LARGE);
      let bad = -1;
      for (let i = 0; i < LARGE && bad < 0; i++) if (got[i] !== Math.fround(hashUniform(1, i))) bad = i;
      expect(bad, 'first element that differs').toBe(-1);
      d.freeAll();
    });
  });
});

withDevice('cpu', () => {
  describe('rand on cpu: wasm.rand on 1 and 2 threads, fallbacks', () => {
    useCpuThreads();
    it('equals hashUniform bit for bit for lengths 1, 63, 64, 65, 4097, several seeds, 1 and 2 threads', () => {
      for (const n of [1, 63, 64, 65, 4097]) {
        for (const seed of [0, 1, 12345, 0x9e3779b9, 0xffffffff]) {
          const expected = Float32Array.from({ length: n }, (_, i) => hashUniform(seed, i));
          for (const cpu of [cpu1, cpu2]) {
            // at an offset inside its buffer: element i of the view is hashUniform(seed, i)
            const o = poisoned(cpu, n + 3);
            cpu.rand(seed, view(o, 'float32', [n], [1], 3));
            const label = `rand n=${n} seed=${seed} threads ${cpu.getThreads()}`;
            expect(cpu.lastKernel, label).toBe('wasm.rand');
            expect(cpu.lastThreads, label).toBe(chunkedThreads(cpu, n, 1));
            expectBitIdentical(readCpu(cpu, o, n + 3).subarray(3), expected, label);
          }
        }
      }
    });

    it('float64 falls back to the reference kernel', () => {
      const o = cpu2.alloc('float64', 5);
      cpu2.rand(7, view(o, 'float64', [5]));
      expect(cpu2.lastKernel).toBe('ref.rand');
      expect(Array.from(readCpu(cpu2, o, 5, 'float64'))).toEqual([0, 1, 2, 3, 4].map((i) => hashUniform(7, i)));
    });
  });
});
