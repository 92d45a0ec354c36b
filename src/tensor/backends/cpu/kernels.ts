// The cpu backend's WebAssembly kernels: kernels/wasm/*.wat, assembled when this file is imported.
//
// Each .wat file is one hand-written module that imports the backend's shared memory as
// `env.memory`. They are assembled with wabt (about 10 ms each) at import time, behind a
// top-level await, so that `new CpuBackend()` stays synchronous; the resulting
// WebAssembly.Module objects are compiled once and instantiated on the main thread and in every
// worker. Not precompiled: the .wat text is the only source, with no build step and no binary to
// keep in sync with it.
//
// Modules are instantiated in KERNEL_FILES order, each with an `env` holding the memory and the
// exports of the modules before it: matmul.wat imports its micro-kernel `env.matmul_micro` from
// matmul-micro-fma.wat (fused multiply-add, relaxed SIMD) where that is available, else from
// matmul-micro.wat (separate multiply and add). Relaxed SIMD ships in V8 11.4+; Node 20's V8 11.3
// has it behind --experimental-wasm-relaxed-simd, which is turned on here (process-wide, it only
// adds opcodes) when a probe module does not compile without it. RETROGRAD_CPU_FMA=0 forces the
// multiply-add variant. MATMUL_MICRO says which one this process uses.
//
// Every entry point has the signature (desc: i32, tid: i32, nthreads: i32): it reads its operands
// from the descriptor at byte address `desc`, by name (`@field`, declared in the file and in
// descriptors.ts), and does share `tid` of `nthreads` of the work.

import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import wabtInit from 'wabt';
import { parseDescriptor, resolveFields } from './descriptors.js';
import { type WasmMemory, type WasmModule, wasmApi } from './wasm-api.js';

/** Entry points; an entry's index is its op number in the worker protocol. */
export const ENTRY_POINTS = [
  'matmul',
  'softmax',
  'gelu',
  'layernorm',
  'elementwise',
  'reduce',
  'rand',
  'adamw',
] as const;
export type EntryPoint = (typeof ENTRY_POINTS)[number];

export type KernelFn = (desc: number, tid: number, nthreads: number) => void;

const wabt = await wabtInit();
const kernelDir = new URL('../../../../kernels/wasm/', import.meta.url);
const FEATURES = { simd: true, threads: true, relaxed_simd: true };

function assemble(file: string, text: string = readFileSync(new URL(file, kernelDir), 'utf8')): WasmModule {
  // `@field` references to the file's `;; @descriptor` become byte offsets (descriptors.ts)
  const declared = parseDescriptor(text, file);
  const code = declared ? resolveFields(text, declared.fields, file) : text;
  const parsed = wabt.parseWat(file, code, FEATURES);
  try {
    // V8 validates on compile (wabt's own validate() ignores the feature flags above).
    return new wasmApi.Module(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

/** Whether this V8 compiles relaxed SIMD, turning on Node 20's experimental flag if it must. */
function relaxedSimd(): boolean {
  const probe =
    '(module (func (param v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 0) (local.get 0))))';
  const compiles = (): boolean => {
    try {
      assemble('probe.wat', probe);
      return true;
    } catch {
      return false;
    }
  };
  if (compiles()) return true;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return compiles();
}

/** The matmul micro-kernel this process uses: 'fma' (relaxed_madd) or 'mul-add'. */
export const MATMUL_MICRO: 'fma' | 'mul-add' =
  process.env.RETROGRAD_CPU_FMA !== '0' && relaxedSimd() ? 'fma' : 'mul-add';

export const KERNEL_FILES: readonly string[] = [
  MATMUL_MICRO === 'fma' ? 'matmul-micro-fma.wat' : 'matmul-micro.wat',
  'matmul.wat',
  'softmax.wat',
  'gelu.wat',
  'layernorm.wat',
  'elementwise.wat',
  'reduce.wat',
  'rand.wat',
  'adamw.wat',
];

export const KERNEL_MODULES: readonly WasmModule[] = KERNEL_FILES.map((file) => assemble(file));

/** For each entry point, [index of the module that exports it, export name]. */
export const ENTRY_TABLE: ReadonlyArray<readonly [number, EntryPoint]> = ENTRY_POINTS.map((name) => {
  const owners = KERNEL_MODULES.flatMap((m, i) =>
    wasmApi.Module.exports(m).some((e) => e.name === name && e.kind === 'function') ? [i] : [],
  );
  if (owners.length !== 1) {
    throw new Error(`kernel entry point '${name}' is exported by ${owners.length} modules (expected 1)`);
  }
  return [owners[0], name] as const;
});

/**
 * Instantiate every kernel module on `memory`, in order, each importing the memory and the
 * exports of the modules before it; returns the entry points in ENTRY_POINTS order. worker.mjs
 * does the same.
 */
export function instantiateKernels(memory: WasmMemory): KernelFn[] {
  const env: Record<string, unknown> = { memory };
  const instances = KERNEL_MODULES.map((m) => {
    const instance = new wasmApi.Instance(m, { env });
    Object.assign(env, instance.exports);
    return instance;
  });
  return ENTRY_TABLE.map(([module, name]) => instances[module].exports[name] as KernelFn);
}
