// matmul on every device: a [..., M, K] · b [..., K, N] -> [..., M, N], batch dims equal (broadcast
// batches arrive as stride-0 views), the last two dims of a and b of any strides (transposed).
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/matmul.wat with its micro-kernel
// kernels/wasm/matmul-micro(-fma).wat (float32, contiguous out; other cases run the reference
// code); webgpu: kernels/wgsl/matmul.wgsl (tiled) and matmul_direct.wgsl; gpujs:
// kernels/gpujs/matmul.ts.
// Run: xvfb-run -a npx vitest run test/kernels/matmul.test.ts

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type View, contiguousStrides } from '../../src/tensor/backend.js';
import type { CpuBackend, CpuBuffer } from '../../src/tensor/backends/cpu/index.js';
import { MATMUL_MICRO } from '../../src/tensor/backends/cpu/kernels.js';
import { RefBackend } from '../../src/tensor/backends/ref.js';
import type { WebGPUBackend } from '../../src/tensor/backends/webgpu/index.js';
import { TOL, assertClose } from '../util/close.js';
import {
  cpu1,
  cpu2,
  cpuBuffer,
  expectBitIdentical,
  matmulTol,
  randomF32,
  readCpu,
  refMatmul,
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { integers, uniform } from '../util/random.js';
import { DEVICES, type DeviceName, SMALL, tolerance, useDevice, withDevice } from './harness.js';

/** The kernel each device runs for a float32 matmul (webgpu: the variant selected). */
function kernelFor(name: DeviceName, webgpuKernel: 'tiled' | 'direct' = 'tiled'): string {
  if (name === 'cpu') return 'wasm.matmul';
  if (name === 'webgpu') return webgpuKernel === 'tiled' ? 'matmul[T=f32]' : 'matmul_direct';
  return 'matmul';
}

describe.each(DEVICES)('matmul on %s', (name) => {
  const d = useDevice(name);
  /** webgpu has two float32 kernels (tiled, and direct for the software adapter): both are swept. */
  const variants = name === 'webgpu' ? (['tiled', 'direct'] as const) : (['tiled'] as const);

  for (const variant of variants) {
    it(`M, K, N over {1, 63, 64, 65}, each operand row-major or transposed${name === 'webgpu' ? ` (${variant})` : ''}`, async () => {
      const webgpu = name === 'webgpu' ? (d.backend as unknown as WebGPUBackend) : null;
      const chosen = webgpu?.matmulKernel;
      if (webgpu) webgpu.matmulKernel = variant;
      const rnd = uniform(-1, 1, 14);
      for (const M of SMALL)
        for (const K of SMALL)
          for (const N of SMALL) {
            const aData = Array.from({ length: M * K }, rnd);
            const bData = Array.from({ length: K * N }, rnd);
            for (const [la, lb] of [
              [false, false],
              [true, false],
              [false, true],
              [true, true],
            ]) {
              // a transposed operand is stored [K, M] (resp. [N, K]) and viewed with swapped strides
              const a = la
                ? d.view(d.pair('float32', aData), [M, K], [1, M])
                : d.view(d.pair('float32', aData), [M, K]);
              const b = lb
                ? d.view(d.pair('float32', bData), [K, N], [1, K])
                : d.view(d.pair('float32', bData), [K, N]);
              const [out, outPair] = d.output([M, N]);
              d.ran(kernelFor(name, variant), () => d.backend.matmul(a.g, b.g, out.g));
              d.ref.matmul(a.r, b.r, out.r);
              await d.expectSame(outPair, tolerance('float32', K), `matmul ${M}x${K}x${N} aT=${la} bT=${lb}`);
              d.freeAll();
            }
          }
      if (webgpu) webgpu.matmulKernel = chosen!;
    });
  }

  it('one dimension 4097 at a time, and a long K (3000)', async () => {
    const rnd = uniform(-1, 1, 15);
    for (const [M, K, N] of [
      [4097, 65, 63],
      [63, 4097, 65],
      [65, 63, 4097],
      [17, 3000, 19],
      [1, 4097, 3],
      [3, 5, 4097],
    ]) {
      const a = d.randomView([M, K], rnd);
      const b = d.randomView([K, N], rnd);
      const [out, outPair] = d.output([M, N]);
      d.backend.matmul(a.g, b.g, out.g);
      d.ref.matmul(a.r, b.r, out.r);
      await d.expectSame(outPair, tolerance('float32', K), `matmul ${M}x${K}x${N}`);
      d.freeAll();
    }
  });

  it('batched: a broadcast batch (stride 0), both operands transposed, attention scores from interleaved heads', async () => {
    const rnd = uniform(-1, 1, 16);
    // [3, 2, M, K] x [3, 2, K, N] with b broadcast over the first batch dim
    {
      const [M, N, K] = [33, 65, 64];
      const a = d.randomView([3, 2, M, K], rnd);
      const b = d.view(d.pair('float32', Array.from({ length: 2 * K * N }, rnd)), [3, 2, K, N], [0, K * N, N, 1]);
      const [out, outPair] = d.output([3, 2, M, N]);
      d.backend.matmul(a.g, b.g, out.g);
      d.ref.matmul(a.r, b.r, out.r);
      await d.expectSame(outPair, tolerance('float32', K), 'matmul batched broadcast');
    }
    // [3, 17, 33] x [3, 33, 19], both transposed in their last two dims
    {
      const a = d.view(d.pair('float32', Array.from({ length: 3 * 33 * 17 }, rnd)), [3, 17, 33], [33 * 17, 1, 17]);
      const b = d.view(d.pair('float32', Array.from({ length: 3 * 19 * 33 }, rnd)), [3, 33, 19], [19 * 33, 1, 33]);
      const [out, outPair] = d.output([3, 17, 19]);
      d.backend.matmul(a.g, b.g, out.g);
      d.ref.matmul(a.r, b.r, out.r);
      await d.expectSame(outPair, tolerance('float32', 33), 'matmul batched, both transposed');
    }
    // attention: q [B, T, H, D] viewed as [B, H, T, D], times k^T viewed as [B, H, D, T]
    {
      const [B, T, H, D] = [2, 65, 3, 16];
      const q = d.pair('float32', Array.from({ length: B * T * H * D }, rnd));
      const k = d.pair('float32', Array.from({ length: B * T * H * D }, rnd));
      const qv = d.view(q, [B, H, T, D], [T * H * D, D, H * D, 1]);
      const kt = d.view(k, [B, H, D, T], [T * H * D, D, 1, H * D]);
      const [scores, scoresPair] = d.output([B, H, T, T]);
      d.backend.matmul(qv.g, kt.g, scores.g);
      d.ref.matmul(qv.r, kt.r, scores.r);
      await d.expectSame(scoresPair, tolerance('float32', D), 'matmul attention scores');
    }
    d.freeAll();
  });

  it('K = 0 gives zeros', async () => {
    const a = d.view(d.pair('float32', [0]), [3, 0]);
    const b = d.view(d.pair('float32', [0]), [0, 4]);
    const outPair = d.pair('float32', new Array(12).fill(7));
    d.backend.matmul(a.g, b.g, d.view(outPair, [3, 4]).g);
    expect(Array.from(await d.backend.read(outPair.g, 'float32', 0, 12))).toEqual(new Array(12).fill(0));
    d.freeAll();
  });

  it('int32, exact (wrapping like the reference)', async () => {
    const a = d.randomView([65, 63], integers(-50, 50, 15), 'int32');
    const b = d.randomView([63, 66], integers(-50, 50, 16), 'int32');
    const [out, outPair] = d.output([65, 66], 'int32');
    d.ran(name === 'webgpu' ? 'matmul[T=i32]' : 'matmul', () => d.backend.matmul(a.g, b.g, out.g));
    d.ref.matmul(a.r, b.r, out.r);
    await d.expectSame(outPair, tolerance('int32'), 'matmul int32');
    d.freeAll();
  });
});

withDevice('cpu-ref', () => {
  describe('matmul oracle: cpu-ref against the triple loop', () => {
    it('float64, transposed and batched operands', () => {
      const r = new RefBackend();
      const [P, M, K, N] = [2, 5, 7, 3];
      const a = Array.from({ length: P * M * K }, uniform(-1, 1, 40));
      const b = Array.from({ length: P * K * N }, uniform(-1, 1, 41));
      const buf = (data: number[]) => {
        const t = r.alloc('float64', data.length);
        r.write(t, 'float64', data);
        return t;
      };
      const out = buf(new Array(P * M * N).fill(0));
      // b stored as [P, N, K] and viewed as [P, K, N]
      const bT = new Array<number>(P * K * N);
      for (let p = 0; p < P; p++)
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) bT[p * N * K + n * K + k] = b[p * K * N + k * N + n];
      r.matmul(
        { buf: buf(a), dtype: 'float64', shape: [P, M, K], strides: contiguousStrides([P, M, K]), offset: 0 },
        { buf: buf(bT), dtype: 'float64', shape: [P, K, N], strides: [N * K, 1, K], offset: 0 },
        { buf: out, dtype: 'float64', shape: [P, M, N], strides: contiguousStrides([P, M, N]), offset: 0 },
      );
      const want: number[] = [];
      for (let p = 0; p < P; p++)
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += a[p * M * K + m * K + k] * b[p * K * N + k * N + n];
            want.push(s);
          }
      assertClose(r.readSync(out, 'float64', 0, P * M * N), want, TOL.f64, 'matmul oracle');
    });
  });
});

