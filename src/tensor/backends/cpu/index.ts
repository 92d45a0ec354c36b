// The `cpu` backend: RefBackend on one shared WebAssembly memory, with its hot kernels replaced by
// hand-written WebAssembly SIMD kernels (kernels/wasm/*.wat) that run on a pool of worker threads.
//
// Fast paths (float32 only):
//   matmul         any strides (transposed or not), batched; the 4x8-tiled sgemm kernel
//   softmax        contiguous rows, softmax and log-softmax
//   layernorm      contiguous rows, with affine weight and bias
//   unary          gelu, gelu_grad on contiguous tensors
//   binary         add, sub, mul, div with a contiguous output and operands that are contiguous,
//                  a broadcast row (bias), a broadcast scalar, or one value per row
// Everything else (float64, int32, other ops, views the fast paths do not cover) is RefBackend's
// code running unchanged on the same memory: every buffer's `data` is a typed array over it.
// `lastKernel` / `kernelCounts` say which path ran ('wasm.sgemm' vs 'ref.matmul', ...).
//
// Determinism: results never depend on the thread count. Kernels split work by output tiles,
// rows or element ranges and never split a reduction.
//
// Usage: `const cpu = new CpuBackend(); await cpu.init({ threads: 2 });`. Without init, the pool
// starts lazily on the first call big enough to use it, and calls run on the caller's thread
// until its workers are ready.

import os from 'node:os';
import {
  type DType, type TypedArray, type UnaryOp, type BinaryOp, type View, isContiguous, sizeOf,
} from '../../backend.js';
import { RefBackend, type RefBuffer } from '../ref.js';
import { DESC_BYTE, DESC_BYTES, Heap, TABLES_BYTE } from './heap.js';
import { ENTRY_POINTS, type EntryPoint, instantiateKernels } from './kernels.js';
import { MAX_THREADS, WorkerPool } from './pool.js';

export interface CpuBuffer extends RefBuffer {
  /** Byte address of the buffer's block in the backend's memory. */
  readonly ptr: number;
  /** The backend whose memory holds it (addresses mean nothing in another backend's memory). */
  readonly owner: CpuBackend;
}

export interface CpuBackendOptions {
  /** Threads per kernel call, the caller's included (default: os.availableParallelism()). */
  threads?: number;
  /** Initial memory size in bytes (default 16 MiB); the memory grows as needed up to 4 GiB. */
  initialBytes?: number;
  /** How calls use the pool; tests shrink these to push small shapes through several threads. */
  parallel?: Partial<ParallelOptions>;
}

export interface ParallelOptions {
  /** Smallest matmul (2·batch·M·N·K) that uses the pool; waking workers costs ~20-50 us. */
  minFlops: number;
  /** Smallest output (elements) of the other kernels that uses the pool. */
  minElements: number;
  /**
   * Elements a thread takes at a time from the shared counter of the non-matmul kernels (rows
   * of softmax and layernorm: as many as fit, at least one).
   */
  chunkElements: number;
}

const PARALLEL_DEFAULTS: ParallelOptions = { minFlops: 1 << 22, minElements: 1 << 17, chunkElements: 1 << 14 };

/** sgemm blocking. KC is fixed in sgemm.wat (it sets the summation order); mc and nc are free. */
const KC = 256;
const MC_MAX = 128;
const NC_MAX = 1024;
/** Cap on one thread's packed copy of B[:, column block] for all of K. */
const PACKED_B_MAX_BYTES = 16 << 20;

const BINARY_CODES: Partial<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3 };

function opIndex(name: EntryPoint): number {
  return ENTRY_POINTS.indexOf(name);
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}


/** Byte address of a float32 view's element 0. */
function addr(v: View<RefBuffer>): number {
  return (v.buf as CpuBuffer).ptr + v.offset * 4;
}

/**
 * How an operand expanded to `shape` is addressed as rows of length L:
 * element (r, l) at offset + r*row + l*vec (in elements), or null if it has no such form.
 */
function rowForm(v: View<RefBuffer>, L: number, flat: boolean): { row: number; vec: 0 | 1 } | null {
  const rank = v.shape.length;
  if (flat) {
    // the whole tensor as one row: contiguous, or one value broadcast everywhere
    if (isContiguous(v)) return { row: 0, vec: 1 };
    if (v.shape.every((d, i) => d === 1 || v.strides[i] === 0)) return { row: 0, vec: 0 };
    return null;
  }
  let vec: 0 | 1;
  if (L === 1 || v.strides[rank - 1] === 0) vec = 0;
  else if (v.strides[rank - 1] === 1) vec = 1;
  else return null;
  // the leading dims must collapse into a single row stride
  let row = 0;
  let span = 0;
  for (let d = rank - 2; d >= 0; d--) {
    if (v.shape[d] === 1) continue;
    if (span === 0) {
      row = v.strides[d];
      span = v.shape[d];
    } else if (v.strides[d] === row * span) {
      span *= v.shape[d];
    } else {
      return null;
    }
  }
  return { row, vec };
}

