// The device registry: names -> backends, and the default device new tensors land on.
//
// Backends register a factory; the backend object is created on first use. GPU backends need an
// async start (adapter, device), so they are created with `await initDevice(name)` and then used
// synchronously like every other backend. This file knows no backend by itself except cpu-ref.

import type { Backend } from './backend.js';
import { RefBackend } from './backends/ref.js';
import { CpuBackend } from './backends/cpu/index.js';

type Factory = () => Backend | Promise<Backend>;

const factories = new Map<string, Factory>();
const instances = new Map<string, Backend>();
let defaultDevice = 'cpu';

export function registerDevice(name: string, factory: Factory): void {
  factories.set(name, factory);
}

/** Synchronous lookup; throws if the device needs `await initDevice(name)` first. */
export function getDevice(name: string = defaultDevice): Backend {
  const existing = instances.get(name);
  if (existing) return existing;
  const factory = factories.get(name);
  if (!factory) throw new Error(`unknown device '${name}' (known: ${[...factories.keys()].join(', ')})`);
  const made = factory();
  if (made instanceof Promise) {
    throw new Error(`device '${name}' starts asynchronously: call \`await initDevice('${name}')\` first`);
  }
  instances.set(name, made);
  return made;
}

/**
 * Create (once) and fully start a device: awaits asynchronous starts such as a WebGPU adapter, and
 * a backend's optional `init()` (the cpu backend starts its worker pool there instead of lazily).
 */
export async function initDevice(name: string): Promise<Backend> {
  let backend = instances.get(name);
  if (!backend) {
    const factory = factories.get(name);
    if (!factory) throw new Error(`unknown device '${name}' (known: ${[...factories.keys()].join(', ')})`);
    backend = await factory();
    instances.set(name, backend);
  }
  const startable = backend as Backend & { init?: () => Promise<unknown> };
  if (typeof startable.init === 'function') await startable.init();
  return backend;
}

export function knownDevices(): string[] {
  return [...factories.keys()];
}

export function setDefaultDevice(name: string): void {
  if (!factories.has(name)) throw new Error(`unknown device '${name}' (known: ${[...factories.keys()].join(', ')})`);
  defaultDevice = name;
}

export function getDefaultDevice(): string {
  return defaultDevice;
}

registerDevice('cpu-ref', () => new RefBackend());
// The fast CPU backend; its worker pool starts lazily on the first call big enough to use it.
registerDevice('cpu', () => new CpuBackend());
// GPU backends load their native modules only when asked for (`await initDevice(name)`).
registerDevice('webgpu', async () => (await import('./backends/webgpu/index.js')).WebGPUBackend.create());
registerDevice('gpujs', async () => new (await import('./backends/gpujs/index.js')).GpuJsBackend());