type Layout = 'rowmajor' | 'transposed';

/**
 * Store the logical matrix X [rows, cols] (row-major values) in a cpu buffer with the given
 * layout, and return a view of it whose logical shape is [rows, cols].
 */
function storeMatrix(cpu: CpuBackend, x: Float32Array, rows: number, cols: number, layout: Layout): View<CpuBuffer> {
  if (layout === 'rowmajor') return view(cpuBuffer(cpu, x), 'float32', [rows, cols]);
  // stored as X^T [cols, rows] row-major: element (r, c) at c*rows + r
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return view(cpuBuffer(cpu, t), 'float32', [rows, cols], [1, rows]);
}

/** Run one matmul case on both backends; check each against the reference and both against each other. */
function checkMatmul(M: number, K: number, N: number, seed: number): void {
  const a = randomF32(M * K, seed);
  const b = randomF32(K * N, seed + 1);
  const expected = refMatmul(a, b, M, K, N);
  for (const la of ['rowmajor', 'transposed'] as const) {
    for (const lb of ['rowmajor', 'transposed'] as const) {
      const results: Float32Array[] = [];
      for (const cpu of [cpu1, cpu2]) {
        const out = cpu.alloc('float32', M * N);
        cpu.matmul(storeMatrix(cpu, a, M, K, la), storeMatrix(cpu, b, K, N, lb), view(out, 'float32', [M, N]));
        const label = `matmul ${M}x${K}x${N} A ${la} B ${lb} threads ${cpu.getThreads()}`;
        expect(cpu.lastKernel, label).toBe('wasm.matmul');
        expect(cpu.lastThreads, label).toBe(cpu.getThreads());
        const got = readCpu(cpu, out, M * N) as Float32Array;
        assertClose(got, expected, matmulTol(K), label);
        results.push(got);
      }
      expectBitIdentical(results[0], results[1], `matmul ${M}x${K}x${N} ${la}/${lb}: 1 vs 2 threads`);
    }
  }
}

