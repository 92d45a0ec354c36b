// The shared harness of test/kernels/<primitive>.test.ts: every primitive's suite runs once per
// device (`describe.each(DEVICES)`) with the same shape sweep, the same tolerance policy per dtype
// and the same "which kernel actually ran" assertion.
//
// Each check runs one call on the device under test and the same call on a cpu-ref twin of every
// buffer (test/util/paired.ts), then compares the whole buffers, so stray writes fail too. On the
// cpu-ref row the twin is the device itself; each suite therefore also checks cpu-ref against a
// plain-TS formula of its own (the primitive's oracle).
// There is no skip: a device that cannot start fails every test of its row, saying why (webgpu
// runs on a software adapter without a GPU, gpujs needs an X display: `xvfb-run -a`, as npm test).

import { beforeEach } from 'vitest';
import type { DType } from '../../src/tensor/backend.js';
import { CpuBackend } from '../../src/tensor/backends/cpu/index.js';
import { RefBackend } from '../../src/tensor/backends/ref.js';
import { initDevice } from '../../src/tensor/device.js';
import { TOL, type Tolerance } from '../util/close.js';
import { type CountingBackend, type PairedBuffers, pairedBuffers } from '../util/paired.js';

export const ALL_DEVICES = ['cpu-ref', 'cpu', 'webgpu', 'gpujs'] as const;
export type DeviceName = (typeof ALL_DEVICES)[number];

/**
 * The rows of this process: all four devices, or the subset RETROGRAD_KERNEL_DEVICES names.
 * vitest.config.ts runs these suites twice, gpujs apart from the others: webgpu's software adapter
 * and gpujs's headless gl cannot share a process. Every device runs in one of the two projects.
 */
export const DEVICES: readonly DeviceName[] = (() => {
  const env = process.env.RETROGRAD_KERNEL_DEVICES;
  if (!env) return ALL_DEVICES;
  const names = env.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(ALL_DEVICES as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(
      `RETROGRAD_KERNEL_DEVICES: unknown device(s) ${unknown.join(', ')} (known: ${ALL_DEVICES.join(', ')})`,
    );
  return names as DeviceName[];
})();

/**
 * The shape sweep: lengths around the 64-wide tiles and vectors (63, 64, 65), the 256-invocation
 * workgroup (256, 257) and a long one (4097). SMALL is its head, for sweeps over several dims.
 */
export const SWEEP = [1, 63, 64, 65, 256, 257, 4097] as const;
export const SMALL = [1, 63, 64, 65] as const;
/** Row shapes of the row-wise kernels' (softmax, layernorm) cpu thread checks: the sweep's row lengths plus attention-like rows. */
export const ROW_SHAPES: number[][] = [
  [1, 1],
  [3, 1],
  [5, 63],
  [7, 64],
  [9, 65],
  [3, 4097],
  [2, 4, 16, 128],
];

/** Bit for bit: data movement, integer kernels, and kernels that promise the reference's order. */
export const EXACT: Tolerance = { atol: 0, rtol: 0 };

/**
 * The tolerance policy, one per dtype: int32 exact; float64 summation-order noise only; float32
 * (a float32 kernel against the reference's float64 accumulation rounded to float32) TOL.f32, or
 * TOL.f32Loose when an output sums more than 1000 terms.
 */
export function tolerance(dtype: DType, terms = 1): Tolerance {
  if (dtype === 'int32') return EXACT;
  if (dtype === 'float64') return TOL.f64;
  return terms > 1000 ? TOL.f32Loose : TOL.f32;
}

/**
 * The cpu device of these suites: 2 threads, forced onto its worker pool for every call size with
 * chunks of 64 elements, so that small shapes still split across threads.
 */
export const CPU_FORCE_POOL = { minFlops: 0, minElements: 0, chunkElements: 64 };

const starting = new Map<DeviceName, Promise<CountingBackend<unknown>>>();

async function start(name: DeviceName): Promise<CountingBackend<unknown>> {
  switch (name) {
    case 'cpu-ref':
      return new RefBackend() as CountingBackend<unknown>;
    case 'cpu':
      return (await new CpuBackend({ threads: 2, parallel: CPU_FORCE_POOL }).init()) as CountingBackend<unknown>;
    case 'webgpu':
      return (await initDevice('webgpu')) as unknown as CountingBackend<unknown>;
    case 'gpujs':
      if (!process.env.DISPLAY) {
        throw new Error(
          'gpujs needs an X display for headless gl: DISPLAY is unset; run under `xvfb-run -a` (npm test does)',
        );
      }
      return (await initDevice('gpujs')) as unknown as CountingBackend<unknown>;
  }
}

export interface KernelDevice extends PairedBuffers<unknown> {
  readonly name: DeviceName;
  /** The device under test (started before each test). */
  readonly backend: CountingBackend<unknown>;
  /** The cpu-ref twin that computes every expected result. */
  readonly ref: RefBackend;
  /** Whether the device stores this dtype (GPU devices have no float64). */
  supports(dtype: DType): boolean;
}

/**
 * The device of one describe.each row. Starts it in beforeEach (not beforeAll) so that a device
 * that cannot start fails every test rather than skipping them.
 */
export function useDevice(name: DeviceName): KernelDevice {
  const ref = new RefBackend();
  let backend: CountingBackend<unknown> | undefined;
  beforeEach(async () => {
    if (!starting.has(name)) starting.set(name, start(name));
    backend = await starting.get(name)!;
  });
  const get = (): CountingBackend<unknown> => {
    if (!backend) throw new Error(`device ${name} did not start`);
    return backend;
  };
  const paired = pairedBuffers(get, ref, 'kernel');
  return {
    ...paired,
    name,
    ref,
    get backend() {
      return get();
    },
    supports: (dtype) => get().dtypes.includes(dtype),
  };
}

/**
 * Define the tests in fn only in the process whose rows include `device` (device-specific checks:
 * cpu threads, the gpujs benchmark; cpu-ref oracles), so each runs once over the two projects.
 */
export function withDevice(device: DeviceName, fn: () => void): void {
  if (DEVICES.includes(device)) fn();
}

/** The kernel name each device counts for one call, for `ran(key, fn)`. */
export type KernelNames = Record<DeviceName, string>;
