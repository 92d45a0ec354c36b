// gpujs: the device backend on gpu.js's headless-GL path (WebGL 1 fragment shaders, float32
// textures). A correctness backend that runs anywhere Mesa and an X display run; not a fast one.
//
// Memory model. A buffer is a 1-D float texture of its element count (gpu.js pipeline output,
// `immutable`, so every kernel writes a fresh texture), or a host Float32Array not yet uploaded,
// or neither (never written: zeros). Kernels never write in place: each launch renders the whole
// destination buffer, taking untouched elements from its previous texture (kernels/gpujs/spec.ts),
// and the buffer then points at the new texture. int32 data is stored as floats, exact to 2^24.
// Host round trips happen only in `read`/`readSync` (the API) and in scatterAdd (the index list
// is sorted into rows on the host, from the host copy that int32 buffers keep when they have
// one); `write` uploads, merging on the GPU when it covers part of a device buffer.
// gpu.js keeps each compiled kernel's last output texture alive (its immutable-mode recycling),
// so device memory holds up to one extra texture per cached kernel.
//
// Usage: `const be = new GpuJsBackend()` under an X display (`xvfb-run -a`); it throws, saying
// why, when gpu.js cannot use headless GL. Kernel sources are in kernels/gpujs/.

import type { Texture } from 'gpu.js';
import {
  type AdamWParams,
  type Backend,
  type BinaryOp,
  type DType,
  type ReduceOp,
  type TypedArray,
  type UnaryOp,
  type View,
  sizeOf,
} from '../../backend.js';
import { adamwMomentKernel, adamwParamKernel, adamwVarianceKernel } from '../../../../kernels/gpujs/adamw.js';
import {
  binaryKernel,
  copyKernel,
  fillKernel,
  unaryKernel,
  uploadKernel,
  whereKernel,
  writeRangeKernel,
} from '../../../../kernels/gpujs/elementwise.js';
import { gatherKernel, scatterAddKernel, tableAddress } from '../../../../kernels/gpujs/gather.js';
import {
  type MatmulDims,
  matmulKernel,
  packAKernel,
  packBKernel,
  unpackKernel,
} from '../../../../kernels/gpujs/matmul.js';
import { randKernel } from '../../../../kernels/gpujs/rand.js';
import { layernormMeanKernel, layernormOutKernel, layernormRstdKernel } from '../../../../kernels/gpujs/layernorm.js';
import {
  LOOP_LIMIT,
  MAX_ROW,
  MAX_THREAD_R,
  chunkReduceKernel,
  chunking,
  reduceKernel,
} from '../../../../kernels/gpujs/reduce.js';
import { rowMaxKernel, rowSumExpKernel, softmaxOutKernel } from '../../../../kernels/gpujs/softmax.js';
import { type KernelSpec, type NativeFn, glsl, withHelpers } from '../../../../kernels/gpujs/spec.js';
import {
  type Layout,
  coalesce,
  coversBuffer,
  divBy,
  identityMap,
  inverseMap,
  layoutMap,
  modBy,
  viewMap,
} from './indexing.js';
import { offsetMap } from '../ref.js';
import { type KernelArg, GlRuntime } from './runtime.js';

export interface GpuJsBuffer {
  readonly size: number;
  readonly dtype: DType;
  /** Device copy; authoritative when set. */
  tex: Texture | null;
  /** Host copy; authoritative when tex is null, a shadow in sync with tex otherwise. */
  host: Float32Array | null;
  freed: boolean;
}

/**
 * A kernel whose one loop runs `iterations` times per thread must stay inside llvmpipe's budget of
 * loop iterations per shader invocation (kernels/gpujs/reduce.ts: past it loops just stop, and
 * results come out silently short): refuse rather than compute a wrong result.
 */
function checkLoop(what: string, iterations: number, why: string): void {
  if (iterations > LOOP_LIMIT - 64) {
    throw new RangeError(
      `gpujs: ${what} with ${why} needs ${iterations} loop iterations per GL thread, past the ` +
        `${LOOP_LIMIT - 64} that llvmpipe runs (its loops stop after ${LOOP_LIMIT} in all)`,
    );
  }
}

/** Every integer of magnitude up to 2^24 is exact in float32: int32 data must stay inside. */
const EXACT_INT = 2 ** 24;

/** Where a kernel writes: the destination buffer, its outIdx map, and the `prev` texture if any. */
interface Target {
  buf: GpuJsBuffer;
  size: number;
  outIdx: NativeFn;
  hasPrev: boolean;
  prev: Texture[];
}

type BView = View<GpuJsBuffer>;