withDevice('cpu', () => {
  describe('matmul on cpu: wasm.matmul on 1 and 2 threads, block edges, fallbacks', () => {
    useCpuThreads();
    const edges = [1, 63, 64, 65];
    it('every M, K, N in {1, 63, 64, 65}, A and B row-major or transposed, 1 and 2 threads', () => {
      let seed = 1;
      for (const M of edges) for (const K of edges) for (const N of edges) checkMatmul(M, K, N, seed++);
    });

    it('uses the fused multiply-add micro-kernel (relaxed SIMD) unless RETROGRAD_CPU_FMA=0', () => {
      // Node 20 (V8 11.3) compiles relaxed SIMD behind a flag that kernels.ts turns on; losing it
      // would silently cost ~25% of matmul speed, so this fails instead
      expect(MATMUL_MICRO).toBe(process.env.RETROGRAD_CPU_FMA === '0' ? 'mul-add' : 'fma');
    });

    it('the mul-add micro-kernel (RETROGRAD_CPU_FMA=0, in a child process) matches the reference too', () => {
      const root = fileURLToPath(new URL('../../src/tensor/backends/cpu/', import.meta.url));
      const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
      const [M, K, N] = [65, 300, 63];
      const script = `
        Promise.all([import(${JSON.stringify(root + 'index.ts')}), import(${JSON.stringify(root + 'kernels.ts')})]).then(async ([{ CpuBackend }, { MATMUL_MICRO }]) => {
          const cpu = await new CpuBackend({ threads: 2, parallel: { minFlops: 0 } }).init();
          const [M, K, N] = [${M}, ${K}, ${N}];
          const a = cpu.alloc('float32', M * K);
          const b = cpu.alloc('float32', K * N);
          const c = cpu.alloc('float32', M * N);
          for (let i = 0; i < M * K; i++) a.data[i] = Math.sin(i);
          for (let i = 0; i < K * N; i++) b.data[i] = Math.cos(i);
          const v = (buf: any, shape: number[]) => ({ buf, dtype: 'float32' as const, shape, strides: [shape[1], 1], offset: 0 });
          cpu.matmul(v(a, [M, K]), v(b, [K, N]), v(c, [M, N]));
          let worst = 0;
          for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
            let ref = 0;
            for (let k = 0; k < K; k++) ref += a.data[i * K + k] * b.data[k * N + j];
            worst = Math.max(worst, Math.abs(c.data[i * N + j] - ref));
          }
          console.log(MATMUL_MICRO, cpu.lastKernel, cpu.lastThreads, worst);
          await cpu.dispose();
        });`;
      const out = execFileSync(tsx, ['--eval', script], {
        timeout: 60_000,
        encoding: 'utf8',
        env: { ...process.env, RETROGRAD_CPU_FMA: '0' },
      })
        .trim()
        .split(' ');
      expect(out.slice(0, 3)).toEqual(['mul-add', 'wasm.matmul', '2']);
      expect(Number(out[3])).toBeLessThanOrEqual(matmulTol(K).atol);
    });

    it('one dimension 4097 at a time', () => {
      checkMatmul(4097, 65, 63, 100);
      checkMatmul(63, 4097, 65, 200);
      checkMatmul(65, 63, 4097, 300);
    });

    it('odd shapes across the KC = 256, mc = 128 and nc = 1024 block edges', () => {
      checkMatmul(7, 9, 5, 400);
      checkMatmul(130, 300, 17, 500);
      checkMatmul(257, 513, 129, 600);
      checkMatmul(9, 7, 1100, 700);
    });

    it('batched [2, 3, M, K] x [2, 3, K, N], with a broadcast batch and a permuted batch', () => {
      const [M, K, N] = [5, 33, 17];
      const batch = 6;
      const a = randomF32(batch * M * K, 800);
      const b = randomF32(batch * K * N, 801);
      // reference: each batch on its own
      const expected = new Float64Array(batch * M * N);
      const expectedShared = new Float64Array(batch * M * N);
      for (let p = 0; p < batch; p++) {
        expected.set(
          refMatmul(a.subarray(p * M * K, (p + 1) * M * K), b.subarray(p * K * N, (p + 1) * K * N), M, K, N),
          p * M * N,
        );
        expectedShared.set(refMatmul(a.subarray(p * M * K, (p + 1) * M * K), b.subarray(0, K * N), M, K, N), p * M * N);
      }
      for (const cpu of [cpu1, cpu2]) {
        const ab = cpuBuffer(cpu, a);
        const bb = cpuBuffer(cpu, b);
        const out = cpu.alloc('float32', batch * M * N);
        const outView = view(out, 'float32', [2, 3, M, N]);

        cpu.matmul(view(ab, 'float32', [2, 3, M, K]), view(bb, 'float32', [2, 3, K, N]), outView);
        expect(cpu.lastKernel).toBe('wasm.matmul');
        assertClose(readCpu(cpu, out, batch * M * N), expected, matmulTol(K), `batched, threads ${cpu.getThreads()}`);

        // B's batch dims broadcast (stride 0): every batch uses B_0
        cpu.matmul(view(ab, 'float32', [2, 3, M, K]), view(bb, 'float32', [2, 3, K, N], [0, 0, N, 1]), outView);
        expect(cpu.lastKernel).toBe('wasm.matmul');
        assertClose(
          readCpu(cpu, out, batch * M * N),
          expectedShared,
          matmulTol(K),
          `broadcast B, threads ${cpu.getThreads()}`,
        );

        // A stored as [3, 2, M, K] and viewed with its batch dims swapped: logical batch (i, j) is stored (j, i)
        const aSwapped = new Float32Array(batch * M * K);
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++) {
            aSwapped.set(a.subarray((i * 3 + j) * M * K, (i * 3 + j + 1) * M * K), (j * 2 + i) * M * K);
          }
        const asb = cpuBuffer(cpu, aSwapped);
        cpu.matmul(
          view(asb, 'float32', [2, 3, M, K], [M * K, 2 * M * K, K, 1]),
          view(bb, 'float32', [2, 3, K, N]),
          outView,
        );
        expect(cpu.lastKernel).toBe('wasm.matmul');
        assertClose(
          readCpu(cpu, out, batch * M * N),
          expected,
          matmulTol(K),
          `permuted batch, threads ${cpu.getThreads()}`,
        );
      }
    });

    it('a batch too large for the descriptor area (address tables on the heap) leaves no block behind', () => {
      const [batch, M, K, N] = [3001, 2, 3, 2];
      const a = randomF32(batch * M * K, 850);
      const b = randomF32(batch * K * N, 851);
      const expected = new Float64Array(batch * M * N);
      for (let p = 0; p < batch; p++) {
        expected.set(
          refMatmul(a.subarray(p * M * K, (p + 1) * M * K), b.subarray(p * K * N, (p + 1) * K * N), M, K, N),
          p * M * N,
        );
      }
      for (const cpu of [cpu1, cpu2]) {
        const ab = cpuBuffer(cpu, a);
        const bb = cpuBuffer(cpu, b);
        const out = cpu.alloc('float32', batch * M * N);
        const blocks = cpu.heap.liveBlocks();
        cpu.matmul(
          view(ab, 'float32', [batch, M, K]),
          view(bb, 'float32', [batch, K, N]),
          view(out, 'float32', [batch, M, N]),
        );
        expect(cpu.lastKernel).toBe('wasm.matmul');
        expect(cpu.heap.liveBlocks()).toBe(blocks);
        assertClose(
          readCpu(cpu, out, batch * M * N),
          expected,
          matmulTol(K),
          `batch ${batch}, threads ${cpu.getThreads()}`,
        );
      }
    });

    it('general strided operands (neither contiguous nor transposed) and offsets, without a copy', () => {
      const [M, K, N] = [37, 45, 29];
      const a = randomF32(M * K, 900);
      const b = randomF32(K * N, 901);
      const expected = refMatmul(a, b, M, K, N);
      for (const cpu of [cpu1, cpu2]) {
        // A: every other column of a [M, 2K] buffer, starting at element 3
        const wide = new Float32Array(3 + M * 2 * K);
        for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) wide[3 + i * 2 * K + 2 * k] = a[i * K + k];
        // B: rows 3 apart in a [3K, N] buffer
        const tall = new Float32Array(3 * K * N);
        for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) tall[3 * k * N + j] = b[k * N + j];
        const out = cpu.alloc('float32', M * N);
        cpu.matmul(
          view(cpuBuffer(cpu, wide), 'float32', [M, K], [2 * K, 2], 3),
          view(cpuBuffer(cpu, tall), 'float32', [K, N], [3 * N, 1]),
          view(out, 'float32', [M, N]),
        );
        expect(cpu.lastKernel).toBe('wasm.matmul');
        assertClose(readCpu(cpu, out, M * N), expected, matmulTol(K), `strided, threads ${cpu.getThreads()}`);
      }
    });

    it('K = 0 gives zeros; float64 and int32 fall back to the reference kernel', () => {
      const out = cpu2.alloc('float32', 12);
      cpu2.write(out, 'float32', new Array(12).fill(7));
      cpu2.matmul(
        view(cpu2.alloc('float32', 0), 'float32', [3, 0]),
        view(cpu2.alloc('float32', 0), 'float32', [0, 4]),
        view(out, 'float32', [3, 4]),
      );
      expect(Array.from(readCpu(cpu2, out, 12))).toEqual(new Array(12).fill(0));

      const a = randomF32(6 * 5, 1000);
      const b = randomF32(5 * 4, 1001);
      const expected = refMatmul(a, b, 6, 5, 4);
      const o64 = cpu2.alloc('float64', 24);
      cpu2.matmul(
        view(cpuBuffer(cpu2, a, 'float64'), 'float64', [6, 5]),
        view(cpuBuffer(cpu2, b, 'float64'), 'float64', [5, 4]),
        view(o64, 'float64', [6, 4]),
      );
      expect(cpu2.lastKernel).toBe('ref.matmul');
      assertClose(readCpu(cpu2, o64, 24, 'float64'), expected, TOL.f64, 'float64 fallback');

      // buffers of another cpu backend: its addresses mean nothing in cpu1's memory
      const o32 = cpu2.alloc('float32', 24);
      cpu1.matmul(
        view(cpuBuffer(cpu2, a), 'float32', [6, 5]),
        view(cpuBuffer(cpu2, b), 'float32', [5, 4]),
        view(o32, 'float32', [6, 4]),
      );
      expect(cpu1.lastKernel).toBe('ref.matmul');
      assertClose(readCpu(cpu2, o32, 24), expected, matmulTol(5), 'foreign buffers');

      const ai = Int32Array.from({ length: 6 }, (_, i) => i - 2);
      const bi = Int32Array.from({ length: 6 }, (_, i) => 3 - i);
      const oi = cpu2.alloc('int32', 4);
      cpu2.matmul(
        view(cpuBuffer(cpu2, ai, 'int32'), 'int32', [2, 3]),
        view(cpuBuffer(cpu2, bi, 'int32'), 'int32', [3, 2]),
        view(oi, 'int32', [2, 2]),
      );
      expect(cpu2.lastKernel).toBe('ref.matmul');
      // [[-2,-1,0],[1,2,3]] x [[3,2],[1,0],[-1,-2]]
      expect(Array.from(readCpu(cpu2, oi, 4, 'int32'))).toEqual([-7, -4, 2, -4]);
    });
  });
});

