// The buffer-lifecycle guards every device backend must keep, asserted the same way for each
// (webgpu and gpujs backend tests). Not a test by itself: call it from one.

import { expect } from 'vitest';
import type { Backend } from '../../src/tensor/backend.js';

/**
 * Given a buffer `freed` that was just freed: freeing it again throws, reading it rejects;
 * float64 buffers are refused; a write past a buffer's end throws a RangeError.
 */
export async function expectMemoryGuards<B>(backend: Backend<B>, freed: B): Promise<void> {
  expect(() => backend.free(freed)).toThrow(/twice/);
  await expect(backend.read(freed, 'float32', 0, 1)).rejects.toThrow(/freed/);
  expect(() => backend.alloc('float64', 4)).toThrow(/float64/);
  const small = backend.alloc('float32', 2);
  expect(() => backend.write(small, 'float32', [1, 2, 3])).toThrow(RangeError);
  backend.free(small);
}