export class GpuJsBackend implements Backend<GpuJsBuffer> {
  readonly name = 'gpujs';
  readonly dtypes: readonly DType[] = ['float32', 'int32'];
  private readonly rt: GlRuntime;
  private live = 0;

  constructor() {
    this.rt = new GlRuntime();
  }

  /** The gpu.js mode in use ('headlessgl'); creation fails rather than use another. */
  get kernelMode(): string {
    return this.rt.kernelMode;
  }

  /** Class of every kernel that ran ('HeadlessGLKernel'), asserted per launch. */
  get kernelClass(): string {
    return this.rt.kernelClass;
  }

  get glRenderer(): string {
    return `${this.rt.glVersion} / ${this.rt.glRenderer}`;
  }

  /** Launches per kernel family (e.g. 'unary.gelu', 'matmul.packA'), for tests. */
  get kernelCounts(): ReadonlyMap<string, number> {
    return this.rt.launches;
  }

  get compiledKernels(): number {
    return this.rt.compiledKernels;
  }

  liveBuffers(): number {
    return this.live;
  }

  liveTextures(): number {
    return this.rt.liveTextures;
  }

  /** Release every compiled kernel and the GL context; the backend is unusable afterwards. */
  destroy(): void {
    this.rt.destroy();
  }

  // ---- memory -------------------------------------------------------------------------------

  alloc(dtype: DType, size: number): GpuJsBuffer {
    if (!this.dtypes.includes(dtype)) throw new Error(`gpujs: dtype ${dtype} not supported (float32 and int32 only)`);
    this.live++;
    return { size, dtype, tex: null, host: null, freed: false };
  }

  free(buf: GpuJsBuffer): void {
    if (buf.freed) throw new Error('gpujs: buffer freed twice');
    this.setTex(buf, null);
    buf.host = null;
    buf.freed = true;
    this.live--;
  }

  write(buf: GpuJsBuffer, dtype: DType, data: ArrayLike<number>, offset = 0): void {
    const n = data.length;
    if (offset < 0 || offset + n > buf.size) {
      throw new RangeError(`gpujs: write of ${n} elements at ${offset} exceeds buffer of ${buf.size}`);
    }
    if (dtype === 'int32') {
      for (let i = 0; i < n; i++) {
        if (Math.abs(data[i]) > EXACT_INT)
          throw new RangeError(`gpujs: int32 value ${data[i]} is not exact in float32 storage (|v| <= 2^24)`);
      }
    }
    if (n === 0) return;
    if (buf.tex === null || buf.host !== null || n === buf.size) {
      // Host-side update: the buffer is host-resident (or fully overwritten); upload is lazy.
      const host = buf.host ?? new Float32Array(buf.size);
      host.set(data, offset);
      this.setTex(buf, null);
      buf.host = host;
      return;
    }
    const range: Layout = { shape: [n], strides: [1], offset };
    const target = this.target(buf, range);
    this.launch(writeRangeKernel(target), [Float32Array.from(data)], target);
  }

  async read(buf: GpuJsBuffer, dtype: DType, offset: number, size: number): Promise<TypedArray> {
    return this.readSync(buf, dtype, offset, size);
  }

  /** WebGL readback (readPixels) is synchronous, so this backend offers readSync too. */
  readSync(buf: GpuJsBuffer, dtype: DType, offset: number, size: number): TypedArray {
    const values = this.hostOf(buf).subarray(offset, offset + size);
    return dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  }

  // ---- kernels ------------------------------------------------------------------------------

  fill(out: BView, value: number): void {
    if (sizeOf(out.shape) === 0) return;
    const target = this.target(out.buf, out);
    this.launch(fillKernel(target), [value], target);
  }

  copy(src: BView, dst: BView): void {
    if (sizeOf(dst.shape) === 0) return;
    const target = this.target(dst.buf, dst);
    const truncate = dst.dtype === 'int32' && src.dtype !== 'int32';
    this.launch(copyKernel(target, layoutMap('srcAt', src), truncate), [this.texOf(src.buf)], target);
  }

  unary(op: UnaryOp, x: BView, out: BView): void {
    if (sizeOf(out.shape) === 0) return;
    const target = this.target(out.buf, out);
    this.launch(unaryKernel(op, target, layoutMap('xAt', x)), [this.texOf(x.buf)], target);
  }

  binary(op: BinaryOp, a: BView, b: BView, out: BView): void {
    if (sizeOf(out.shape) === 0) return;
    const target = this.target(out.buf, out);
    const spec = binaryKernel(op, target, layoutMap('aAt', a), layoutMap('bAt', b), out.buf.dtype === 'int32');
    this.launch(spec, [this.texOf(a.buf), this.texOf(b.buf)], target);
  }