withDevice('gpujs', () =>
  describe('matmul on gpujs: benchmark', () => {
    const d = useDevice('gpujs');

    it('512x768 · 768x768 (checked against the reference)', async () => {
      const [M, K, N] = [512, 768, 768];
      const rnd = uniform(-1, 1, 1);
      const a = d.randomView([M, K], rnd);
      const b = d.randomView([K, N], rnd);
      const [out, outPair] = d.output([M, N]);
      d.backend.matmul(a.g, b.g, out.g); // compile and warm up
      await d.backend.read(outPair.g, 'float32', 0, 1);
      const times: number[] = [];
      for (let rep = 0; rep < 3; rep++) {
        const t0 = performance.now();
        d.backend.matmul(a.g, b.g, out.g);
        await d.backend.read(outPair.g, 'float32', 0, 1);
        times.push(performance.now() - t0);
      }
      const best = Math.min(...times);
      console.log(
        `gpujs matmul ${M}x${K}x${N}: ${best.toFixed(0)} ms, ${((2 * M * K * N) / best / 1e6).toFixed(2)} GFLOP/s (best of 3, incl. packing and readback)`,
      );
      d.ref.matmul(a.r, b.r, out.r);
      await d.expectSame(outPair, tolerance('float32', K), 'matmul 512x768x768');
      d.freeAll();
    });
  }),
);
