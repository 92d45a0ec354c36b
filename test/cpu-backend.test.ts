// The cpu backend itself, not its kernels: its allocator (blocks, coalescing, reuse, the peak,
// out of memory, growth seen by the workers; alloc does not clear a reused block, so kernels are
// checked on NaN-poisoned outputs) and its worker pool (lazy start, revoked posts, a process that
// exits by itself). Every primitive's kernels are tested over every device, cpu included, in
// test/kernels/<primitive>.test.ts, with the cpu-only checks (1 and 2 threads bit for bit, which
// kernel ran on how many threads, fallbacks) in a `... on cpu` block of each.
//
// Run: npx vitest run test/cpu-backend.test.ts

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/tensor/backends/cpu/index.js';
import { HEAP_BASE, Heap, blockBytes } from '../src/tensor/backends/cpu/heap.js';
import { Generator } from '../src/tensor/random.js';
import { assertClose } from './util/close.js';

import {
  FORCE_POOL,
  cpu1,
  cpu2,
  cpuBuffer,
  expectBitIdentical,
  matmulTol,
  randomF32,
  poisoned,
  readCpu,
  refMatmul,
  useCpuThreads,
  view,
} from './util/cpu-threads.js';

useCpuThreads();

// ---- allocator ----------------------------------------------------------------------------

