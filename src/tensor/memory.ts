// The memory model: reference-counted storages and `tidy` scopes.
//
// - A Storage is one device buffer. Every Tensor (including views) holds one reference to its
//   storage; `tensor.dispose()` drops it, and the buffer is freed when the last reference goes.
// - `tidy(fn)` tracks every tensor created while fn runs and disposes all of them on exit except
//   those reachable from fn's return value (which move to the enclosing scope) and those marked
//   with `keep` (parameters, optimizer state, accumulated gradients).
// - A FinalizationRegistry is only a backstop for tensors created outside any scope: their buffers
//   are released when the JS object is garbage-collected. Training loops should use `tidy`.
// `liveStorages()` counts buffers that are still allocated; a test asserts it stays flat across
// training steps.

import type { Backend, DType } from './backend.js';

let liveCount = 0;

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
      this.backend.free(this.buf);
    }
  }
}

export function liveStorages(): number {
  return liveCount;
}

/** Anything that can be disposed and tracked by a scope: a Tensor. */
export interface Disposable {
  dispose(): void;
  kept: boolean;
  disposed: boolean;
}

const scopes: Set<Disposable>[] = [];

/** Called by the Tensor constructor. */
export function track(t: Disposable): void {
  const top = scopes[scopes.length - 1];
  if (top) top.add(t);
}

/** Exclude a tensor from scope cleanup; it lives until `dispose()` is called on it. */
export function keep<T extends Disposable>(t: T): T {
  t.kept = true;
  for (const s of scopes) s.delete(t);
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
  const scope = new Set<Disposable>();
  scopes.push(scope);
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
  if (parent) for (const t of survivors) if (!t.kept && !t.disposed) parent.add(t);
  return result;
}

export const finalizer = new FinalizationRegistry<Storage>((storage) => storage.release());
