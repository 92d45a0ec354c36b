// The webgpu backend itself, not its kernels: the adapter it found, its memory (alloc, free, live
// buffers, float64 refused, the guards), and that it frees what it allocates and compiles a bounded
// set of pipelines. Every primitive's kernels are tested over every device, webgpu included, in
// test/kernels/<primitive>.test.ts.
// There is no skip: without a WebGPU adapter `WebGPUBackend.create()` throws and every test fails.
// Run: npx vitest run test/webgpu-backend.test.ts

import { beforeEach, describe, expect, it } from 'vitest';
import { BINARY_OPS, UNARY_OPS, type AdamWParams, hashUniform, sizeOf } from '../src/tensor/backend.js';
import { RefBackend, erf } from '../src/tensor/backends/ref.js';
import { WebGPUBackend } from '../src/tensor/backends/webgpu/index.js';
import { TOL, type Tolerance } from './util/close.js';
import { expectMemoryGuards } from './util/device-memory.js';
import { erfcLarge } from './util/erfc.js';
import { pairedBuffers } from './util/paired.js';
import { integers, uniform } from './util/random.js';

let gpu: WebGPUBackend;
let starting: Promise<WebGPUBackend> | undefined;
const ref = new RefBackend();

// In beforeEach (not beforeAll) so that a missing adapter fails every test rather than skipping it.
beforeEach(async () => {
  starting ??= WebGPUBackend.create();
  gpu = await starting;
});

// paired buffers: the same data on both backends (test/util/paired.ts)
const { pair, zeros, view, randomView, expectSame, freeAll, ran } = pairedBuffers(() => gpu, ref, 'pipeline');

/** Override for data movement, integer kernels, rand and scatterAdd: they must match bit for bit. */
const EXACT: Tolerance = { atol: 0, rtol: 0 };

const SIZES = [1, 63, 64, 65, 4097];
/** Row lengths: up to 256 run the one-invocation-per-row kernels, longer ones a workgroup per row. */
const ROW_SIZES = [1, 63, 64, 65, 256, 257, 4097];
/** More than 65535 workgroups of 256 invocations: exercises the 2-D grid and grid-stride loops. */
const LARGE = 65537 * 256 + 3;

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