  where(cond: BView, a: BView, b: BView, out: BView): void {
    if (sizeOf(out.shape) === 0) return;
    const target = this.target(out.buf, out);
    const spec = whereKernel(target, layoutMap('cAt', cond), layoutMap('aAt', a), layoutMap('bAt', b));
    this.launch(spec, [this.texOf(cond.buf), this.texOf(a.buf), this.texOf(b.buf)], target);
  }

  reduce(op: ReduceOp, x: BView, axes: readonly number[], out: BView): void {
    if (sizeOf(out.shape) === 0) return;
    const keptAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const r = sizeOf(axes.map((a) => x.shape[a]));
    if (r === 0) {
      this.fill(out, op === 'sum' ? 0 : -Infinity);
      return;
    }
    const kept = coalesce(
      keptAxes.map((a) => x.shape[a]),
      [keptAxes.map((a) => x.strides[a])],
    );
    const red = coalesce(
      axes.map((a) => x.shape[a]),
      [axes.map((a) => x.strides[a])],
    );
    const xKept = viewMap('xKept', kept.shape, kept.strides[0], x.offset);
    const xRed = viewMap('xRed', red.shape, red.strides[0], 0);
    const target = this.target(out.buf, out);
    if (r <= MAX_THREAD_R) {
      this.launch(reduceKernel(op, target, xKept, xRed, r), [this.texOf(x.buf)], target);
      return;
    }
    // too long for one thread (kernels/gpujs/reduce.ts: the loop budget): reduce chunks of it,
    // then the chunk results [outputs, chunks] of each output
    const outputs = sizeOf(out.shape);
    const { chunks } = chunking(r);
    const parts = this.rt.run(chunkReduceKernel(op, outputs, xKept, xRed, r), [this.texOf(x.buf)]);
    const partsKept = viewMap('xKept', [outputs], [chunks], 0);
    const partsRed = viewMap('xRed', [chunks], [1], 0);
    this.launch(reduceKernel(op, target, partsKept, partsRed, chunks), [parts], target);
    this.rt.release(parts);
  }

  /** softmax and layernorm rows are one thread's loop (kernels/gpujs/reduce.ts: MAX_ROW). */
  private checkRow(what: string, cols: number): void {
    if (cols > MAX_ROW) {
      throw new Error(
        `gpujs: ${what} rows of ${cols} elements exceed the ${MAX_ROW} one GL thread can loop over ` +
          "(llvmpipe's 65,535 loop iterations per invocation)",
      );
    }
  }

  matmul(a: BView, b: BView, out: BView): void {
    const rank = a.shape.length;
    const d: MatmulDims = {
      P: sizeOf(a.shape.slice(0, rank - 2)),
      M: a.shape[rank - 2],
      K: a.shape[rank - 1],
      N: b.shape[rank - 1],
    };
    if (d.P * d.M * d.N === 0) return;
    if (d.K === 0) {
      this.fill(out, 0);
      return;
    }
    // one loop iteration per 4 of K (kernels/gpujs/matmul.ts), inside llvmpipe's loop budget
    checkLoop('matmul', Math.ceil(d.K / 4), `K = ${d.K}`);
    const batchShape = a.shape.slice(0, rank - 2);
    const aB = coalesce(batchShape, [a.strides.slice(0, rank - 2)]);
    const bB = coalesce(batchShape, [b.strides.slice(0, rank - 2)]);
    const aBatch = viewMap('aBatch', aB.shape, aB.strides[0], a.offset);
    const bBatch = viewMap('bBatch', bB.shape, bB.strides[0], b.offset);
    const packA = this.rt.run(packAKernel(d, aBatch, a.strides[rank - 2], a.strides[rank - 1]), [this.texOf(a.buf)]);
    const packB = this.rt.run(packBKernel(d, bBatch, b.strides[rank - 2], b.strides[rank - 1]), [this.texOf(b.buf)]);
    const quads = this.rt.run(matmulKernel(d), [packA, packB]);
    this.rt.release(packA);
    this.rt.release(packB);
    const target = this.target(out.buf, out);
    this.launch(unpackKernel(target, d), [quads], target);
    this.rt.release(quads);
  }

