// The cpu backend's memory: one shared WebAssembly.Memory and a size-class allocator over it.
//
// Layout of the memory (byte addresses):
//   [0, CONTROL_BYTE)              never handed out, so that address 0 means "no buffer"
//   [CONTROL_BYTE, DESC_BYTE)      the worker pool's control block (see pool.ts)
//   [DESC_BYTE, TABLES_BYTE)       per-call kernel descriptors and small tables
//   [TABLES_BYTE, +32 x 512)       per-thread constant tables that kernels write for themselves
//   [HEAP_BASE, top)               the heap; `top` only grows
//
// The allocator rounds every request up to a size class (multiples of 64 bytes up to 1 KiB, then
// four classes per power of two, so at most 25% is wasted), hands out a free block of that class or
// of a larger one up to twice the size, else a block from the top of the heap, and grows the memory
// when the top passes its end.
// Blocks are 64-byte aligned and never move: a typed array made on a block stays valid after
// memory.grow, because a shared memory's buffer is never detached. There is no coalescing, so
// the heap's size is bounded by the high-water mark of each class, which suits a training loop that
// allocates the same shapes every step, and evaluation batches of shrinking lengths. It is not a
// general-purpose malloc.

import { type WasmMemory, wasmApi } from './wasm-api.js';

/** wasm32 pages of 64 KiB. */
const PAGE = 65536;
/** The maximum a wasm32 memory can have: 65536 pages = 4 GiB. */
export const MAX_PAGES = 65536;

export const CONTROL_BYTE = 64;
export const DESC_BYTE = 1024;
export const TABLES_BYTE = 32768;
export const DESC_BYTES = TABLES_BYTE - DESC_BYTE;
export const HEAP_BASE = 65536;

/** Bytes kept addressable past the top of the heap, so vector loads near a block's end stay in bounds. */
const SLACK = 64;

/** The size class of a request: the block size that will be handed out for it. */
export function classSize(bytes: number): number {
  const b = Math.max(64, Math.ceil(bytes / 64) * 64);
  if (b <= 1024) return b;
  const step = 2 ** Math.floor(Math.log2(b - 1)) / 4;
  return Math.ceil(b / step) * step;
}

export class Heap {
  readonly memory: WasmMemory;
  private top = HEAP_BASE;
  /** class size -> addresses of free blocks of that class */
  private readonly freeLists = new Map<number, number[]>();
  /** live block address -> its class size */
  private readonly live = new Map<number, number>();

  constructor(initialBytes = 16 << 20) {
    const initial = Math.max(2, Math.ceil(initialBytes / PAGE));
    this.memory = new wasmApi.Memory({ initial, maximum: MAX_PAGES, shared: true });
  }

  /** A 64-byte aligned block of at least `bytes` bytes. */
  alloc(bytes: number): number {
    const size = classSize(bytes);
    // A free block of this class, else of the next classes up to twice the size: shapes that vary
    // from call to call (padded batches of different lengths) then reuse each other's blocks instead
    // of raising every class's high-water mark.
    for (let c = size; c <= 2 * size; c = classSize(c + 1)) {
      const reuse = this.freeLists.get(c)?.pop();
      if (reuse !== undefined) {
        this.live.set(reuse, c);
        return reuse;
      }
    }
    const ptr = this.top;
    this.ensureCapacity(ptr + size + SLACK);
    this.top = ptr + size;
    this.live.set(ptr, size);
    return ptr;
  }

  free(ptr: number): void {
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`cpu heap: free of address ${ptr}, which is not a live block`);
    this.live.delete(ptr);
    let list = this.freeLists.get(size);
    if (!list) {
      list = [];
      this.freeLists.set(size, list);
    }
    list.push(ptr);
  }

  /** The block size behind a live address. */
  blockSize(ptr: number): number {
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`cpu heap: address ${ptr} is not a live block`);
    return size;
  }

  liveBlocks(): number {
    return this.live.size;
  }

  /** Bytes the heap has taken from the memory so far (live and free blocks). */
  reservedBytes(): number {
    return this.top - HEAP_BASE;
  }

  /** Current size of the whole memory. */
  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  private ensureCapacity(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > MAX_PAGES * PAGE) {
      throw new RangeError(`cpu heap: out of memory (${end} bytes needed, the wasm32 limit is 4 GiB)`);
    }
    const havePages = have / PAGE;
    const needPages = Math.ceil(end / PAGE) - havePages;
    // Grow by at least a quarter of the current size, so that a growing heap grows rarely.
    const wantPages = Math.min(MAX_PAGES - havePages, Math.max(needPages, Math.ceil(havePages / 4)));
    try {
      this.memory.grow(wantPages);
    } catch {
      try {
        this.memory.grow(needPages);
      } catch (err) {
        throw new RangeError(`cpu heap: cannot grow the memory to ${end} bytes: ${(err as Error).message}`);
      }
    }
  }
}
