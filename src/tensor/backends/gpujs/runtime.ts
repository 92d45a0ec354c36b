// The gpujs runtime: one gpu.js GPU in headless-GL mode, a cache of compiled kernels, and the
// check that every kernel really runs on the GL path.
//
// gpu.js silently degrades: without the native `gl` package (or without an X display) `mode:
// 'gpu'` picks its WebAssembly kernel, and any single kernel may later swap itself for a CPU
// kernel (`onRequestFallback`). This runtime refuses both: creation fails with the reason, and
// every launch asserts the kernel class is HeadlessGLKernel. It is not the backend (buffers,
// views, ops): that is ./index.ts.

import { createRequire } from 'node:module';
import { GPU, HeadlessGLKernel, type IKernelRunShortcut, type KernelVariable, type Texture } from 'gpu.js';
import type { KernelSpec } from '../../../../kernels/gpujs/spec.js';

/** What a kernel takes: device textures, float uniforms, or host arrays uploaded per call. */
export type KernelArg = Texture | number | Float32Array;

/** gpu.js Texture fields this runtime reads (present on every GL texture, not in its typings). */
interface TextureShape {
  type: string;
  output: number[];
}

function argSignature(arg: KernelArg): string {
  if (typeof arg === 'number') return 'f';
  if (arg instanceof Float32Array) return `a${arg.length}`;
  const t = arg as unknown as TextureShape;
  return `${t.type}:${t.output.join('x')}`;
}

/** Why headless GL is unavailable, in words a person can act on. */
function explainUnavailable(): string {
  const reasons: string[] = [];
  try {
    createRequire(import.meta.url)('gl');
  } catch (e) {
    reasons.push(
      "the native `gl` package did not load (npm dropped it if its build failed: it needs Debian's " +
        `libxi-dev libglew-dev libglu1-mesa-dev pkg-config and npm allowScripts for gl; \`npm ls gl\`): ${(e as Error).message}`,
    );
  }
  if (!process.env.DISPLAY) {
    reasons.push('DISPLAY is unset: headless gl needs an X server; run under `xvfb-run -a`');
  }
  if (reasons.length === 0) reasons.push('gl loaded and DISPLAY is set, but creating a WebGL context failed');
  return reasons.join('; ');
}

/**
 * Wait until the native `gl` package can create a context: a handful of tries with growing pauses
 * (about 3 s in all). Creating one can fail transiently on a loaded machine (once in a CI run of the
 * suite, beside three training jobs; the rerun passed), and gpu.js caches its one check for the
 * process's lifetime, so it must not run before a context can be had. Returns the tries it took
 * (0 when `gl` does not load: the caller's check then explains why).
 */
function awaitGlContext(tries = 6): number {
  let createGl: ((w: number, h: number) => { getExtension(name: string): unknown } | null) | undefined;
  try {
    createGl = createRequire(import.meta.url)('gl');
  } catch {
    return 0;
  }
  for (let i = 1; i <= tries; i++) {
    const context = createGl!(2, 2);
    if (context) {
      (context.getExtension('STACKGL_destroy_context') as { destroy(): void } | null)?.destroy();
      return i;
    }
    if (i < tries) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100 * 2 ** (i - 1));
  }
  return tries;
}

export class GlRuntime {
  /** gpu.js mode this runtime uses. */
  readonly kernelMode = 'headlessgl';
  /** Class name of the kernels that run (asserted on every launch). */
  readonly kernelClass = HeadlessGLKernel.name;
  /** GL version and renderer strings of the context gpu.js created. */
  readonly glVersion: string;
  readonly glRenderer: string;
  /** Launches per kernel family. */
  readonly launches = new Map<string, number>();
  /** Live textures handed out by `run` and not yet released. */
  liveTextures = 0;
  private readonly gpu: GPU;
  private readonly cache = new Map<string, IKernelRunShortcut>();

