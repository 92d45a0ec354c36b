// The cpu backend's memory: one shared WebAssembly.Memory and a coalescing allocator over it.
//
// Layout of the memory (byte addresses):
//   [0, CONTROL_BYTE)              never handed out, so that address 0 means "no buffer"
//   [CONTROL_BYTE, DESC_BYTE)      the worker pool's control block (see pool.ts)
//   [DESC_BYTE, TABLES_BYTE)       per-call kernel descriptors and small tables
//   [TABLES_BYTE, +32 x 512)       per-thread constant tables that kernels write for themselves
//   [HEAP_BASE, top)               the heap; `top` falls when the last block is freed; the memory
//                                  itself only grows
//
// The allocator: blocks are 64-byte multiples at 64-byte aligned addresses, carved from the heap
// and returned to it with coalescing, so the heap's peak follows the live bytes rather than the
// history of shapes. Free blocks sit in segregated bins (TLSF-style: one bin per eighth of a power of
// two) and in two maps by start and end address; free merges a block with its free neighbours in
// O(1), and a free block that reaches the top lowers the top instead. alloc takes the first block
// that fits from the request's bin, else the first block of the lowest non-empty larger bin (any of
// which fits), splits off the rest, and only then extends the top (absorbing a free block that ends
// there). Why not a buddy allocator: tensors are rarely powers of two (768 x 3072 floats), and a
// buddy wastes up to half of each; a bump allocator with size classes (this file's first version)
// cannot merge neighbours, so varying shapes raised every class's high-water mark.
// Blocks never move: a typed array made on a block stays valid after memory.grow, because a shared
// memory's buffer is never detached.

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

/** The block size handed out for a request: a multiple of 64 bytes, at least 64. */
export function blockBytes(bytes: number): number {
  return Math.max(64, Math.ceil(bytes / 64) * 64);
}

/** Bins per power of two. */
const SUB_BINS = 8;

/** The bin of a block size: floor(log2) and the next three bits. */
function binOf(size: number): number {
  const fl = Math.floor(Math.log2(size));
  const sl = Math.floor((size - 2 ** fl) / 2 ** (fl - 3));
  return fl * SUB_BINS + sl;
}

export class Heap {
  readonly memory: WasmMemory;
  private top = HEAP_BASE;
  private peakTop = HEAP_BASE;
  private liveTotal = 0;
  /** bin -> addresses of the free blocks in it */
  private readonly bins: Set<number>[] = [];
  /** free block address -> size, and free block end -> address */
  private readonly freeAt = new Map<number, number>();
  private readonly freeEnd = new Map<number, number>();
  /** live block address -> size */
  private readonly live = new Map<number, number>();

  constructor(initialBytes = 16 << 20) {
    const initial = Math.max(2, Math.ceil(initialBytes / PAGE));
    this.memory = new wasmApi.Memory({ initial, maximum: MAX_PAGES, shared: true });
  }

  /** A 64-byte aligned block of at least `bytes` bytes. */
  alloc(bytes: number): number {
    const size = blockBytes(bytes);
    let ptr = this.takeFree(size);
    if (ptr === undefined) {
      // extend the top, starting from a free block that ends there
      const last = this.freeEnd.get(this.top);
      const start = last ?? this.top;
      const end = start + size;
      if (end + SLACK > MAX_PAGES * PAGE) {
        throw new RangeError(
          `cpu heap: out of memory (${end + SLACK} bytes needed, the wasm32 limit is 4 GiB; ` +
            `${this.liveTotal} bytes live in ${this.live.size} blocks, ${this.top - HEAP_BASE - this.liveTotal} free)`,
        );
      }
      this.ensureCapacity(end + SLACK);
      if (last !== undefined) this.unlinkFree(last, this.top - last);
      ptr = start;
      this.top = end;
      this.peakTop = Math.max(this.peakTop, end);
    }
    this.live.set(ptr, size);
    this.liveTotal += size;
    return ptr;
  }

  free(ptr: number): void {
    let size = this.live.get(ptr);
    if (size === undefined) throw new Error(`cpu heap: free of address ${ptr}, which is not a live block`);
    this.live.delete(ptr);
    this.liveTotal -= size;
    const before = this.freeEnd.get(ptr);
    if (before !== undefined) {
      this.unlinkFree(before, ptr - before);
      size += ptr - before;
      ptr = before;
    }
    const after = this.freeAt.get(ptr + size);
    if (after !== undefined) {
      this.unlinkFree(ptr + size, after);
      size += after;
    }
    if (ptr + size === this.top) this.top = ptr;
    else this.linkFree(ptr, size);
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

  /** Bytes in live blocks. */
  liveBytes(): number {
    return this.liveTotal;
  }

  /** Bytes from the heap's base to its top now (live blocks and the free blocks between them). */
  reservedBytes(): number {
    return this.top - HEAP_BASE;
  }

  /** The highest `reservedBytes()` since the heap was made or since `resetPeak()`. */
  peakBytes(): number {
    return this.peakTop - HEAP_BASE;
  }

  resetPeak(): void {
    this.peakTop = this.top;
  }

  /** Number of free blocks below the top (a measure of fragmentation). */
  freeBlocks(): number {
    return this.freeAt.size;
  }

  /** Current size of the whole memory. */
  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** The lowest block that fits from the free bins, split to `size`; undefined when none fits. */
  private takeFree(size: number): number | undefined {
    const first = binOf(size);
    let found: number | undefined;
    let foundSize = 0;
    const own = this.bins[first];
    if (own) {
      for (const p of own) {
        const s = this.freeAt.get(p)!;
        if (s >= size) {
          found = p;
          foundSize = s;
          break;
        }
      }
    }
    for (let b = first + 1; found === undefined && b < this.bins.length; b++) {
      const bin = this.bins[b];
      if (!bin || bin.size === 0) continue;
      found = bin.values().next().value as number;
      foundSize = this.freeAt.get(found)!;
    }
    if (found === undefined) return undefined;
    this.unlinkFree(found, foundSize);
    if (foundSize > size) this.linkFree(found + size, foundSize - size);
    return found;
  }

  private linkFree(ptr: number, size: number): void {
    this.freeAt.set(ptr, size);
    this.freeEnd.set(ptr + size, ptr);
    const b = binOf(size);
    while (this.bins.length <= b) this.bins.push(new Set());
    this.bins[b].add(ptr);
  }

  private unlinkFree(ptr: number, size: number): void {
    this.freeAt.delete(ptr);
    this.freeEnd.delete(ptr + size);
    this.bins[binOf(size)].delete(ptr);
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
