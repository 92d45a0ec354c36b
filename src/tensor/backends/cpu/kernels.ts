// The cpu backend's WebAssembly kernels: kernels/wasm/*.wat, assembled when this file is imported.
//
// Each .wat file is one hand-written module that imports the backend's shared memory as
// `env.memory`. They are assembled with wabt (about 10 ms each) at import time, behind a
// top-level await, so that `new CpuBackend()` stays synchronous; the resulting
// WebAssembly.Module objects are compiled once and instantiated on the main thread and in every
// worker. Not precompiled: the .wat text is the only source, with no build step and no binary to
// keep in sync with it.
//
// Every entry point has the signature (desc: i32, tid: i32, nthreads: i32): it reads its operands
// from the descriptor at byte address `desc` and does share `tid` of `nthreads` of the work.

import { readFileSync } from 'node:fs';
import wabtInit from 'wabt';
import { type WasmMemory, type WasmModule, wasmApi } from './wasm-api.js';

export const KERNEL_FILES = [
  'sgemm.wat', 'activations.wat', 'layernorm.wat', 'elementwise.wat', 'reduce.wat', 'random.wat', 'adamw.wat',
] as const;

/** Entry points; an entry's index is its op number in the worker protocol. */
export const ENTRY_POINTS = ['sgemm', 'softmax', 'gelu', 'layernorm', 'elementwise', 'reduce', 'rand', 'adamw'] as const;
export type EntryPoint = (typeof ENTRY_POINTS)[number];

export type KernelFn = (desc: number, tid: number, nthreads: number) => void;

const wabt = await wabtInit();
const kernelDir = new URL('../../../../kernels/wasm/', import.meta.url);

function assemble(file: string): WasmModule {
  const text = readFileSync(new URL(file, kernelDir), 'utf8');
  const parsed = wabt.parseWat(file, text, { simd: true, threads: true });
  try {
    // V8 validates on compile (wabt's own validate() ignores the feature flags above).
    return new wasmApi.Module(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

export const KERNEL_MODULES: readonly WasmModule[] = KERNEL_FILES.map(assemble);

/** For each entry point, [index of the module that exports it, export name]. */
export const ENTRY_TABLE: ReadonlyArray<readonly [number, EntryPoint]> = ENTRY_POINTS.map((name) => {
  const owners = KERNEL_MODULES.flatMap((m, i) =>
    wasmApi.Module.exports(m).some((e) => e.name === name && e.kind === 'function') ? [i] : []);
  if (owners.length !== 1) {
    throw new Error(`kernel entry point '${name}' is exported by ${owners.length} modules (expected 1)`);
  }
  return [owners[0], name] as const;
});

/** Instantiate every kernel module on `memory`; returns the entry points in ENTRY_POINTS order. */
export function instantiateKernels(memory: WasmMemory): KernelFn[] {
  const instances = KERNEL_MODULES.map((m) => new wasmApi.Instance(m, { env: { memory } }));
  return ENTRY_TABLE.map(([module, name]) => instances[module].exports[name] as KernelFn);
}
