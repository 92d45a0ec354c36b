// The memory model: reference-counted storages and `tidy` scopes.
//
// - A Storage is one device buffer. Every Tensor (including views) holds one reference to its
//   storage; `tensor.dispose()` drops it, and the buffer is freed when the last reference goes.
// - `tidy(fn)` tracks every tensor created while fn runs and disposes all of them on exit except
//   those reachable from fn's return value (which move to the enclosing scope) and those marked
//   with `keep` (parameters, optimizer state, accumulated gradients).
// - `tidyLocal(fn)` frees the handles fn created, like tidy, but what the autograd graph saved for
//   backward stays alive: the engine holds its own handles to saved tensors, owned by the nearest
//   enclosing `tidy`, and releases each as soon as its node has run backward. Model code wraps
//   layers in tidyLocal so that inference and training keep only what the next op or a gradient
//   rule needs; `consume(x, fn)` frees one intermediate right after its last use.
// - A FinalizationRegistry is only a backstop for tensors created outside any scope: their buffers
//   are released when the JS object is garbage-collected. Training loops should use `tidy`.
// `liveStorages()` counts buffers that are still allocated; a test asserts it stays flat across
// training steps. `liveBytes()` / `peakLiveBytes()` count their bytes on every device.

import type { Backend, DType } from './backend.js';

let liveCount = 0;
let liveByteCount = 0;
let peakByteCount = 0;

function bytesOf(dtype: DType, size: number): number {
  return size * (dtype === 'float64' ? 8 : 4);
}

export class Storage {
  refs = 0;
  freed = false;

  constructor(
    readonly backend: Backend,
    readonly buf: unknown,
    readonly dtype: DType,
    readonly size: number,
  ) {
    liveCount++;
    liveByteCount += bytesOf(dtype, size);
    peakByteCount = Math.max(peakByteCount, liveByteCount);
  }

  retain(): void {
    if (this.freed) throw new Error('retain of a freed storage');
    this.refs++;
  }

  release(): void {
    if (this.freed) return;
    this.refs--;
    if (this.refs <= 0) {
      this.freed = true;
      liveCount--;
      liveByteCount -= bytesOf(this.dtype, this.size);
      this.backend.free(this.buf);
    }
  }
}

export function liveStorages(): number {
  return liveCount;
}

/** Bytes of the storages still allocated (all devices). */
export function liveBytes(): number {
  return liveByteCount;
}

/** The highest `liveBytes()` since start or since `resetPeakLiveBytes()`. */
export function peakLiveBytes(): number {
  return peakByteCount;
}

export function resetPeakLiveBytes(): void {
  peakByteCount = liveByteCount;
}

/** Anything that can be disposed and tracked by a scope: a Tensor. */
export interface Disposable {
  dispose(): void;
  kept: boolean;
  disposed: boolean;
}

interface Scope {
  readonly tensors: Set<Disposable>;
  /** tidy (owns graph-saved handles) or tidyLocal (does not). */
  readonly owner: boolean;
}

const scopes: Scope[] = [];

/** Called by the Tensor constructor. */
export function track(t: Disposable): void {
  scopes[scopes.length - 1]?.tensors.add(t);
}

/**
 * Move a just-created tensor from the current scope to the nearest enclosing `tidy` (skipping
 * tidyLocal scopes). The autograd engine calls it for the handles it saves for backward.
 */
export function trackInOwner(t: Disposable): void {
  let i = scopes.length - 1;
  while (i >= 0 && !scopes[i].owner) scopes[i--].tensors.delete(t);
  if (i >= 0) scopes[i].tensors.add(t);
}

/** fn(x), then x.dispose() unless fn returned x itself: frees an intermediate after its last use. */
export function consume<X extends Disposable, R>(x: X, fn: (x: X) => R): R {
  const r = fn(x);
  if ((r as unknown) !== x) x.dispose();
  return r;
}

/** Exclude a tensor from scope cleanup; it lives until `dispose()` is called on it. */
export function keep<T extends Disposable>(t: T): T {
  t.kept = true;
  for (const s of scopes) s.tensors.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Disposable>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ('dispose' in value && 'kept' in value && 'disposed' in value) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

/**
 * Run fn in a scope: tensors it creates are disposed on exit, except those reachable from its
 * result (arrays, maps and plain objects are searched), which move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  return runScope(fn, true);
}

/**
 * tidy for model code: frees the tensors fn created except its result, while handles that the
 * autograd graph saved for backward stay with the enclosing tidy until their node has run.
 */
export function tidyLocal<T>(fn: () => T): T {
  return runScope(fn, false);
}

function runScope<T>(fn: () => T, owner: boolean): T {
  const scope = new Set<Disposable>();
  scopes.push({ tensors: scope, owner });
  let result: T;
  try {
    result = fn();
  } catch (err) {
    for (const t of scope) if (!t.kept) t.dispose();
    throw err;
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous');
  const survivors = new Set<Disposable>();
  collect(result, survivors, new Set());
  for (const t of scope) {
    if (survivors.has(t) || t.kept) continue;
    t.dispose();
  }
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of survivors) if (!t.kept && !t.disposed) parent.tensors.add(t);
  return result;
}

export const finalizer = new FinalizationRegistry<Storage>((storage) => storage.release());