export class CpuBackend extends RefBackend {
  override readonly name: string = 'cpu';
  readonly heap: Heap;
  /** The last kernel that ran: 'wasm.<entry>' for a WebAssembly kernel, 'ref.<kernel>' for a fallback. */
  lastKernel = '';
  /** Threads the last WebAssembly kernel ran on. */
  lastThreads = 0;

  private readonly pool: WorkerPool;
  private readonly parallel: ParallelOptions;
  private threads: number;
  private liveCount = 0;
  /** matmul's per-thread scratch (packed panels), one block for all threads. */
  private scratch = 0;
  private scratchBytes = 0;
  private i32View: Int32Array;
  private f32View: Float32Array;

  constructor(opts: CpuBackendOptions = {}) {
    super();
    this.heap = new Heap(opts.initialBytes);
    this.pool = new WorkerPool(this.heap.memory, instantiateKernels(this.heap.memory));
    this.threads = this.checkThreads(opts.threads ?? os.availableParallelism());
    this.parallel = { ...PARALLEL_DEFAULTS, ...opts.parallel };
    this.i32View = new Int32Array(this.heap.memory.buffer);
    this.f32View = new Float32Array(this.heap.memory.buffer);
  }

  /** Start the worker pool (threads - 1 workers) and wait until it is ready. */
  async init(opts: { threads?: number } = {}): Promise<this> {
    if (opts.threads !== undefined) this.threads = this.checkThreads(opts.threads);
    this.pool.grow(this.threads);
    await this.pool.ready();
    return this;
  }

  /** Threads per kernel call from now on; more workers start lazily if needed. */
  setThreads(threads: number): void {
    this.threads = this.checkThreads(threads);
  }

  getThreads(): number {
    return this.threads;
  }

  /** Threads that can run a call now: the caller's plus the workers that are ready. */
  readyThreads(): number {
    return Math.min(this.threads, this.pool.readyThreads());
  }

  /** Stop the worker pool; the backend keeps working on the caller's thread. */
  async dispose(): Promise<void> {
    this.threads = 1;
    await this.pool.close();
  }

  override liveBuffers(): number {
    return this.liveCount;
  }

  /** Bytes the allocator has taken from the memory (live and free blocks, scratch included). */
  heapBytes(): number {
    return this.heap.reservedBytes();
  }

  // ---- memory -------------------------------------------------------------------------------

  override alloc(dtype: DType, size: number): CpuBuffer {
    const bytesPer = dtype === 'float64' ? 8 : 4;
    const ptr = this.heap.alloc(size * bytesPer);
    const buffer = this.heap.memory.buffer;
    let data: TypedArray;
    if (dtype === 'float32') data = new Float32Array(buffer, ptr, size);
    else if (dtype === 'float64') data = new Float64Array(buffer, ptr, size);
    else data = new Int32Array(buffer, ptr, size);
    // Reused blocks hold old data; new buffers read as zeros, as RefBackend's do.
    data.fill(0);
    this.liveCount++;
    return { data, ptr, owner: this };
  }

  override free(buf: RefBuffer): void {
    if (!this.owns(buf)) throw new Error('cpu backend: free of a buffer it did not allocate');
    this.heap.free(buf.ptr);
    this.liveCount--;
  }

  // ---- kernels ------------------------------------------------------------------------------