  softmax(x: BView, out: BView, log: boolean): void {
    const n = sizeOf(x.shape);
    if (n === 0) return;
    const cols = x.shape[x.shape.length - 1];
    const rows = n / cols;
    this.checkRow('softmax', cols);
    const xAt = this.rowMajorAt(x);
    const xTex = this.texOf(x.buf);
    const m = this.rt.run(rowMaxKernel(rows, cols, xAt), [xTex]);
    const s = this.rt.run(rowSumExpKernel(rows, cols, xAt), [xTex, m]);
    const target = this.target(out.buf, out);
    const spec = softmaxOutKernel(target, xAt, divBy('rowOf', cols), modBy('colOf', cols), log);
    this.launch(spec, [xTex, m, s], target);
    this.rt.release(m);
    this.rt.release(s);
  }

  layernorm(x: BView, w: BView, b: BView, eps: number, out: BView, mean: BView, rstd: BView): void {
    const n = sizeOf(x.shape);
    if (n === 0) return;
    const cols = x.shape[x.shape.length - 1];
    this.checkRow('layernorm', cols);
    const xAt = this.rowMajorAt(x);
    const meanAt = layoutMap('meanAt', mean);
    const rstdAt = layoutMap('rstdAt', rstd);

    const meanTarget = this.target(mean.buf, mean);
    this.launch(layernormMeanKernel(meanTarget, cols, xAt), [this.texOf(x.buf)], meanTarget);

    const rstdTarget = this.target(rstd.buf, rstd);
    const rstdSpec = layernormRstdKernel(rstdTarget, cols, xAt, meanAt);
    this.launch(rstdSpec, [this.texOf(x.buf), this.texOf(mean.buf), eps], rstdTarget);

    const target = this.target(out.buf, out);
    const spec = layernormOutKernel(
      target,
      xAt,
      divBy('rowOf', cols),
      modBy('colOf', cols),
      meanAt,
      rstdAt,
      layoutMap('wAt', w),
      layoutMap('bAt', b),
    );
    const args = [this.texOf(x.buf), this.texOf(mean.buf), this.texOf(rstd.buf), this.texOf(w.buf), this.texOf(b.buf)];
    this.launch(spec, args, target);
  }

  gather(table: BView, idx: BView, out: BView): void {
    const [V, H] = table.shape;
    if (sizeOf(out.shape) === 0) return;
    const target = this.target(out.buf, out);
    const spec = gatherKernel(
      target,
      V,
      layoutMap('idxAt', idx),
      tableAddress('tableAt', table.offset, table.strides[0], table.strides[1]),
      divBy('nOf', H),
      modBy('hOf', H),
    );
    this.launch(spec, [this.texOf(table.buf), this.texOf(idx.buf)], target);
  }

  scatterAdd(src: BView, idx: BView, out: BView): void {
    const [V, H] = out.shape;
    const N = idx.shape[0];
    if (V * H === 0) return;
    if (N === 0) {
      this.fill(out, 0);
      return;
    }
    if (N >= EXACT_INT || V >= EXACT_INT)
      throw new RangeError(`gpujs: scatterAdd needs N and V below 2^24 (N ${N}, V ${V})`);
    // Rows on the host: start[v]..start[v+1] index perm, which lists n with idx[n] == v ascending.
    const rows = this.viewValues(idx);
    const start = new Float32Array(V + 1);
    const inRange = (v: number): boolean => v >= 0 && v < V; // others are dropped (Backend.scatterAdd)
    for (let n = 0; n < N; n++) {
      if (inRange(rows[n])) start[rows[n] + 1]++;
    }
    let maxCount = 1;
    for (let v = 0; v < V; v++) {
      maxCount = Math.max(maxCount, start[v + 1]);
      start[v + 1] += start[v];
    }
    const fillAt = start.slice(0, V);
    const perm = new Float32Array(N);
    for (let n = 0; n < N; n++) if (inRange(rows[n])) perm[fillAt[rows[n]]++] = n;
    checkLoop('scatterAdd', maxCount, `${maxCount} indices hitting one row`);
    // Round the loop bound up to a power of two so that batches rarely recompile.
    const loopBound = 2 ** Math.ceil(Math.log2(maxCount));
    const target = this.target(out.buf, out);
    const spec = scatterAddKernel(
      target,
      loopBound,
      tableAddress('srcAt', src.offset, src.strides[0], src.strides[1]),
      divBy('vOf', H),
      modBy('hOf', H),
    );
    this.launch(spec, [this.texOf(src.buf), perm, start], target);
  }

  rand(seed: number, out: BView): void {
    if (sizeOf(out.shape) === 0) return;
    const k = Math.imul(seed >>> 0, 0x9e3779b9) >>> 0;
    const target = this.target(out.buf, out);
    this.launch(randKernel(target), [Math.floor(k / 65536), k % 65536], target);
  }

