// webgpu: the Backend implemented with hand-written WGSL kernels (kernels/wgsl/) run through
// Dawn's Node bindings. float32 and int32 only (WGSL has no f64).
//
// Usage: `const be = await WebGPUBackend.create()`; then every kernel call is synchronous and
// only `read` (and `sync`) await the GPU. Kernel launches are recorded into one command encoder
// and submitted in batches (on read and sync, on a write into a buffer that recorded commands use,
// or when the uniform ring fills), so a training step never round-trips to the host between
// kernels; host writes into fresh buffers (position ids, labels) do not split the batch.
//
// Memory model: `alloc` creates a device buffer, `free` destroys it (deferred until the commands
// already recorded against it are submitted); `liveBuffers()` counts allocations not yet freed.
// Views are passed to kernels as (offset, shape, strides) in a 256-byte uniform slot per
// dispatch, so strided and broadcast views never need copies. Pipelines are compiled once per
// kernel file + specialization (op, element type) and cached.
//
// Not here: autograd, broadcasting (callers pass expanded views), float64, buffers larger than
// the adapter's maxStorageBufferBindingSize (128 MiB on the software adapter).

import { globals } from 'webgpu';
import {
  type AdamWParams,
  type Backend,
  type BinaryOp,
  type DType,
  type ReduceOp,
  type TypedArray,
  type UnaryOp,
  type View,
  BINARY_OPS,
  REDUCE_OPS,
  UNARY_OPS,
  coalesceDims,
  contiguousStrides,
  isContiguous,
  sizeOf,
} from '../../backend.js';
import { type AdapterInfo, type WebGPURoute, acquireDevice } from './device.js';
import { type Specialization, kernelKey, kernelSource } from './kernels.js';
import { elementwiseFields, grid, rowDims } from './layout.js';
import { PARAMS, ParamBlock, paramBlock } from './params.js';

export type { AdapterInfo, WebGPURoute } from './device.js';

const { GPUBufferUsage: Usage, GPUMapMode: MapMode } = globals as unknown as {
  GPUBufferUsage: typeof GPUBufferUsage;
  GPUMapMode: typeof GPUMapMode;
};

/** A device buffer: untyped 4-byte elements, viewed as float32 or int32 by each call. */
export interface GpuBuf {
  readonly id: number;
  readonly buffer: GPUBuffer;
  /** Capacity in 4-byte elements. */
  readonly size: number;
  freed: boolean;
}

/** Bytes per uniform slot (one per dispatch) and slots per batch of recorded dispatches. */
const SLOT_BYTES = 256;
const SLOTS = 1024;
/** At most this many dispatches go into one command buffer (one uniform slot each). */
export const MAX_DISPATCHES_PER_SUBMIT = SLOTS;
/** Invocations per workgroup of the 1-D kernels (matmul.wgsl uses 16x16, matmul_direct.wgsl 64). */
const WG = 256;
/**
 * Rows (softmax, layernorm) and reductions up to this length run one invocation per row with
 * serial loops (the *_narrow kernels); longer ones get a workgroup per row and a tree.
 */
const NARROW_MAX = 256;

type WgslType = 'f32' | 'i32';

interface Binding {
  buffer: GPUBuffer;
  write: boolean;
}

