// WebGPU matmul benchmark: GFLOP/s of the webgpu backend's WGSL matmul on (512x768)·(768x768)
// float32 (or another shape), on whichever adapter WebGPUBackend.create() picks (a real GPU, else
// Mesa llvmpipe through OpenGL ES) with the kernel the backend picks for it (matmulKernel: 'tiled'
// on GPUs, 'direct' on CPU adapters). A benchmark, not a test; `retrograd bench matmul --device
// webgpu` measures the same backend beside the cpu backends (src/bench/matmul.ts).
//
// Run: npx tsx src/bench/webgpu.ts [M K N]     (prints JSON)
//
// Method: operands filled with uniform [-1, 1) values; one warm-up run (it includes the shader
// compile, 0.1-0.8 s on the software adapter) is excluded; each timed run is one matmul followed
// by a full GPU sync; the median of `repeats` runs is reported. GFLOP/s = 2·M·N·K / seconds.

import { pathToFileURL } from 'node:url';
import { type View, contiguousStrides } from '../tensor/backend.js';
import { type GpuBuf, WebGPUBackend } from '../tensor/backends/webgpu/index.js';

export interface BenchWebGPUOptions {
  M?: number;
  K?: number;
  N?: number;
  /** Read b through a transposed view (stored [N, K]), as Linear layers do. Default false. */
  transB?: boolean;
  /** Timed runs after the warm-up (default 5). */
  repeats?: number;
  /** Backend to use; default: a new WebGPUBackend.create(), destroyed afterwards. */
  backend?: WebGPUBackend;
  /** Called with the details of the measurement. */
  report?: (r: BenchWebGPUReport) => void;
}

export interface BenchWebGPUReport {
  shape: { M: number; K: number; N: number; transB: boolean };
  adapter: WebGPUBackend['adapterInfo'];
  kernel: WebGPUBackend['matmulKernel'];
  /** Seconds per timed run. */
  runs: number[];
  medianSeconds: number;
  gflops: number;
}

function view(buf: GpuBuf, shape: number[], strides = contiguousStrides(shape)): View<GpuBuf> {
  return { buf, dtype: 'float32', shape, strides, offset: 0 };
}

/** GFLOP/s of the webgpu matmul (warm-up excluded); details go to opts.report. */
export async function benchWebGPUMatmul(opts: BenchWebGPUOptions = {}): Promise<number> {
  const { M = 512, K = 768, N = 768, transB = false, repeats = 5 } = opts;
  const be = opts.backend ?? (await WebGPUBackend.create());
  const ownBackend = opts.backend === undefined;
  const a = be.alloc('float32', M * K);
  const b = be.alloc('float32', K * N);
  const out = be.alloc('float32', M * N);
  be.write(a, 'float32', Float32Array.from({ length: M * K }, () => Math.random() * 2 - 1));
  be.write(b, 'float32', Float32Array.from({ length: K * N }, () => Math.random() * 2 - 1));
  // b [K, N], either row-major or a transposed view of an [N, K] buffer
  const bView = transB ? view(b, [K, N], [1, K]) : view(b, [K, N]);
  const run = () => be.matmul(view(a, [M, K]), bView, view(out, [M, N]));

  run();
  await be.sync();
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    run();
    await be.sync();
    runs.push((performance.now() - t0) / 1000);
  }
  be.free(a);
  be.free(b);
  be.free(out);
  if (ownBackend) be.destroy();

  const sorted = [...runs].sort((x, y) => x - y);
  const medianSeconds = sorted[Math.floor(sorted.length / 2)];
  const gflops = (2 * M * N * K) / medianSeconds / 1e9;
  opts.report?.({ shape: { M, K, N, transB }, adapter: be.adapterInfo, kernel: be.matmulKernel, runs, medianSeconds, gflops });
  return gflops;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [M, K, N] = process.argv.slice(2).map(Number);
  const be = await WebGPUBackend.create();
  for (const transB of [false, true]) {
    await benchWebGPUMatmul({
      M: M || undefined, K: K || undefined, N: N || undefined, transB, backend: be,
      report: (r) => console.log(JSON.stringify(r)),
    });
  }
}
