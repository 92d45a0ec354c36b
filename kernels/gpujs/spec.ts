// What a gpujs kernel is, as data: gpu.js kernel-function source plus the GLSL helpers it calls.
//
// The kernel families in this folder are written as text, not as live JS functions: gpu.js parses a
// kernel's source, and `fn.toString()` would hand it whatever tsx, vitest or a bundler turned our
// code into. Each family file builds a KernelSpec; src/tensor/backends/gpujs/runtime.ts compiles
// it with gpu.js (headless GL, pipeline textures) and caches it by the whole spec.

/** A GLSL function handed to gpu.js as a native function (index maps, op math, hashing). */
export interface NativeFn {
  name: string;
  source: string;
  returnType: 'Integer' | 'Float';
  argumentTypes: Record<string, 'Integer' | 'Float'>;
}

export interface KernelSpec {
  /** Family and variant, e.g. 'unary.gelu' or 'matmul.packA': counted per launch and named in errors. */
  family: string;
  /** The gpu.js kernel function, as JavaScript source text. */
  source: string;
  /** GLSL helpers the source calls. */
  natives: NativeFn[];
  /** gpu.js output dims: [n] for one value per thread. */
  output: number[];
  /** Compile-time constants (`this.constants.X`), baked into the shader. */
  constants?: Record<string, number>;
}

/** Build a native GLSL function from its typed parameter list and body lines. */
export function glsl(
  returnType: 'int' | 'float',
  name: string,
  params: readonly (readonly [type: 'int' | 'float', name: string])[],
  body: readonly string[],
): NativeFn {
  const argumentTypes: Record<string, 'Integer' | 'Float'> = {};
  for (const [type, p] of params) argumentTypes[p] = type === 'int' ? 'Integer' : 'Float';
  const signature = params.map(([type, p]) => `${type} ${p}`).join(', ');
  return {
    name,
    source: [`${returnType} ${name}(${signature}) {`, ...body.map((l) => `  ${l}`), '}'].join('\n'),
    returnType: returnType === 'int' ? 'Integer' : 'Float',
    argumentTypes,
  };
}

/**
 * The first line every kernel that writes a buffer starts with. A kernel's output is always its
 * whole destination buffer, one thread per buffer element; `outIdx(i)` maps buffer element i to
 * the logical element of the destination view, or -1 where the view does not reach, and such
 * elements keep their previous value. When the view is the whole buffer, outIdx is the identity
 * and the `prev` argument is omitted.
 */
export function passThrough(hasPrev: boolean): string {
  return hasPrev ? 'if (outIdx(this.thread.x) < 0) { return prev[this.thread.x]; }' : '';
}

/** The parameter list of a kernel function, with `prev` appended when the output is partial. */
export function params(names: readonly string[], hasPrev: boolean): string {
  return (hasPrev ? [...names, 'prev'] : names).join(', ');
}

/** Shorthand used inside kernel sources: the logical output index of this thread. */
export const J = 'outIdx(this.thread.x)';

/**
 * One native carrying its helpers: gpu.js includes only the natives a kernel function calls
 * directly (it does not trace calls between natives), so a native that calls others ships their
 * GLSL in its own source, ahead of itself.
 */
export function withHelpers(main: NativeFn, helpers: readonly NativeFn[]): NativeFn {
  if (helpers.length === 0) return main;
  return { ...main, source: [...helpers.map((h) => h.source), main.source].join('\n') };
}