function wgslType(dtype: DType, kernel: string): WgslType {
  if (dtype === 'float32') return 'f32';
  if (dtype === 'int32') return 'i32';
  throw new Error(`webgpu: ${kernel}: dtype ${dtype} is not supported (WGSL has no f64; use float32)`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Strides to walk `v` in the row-major order of `shape`: its own strides when the shapes agree,
 * or contiguous strides when v is contiguous with the same element count (the reference backend
 * writes outputs as flat runs, so a contiguous view of another shape is accepted too).
 */
function stridesFor(v: View<GpuBuf>, shape: readonly number[], kernel: string): readonly number[] {
  if (sameShape(v.shape, shape)) return v.strides;
  if (sizeOf(v.shape) === sizeOf(shape) && isContiguous(v)) return contiguousStrides(shape);
  throw new Error(`webgpu: ${kernel}: view of shape [${v.shape}] does not match [${shape}]`);
}

export class WebGPUBackend implements Backend<GpuBuf> {
  readonly name = 'webgpu';
  readonly dtypes: readonly DType[] = ['float32', 'int32'];
  /** Dispatches per pipeline key (e.g. 'unary[OP=gelu]'), so tests can assert what ran. */
  readonly kernelCounts = new Map<string, number>();
  /**
   * float32 matmul kernel: 'tiled' (matmul.wgsl: workgroup-memory tiles, for GPUs) or 'direct'
   * (matmul_direct.wgsl: 16x16 register blocks, no workgroup memory, for CPU adapters). Chosen
   * from the adapter; settable (tests run both). int32 always uses 'tiled'.
   */
  matmulKernel: 'tiled' | 'direct';

  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly uniformHost = new Uint32Array((SLOTS * SLOT_BYTES) / 4);
  private readonly uniformRing: GPUBuffer;
  private readonly maxBindingBytes: number;
  private encoder: GPUCommandEncoder | null = null;
  private slotsUsed = 0;
  private deferredDestroy: GPUBuffer[] = [];
  /** Buffers bound by the commands recorded since the last submit. */
  private readonly recorded = new Set<GPUBuffer>();
  private live = 0;
  private submitted = 0;
  private nextId = 1;
  private readonly errors: string[] = [];

  private constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: AdapterInfo,
  ) {
    this.maxBindingBytes = device.limits.maxStorageBufferBindingSize;
    this.matmulKernel = adapterInfo.software ? 'direct' : 'tiled';
    this.uniformRing = device.createBuffer({
      size: SLOTS * SLOT_BYTES,
      usage: Usage.UNIFORM | Usage.COPY_DST,
    });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(ev.error.message);
    };
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.errors.push(`device lost: ${info.message}`);
    });
  }

  /** Acquire an adapter (a real GPU when present, else Mesa llvmpipe through OpenGL ES). */
  static async create(route: WebGPURoute | 'auto' = 'auto'): Promise<WebGPUBackend> {
    const { device, info } = await acquireDevice(route);
    return new WebGPUBackend(device, info);
  }

  liveBuffers(): number {
    return this.live;
  }

  /** Command buffers submitted so far (a read, a sync, a write into a busy buffer, a full ring). */
  submissions(): number {
    return this.submitted;
  }

  /** Number of distinct compiled pipelines. */
  pipelineCount(): number {
    return this.pipelines.size;
  }

  // ---- memory -------------------------------------------------------------------------------

  alloc(dtype: DType, size: number): GpuBuf {
    wgslType(dtype, 'alloc');
    if (!(Number.isInteger(size) && size >= 0)) throw new RangeError(`webgpu: alloc of ${size} elements`);
    const bytes = Math.max(16, Math.ceil((size * 4) / 16) * 16);
    if (bytes > this.maxBindingBytes) {
      throw new RangeError(
        `webgpu: alloc of ${bytes} bytes exceeds the adapter's storage binding limit (${this.maxBindingBytes})`,
      );
    }
    const buffer = this.device.createBuffer({
      size: bytes,
      usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST,
    });
    this.live++;
    return { id: this.nextId++, buffer, size, freed: false };
  }

  free(buf: GpuBuf): void {
    if (buf.freed) throw new Error(`webgpu: buffer ${buf.id} freed twice`);
    buf.freed = true;
    this.live--;
    this.destroyLater(buf.buffer);
  }

  write(buf: GpuBuf, dtype: DType, data: ArrayLike<number>, offset = 0): void {
    this.checkLive(buf, 'write');
    wgslType(dtype, 'write');
    if (offset < 0 || offset + data.length > buf.size) {
      throw new RangeError(`webgpu: write of ${data.length} elements at ${offset} into a buffer of ${buf.size}`);
    }
    if (data.length === 0) return;
    const host = dtype === 'float32' ? Float32Array.from(data) : Int32Array.from(data);
    // queue writes run before the next submit: recorded commands that use buf must go first to see
    // its old contents (a buffer they do not touch can be written without splitting the batch)
    if (this.recorded.has(buf.buffer)) this.flush();
    this.device.queue.writeBuffer(buf.buffer, offset * 4, host);
  }

  async read(buf: GpuBuf, dtype: DType, offset: number, size: number): Promise<TypedArray> {
    this.checkLive(buf, 'read');
    wgslType(dtype, 'read');
    if (offset < 0 || size < 0 || offset + size > buf.size) {
      throw new RangeError(`webgpu: read of ${size} elements at ${offset} from a buffer of ${buf.size}`);
    }
    const out = dtype === 'float32' ? new Float32Array(size) : new Int32Array(size);
    if (size > 0) {
      const staging = this.device.createBuffer({ size: size * 4, usage: Usage.MAP_READ | Usage.COPY_DST });
      this.commandEncoder().copyBufferToBuffer(buf.buffer, offset * 4, staging, 0, size * 4);
      this.flush();
      await staging.mapAsync(MapMode.READ);
      const mapped = staging.getMappedRange();
      out.set(dtype === 'float32' ? new Float32Array(mapped) : new Int32Array(mapped));
      staging.unmap();
      staging.destroy();
    }
    this.throwIfErrors();
    return out;
  }

  /** Submit everything recorded and wait for the GPU to finish it (for timing and error checks). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfErrors();
  }

  /** Release the device (all its buffers become invalid). The backend is unusable afterwards. */
  destroy(): void {
    this.flush();
    this.uniformRing.destroy();
    this.device.destroy();
  }

  // ---- kernels ------------------------------------------------------------------------------

  fill(out: View<GpuBuf>, value: number): void {
    const t = wgslType(out.dtype, 'fill');
    const fields = elementwiseFields(out.shape, [out]);
    const valueBits = t === 'f32' ? floatBits(value) : (value | 0) >>> 0;
    this.elementwise('fill.wgsl', { T: t }, paramBlock(PARAMS.fill, { ...fields, valueBits }), fields.n, [
      this.out(out),
    ]);
  }

  copy(src: View<GpuBuf>, dst: View<GpuBuf>): void {
    const s = wgslType(src.dtype, 'copy');
    const d = wgslType(dst.dtype, 'copy');
    const convert = s === 'f32' && d === 'i32' ? 'toInt32' : d;
    const fields = elementwiseFields(src.shape, [
      { offset: dst.offset, strides: stridesFor(dst, src.shape, 'copy') },
      src,
    ]);
    const params = paramBlock(PARAMS.elementwise, fields);
    this.elementwise('copy.wgsl', { S: s, D: d, CONVERT: convert }, params, fields.n, [this.out(dst), this.in(src)]);
  }

  unary(op: UnaryOp, x: View<GpuBuf>, out: View<GpuBuf>): void {
    if (!UNARY_OPS.includes(op)) throw new Error(`webgpu: unknown unary op ${op}`);
    const t = this.sameType([x, out], `unary.${op}`);
    const fields = elementwiseFields(x.shape, [{ offset: out.offset, strides: stridesFor(out, x.shape, 'unary') }, x]);
    const file = t === 'f32' ? 'unary.wgsl' : 'unary_int.wgsl';
    const params = paramBlock(PARAMS.elementwise, fields);
    this.elementwise(file, { OP: op }, params, fields.n, [this.out(out), this.in(x)]);
  }

  binary(op: BinaryOp, a: View<GpuBuf>, b: View<GpuBuf>, out: View<GpuBuf>): void {
    if (!BINARY_OPS.includes(op)) throw new Error(`webgpu: unknown binary op ${op}`);
    const t = this.sameType([a, b, out], `binary.${op}`);
    const shape = out.shape;
    const fields = elementwiseFields(shape, [
      out,
      { offset: a.offset, strides: stridesFor(a, shape, 'binary') },
      { offset: b.offset, strides: stridesFor(b, shape, 'binary') },
    ]);
    const file = t === 'f32' ? 'binary.wgsl' : 'binary_int.wgsl';
    const params = paramBlock(PARAMS.elementwise, fields);
    this.elementwise(file, { OP: op }, params, fields.n, [this.out(out), this.in(a), this.in(b)]);
  }

  where(cond: View<GpuBuf>, a: View<GpuBuf>, b: View<GpuBuf>, out: View<GpuBuf>): void {
    const t = this.sameType([a, b, out], 'where');
    const c = wgslType(cond.dtype, 'where');
    const shape = out.shape;
    const fields = elementwiseFields(shape, [
      out,
      { offset: cond.offset, strides: stridesFor(cond, shape, 'where') },
      { offset: a.offset, strides: stridesFor(a, shape, 'where') },
      { offset: b.offset, strides: stridesFor(b, shape, 'where') },
    ]);
    const params = paramBlock(PARAMS.elementwise, fields);
    this.elementwise('where.wgsl', { T: t, C: c }, params, fields.n, [
      this.out(out),
      this.in(cond),
      this.in(a),
      this.in(b),
    ]);
  }

  reduce(op: ReduceOp, x: View<GpuBuf>, axes: readonly number[], out: View<GpuBuf>): void {
    if (!REDUCE_OPS.includes(op)) throw new Error(`webgpu: unknown reduce op ${op}`);
    const t = this.sameType([x, out], `reduce.${op}`);
    const rank = x.shape.length;
    for (const ax of axes) {
      if (!(Number.isInteger(ax) && ax >= 0 && ax < rank))
        throw new RangeError(`webgpu: reduce axis ${ax} of rank ${rank}`);
    }
    const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const outStrides = stridesFor(out, outShape, 'reduce');
    const keptDims = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const redDims = [...axes];
    // kept dims walked by both x and out; reduced dims by x only
    const kept = coalesceDims(
      keptDims.map((i) => x.shape[i]),
      [keptDims.map((i) => x.strides[i]), keptDims.map((i) => outStrides[i])],
    );
    const red = coalesceDims(
      redDims.map((i) => x.shape[i]),
      [redDims.map((i) => x.strides[i])],
    );
    const outputs = sizeOf(kept.shape);
    const total = sizeOf(red.shape);
    if (outputs === 0) return;
    const spec = { OP: op, T: t };
    if (total <= NARROW_MAX) {
      const params = reduceParams(
        kept.shape,
        kept.strides[0],
        kept.strides[1],
        red.shape,
        red.strides[0],
        x.offset,
        out.offset,
        total,
        1,
        0,
      );
      this.dispatch('reduce_narrow.wgsl', spec, params, [this.out(out), this.in(x)], grid(Math.ceil(outputs / WG)));
      return;
    }

    // Few outputs over long reductions: split each into C chunks, reduce the chunks into a
    // temporary [outputs, C], then reduce that over C. The order stays fixed.
    const chunks = outputs < 64 && total > 8192 ? Math.min(256, Math.ceil(total / 4096)) : 1;
    if (chunks === 1) {
      const params = reduceParams(
        kept.shape,
        kept.strides[0],
        kept.strides[1],
        red.shape,
        red.strides[0],
        x.offset,
        out.offset,
        total,
        1,
        0,
      );
      this.dispatch('reduce.wgsl', spec, params, [this.out(out), this.in(x)], grid(outputs));
      return;
    }
    const chunkLength = Math.ceil(total / chunks);
    const used = Math.ceil(total / chunkLength);
    const partials = this.scratch(outputs * used);
    // partials[j, c] for kept index j (row-major over the kept shape) and chunk c
    const partialStrides = contiguousStrides(kept.shape).map((s) => s * used);
    const first = reduceParams(
      kept.shape,
      kept.strides[0],
      partialStrides,
      red.shape,
      red.strides[0],
      x.offset,
      0,
      chunkLength,
      used,
      1,
    );
    this.dispatch('reduce.wgsl', spec, first, [{ buffer: partials, write: true }, this.in(x)], grid(outputs * used));
    const second = reduceParams(kept.shape, partialStrides, kept.strides[1], [used], [1], 0, out.offset, used, 1, 0);
    this.dispatch('reduce.wgsl', spec, second, [this.out(out), { buffer: partials, write: false }], grid(outputs));
  }

  matmul(a: View<GpuBuf>, b: View<GpuBuf>, out: View<GpuBuf>): void {
    const t = this.sameType([a, b, out], 'matmul');
    const rank = a.shape.length;
    if (rank < 2 || b.shape.length !== rank || out.shape.length !== rank) {
      throw new Error(`webgpu: matmul needs operands of equal rank >= 2, got [${a.shape}] [${b.shape}] [${out.shape}]`);
    }
    const [M, K] = a.shape.slice(-2);
    const N = b.shape[rank - 1];
    const batchShape = a.shape.slice(0, -2);
    if (b.shape[rank - 2] !== K || !sameShape(b.shape.slice(0, -2), batchShape)) {
      throw new Error(`webgpu: matmul shapes [${a.shape}] and [${b.shape}] do not agree`);
    }
    // out [...batch, M, N]
    const outStrides = stridesFor(out, [...batchShape, M, N], 'matmul');
    const batch = coalesceDims(batchShape, [a.strides.slice(0, -2), b.strides.slice(0, -2), outStrides.slice(0, -2)]);
    if (batch.shape.length > 4) throw new Error('webgpu: matmul supports at most 4 batch dims after coalescing');
    const batches = sizeOf(batch.shape);
    if (batches * M * N === 0) return;
    // output tile edge: 64 per workgroup (tiled) or 16 per invocation (direct)
    const direct = t === 'f32' && this.matmulKernel === 'direct';
    const tile = direct ? 16 : 64;
    const tilesM = Math.ceil(M / tile);
    const tilesN = Math.ceil(N / tile);
    const tasks = batches * tilesM * tilesN;
    const [sam, sak] = a.strides.slice(-2);
    const [sbk, sbn] = b.strides.slice(-2);
    const params = paramBlock(PARAMS.matmul, {
      M,
      N,
      K,
      batches,
      aOffset: a.offset,
      bOffset: b.offset,
      outOffset: out.offset,
      batchRank: batch.shape.length,
      sam,
      sak,
      sbk,
      sbn,
      outStrideM: outStrides[rank - 2],
      outStrideN: outStrides[rank - 1],
      tilesM,
      tilesN,
      batchShape: [batch.shape],
      batchStrides: batch.shape.map((_, d) => [batch.strides[0][d], batch.strides[1][d], batch.strides[2][d]]),
      aKFast: sak === 1 && sam !== 1 ? 1 : 0,
      bKFast: sbk === 1 && sbn !== 1 ? 1 : 0,
    });
    const bindings = [this.out(out), this.in(a), this.in(b)];
    if (direct) {
      this.dispatch('matmul_direct.wgsl', {}, params, bindings, grid(Math.ceil(tasks / 64)));
    } else {
      this.dispatch('matmul.wgsl', { T: t }, params, bindings, grid(tasks));
    }
  }

  softmax(x: View<GpuBuf>, out: View<GpuBuf>, log: boolean): void {
    if (this.sameType([x, out], 'softmax') !== 'f32') throw new Error('webgpu: softmax needs float32');
    const outStrides = stridesFor(out, x.shape, 'softmax');
    const len = x.shape[x.shape.length - 1];
    const rows = rowDims(x.shape, [x.strides, outStrides]);
    if (rows.rows === 0 || len === 0) return;
    const params = paramBlock(PARAMS.softmax, {
      rows: rows.rows,
      len,
      rowRank: rows.shape.length,
      logOutput: log ? 1 : 0,
      xOffset: x.offset,
      outOffset: out.offset,
      xStride: x.strides[x.shape.length - 1],
      outStride: outStrides[x.shape.length - 1],
      rowShape: [rows.shape.slice(0, 4), rows.shape.slice(4, 8)],
      rowStrides: rows.shape.map((_, d) => [rows.strides[0][d], rows.strides[1][d]]),
    });
    const narrow = len <= NARROW_MAX;
    const file = narrow ? 'softmax_narrow.wgsl' : 'softmax.wgsl';
    const groups = narrow ? Math.ceil(rows.rows / WG) : rows.rows;
    this.dispatch(file, {}, params, [this.out(out), this.in(x)], grid(groups), log ? 'logsoftmax' : 'softmax');
  }

  layernorm(
    x: View<GpuBuf>,
    w: View<GpuBuf>,
    b: View<GpuBuf>,
    eps: number,
    out: View<GpuBuf>,
    mean: View<GpuBuf>,
    rstd: View<GpuBuf>,
  ): void {
    if (this.sameType([x, w, b, out, mean, rstd], 'layernorm') !== 'f32')
      throw new Error('webgpu: layernorm needs float32');
    const rank = x.shape.length;
    const len = x.shape[rank - 1];
    if (w.shape.length !== 1 || b.shape.length !== 1 || w.shape[0] !== len || b.shape[0] !== len) {
      throw new Error(`webgpu: layernorm weight/bias must be [${len}], got [${w.shape}] and [${b.shape}]`);
    }
    const outStrides = stridesFor(out, x.shape, 'layernorm');
    const rows = rowDims(x.shape, [x.strides, outStrides]);
    if (rows.rows === 0 || len === 0) return;
    const rowShape = rows.shape; // leading dims, coalesced: [d0, d1, ...] -> vec4 lanes
    const params = paramBlock(PARAMS.layernorm, {
      rows: rows.rows,
      len,
      rowRank: rowShape.length,
      eps,
      xOffset: x.offset,
      outOffset: out.offset,
      xStride: x.strides[rank - 1],
      outStride: outStrides[rank - 1],
      wOffset: w.offset,
      bOffset: b.offset,
      wStride: w.strides[0],
      bStride: b.strides[0],
      meanOffset: mean.offset,
      rstdOffset: rstd.offset,
      rowShape: [rowShape.slice(0, 4), rowShape.slice(4, 8)],
      rowStrides: rowShape.map((_, d) => [rows.strides[0][d], rows.strides[1][d]]),
    });
    const narrow = len <= NARROW_MAX;
    this.dispatch(
      narrow ? 'layernorm_narrow.wgsl' : 'layernorm.wgsl',
      {},
      params,
      [this.out(out), this.out(mean), this.out(rstd), this.in(x), this.in(w), this.in(b)],
      grid(narrow ? Math.ceil(rows.rows / WG) : rows.rows),
    );
  }

  gather(table: View<GpuBuf>, idx: View<GpuBuf>, out: View<GpuBuf>): void {
    const t = this.sameType([table, out], 'gather');
    if (idx.dtype !== 'int32') throw new Error('webgpu: gather indices must be int32');
    const [V, H] = table.shape;
    const N = idx.shape[0];
    // iterate out [N, H]: idx walks n only, the table walks h only (its row comes from idx)
    const shape = [N, H];
    const fields = elementwiseFields(shape, [
      { offset: out.offset, strides: stridesFor(out, shape, 'gather') },
      { offset: idx.offset, strides: [idx.strides[0], 0] },
      { offset: table.offset, strides: [0, table.strides[1]] },
    ]);
    const params = paramBlock(PARAMS.gather, { ...fields, rows: V, rowStride: table.strides[0] });
    this.elementwise('gather.wgsl', { T: t }, params, fields.n, [this.out(out), this.in(idx), this.in(table)]);
  }

  scatterAdd(src: View<GpuBuf>, idx: View<GpuBuf>, out: View<GpuBuf>): void {
    const t = this.sameType([src, out], 'scatterAdd');
    if (idx.dtype !== 'int32') throw new Error('webgpu: scatterAdd indices must be int32');
    const [V, H] = out.shape;
    const N = idx.shape[0];
    const outStrides = stridesFor(out, [V, H], 'scatterAdd');
    this.fill({ ...out, strides: outStrides }, 0);
    if (N === 0 || H === 0) return;

    // 1. perm = positions 0..N-1 sorted by (idx[n], n): bitonic stages over a power-of-two pad
    let padded = 1;
    while (padded < N) padded *= 2;
    const perm = this.device.createBuffer({ size: padded * 4, usage: Usage.STORAGE, mappedAtCreation: true });
    const iota = new Uint32Array(perm.getMappedRange());
    for (let i = 0; i < padded; i++) iota[i] = i;
    perm.unmap();
    this.releaseAfterBatch(perm);
    for (let k = 2; k <= padded; k *= 2) {
      for (let j = k / 2; j >= 1; j /= 2) {
        const params = paramBlock(PARAMS.scatterSort, {
          count: N,
          padded,
          k,
          j,
          idxOffset: idx.offset,
          idxStride: idx.strides[0],
          rows: V,
        });
        this.dispatch(
          'scatter_sort.wgsl',
          {},
          params,
          [{ buffer: perm, write: true }, this.in(idx)],
          grid(Math.ceil(padded / 2 / WG)),
        );
      }
    }

    // 2. one writer per touched output element walks its run of perm in order
    const params = paramBlock(PARAMS.scatterAdd, {
      count: N,
      width: H,
      rows: V,
      srcOffset: src.offset,
      srcStrideN: src.strides[0],
      srcStrideH: src.strides[1],
      idxOffset: idx.offset,
      idxStride: idx.strides[0],
      outOffset: out.offset,
      outStrideV: outStrides[0],
      outStrideH: outStrides[1],
    });
    this.dispatch(
      'scatter_add.wgsl',
      { T: t },
      params,
      [this.out(out), this.in(src), this.in(idx), { buffer: perm, write: false }],
      grid(Math.ceil((N * H) / WG)),
    );
  }

  rand(seed: number, out: View<GpuBuf>): void {
    if (wgslType(out.dtype, 'rand') !== 'f32') throw new Error('webgpu: rand writes float32');
    const fields = elementwiseFields(out.shape, [out]);
    const params = paramBlock(PARAMS.rand, { ...fields, seed: seed >>> 0 });
    this.elementwise('rand.wgsl', {}, params, fields.n, [this.out(out)]);
  }

  adamw(p: View<GpuBuf>, g: View<GpuBuf>, m: View<GpuBuf>, v: View<GpuBuf>, h: AdamWParams): void {
    if (this.sameType([p, g, m, v], 'adamw') !== 'f32') throw new Error('webgpu: adamw needs float32');
    const shape = p.shape;
    const fields = elementwiseFields(shape, [
      p,
      { offset: g.offset, strides: stridesFor(g, shape, 'adamw') },
      { offset: m.offset, strides: stridesFor(m, shape, 'adamw') },
      { offset: v.offset, strides: stridesFor(v, shape, 'adamw') },
    ]);
    // step-dependent scalars in float64, as the reference computes them
    const params = paramBlock(PARAMS.adamw, {
      ...fields,
      lr: h.lr,
      lrWd: h.lr * h.weightDecay,
      beta1: h.beta1,
      oneMinusBeta1: 1 - h.beta1,
      beta2: h.beta2,
      oneMinusBeta2: 1 - h.beta2,
      bc1: 1 - Math.pow(h.beta1, h.step),
      bc2: 1 - Math.pow(h.beta2, h.step),
      eps: h.eps,
    });
    this.elementwise('adamw.wgsl', {}, params, fields.n, [this.out(p), this.in(g), this.out(m), this.out(v)]);
  }

  // ---- dispatch machinery -------------------------------------------------------------------

  private checkLive(buf: GpuBuf, kernel: string): void {
    if (buf.freed) throw new Error(`webgpu: ${kernel} on freed buffer ${buf.id}`);
  }

  private in(v: View<GpuBuf>): Binding {
    this.checkLive(v.buf, 'kernel');
    return { buffer: v.buf.buffer, write: false };
  }

  private out(v: View<GpuBuf>): Binding {
    this.checkLive(v.buf, 'kernel');
    return { buffer: v.buf.buffer, write: true };
  }

  /** The WGSL element type shared by `views`, or an error naming the kernel. */
  private sameType(views: readonly View<GpuBuf>[], kernel: string): WgslType {
    const t = wgslType(views[0].dtype, kernel);
    for (const v of views) {
      if (v.dtype !== views[0].dtype) throw new Error(`webgpu: ${kernel}: mixed dtypes ${views.map((u) => u.dtype)}`);
    }
    return t;
  }

  /** A temporary device buffer of `size` elements for the batch being recorded. */
  private scratch(size: number): GPUBuffer {
    const buffer = this.device.createBuffer({ size: Math.max(16, size * 4), usage: Usage.STORAGE | Usage.COPY_DST });
    this.releaseAfterBatch(buffer);
    return buffer;
  }

  /** Destroy `buffer` once the batch being recorded (which may use it) is submitted. */
  private releaseAfterBatch(buffer: GPUBuffer): void {
    this.commandEncoder();
    this.deferredDestroy.push(buffer);
  }

  private destroyLater(buffer: GPUBuffer): void {
    if (this.encoder === null) buffer.destroy();
    else this.deferredDestroy.push(buffer);
  }

  private elementwise(file: string, spec: Specialization, params: ParamBlock, n: number, bindings: Binding[]): void {
    if (n === 0) return;
    this.dispatch(file, spec, params, bindings, grid(Math.ceil(n / WG)));
  }

  private pipeline(file: string, spec: Specialization): { key: string; pipeline: GPUComputePipeline } {
    const key = kernelKey(file.replace(/\.wgsl$/, ''), spec);
    let pipeline = this.pipelines.get(key);
    if (pipeline === undefined) {
      const module = this.device.createShaderModule({ label: key, code: kernelSource(file, spec) });
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      this.pipelines.set(key, pipeline);
    }
    return { key, pipeline };
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /**
   * Record one dispatch. Binding 0 is this dispatch's uniform slot; bindings 1.. follow
   * `bindings`. A buffer both read and written by one dispatch is read from a snapshot copy
   * (WebGPU forbids binding one buffer as writable and read-only storage at once).
   */
  private dispatch(
    file: string,
    spec: Specialization,
    params: ParamBlock,
    bindings: Binding[],
    groups: [number, number],
    countAs?: string,
  ): void {
    const { key, pipeline } = this.pipeline(file, spec);
    const encoder = this.commandEncoder();
    for (const b of bindings) this.recorded.add(b.buffer);
    const written = bindings.filter((b) => b.write).map((b) => b.buffer);
    if (new Set(written).size !== written.length) {
      throw new Error(`webgpu: ${key} would write one buffer through two bindings`);
    }
    const resolved = bindings.map((b) => {
      if (b.write || !written.includes(b.buffer)) return b;
      const copy = this.scratch(b.buffer.size / 4);
      encoder.copyBufferToBuffer(b.buffer, 0, copy, 0, b.buffer.size);
      return { buffer: copy, write: false };
    });
    const slot = this.slotsUsed++;
    this.uniformHost.set(params.u32, (slot * SLOT_BYTES) / 4);
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.uniformRing, offset: slot * SLOT_BYTES, size: SLOT_BYTES } },
        ...resolved.map((b, i) => ({ binding: i + 1, resource: { buffer: b.buffer } })),
      ],
    });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1]);
    pass.end();
    const name = countAs === undefined ? key : `${key}:${countAs}`;
    this.kernelCounts.set(name, (this.kernelCounts.get(name) ?? 0) + 1);
    if (this.slotsUsed === SLOTS) this.flush();
  }

  /** Submit the recorded commands (uniform slots first) and release deferred buffers. */
  private flush(): void {
    if (this.encoder === null) return;
    if (this.slotsUsed > 0) {
      this.device.queue.writeBuffer(this.uniformRing, 0, this.uniformHost, 0, (this.slotsUsed * SLOT_BYTES) / 4);
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.submitted++;
    this.encoder = null;
    this.recorded.clear();
    this.slotsUsed = 0;
    for (const buffer of this.deferredDestroy) buffer.destroy();
    this.deferredDestroy = [];
  }

  private throwIfErrors(): void {
    if (this.errors.length > 0) {
      const messages = this.errors.splice(0);
      throw new Error(`webgpu: device error: ${messages.join('\n')}`);
    }
  }
}