  override matmul(a: View<RefBuffer>, b: View<RefBuffer>, out: View<RefBuffer>): void {
    if (!this.allFloat32(a, b, out) || !isContiguous(out)) {
      super.matmul(a, b, out);
      this.lastKernel = 'ref.matmul';
      return;
    }
    const rank = a.shape.length;
    const M = a.shape[rank - 2];
    const K = a.shape[rank - 1];
    const N = b.shape[rank - 1];
    const batchShape = a.shape.slice(0, rank - 2);
    const batch = sizeOf(batchShape);
    if (batch * M * N === 0) return;
    if (K === 0) {
      // an empty sum: C = 0
      out.buf.data.fill(0, out.offset, out.offset + batch * M * N);
      this.lastKernel = 'zero-fill';
      return;
    }
    const nt = this.threadsFor(2 * batch * M * N * K, this.parallel.minFlops);

    // Blocks: mc rows x nc columns of C per unit of work. Threads take units one at a time, so
    // a few units per thread balance the load even when the OS delays one of them.
    let mc = Math.min(MC_MAX, roundUp(M, 4));
    let nc = Math.min(NC_MAX, roundUp(N, 8));
    const kPadded = roundUp(K, KC);
    while (nc > 8 && kPadded * nc * 4 > PACKED_B_MAX_BYTES) nc = roundUp(nc / 2, 8);
    const units = (): number => batch * Math.ceil(M / mc) * Math.ceil(N / nc);
    while (nt > 1 && units() < 4 * nt) {
      if (nc >= 128) nc = roundUp(nc / 2, 8);
      else if (mc >= 32) mc = roundUp(mc / 2, 4);
      else break;
    }
    // per thread: packed A (mc x KC), packed B (kPadded x nc), a 4x8 tile
    const stride = roundUp(mc * KC * 4 + kPadded * nc * 4 + 128, 64);
    const scratch = this.ensureScratch(stride * nt);

    // Per-batch byte addresses of A_p[0,0], B_p[0,0], C_p[0,0]: after the descriptor's 17
    // fields when they fit, else in a temporary heap block.
    const tableBytes = 3 * 4 * batch;
    const temp = tableBytes > DESC_BYTES - 128 ? this.heap.alloc(tableBytes) : 0;
    const tables = temp !== 0 ? temp : DESC_BYTE + 128;
    const i32 = this.int32();
    const at = tables >> 2;
    writeBatchAddresses(i32, at, a, batchShape, (a.buf as CpuBuffer).ptr);
    writeBatchAddresses(i32, at + batch, b, batchShape, (b.buf as CpuBuffer).ptr);
    writeBatchAddresses(i32, at + 2 * batch, out, batchShape, (out.buf as CpuBuffer).ptr);
    i32.set([
      M, N, K, batch,
      a.strides[rank - 2], a.strides[rank - 1],
      b.strides[rank - 2], b.strides[rank - 1],
      N,
      tables, tables + 4 * batch, tables + 8 * batch,
      mc, nc,
      scratch, stride,
      0,
    ], DESC_BYTE >> 2);
    try {
      this.launch('sgemm', nt);
    } finally {
      if (temp !== 0) this.heap.free(temp);
    }
  }

  override softmax(x: View<RefBuffer>, out: View<RefBuffer>, log: boolean): void {
    if (!this.allFloat32(x, out) || !isContiguous(x) || !isContiguous(out)) {
      super.softmax(x, out, log);
      this.lastKernel = log ? 'ref.logsoftmax' : 'ref.softmax';
      return;
    }
    const C = x.shape.at(-1) ?? 1;
    const n = sizeOf(x.shape);
    if (n === 0) return;
    const rows = n / C;
    const chunk = this.rowsPerChunk(C);
    const nt = Math.min(Math.ceil(rows / chunk), this.threadsFor(n, this.parallel.minElements));
    this.int32().set([rows, C, addr(x), addr(out), log ? 1 : 0, TABLES_BYTE, chunk, 0], DESC_BYTE >> 2);
    this.launch('softmax', nt);
  }

  override layernorm(
    x: View<RefBuffer>, w: View<RefBuffer>, b: View<RefBuffer>, eps: number,
    out: View<RefBuffer>, mean: View<RefBuffer>, rstd: View<RefBuffer>,
  ): void {
    const views = [x, w, b, out, mean, rstd];
    if (!this.allFloat32(...views) || !views.every((v) => isContiguous(v))) {
      super.layernorm(x, w, b, eps, out, mean, rstd);
      this.lastKernel = 'ref.layernorm';
      return;
    }
    const H = x.shape.at(-1) ?? 1;
    const n = sizeOf(x.shape);
    if (n === 0) return;
    const rows = n / H;
    const chunk = this.rowsPerChunk(H);
    const nt = Math.min(Math.ceil(rows / chunk), this.threadsFor(n, this.parallel.minElements));
    const d = DESC_BYTE >> 2;
    this.int32().set([rows, H, addr(x), addr(w), addr(b), addr(out), addr(mean), addr(rstd), 0, chunk, 0], d);
    this.float32()[d + 8] = eps;
    this.launch('layernorm', nt);
  }

  override unary(op: UnaryOp, x: View<RefBuffer>, out: View<RefBuffer>): void {
    const gelu = op === 'gelu' || op === 'gelu_grad';
    if (!gelu || !this.allFloat32(x, out) || !isContiguous(x) || !isContiguous(out)) {
      super.unary(op, x, out);
      this.lastKernel = `ref.unary.${op}`;
      return;
    }
    const n = sizeOf(x.shape);
    if (n === 0) return;
    const chunk = this.parallel.chunkElements;
    const nt = Math.min(Math.ceil(n / chunk), this.threadsFor(n, this.parallel.minElements));
    this.int32().set([n, addr(x), addr(out), op === 'gelu_grad' ? 1 : 0, TABLES_BYTE, chunk, 0], DESC_BYTE >> 2);
    this.launch('gelu', nt);
  }