  constructor() {
    const tries = awaitGlContext();
    if (tries > 1) console.error(`gpujs: creating a GL context took ${tries} tries`);
    if (!GPU.isHeadlessGLSupported) {
      throw new Error(`gpujs: gpu.js headless GL is unavailable: ${explainUnavailable()}`);
    }
    const features = HeadlessGLKernel.features as unknown as { isFloatRead: boolean; isTextureFloat: boolean };
    if (!features.isFloatRead || !features.isTextureFloat) {
      throw new Error(
        'gpujs: the GL context lacks float textures (OES_texture_float), so single precision is impossible',
      );
    }
    this.gpu = new GPU({ mode: 'headlessgl' });
    // Probe: one real kernel, checked for class and values.
    const probe = this.run(
      { family: 'probe', source: 'function (data) {\n  return data[this.thread.x] * 2;\n}', natives: [], output: [4] },
      [new Float32Array([1, 2, 3, 4.5])],
    );
    const values = this.read(probe);
    this.release(probe);
    if (values.join() !== '2,4,6,9')
      throw new Error(`gpujs: probe kernel returned [${values.join()}] instead of [2,4,6,9]`);
    const gl = (probe as unknown as { context: WebGLRenderingContextLike }).context;
    this.glVersion = String(gl.getParameter(gl.VERSION));
    this.glRenderer = String(gl.getParameter(gl.RENDERER));
    this.launches.clear();
  }

  /** Number of distinct compiled kernels held. */
  get compiledKernels(): number {
    return this.cache.size;
  }

  /** Run a kernel (compiling it on first use) and return its output texture. */
  run(spec: KernelSpec, args: readonly KernelArg[]): Texture {
    const key = JSON.stringify([
      spec.family,
      spec.source,
      spec.natives.map((n) => n.source),
      spec.output,
      spec.constants ?? null,
      args.map(argSignature),
    ]);
    let kernel = this.cache.get(key);
    if (!kernel) {
      kernel = this.compile(spec);
      this.cache.set(key, kernel);
    }
    const result = kernel(...(args as KernelVariable[]));
    if (!(kernel.kernel instanceof HeadlessGLKernel)) {
      throw new Error(
        `gpujs: kernel '${spec.family}' ran as ${kernel.kernel.constructor.name}, not HeadlessGLKernel (gpu.js fell back)`,
      );
    }
    this.launches.set(spec.family, (this.launches.get(spec.family) ?? 0) + 1);
    this.liveTextures++;
    return result as unknown as Texture;
  }

  /** Synchronous readback of a 1-D texture (the only way data leaves the GPU). */
  read(tex: Texture): Float32Array {
    const values = tex.toArray();
    if (!(values instanceof Float32Array)) throw new Error('gpujs: expected a 1-D float texture');
    return values;
  }

  release(tex: Texture): void {
    tex.delete();
    this.liveTextures--;
  }

  /** Destroy every compiled kernel and the GL context. */
  destroy(): void {
    this.gpu.destroy();
    this.cache.clear();
  }

  private compile(spec: KernelSpec): IKernelRunShortcut {
    return this.gpu.createKernel(spec.source, {
      output: spec.output,
      pipeline: true,
      immutable: true,
      precision: 'single',
      tactic: 'precision',
      fixIntegerDivisionAccuracy: false,
      constants: spec.constants ?? {},
      // every constant is a count or a size: typed int, so index arithmetic on them stays int
      constantTypes: Object.fromEntries(Object.keys(spec.constants ?? {}).map((name) => [name, 'Integer'])),
      // Flat {name, source, returnType, argumentTypes}: gpu.js reads the types from the entry
      // itself, and otherwise parses them from the first signature in the source.
      nativeFunctions: spec.natives.map((n) => ({
        name: n.name,
        source: n.source,
        returnType: n.returnType,
        argumentTypes: n.argumentTypes,
      })),
    } as Parameters<GPU['createKernel']>[1]);
  }
}

interface WebGLRenderingContextLike {
  VERSION: number;
  RENDERER: number;
  getParameter(p: number): unknown;
}