  adamw(p: BView, g: BView, m: BView, v: BView, h: AdamWParams): void {
    if (sizeOf(p.shape) === 0) return;
    const gAt = layoutMap('gAt', g);
    const mAt = layoutMap('mAt', m);
    const vAt = layoutMap('vAt', v);
    const pAt = layoutMap('pAt', p);

    const mTarget = this.target(m.buf, m);
    this.launch(
      adamwMomentKernel(mTarget, mAt, gAt),
      [this.texOf(m.buf), this.texOf(g.buf), h.beta1, 1 - h.beta1],
      mTarget,
    );

    const vTarget = this.target(v.buf, v);
    this.launch(
      adamwVarianceKernel(vTarget, vAt, gAt),
      [this.texOf(v.buf), this.texOf(g.buf), h.beta2, 1 - h.beta2],
      vTarget,
    );

    const bc1 = 1 - Math.pow(h.beta1, h.step);
    const bc2 = 1 - Math.pow(h.beta2, h.step);
    const pTarget = this.target(p.buf, p);
    const args = [this.texOf(p.buf), this.texOf(m.buf), this.texOf(v.buf), h.lr, h.lr * h.weightDecay, bc1, bc2, h.eps];
    this.launch(adamwParamKernel(pTarget, pAt, mAt, vAt), args, pTarget);
  }

  // ---- internals ----------------------------------------------------------------------------

  /** How a kernel writes `view` of `buf`: whole-buffer (identity) or merged with the old texture. */
  private target(buf: GpuJsBuffer, view: Layout): Target {
    if (coversBuffer(view, buf.size)) {
      return { buf, size: buf.size, outIdx: identityMap('outIdx'), hasPrev: false, prev: [] };
    }
    return { buf, size: buf.size, outIdx: inverseMap('outIdx', view), hasPrev: true, prev: [this.texOf(buf)] };
  }

  /** Run a kernel writing `target`; its output texture becomes the buffer's device copy. */
  private launch(spec: KernelSpec, args: KernelArg[], target: Target): Texture {
    const tex = this.rt.run(spec, [...args, ...target.prev]);
    this.setTex(target.buf, tex);
    return tex;
  }

  /** `int xAt(int row, int c)` for x viewed as [rows, C] (rows = all leading dims). */
  private rowMajorAt(x: BView): NativeFn {
    const rank = x.shape.length;
    const lead = coalesce(x.shape.slice(0, rank - 1), [x.strides.slice(0, rank - 1)]);
    const row = viewMap('xRow', lead.shape, lead.strides[0], x.offset);
    const at = glsl(
      'int',
      'xAt',
      [
        ['int', 'row'],
        ['int', 'c'],
      ],
      [`return xRow(row) + c * ${x.strides[rank - 1]};`],
    );
    return withHelpers(at, [row]);
  }

  /** The device texture of a buffer, uploading host data (or zeros) on first use. */
  private texOf(buf: GpuJsBuffer): Texture {
    if (buf.freed) throw new Error('gpujs: use of a freed buffer');
    if (buf.tex !== null) return buf.tex;
    const host = buf.host;
    if (host !== null) {
      buf.tex = this.rt.run(uploadKernel(buf.size), [host]);
      // int32 buffers are index lists: keep the host copy so scatterAdd can sort without a readback.
      if (buf.dtype !== 'int32') buf.host = null;
      return buf.tex;
    }
    const zeros: Target = { buf, size: buf.size, outIdx: identityMap('outIdx'), hasPrev: false, prev: [] };
    return this.launch(fillKernel(zeros), [0], zeros);
  }

  /** Replace a buffer's device copy (releasing the old one); the host copy becomes stale. */
  private setTex(buf: GpuJsBuffer, tex: Texture | null): void {
    if (buf.tex !== null) this.rt.release(buf.tex);
    buf.tex = tex;
    if (tex !== null) buf.host = null;
  }

  /** Whole-buffer host values: the host copy, or a readback (kept for int32 buffers). */
  private hostOf(buf: GpuJsBuffer): Float32Array {
    if (buf.freed) throw new Error('gpujs: use of a freed buffer');
    if (buf.host !== null) return buf.host;
    if (buf.tex === null) return new Float32Array(buf.size);
    const values = this.rt.read(buf.tex);
    if (buf.dtype === 'int32') buf.host = values;
    return values;
  }

  /** Host values of a view in row-major order. */
  private viewValues(v: BView): Float32Array {
    const data = this.hostOf(v.buf);
    const map = offsetMap(v);
    return Float32Array.from({ length: sizeOf(v.shape) }, (_, i) => data[map === null ? v.offset + i : map[i]]);
  }
}