  override binary(op: BinaryOp, a: View<RefBuffer>, b: View<RefBuffer>, out: View<RefBuffer>): void {
    const code = BINARY_CODES[op];
    const n = sizeOf(out.shape);
    if (code === undefined || !this.allFloat32(a, b, out) || !isContiguous(out) || n === 0) {
      super.binary(op, a, b, out);
      this.lastKernel = `ref.binary.${op}`;
      return;
    }
    // Prefer the whole tensor as one row; else rows of the last dim.
    let L = n;
    let fa = rowForm(a, L, true);
    let fb = rowForm(b, L, true);
    if (fa === null || fb === null) {
      L = out.shape.at(-1) ?? 1;
      fa = rowForm(a, L, false);
      fb = rowForm(b, L, false);
    }
    if (fa === null || fb === null) {
      super.binary(op, a, b, out);
      this.lastKernel = `ref.binary.${op}`;
      return;
    }
    const chunk = this.parallel.chunkElements;
    const nt = Math.min(Math.ceil(n / chunk), this.threadsFor(n, this.parallel.minElements));
    this.int32().set([
      code, n, L,
      addr(a), fa.row * 4, fa.vec,
      addr(b), fb.row * 4, fb.vec,
      addr(out),
      chunk, 0,
    ], DESC_BYTE >> 2);
    this.launch('binary', nt);
  }

  // ---- helpers ------------------------------------------------------------------------------

  private launch(entry: EntryPoint, nt: number): void {
    this.pool.run(opIndex(entry), DESC_BYTE, nt);
    this.count(`wasm.${entry}`);
    this.lastKernel = `wasm.${entry}`;
    this.lastThreads = nt;
  }

  private owns(buf: RefBuffer): buf is CpuBuffer {
    return (buf as Partial<CpuBuffer>).owner === this;
  }

  /** float32 views of buffers in this backend's memory: what the WebAssembly kernels can read. */
  private allFloat32(...views: View<RefBuffer>[]): boolean {
    return views.every((v) => v.dtype === 'float32' && this.owns(v.buf));
  }

  /** Threads for a call of size `work`; starts the pool lazily when a call first needs it. */
  private threadsFor(work: number, min: number): number {
    if (this.threads <= 1 || work < min) return 1;
    if (this.pool.size() < this.threads && this.pool.failure() === null) this.pool.grow(this.threads);
    return Math.min(this.threads, this.pool.readyThreads());
  }

  /** Rows of length `rowLength` per chunk: about chunkElements elements, at least one row. */
  private rowsPerChunk(rowLength: number): number {
    return Math.max(1, Math.floor(this.parallel.chunkElements / rowLength));
  }

  private checkThreads(threads: number): number {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new RangeError(`cpu backend: threads must be an integer in [1, ${MAX_THREADS}], got ${threads}`);
    }
    return threads;
  }

  /** matmul scratch of at least `bytes` bytes, reallocated (never shrunk) when too small. */
  private ensureScratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      if (this.scratch !== 0) this.heap.free(this.scratch);
      this.scratch = this.heap.alloc(bytes);
      this.scratchBytes = this.heap.blockSize(this.scratch);
    }
    return this.scratch;
  }

  /** Views over the whole memory, remade after the memory grew. */
  private int32(): Int32Array {
    if (this.i32View.byteLength !== this.heap.memory.buffer.byteLength) this.refreshViews();
    return this.i32View;
  }

  private float32(): Float32Array {
    if (this.f32View.byteLength !== this.heap.memory.buffer.byteLength) this.refreshViews();
    return this.f32View;
  }

  private refreshViews(): void {
    this.i32View = new Int32Array(this.heap.memory.buffer);
    this.f32View = new Float32Array(this.heap.memory.buffer);
  }
}

/** dst[at + p] = byte address of batch p's [0, 0] element of v, p in row-major order of batchShape. */
function writeBatchAddresses(
  dst: Int32Array, at: number, v: View<RefBuffer>, batchShape: readonly number[], ptr: number,
): void {
  const nd = batchShape.length;
  const batch = sizeOf(batchShape);
  const idx = new Array<number>(nd).fill(0);
  let off = v.offset;
  for (let p = 0; p < batch; p++) {
    dst[at + p] = ptr + off * 4;
    // odometer increment over the batch dims, last fastest
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      off += v.strides[d];
      if (idx[d] < batchShape[d]) break;
      off -= v.strides[d] * batchShape[d];
      idx[d] = 0;
    }
  }
}

/** A started cpu backend, for the device registry: `registerDevice('cpu', createCpuBackend)`. */
export async function createCpuBackend(opts: CpuBackendOptions = {}): Promise<CpuBackend> {
  return new CpuBackend(opts).init();
}