describe('cpu backend: allocator', () => {
  it('blocks are 64-byte multiples at 64-byte aligned addresses', () => {
    expect(blockBytes(0)).toBe(64);
    expect(blockBytes(64)).toBe(64);
    expect(blockBytes(65)).toBe(128);
    expect(blockBytes(1025)).toBe(1088);
    const heap = new Heap(1 << 20);
    for (const bytes of [1, 17, 64, 100, 4096, 65537, 300_001]) {
      const p = heap.alloc(bytes);
      expect(p % 64).toBe(0);
      expect(heap.blockSize(p)).toBe(blockBytes(bytes));
    }
  });

  it('random alloc/free sequences: blocks never overlap, live bytes match a model, the heap empties', () => {
    const heap = new Heap(1 << 20);
    const gen = new Generator(77);
    const model = new Map<number, number>(); // address -> bytes, the live blocks
    let modelBytes = 0;
    const sizes = [64, 200, 4096, 10_000, 1 << 16, 250_000, 1 << 20];
    for (let i = 0; i < 4000; i++) {
      if (model.size === 0 || gen.uniform() < 0.55) {
        const bytes = Math.ceil(sizes[Math.floor(gen.uniform() * sizes.length)] * (0.5 + gen.uniform()));
        const p = heap.alloc(bytes);
        expect(p % 64).toBe(0);
        expect(p).toBeGreaterThanOrEqual(HEAP_BASE);
        model.set(p, blockBytes(bytes));
        modelBytes += blockBytes(bytes);
      } else {
        const keys = [...model.keys()];
        const p = keys[Math.floor(gen.uniform() * keys.length)];
        heap.free(p);
        modelBytes -= model.get(p)!;
        model.delete(p);
      }
      expect(heap.liveBytes()).toBe(modelBytes);
      expect(heap.liveBlocks()).toBe(model.size);
      if (i % 500 === 0) {
        const spans = [...model.entries()].sort((a, b) => a[0] - b[0]);
        for (let k = 1; k < spans.length; k++)
          expect(spans[k][0]).toBeGreaterThanOrEqual(spans[k - 1][0] + spans[k - 1][1]);
        expect(heap.reservedBytes()).toBeGreaterThanOrEqual(modelBytes);
      }
    }
    // with everything freed, every neighbour has coalesced and the top is back at the base
    for (const p of model.keys()) heap.free(p);
    expect(heap.liveBytes()).toBe(0);
    expect(heap.reservedBytes()).toBe(0);
    expect(heap.freeBlocks()).toBe(0);
  });

  it('coalescing: freed neighbours merge and serve a larger request in place', () => {
    const heap = new Heap(1 << 20);
    const [a, b, c, guard] = [heap.alloc(1000), heap.alloc(3000), heap.alloc(5000), heap.alloc(64)];
    heap.free(b);
    heap.free(a);
    heap.free(c);
    expect(heap.freeBlocks()).toBe(1);
    const big = heap.alloc(blockBytes(1000) + blockBytes(3000) + blockBytes(5000));
    expect(big).toBe(a);
    expect(heap.freeBlocks()).toBe(0);
    // a smaller request splits a free block and leaves the rest free
    heap.free(big);
    const small = heap.alloc(128);
    expect(small).toBe(a);
    expect(heap.freeBlocks()).toBe(1);
    heap.free(small);
    heap.free(guard);
    expect(heap.reservedBytes()).toBe(0);
  });

  it('reuses freed blocks: live count and heap size stay flat over repeated alloc/free', () => {
    const cpu = new CpuBackend({ threads: 1 });
    const sizes = [1, 17, 1000, 4096, 65537, 300_000];
    const cycle = (): void => {
      const bufs = sizes.map((n, i) => cpu.alloc(i % 2 === 0 ? 'float32' : 'float64', n));
      for (const b of bufs) expect(b.ptr % 64).toBe(0);
      for (const b of bufs) cpu.free(b);
    };
    cycle();
    const peak = cpu.heap.peakBytes();
    for (let i = 0; i < 50; i++) cycle();
    expect(cpu.heap.peakBytes()).toBe(peak);
    expect(cpu.liveBuffers()).toBe(0);
    expect(cpu.heapBytes()).toBe(0);
    const a = cpu.alloc('float32', 1000);
    cpu.free(a);
    expect(cpu.alloc('float32', 990).ptr).toBe(a.ptr);
  });

  it('the peak follows the live bytes across varying shapes, not the history of shapes', () => {
    const cpu = new CpuBackend({ threads: 1 });
    const gen = new Generator(5);
    // padded batches of random lengths, each with activations of several widths kept alive together
    let maxLive = 0;
    for (let round = 0; round < 60; round++) {
      const seq = 16 + Math.floor(gen.uniform() * 497);
      const bufs = [256, 1024, 256, 4 * seq, 256].map((w) => cpu.alloc('float32', 32 * seq * w));
      maxLive = Math.max(maxLive, cpu.heap.liveBytes());
      for (const b of bufs) cpu.free(b);
    }
    expect(cpu.heap.peakBytes()).toBeLessThanOrEqual(1.25 * maxLive);
    expect(cpu.heapBytes()).toBe(0);
  });

  it('out of memory names the request and what is live', () => {
    const heap = new Heap(1 << 20);
    const p = heap.alloc(1 << 20);
    expect(() => heap.alloc(2 ** 32)).toThrow(
      /cpu heap: out of memory \(\d+ bytes needed, the wasm32 limit is 4 GiB; 1048576 bytes live in 1 blocks/,
    );
    heap.free(p);
  });

  it('alloc does not clear a reused block (kernels write all of out); double free and foreign buffers throw', () => {
    const cpu = new CpuBackend({ threads: 1 });
    const a = cpu.alloc('float32', 100);
    a.data.fill(5);
    cpu.free(a);
    const b = cpu.alloc('float32', 100);
    expect(b.ptr).toBe(a.ptr);
    expect(Array.from(b.data).every((v) => v === 5)).toBe(true);
    cpu.free(b);
    expect(() => cpu.free(b)).toThrow(/not a live block/);
    expect(() => cpu.free({ data: new Float32Array(4) })).toThrow(/did not allocate/);
    expect(() => cpu.free(new CpuBackend({ threads: 1 }).alloc('float32', 4))).toThrow(/did not allocate/);
  });

  it('growth keeps earlier views valid, and workers see the grown memory', async () => {
    const cpu = await new CpuBackend({ threads: 2, initialBytes: 1 << 20, parallel: FORCE_POOL }).init();
    try {
      const small = cpuBuffer(cpu, randomF32(64 * 64, 6000));
      const before = Float32Array.from(small.data);
      const memoryBefore = cpu.heap.memoryBytes();
      // 48 MiB: the memory must grow well past its first megabyte
      const big = cpu.alloc('float32', 12 << 20);
      expect(cpu.heap.memoryBytes()).toBeGreaterThan(memoryBefore);
      expectBitIdentical(small.data, before, 'old view after grow');
      small.data[0] = 42;
      expect(cpu.readSync(small, 'float32', 0, 1)[0]).toBe(42);
      big.data[big.data.length - 1] = 3;
      expect(cpu.readSync(big, 'float32', big.data.length - 1, 1)[0]).toBe(3);
      // a 2-thread matmul whose operands and output live beyond the original memory
      const [M, K, N] = [96, 80, 72];
      const a = randomF32(M * K, 6001);
      const b = randomF32(K * N, 6002);
      const out = cpu.alloc('float32', M * N);
      cpu.matmul(
        view(cpuBuffer(cpu, a), 'float32', [M, K]),
        view(cpuBuffer(cpu, b), 'float32', [K, N]),
        view(out, 'float32', [M, N]),
      );
      expect(out.ptr).toBeGreaterThan(memoryBefore);
      expect(cpu.lastKernel).toBe('wasm.matmul');
      expect(cpu.lastThreads).toBe(2);
      assertClose(readCpu(cpu, out, M * N), refMatmul(a, b, M, K, N), matmulTol(K), 'matmul after grow');
    } finally {
      await cpu.dispose();
    }
  });
});

// ---- pool ---------------------------------------------------------------------------------

describe('cpu backend: worker pool', () => {
  it('starts lazily: calls run on the caller thread until the workers are ready, then on 2 threads', async () => {
    const cpu = new CpuBackend({ threads: 2, parallel: FORCE_POOL });
    try {
      const [M, K, N] = [64, 64, 64];
      const a = cpuBuffer(cpu, randomF32(M * K, 7000));
      const b = cpuBuffer(cpu, randomF32(K * N, 7001));
      const out = cpu.alloc('float32', M * N);
      const run = (): void =>
        cpu.matmul(view(a, 'float32', [M, K]), view(b, 'float32', [K, N]), view(out, 'float32', [M, N]));
      run();
      expect(cpu.lastKernel).toBe('wasm.matmul');
      expect(cpu.lastThreads).toBe(1);
      const first = Float32Array.from(out.data);
      const deadline = Date.now() + 20_000;
      while (cpu.readyThreads() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(cpu.readyThreads()).toBe(2);
      run();
      expect(cpu.lastThreads).toBe(2);
      expectBitIdentical(out.data, first, 'lazy pool: 1 vs 2 threads');
    } finally {
      await cpu.dispose();
    }
  });

  it('posts a worker has not claimed when the caller is done are revoked, never waited for; results stay bit-identical', () => {
    // small calls: the caller often takes every chunk before the worker wakes (revoked); large
    // matmuls: the worker claims its share. Either way the result equals the 1-thread result.
    const before = cpu2.workerPosts();
    const n = 256;
    const a = randomF32(n, 7100);
    const b = randomF32(n, 7101);
    const ab = cpuBuffer(cpu2, a);
    const bb = cpuBuffer(cpu2, b);
    const expected = Float32Array.from(a, (x, i) => x * b[i]);
    for (let i = 0; i < 300; i++) {
      const o = poisoned(cpu2, n);
      cpu2.binary('mul', view(ab, 'float32', [n]), view(bb, 'float32', [n]), view(o, 'float32', [n]));
      expect(cpu2.lastThreads).toBe(2);
      expectBitIdentical(readCpu(cpu2, o, n), expected, `small call ${i}`);
    }
    const [M, K, N] = [256, 256, 256];
    const ma = randomF32(M * K, 7102);
    const mb = randomF32(K * N, 7103);
    const reference = cpu1.alloc('float32', M * N);
    cpu1.matmul(
      view(cpuBuffer(cpu1, ma), 'float32', [M, K]),
      view(cpuBuffer(cpu1, mb), 'float32', [K, N]),
      view(reference, 'float32', [M, N]),
    );
    for (let i = 0; i < 20; i++) {
      const o = poisoned(cpu2, M * N);
      cpu2.matmul(
        view(cpuBuffer(cpu2, ma), 'float32', [M, K]),
        view(cpuBuffer(cpu2, mb), 'float32', [K, N]),
        view(o, 'float32', [M, N]),
      );
      expect(cpu2.lastThreads).toBe(2);
      expectBitIdentical(readCpu(cpu2, o, M * N), reference.data, `matmul ${i}`);
    }
    const after = cpu2.workerPosts();
    const posted = after.posted - before.posted;
    const revoked = after.revoked - before.revoked;
    expect(posted).toBe(320);
    expect(revoked, 'some posts revoked').toBeGreaterThan(0);
    expect(revoked, 'some posts claimed').toBeLessThan(posted);
  });

  it('a process that used the pool exits by itself, and dispose() resolves in a process with nothing else to do', () => {
    const entry = fileURLToPath(new URL('../src/tensor/backends/cpu/index.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
    const script = (dispose: boolean): string => `
      import(${JSON.stringify(entry)}).then(async ({ CpuBackend }) => {
        const cpu = await new CpuBackend({ threads: 2 }).init();
        const a = cpu.alloc('float32', 512 * 512);
        const c = cpu.alloc('float32', 512 * 512);
        const v = (buf: unknown) => ({ buf, dtype: 'float32' as const, shape: [512, 512], strides: [512, 1], offset: 0 });
        cpu.matmul(v(a), v(a), v(c));
        console.log(cpu.lastKernel, cpu.lastThreads);
        ${dispose ? "await cpu.dispose(); console.log('disposed');" : ''}
      });`;
    // execFileSync throws if the child fails or is still running after the timeout
    const run = (dispose: boolean): string =>
      execFileSync(tsx, ['--eval', script(dispose)], { timeout: 30_000, encoding: 'utf8' }).trim();
    expect(run(false)).toBe('wasm.matmul 2');
    expect(run(true)).toBe('wasm.matmul 2\ndisposed');
  });
});
