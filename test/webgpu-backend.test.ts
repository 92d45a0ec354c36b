// The webgpu backend itself, not its kernels: the adapter it found, its memory (alloc, free, live
// buffers, float64 refused, the guards), and that it frees what it allocates and compiles a bounded
// set of pipelines. Every primitive's kernels are tested over every device, webgpu included, in
// test/kernels/<primitive>.test.ts.
// There is no skip: without a WebGPU adapter `WebGPUBackend.create()` throws and every test fails.
// Run: npx vitest run test/webgpu-backend.test.ts

import { beforeEach, describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../src/tensor/backends/webgpu/index.js';
import { expectMemoryGuards } from './util/device-memory.js';

let gpu: WebGPUBackend;
let starting: Promise<WebGPUBackend> | undefined;

// In beforeEach (not beforeAll) so that a missing adapter fails every test rather than skipping it.
beforeEach(async () => {
  starting ??= WebGPUBackend.create();
  gpu = await starting;
});

// ---- tests ---------------------------------------------------------------------------------------

describe('webgpu backend', () => {
  it('has an adapter and reports which one', () => {
    const info = gpu.adapterInfo;
    console.log(`webgpu adapter: ${JSON.stringify(info)}`);
    expect(gpu.name).toBe('webgpu');
    expect(['native', 'opengles']).toContain(info.route);
    expect(info.device.length + info.description.length).toBeGreaterThan(0);
    if (info.route === 'opengles') {
      // the software fallback: Mesa llvmpipe behind Dawn's OpenGL ES backend
      expect(info.featureLevel).toBe('compatibility');
      expect(`${info.device} ${info.description}`).toMatch(/llvmpipe|Mesa/i);
    }
    expect(gpu.dtypes).toEqual(['float32', 'int32']);
  });

  it('memory: alloc/free/liveBuffers, float64 refused, write/read round trip', async () => {
    const before = gpu.liveBuffers();
    const a = gpu.alloc('float32', 10);
    const b = gpu.alloc('int32', 3);
    expect(gpu.liveBuffers()).toBe(before + 2);
    gpu.write(a, 'float32', [1.5, -2, 3], 4);
    expect(Array.from(await gpu.read(a, 'float32', 3, 3))).toEqual([0, 1.5, -2]);
    gpu.write(b, 'int32', [7, -8, 2147483647]);
    expect(Array.from(await gpu.read(b, 'int32', 0, 3))).toEqual([7, -8, 2147483647]);
    gpu.free(a);
    gpu.free(b);
    expect(gpu.liveBuffers()).toBe(before);
    await expectMemoryGuards(gpu, a);
  });

  it('frees every buffer it allocates and compiles a bounded set of pipelines', async () => {
    await gpu.sync();
    expect(gpu.liveBuffers()).toBe(0);
    console.log(`webgpu pipelines compiled: ${gpu.pipelineCount()}`);
    expect(gpu.pipelineCount()).toBeLessThan(120);
  });
});