function floatBits(value: number): number {
  return new Uint32Array(new Float32Array([value]).buffer)[0];
}

/**
 * The reduce parameter block (see kernels/wgsl/lib/reduce_io.wgsl): kept dims walked by x and
 * out, reduced dims by x, `chunks` chunks of `chunkLength` per output, chunk c written at
 * out + c*chunkStride.
 */
function reduceParams(
  keptShape: readonly number[],
  xKept: readonly number[],
  outKept: readonly number[],
  redShape: readonly number[],
  xRed: readonly number[],
  xOffset: number,
  outOffset: number,
  chunkLength: number,
  chunks: number,
  chunkStride: number,
): ParamBlock {
  if (keptShape.length > 6 || redShape.length > 6) throw new Error('webgpu: reduce supports rank <= 6');
  const rank = Math.max(keptShape.length, redShape.length);
  return paramBlock(PARAMS.reduce, {
    outputs: sizeOf(keptShape),
    total: sizeOf(redShape),
    keptRank: keptShape.length,
    reducedRank: redShape.length,
    xOffset,
    outOffset,
    chunkLength,
    chunks,
    keptShape: [keptShape.slice(0, 4), keptShape.slice(4, 8)],
    reducedShape: [redShape.slice(0, 4), redShape.slice(4, 8)],
    // dim d: (x kept, out kept, x reduced) strides, 0 where that side has fewer dims
    strides: Array.from({ length: rank }, (_, d) => [xKept[d] ?? 0, outKept[d] ?? 0, xRed[d] ?? 0]),
    chunkStride,
  });
}
