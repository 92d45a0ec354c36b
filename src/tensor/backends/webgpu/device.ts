// Adapter and device acquisition for the webgpu backend, through Dawn's Node bindings
// (the `webgpu` npm package, pinned to 0.6.2).
//
// Routes, in order (RETROGRAD_WEBGPU_ROUTE=native|opengles forces one):
//   native:   Dawn's default instance: a real GPU (Vulkan), or a Vulkan software ICD if installed.
//   opengles: Dawn's OpenGL ES backend on Mesa llvmpipe (EGL_PLATFORM=surfaceless), a
//             compatibility-mode adapter: the software fallback on machines without a GPU.
// The GPU instances created here are kept in a module-level array for the process lifetime:
// if V8 collects one while its adapter or device lives, the process later crashes.

import { create } from 'webgpu';

export type WebGPURoute = 'native' | 'opengles';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Which route produced the adapter. */
  route: WebGPURoute;
  featureLevel: 'core' | 'compatibility';
  /** A CPU rasteriser (llvmpipe, lavapipe, SwiftShader) rather than a GPU. */
  software: boolean;
}

export interface Acquired {
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterInfo;
}

const instances: GPU[] = [];

function instance(flags: string[]): GPU {
  const gpu = create(flags);
  instances.push(gpu);
  return gpu;
}

/** All numeric limits of the adapter, to request as the device's limits. */
function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  const source = adapter.limits as unknown as Record<string, unknown>;
  for (const key in source) {
    const value = source[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return limits;
}

function describe(adapter: GPUAdapter, route: WebGPURoute, featureLevel: AdapterInfo['featureLevel']): AdapterInfo {
  const i = adapter.info;
  const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.toLowerCase();
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    route,
    featureLevel,
    software: /llvmpipe|lavapipe|swiftshader|softpipe/.test(text) || i.isFallbackAdapter === true,
  };
}

async function tryNative(): Promise<Acquired | null> {
  const adapter = await instance([]).requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) return null;
  const device = await adapter.requestDevice({ requiredLimits: adapterLimits(adapter) });
  return { adapter, device, info: describe(adapter, 'native', 'core') };
}

async function tryOpenGLES(): Promise<Acquired | null> {
  // Mesa's EGL reads this when the GL context is created, after this assignment.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const adapter = await instance(['backend=opengles']).requestAdapter({ featureLevel: 'compatibility' });
  if (adapter === null) return null;
  // compatibility devices default to 128 invocations per workgroup: ask for what the adapter has
  const device = await adapter.requestDevice({ requiredLimits: adapterLimits(adapter) });
  return { adapter, device, info: describe(adapter, 'opengles', 'compatibility') };
}

/** The best adapter available: a native one when present, else the OpenGL ES software route. */
export async function acquireDevice(route: WebGPURoute | 'auto' = 'auto'): Promise<Acquired> {
  const forced = process.env.RETROGRAD_WEBGPU_ROUTE;
  const chosen = route === 'auto' && (forced === 'native' || forced === 'opengles') ? forced : route;
  const attempts = chosen === 'auto' ? [tryNative, tryOpenGLES] : chosen === 'native' ? [tryNative] : [tryOpenGLES];
  for (const attempt of attempts) {
    const acquired = await attempt();
    if (acquired !== null) return acquired;
  }
  throw new Error(
    `webgpu: no adapter found (route ${chosen}). native needs a Vulkan driver; opengles needs Mesa's ` +
      'EGL/GLES with llvmpipe (Debian: libegl1 libgles2 libgl1-mesa-dri)',
  );
}
