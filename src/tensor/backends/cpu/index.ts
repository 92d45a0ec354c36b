// The `cpu` backend: RefBackend on one shared WebAssembly memory, with its hot kernels replaced by
// hand-written WebAssembly SIMD kernels (kernels/wasm/*.wat) that run on a pool of worker threads.
//
// Fast paths (float32 unless noted; views of up to 4 dims after merging adjacent dims):
//   matmul         any strides (transposed or not), batched; the 4x8-tiled kernel of matmul.wat
//   softmax        contiguous rows, softmax and log-softmax
//   layernorm      contiguous rows, with affine weight and bias
//   unary          gelu, gelu_grad on contiguous tensors
//   binary         add sub mul div maximum minimum eq ne lt le gt ge, operands of any strides
//                  (broadcast, transposed), bit-identical to the reference
//   where          float32 or int32 condition, any strides, bit-identical
//   copy           float32 -> float32 or int32 -> int32, any strides on both sides (head split
//                  and merge in attention); casts fall back
//   reduce         sum and max over any axes (up to 3 kept and 2 reduced dims after merging),
//                  bit-identical: sums accumulate in float64 in the reference's order
//   rand           hashUniform noise, bit-identical
//   adamw          contiguous p, g, m, v; float64 arithmetic, bit-identical
// Everything else (float64, other ops, views the fast paths do not cover) is RefBackend's code
// running unchanged on the same memory: every buffer's `data` is a typed array over it.
// `lastKernel` / `kernelCounts` say which path ran ('wasm.matmul' vs 'ref.matmul', ...).
//
// Memory: `alloc` does not clear a block (a reused one holds old data). Every kernel writes all of
// its `out` view, and zeros come from `fill` (scatterAdd clears its own output).
//
// Determinism: results never depend on the thread count. Kernels split work by output tiles,
// rows, output elements or element ranges and never split a reduction.
//
// Usage: `const cpu = new CpuBackend(); await cpu.init({ threads: 2 });`. Without init, the pool
// starts lazily on the first call big enough to use it, and calls run on the caller's thread
// until its workers are ready.

import os from 'node:os';
import {
  type AdamWParams,
  type DType,
  type TypedArray,
  type UnaryOp,
  type BinaryOp,
  type ReduceOp,
  type View,
  coalesceDims,
  isContiguous,
  sizeOf,
} from '../../backend.js';
import { RefBackend, type RefBuffer } from '../ref.js';
import { DESC_BYTE, DESC_BYTES, Heap, TABLES_BYTE } from './heap.js';
import { type DESCRIPTORS, type DescriptorName, type DescriptorValues, writeDescriptor } from './descriptors.js';
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

/** matmul blocking. KC is fixed in matmul.wat (it sets the summation order); mc and nc are free. */
const KC = 256;
const MC_MAX = 128;
const NC_MAX = 1024;
/** Cap on one thread's packed copy of B[:, column block] for all of K. */
const PACKED_B_MAX_BYTES = 16 << 20;

/** Op codes of the elementwise kernel (kernels/wasm/elementwise.wat). */
const BINARY_CODES: Partial<Record<BinaryOp, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  maximum: 4,
  minimum: 5,
  eq: 6,
  ne: 7,
  lt: 8,
  le: 9,
  gt: 10,
  ge: 11,
};
const WHERE_FLOAT_COND = 12;
const WHERE_INT_COND = 13;
const COPY = 14;

/** Dims the elementwise kernel addresses; reduce's kept and reduced dims. */
const ELEMENTWISE_DIMS = 4;
/** Scratch bytes per thread of the elementwise kernel (fixed in elementwise.wat). */
const ELEMENTWISE_SCRATCH = 4096;
const REDUCE_KEPT_DIMS = 3;
const REDUCE_DIMS = 2;
/** Scratch bytes per thread of the gelu kernel (fixed in gelu.wat). */
const GELU_SCRATCH = 2112;
/** Scratch bytes per thread of the reduce kernel (fixed in reduce.wat). */
const REDUCE_SCRATCH = 8192;

