// fill on every device: out = value at every element of a contiguous view (int32 stores the
// value truncated toward zero, as the reference does).
// Kernels: cpu-ref and cpu: src/tensor/backends/ref.ts; webgpu: kernels/wgsl/fill.wgsl; gpujs:
// kernels/gpujs/elementwise.ts (fillKernel).
// Run: xvfb-run -a npx vitest run test/kernels/fill.test.ts

import { describe, it } from 'vitest';
import { DEVICES, EXACT, type KernelNames, SWEEP, useDevice, withDevice } from './harness.js';

const FILL: KernelNames = { 'cpu-ref': 'fill', cpu: 'fill', webgpu: 'fill[T=f32]', gpujs: 'fill' };
/** More than 65535 workgroups of 256 invocations: webgpu's 2-D grid and grid-stride loops. */
const LARGE = 65537 * 256 + 3;

describe.each(DEVICES)('fill on %s', (name) => {
  const d = useDevice(name);

  it('float32 over the sweep, in a view at an offset and over whole buffers, finite and infinite values', async () => {
    for (const n of SWEEP) {
      const p = d.zeros('float32', n + 5);
      d.ran(FILL[name], () => d.backend.fill(d.view(p, [n], [1], 3).g, -2.5));
      d.ref.fill(d.view(p, [n], [1], 3).r, -2.5);
      await d.expectSame(p, EXACT, `fill n=${n}`);
      d.backend.fill(d.view(p, [n + 5]).g, Infinity);
      d.ref.fill(d.view(p, [n + 5]).r, Infinity);
      await d.expectSame(p, EXACT, `fill inf n=${n}`);
      d.freeAll();
    }
  });

  it('int32, a [5, 13] view at an offset: the value truncated', async () => {
    const q = d.zeros('int32', 70);
    d.backend.fill(d.view(q, [5, 13], [13, 1], 2).g, 3.7);
    d.ref.fill(d.view(q, [5, 13], [13, 1], 2).r, 3.7);
    await d.expectSame(q, EXACT, 'fill i32');
    d.freeAll();
  });
});

withDevice('webgpu', () => {
  describe('fill on webgpu: more than 65535 workgroups', () => {
    const d = useDevice('webgpu');

    it(`n = ${LARGE}`, async () => {
      const p = d.zeros('float32', LARGE + 5);
      d.ran('fill[T=f32]', () => d.backend.fill(d.view(p, [LARGE], [1], 3).g, -2.5));
      d.ref.fill(d.view(p, [LARGE], [1], 3).r, -2.5);
      await d.expectSame(p, EXACT, 'fill large');
      d.freeAll();
    });
  });
});