function opIndex(name: EntryPoint): number {
  return ENTRY_POINTS.indexOf(name);
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/**
 * Outputs per chunk of the reduce kernel, a multiple of 16. Mode 1 (column sums) sweeps the rows
 * once per chunk of up to 1024 outputs, so its chunks are as wide as one per thread allows; other
 * reductions take about `chunkElements` input elements per chunk.
 */
export function reduceChunk(mode: number, outN: number, R: number, threads: number, chunkElements: number): number {
  if (mode === 1) return Math.min(1024, roundUp(Math.ceil(outN / threads), 16));
  return roundUp(Math.max(1, Math.ceil(chunkElements / Math.max(R, 1))), 16);
}

/**
 * The dims of `shape` with size-1 dims dropped and adjacent dims merged wherever every view is
 * contiguous across them, front-padded with size-1 dims to exactly `rank`; each view's element
 * strides for those dims. Null when more than `rank` dims remain.
 */
function mergeDims(
  shape: readonly number[],
  views: readonly { strides: readonly number[] }[],
  rank: number,
): { dims: number[]; strides: number[][] } | null {
  const { shape: dims, strides } = coalesceDims(
    shape,
    views.map((v) => v.strides),
  );
  if (dims.length > rank) return null;
  while (dims.length < rank) {
    dims.unshift(1);
    for (const s of strides) s.unshift(0);
  }
  return { dims, strides };
}

/** Byte address of element 0 of a view with 4-byte elements (float32, int32). */
function addr(v: View<RefBuffer>): number {
  return (v.buf as CpuBuffer).ptr + v.offset * 4;
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
  /** Per-thread scratch of the kernels that need it (matmul's packed panels, elementwise's blocks). */
  private scratch = 0;
  private scratchBytes = 0;
  private i32View: Int32Array;
  private f32View: Float32Array;
  private f64View: Float64Array;

  constructor(opts: CpuBackendOptions = {}) {
    super();
    this.heap = new Heap(opts.initialBytes);
    this.pool = new WorkerPool(this.heap.memory, instantiateKernels(this.heap.memory));
    this.threads = this.checkThreads(opts.threads ?? os.availableParallelism());
    this.parallel = { ...PARALLEL_DEFAULTS, ...opts.parallel };
    this.i32View = new Int32Array(this.heap.memory.buffer);
    this.f32View = new Float32Array(this.heap.memory.buffer);
    this.f64View = new Float64Array(this.heap.memory.buffer);
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

  /**
   * Worker posts so far, and how many the caller revoked because the worker had not started on
   * the call by the time the caller's share was done (see pool.ts).
   */
  workerPosts(): { posted: number; revoked: number } {
    return { ...this.pool.posts };
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
    this.describe('matmul', {
      M,
      N,
      K,
      batch,
      sam: a.strides[rank - 2],
      sak: a.strides[rank - 1],
      sbk: b.strides[rank - 2],
      sbn: b.strides[rank - 1],
      ldc: N,
      aTable: tables,
      bTable: tables + 4 * batch,
      cTable: tables + 8 * batch,
      mc,
      nc,
      scratch,
      scratchStride: stride,
      next: 0,
    });
    try {
      this.launch('matmul', nt);
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
    this.describe('softmax', {
      rows,
      C,
      x: addr(x),
      out: addr(out),
      log: log ? 1 : 0,
      tables: TABLES_BYTE,
      chunk,
      next: 0,
    });
    this.launch('softmax', nt);
  }

  override layernorm(
    x: View<RefBuffer>,
    w: View<RefBuffer>,
    b: View<RefBuffer>,
    eps: number,
    out: View<RefBuffer>,
    mean: View<RefBuffer>,
    rstd: View<RefBuffer>,
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
    this.describe('layernorm', {
      rows,
      H,
      x: addr(x),
      w: addr(w),
      b: addr(b),
      out: addr(out),
      mean: addr(mean),
      rstd: addr(rstd),
      eps,
      chunk,
      next: 0,
    });
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
    const scratch = this.ensureScratch(GELU_SCRATCH * nt);
    this.describe('gelu', {
      n,
      x: addr(x),
      out: addr(out),
      grad: op === 'gelu_grad' ? 1 : 0,
      tables: TABLES_BYTE,
      chunk,
      next: 0,
      scratch,
    });
    this.launch('gelu', nt);
  }

  override binary(op: BinaryOp, a: View<RefBuffer>, b: View<RefBuffer>, out: View<RefBuffer>): void {
    const code = BINARY_CODES[op];
    const fast = code !== undefined && this.allFloat32(a, b, out) && isContiguous(out);
    if (!fast || !this.elementwise(code, out.shape, out, a, b, a)) {
      super.binary(op, a, b, out);
      this.lastKernel = `ref.binary.${op}`;
    }
  }

  override where(cond: View<RefBuffer>, a: View<RefBuffer>, b: View<RefBuffer>, out: View<RefBuffer>): void {
    const condOk = (cond.dtype === 'float32' || cond.dtype === 'int32') && this.owns(cond.buf);
    const fast = condOk && this.allFloat32(a, b, out) && isContiguous(out);
    const code = cond.dtype === 'int32' ? WHERE_INT_COND : WHERE_FLOAT_COND;
    if (!fast || !this.elementwise(code, out.shape, out, a, b, cond)) {
      super.where(cond, a, b, out);
      this.lastKernel = 'ref.where';
    }
  }

  override copy(src: View<RefBuffer>, dst: View<RefBuffer>): void {
    // same 4-byte dtype on both sides: the kernel moves bits (casts truncate, and stay in ref)
    const fast = src.dtype === dst.dtype && src.dtype !== 'float64' && this.owns(src.buf) && this.owns(dst.buf);
    if (!fast || !this.elementwise(COPY, src.shape, dst, src, src, src)) {
      super.copy(src, dst);
      this.lastKernel = 'ref.copy';
    }
  }

  override reduce(op: ReduceOp, x: View<RefBuffer>, axes: readonly number[], out: View<RefBuffer>): void {
    const outN = sizeOf(out.shape);
    if (outN === 0) return;
    const fast = this.allFloat32(x, out) && isContiguous(out);
    // the kept dims (in output order) and the reduced dims (in the reference's summation order)
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const reduced = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
    const k = fast ? mergeDims(kept, [x], REDUCE_KEPT_DIMS) : null;
    const r = fast ? mergeDims(reduced, [x], REDUCE_DIMS) : null;
    if (k === null || r === null) {
      super.reduce(op, x, axes, out);
      this.lastKernel = `ref.reduce.${op}`;
      return;
    }
    const [kd0, kd1, kd2] = k.dims;
    const [ks0, ks1, ks2] = k.strides[0];
    const [R1, R0] = r.dims;
    const [rs1, rs0] = r.strides[0];
    // mode 1: the innermost kept dim is contiguous, so adjacent outputs are reduced together
    const mode = ks2 === 1 && kd2 >= 4 ? 1 : 0;
    const R = R1 * R0;
    const ready = this.threadsFor(outN * Math.max(R, 1), this.parallel.minElements);
    const chunk = reduceChunk(mode, outN, R, ready, this.parallel.chunkElements);
    const nt = Math.min(Math.ceil(outN / chunk), ready);
    const scratch = this.ensureScratch(REDUCE_SCRATCH * nt);
    this.describe('reduce', {
      op: op === 'sum' ? 0 : 1,
      outN: kd0 * kd1 * kd2,
      mode,
      x: addr(x),
      out: addr(out),
      kd1,
      kd2,
      ks0: ks0 * 4,
      ks1: ks1 * 4,
      ks2: ks2 * 4,
      R1,
      R0,
      rs1: rs1 * 4,
      rs0: rs0 * 4,
      chunk,
      next: 0,
      scratch,
    });
    this.launch('reduce', nt);
  }

  override rand(seed: number, out: View<RefBuffer>): void {
    if (!this.allFloat32(out) || !isContiguous(out)) {
      super.rand(seed, out);
      this.lastKernel = 'ref.rand';
      return;
    }
    const n = sizeOf(out.shape);
    if (n === 0) return;
    const chunk = roundUp(this.parallel.chunkElements, 4);
    const nt = Math.min(Math.ceil(n / chunk), this.threadsFor(n, this.parallel.minElements));
    // k as in hashUniform: (seed >>> 0) * 0x9e3779b9, low 32 bits
    this.describe('rand', { n, out: addr(out), k: Math.imul(seed >>> 0, 0x9e3779b9), chunk, next: 0 });
    this.launch('rand', nt);
  }

  override adamw(p: View<RefBuffer>, g: View<RefBuffer>, m: View<RefBuffer>, v: View<RefBuffer>, h: AdamWParams): void {
    const views = [p, g, m, v];
    if (!this.allFloat32(...views) || !views.every((x) => isContiguous(x))) {
      super.adamw(p, g, m, v, h);
      this.lastKernel = 'ref.adamw';
      return;
    }
    const n = sizeOf(p.shape);
    if (n === 0) return;
    const chunk = roundUp(this.parallel.chunkElements, 4);
    const nt = Math.min(Math.ceil(n / chunk), this.threadsFor(n, this.parallel.minElements));
    // the constants adamwScalar computes, in the same float64 operations
    this.describe('adamw', {
      n,
      p: addr(p),
      g: addr(g),
      m: addr(m),
      v: addr(v),
      chunk,
      next: 0,
      lrwd: h.lr * h.weightDecay,
      beta1: h.beta1,
      omb1: 1 - h.beta1,
      beta2: h.beta2,
      omb2: 1 - h.beta2,
      lr: h.lr,
      bc1: 1 - Math.pow(h.beta1, h.step),
      bc2: 1 - Math.pow(h.beta2, h.step),
      eps: h.eps,
    });
    this.launch('adamw', nt);
  }

  // ---- helpers ------------------------------------------------------------------------------

  /**
   * The elementwise kernel over `shape` (out's, or src's for copy): out and a, b, c as 4-byte views
   * of this backend's memory (ops that use fewer operands repeat one). False when the views do not
   * merge into 4 dims; the caller then falls back.
   */
  private elementwise(
    code: number,
    shape: readonly number[],
    out: View<RefBuffer>,
    a: View<RefBuffer>,
    b: View<RefBuffer>,
    c: View<RefBuffer>,
  ): boolean {
    const n = sizeOf(shape);
    if (n === 0) return true;
    const views = [out, a, b, c];
    const merged = mergeDims(shape, views, ELEMENTWISE_DIMS);
    if (merged === null) return false;
    const chunk = this.parallel.chunkElements;
    const nt = Math.min(Math.ceil(n / chunk), this.threadsFor(n, this.parallel.minElements));
    const scratch = this.ensureScratch(ELEMENTWISE_SCRATCH * nt);
    // each operand: its byte address, then its byte strides along the 4 merged dims
    const operand = (k: number): number[] => [addr(views[k]), ...merged.strides[k].map((st) => st * 4)];
    this.describe('elementwise', {
      op: code,
      n,
      d1: merged.dims[1],
      d2: merged.dims[2],
      d3: merged.dims[3],
      chunk,
      next: 0,
      scratch,
      out: operand(0),
      a: operand(1),
      b: operand(2),
      c: operand(3),
    });
    this.launch('elementwise', nt);
    return true;
  }

  /** Write entry point `name`'s descriptor, every field by name (descriptors.ts). */
  private describe<E extends DescriptorName>(name: E, values: DescriptorValues<(typeof DESCRIPTORS)[E]>): void {
    writeDescriptor({ i32: this.int32(), f32: this.float32(), f64: this.float64() }, DESC_BYTE, name, values);
  }

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

  private float64(): Float64Array {
    if (this.f64View.byteLength !== this.heap.memory.buffer.byteLength) this.refreshViews();
    return this.f64View;
  }

  private refreshViews(): void {
    this.i32View = new Int32Array(this.heap.memory.buffer);
    this.f32View = new Float32Array(this.heap.memory.buffer);
    this.f64View = new Float64Array(this.heap.memory.buffer);
  }
}

/** dst[at + p] = byte address of batch p's [0, 0] element of v, p in row-major order of batchShape. */
function writeBatchAddresses(
  dst: Int32Array,
  at: number,
  v: View<RefBuffer>,
  batchShape: readonly number[],
  ptr: number,
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
