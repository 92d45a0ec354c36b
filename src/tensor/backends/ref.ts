// cpu-ref: the reference backend. Plain TypeScript, obviously correct, float64-capable.
//
// Every other backend's kernels are tested against this one. It favours clarity over speed:
// each kernel walks strided views through an explicit element-offset map, and float32 results are
// accumulated in float64 (JS numbers) before the final store. It is not meant to be fast; the `cpu`
// backend (WebAssembly SIMD on worker threads) is, and it inherits every kernel it does not override.

import {
  type AdamWParams,
  type Backend,
  type BinaryOp,
  type DType,
  type ReduceOp,
  type TypedArray,
  type UnaryOp,
  type View,
  coalesceDims,
  hashUniform,
  isContiguous,
  sizeOf,
} from '../backend.js';

export interface RefBuffer {
  data: TypedArray;
}

export function makeTypedArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
  }
}

/**
 * Element offsets of a view in row-major order of its shape: map[i] is where the i-th logical
 * element lives in the buffer. Contiguous views return null (offset + i).
 */
export function offsetMap(v: {
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}): Int32Array | null {
  if (isContiguous(v)) return null;
  const n = sizeOf(v.shape);
  const map = new Int32Array(n);
  const rank = v.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = v.offset;
  for (let i = 0; i < n; i++) {
    map[i] = off;
    // odometer increment over the dims, last dim fastest
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      off += v.strides[d];
      if (idx[d] < v.shape[d]) break;
      off -= v.strides[d] * v.shape[d];
      idx[d] = 0;
    }
  }
  return map;
}

/** Offset of logical element i: through the map when strided, offset + i when contiguous. */
function at(map: Int32Array | null, offset: number, i: number): number {
  return map === null ? offset + i : map[i];
}

/**
 * Row decomposition for elementwise kernels over several views of one shape: dims are first
 * coalesced (coalesceDims), then the result is split into rows of the last (merged) dim. Returns the row length, each view's stride along it, and each view's row
 * start offsets — so kernels run a tight inner loop without a per-element offset map.
 */
export function rowsOf(
  shape: readonly number[],
  views: readonly { strides: readonly number[]; offset: number }[],
): { inner: number; innerStrides: number[]; rowStarts: Int32Array[] } {
  const { shape: dims, strides } = coalesceDims(
    shape,
    views.map((v) => v.strides),
  );
  if (dims.length === 0) {
    return {
      inner: sizeOf(shape),
      innerStrides: views.map(() => 1),
      rowStarts: views.map((v) => Int32Array.of(v.offset)),
    };
  }
  const inner = dims[dims.length - 1];
  const outer = dims.slice(0, -1);
  const rows = sizeOf(outer);
  const rowStarts = views.map((v, k) => {
    const starts = new Int32Array(rows);
    const idx = new Array<number>(outer.length).fill(0);
    let off = v.offset;
    for (let r = 0; r < rows; r++) {
      starts[r] = off;
      for (let d = outer.length - 1; d >= 0; d--) {
        idx[d]++;
        off += strides[k][d];
        if (idx[d] < outer[d]) break;
        off -= strides[k][d] * outer[d];
        idx[d] = 0;
      }
    }
    return starts;
  });
  return { inner, innerStrides: strides.map((st) => st[st.length - 1]), rowStarts };
}

// ---- scalar math shared by the reference kernels -------------------------------------------------

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;

/**
 * erf to double precision: erf(x) = 2/sqrt(pi) · e^{-x²} · Σ_n 2^n x^{2n+1} / (2n+1)!!.
 * Every term is positive, so there is no cancellation; |x| >= 6 gives ±1 exactly in float64.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  let term = ax;
  let sum = ax;
  const x2 = ax * ax;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  return x < 0 ? -Math.min(r, 1) : Math.min(r, 1);
}

/**
 * erfc(x) = 1 - erf(x) without the cancellation of that difference for large x: below 2 the
 * difference loses at most ~5e-14 relatively (erfc(2) = 4.7e-3); from 2 on, the continued fraction
 * erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) (modified Lentz), which
 * converges in a few dozen terms there. Negative x: erfc(x) = 2 - erfc(-x).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 2) return 1 - erf(x);
  if (x > 27) return 0; // e^{-x²} underflows float64
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Φ(x), the standard normal CDF, accurate in both tails: Φ(x) = erfc(-x/√2)/2. */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT_2);
}

export const UNARY_FNS: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  erf,
  // gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2)), with Φ from erfc so the left tail keeps its digits
  gelu: (x) => x * normalCdf(x),
  // gelu'(x) = Φ(x) + x·φ(x)
  gelu_grad: (x) => normalCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
  relu: (x) => (x > 0 ? x : 0),
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  // softplus(x) = log(1 + e^x), written so that it neither overflows nor loses precision
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  recip: (x) => 1 / x,
  square: (x) => x * x,
  step: (x) => (x > 0 ? 1 : 0),
};

export const BINARY_FNS: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: (a, b) => (a >= b || Number.isNaN(a) ? a : b),
  minimum: (a, b) => (a <= b || Number.isNaN(a) ? a : b),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

/** AdamW on one element; returns [p, m, v]. Shared by every CPU kernel so they agree exactly. */
export function adamwScalar(p: number, g: number, m: number, v: number, h: AdamWParams): [number, number, number] {
  const bc1 = 1 - Math.pow(h.beta1, h.step);
  const bc2 = 1 - Math.pow(h.beta2, h.step);
  p -= h.lr * h.weightDecay * p;
  m = h.beta1 * m + (1 - h.beta1) * g;
  v = h.beta2 * v + (1 - h.beta2) * g * g;
  p -= (h.lr * (m / bc1)) / (Math.sqrt(v / bc2) + h.eps);
  return [p, m, v];
}

export class RefBackend implements Backend<RefBuffer> {
  readonly name: string = 'cpu-ref';
  readonly dtypes: readonly DType[] = ['float32', 'float64', 'int32'];
  /** Number of kernel launches per kernel name, so tests can assert what ran. */
  readonly kernelCounts = new Map<string, number>();
  private live = 0;

  protected count(kernel: string): void {
    this.kernelCounts.set(kernel, (this.kernelCounts.get(kernel) ?? 0) + 1);
  }

  liveBuffers(): number {
    return this.live;
  }

  // ---- memory -------------------------------------------------------------------------------

  alloc(dtype: DType, size: number): RefBuffer {
    this.live++;
    return { data: makeTypedArray(dtype, size) };
  }

  free(_buf: RefBuffer): void {
    this.live--;
  }

  write(buf: RefBuffer, _dtype: DType, data: ArrayLike<number>, offset = 0): void {
    buf.data.set(data, offset);
  }

  async read(buf: RefBuffer, dtype: DType, offset: number, size: number): Promise<TypedArray> {
    return this.readSync(buf, dtype, offset, size);
  }

  readSync(buf: RefBuffer, dtype: DType, offset: number, size: number): TypedArray {
    const out = makeTypedArray(dtype, size);
    out.set(buf.data.subarray(offset, offset + size));
    return out;
  }

  // ---- kernels ------------------------------------------------------------------------------

  fill(out: View<RefBuffer>, value: number): void {
    this.count('fill');
    const n = sizeOf(out.shape);
    out.buf.data.fill(value, out.offset, out.offset + n);
  }

  copy(src: View<RefBuffer>, dst: View<RefBuffer>): void {
    this.count('copy');
    const {
      inner,
      innerStrides: [ss, ds],
      rowStarts: [sr, dr],
    } = rowsOf(src.shape, [src, dst]);
    const s = src.buf.data;
    const d = dst.buf.data;
    const truncate = dst.dtype === 'int32' && src.dtype !== 'int32';
    for (let r = 0; r < sr.length; r++) {
      const so = sr[r];
      const dOff = dr[r];
      for (let j = 0; j < inner; j++) {
        const x = s[so + j * ss];
        d[dOff + j * ds] = truncate ? Math.trunc(x) : x;
      }
    }
  }

  unary(op: UnaryOp, x: View<RefBuffer>, out: View<RefBuffer>): void {
    this.count(`unary.${op}`);
    const f = UNARY_FNS[op];
    const {
      inner,
      innerStrides: [xs, os],
      rowStarts: [xr, or],
    } = rowsOf(x.shape, [x, out]);
    const xd = x.buf.data;
    const od = out.buf.data;
    for (let r = 0; r < xr.length; r++) {
      const xo = xr[r];
      const oo = or[r];
      for (let j = 0; j < inner; j++) od[oo + j * os] = f(xd[xo + j * xs]);
    }
  }

  binary(op: BinaryOp, a: View<RefBuffer>, b: View<RefBuffer>, out: View<RefBuffer>): void {
    this.count(`binary.${op}`);
    const f = BINARY_FNS[op];
    const {
      inner,
      innerStrides: [as, bs, os],
      rowStarts: [ar, br, or],
    } = rowsOf(out.shape, [a, b, out]);
    const ad = a.buf.data;
    const bd = b.buf.data;
    const od = out.buf.data;
    for (let r = 0; r < ar.length; r++) {
      const ao = ar[r];
      const bo = br[r];
      const oo = or[r];
      for (let j = 0; j < inner; j++) od[oo + j * os] = f(ad[ao + j * as], bd[bo + j * bs]);
    }
  }

  where(cond: View<RefBuffer>, a: View<RefBuffer>, b: View<RefBuffer>, out: View<RefBuffer>): void {
    this.count('where');
    const {
      inner,
      innerStrides: [cs, as, bs, os],
      rowStarts: [cr, ar, br, or],
    } = rowsOf(out.shape, [cond, a, b, out]);
    const cd = cond.buf.data;
    const ad = a.buf.data;
    const bd = b.buf.data;
    const od = out.buf.data;
    for (let r = 0; r < cr.length; r++) {
      for (let j = 0; j < inner; j++) {
        od[or[r] + j * os] = cd[cr[r] + j * cs] !== 0 ? ad[ar[r] + j * as] : bd[br[r] + j * bs];
      }
    }
  }

  reduce(op: ReduceOp, x: View<RefBuffer>, axes: readonly number[], out: View<RefBuffer>): void {
    this.count(`reduce.${op}`);
    // Permute the reduced axes to the end, so each output element owns a run of R map entries.
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const order = [...kept, ...axes];
    const map = offsetMap({
      shape: order.map((i) => x.shape[i]),
      strides: order.map((i) => x.strides[i]),
      offset: x.offset,
    });
    let r = 1;
    for (const ax of axes) r *= x.shape[ax];
    const outN = sizeOf(out.shape);
    const xd = x.buf.data;
    const od = out.buf.data;
    for (let j = 0; j < outN; j++) {
      let acc = op === 'sum' ? 0 : -Infinity;
      for (let k = 0; k < r; k++) {
        const v = xd[at(map, x.offset, j * r + k)];
        if (op === 'sum') acc += v;
        else if (v > acc || Number.isNaN(v)) acc = v;
      }
      od[out.offset + j] = acc;
    }
  }

  matmul(a: View<RefBuffer>, b: View<RefBuffer>, out: View<RefBuffer>): void {
    this.count('matmul');
    const rank = a.shape.length;
    const M = a.shape[rank - 2];
    const K = a.shape[rank - 1];
    const N = b.shape[rank - 1];
    const batch = sizeOf(a.shape.slice(0, rank - 2));
    // Offsets of each batch's [0,0] element: a view of the batch dims only.
    const batchOffsets = (v: View<RefBuffer>): Int32Array => {
      const bv = { shape: v.shape.slice(0, rank - 2), strides: v.strides.slice(0, rank - 2), offset: v.offset };
      const m = offsetMap(bv);
      return m ?? Int32Array.from({ length: batch }, (_, i) => v.offset + i * (bv.strides.at(-1) ?? 0));
    };
    const aOff = batchOffsets(a);
    const bOff = batchOffsets(b);
    const [sam, sak] = [a.strides[rank - 2], a.strides[rank - 1]];
    const [sbk, sbn] = [b.strides[rank - 2], b.strides[rank - 1]];
    const ad = a.buf.data;
    const bd = b.buf.data;
    const od = out.buf.data;
    const acc = new Float64Array(N);
    for (let p = 0; p < batch; p++) {
      for (let i = 0; i < M; i++) {
        acc.fill(0);
        for (let k = 0; k < K; k++) {
          const aik = ad[aOff[p] + i * sam + k * sak];
          const bRow = bOff[p] + k * sbk;
          for (let j = 0; j < N; j++) acc[j] += aik * bd[bRow + j * sbn];
        }
        const o = out.offset + (p * M + i) * N;
        for (let j = 0; j < N; j++) od[o + j] = acc[j];
      }
    }
  }

  softmax(x: View<RefBuffer>, out: View<RefBuffer>, log: boolean): void {
    this.count(log ? 'logsoftmax' : 'softmax');
    const C = x.shape[x.shape.length - 1];
    const rows = sizeOf(x.shape) / C;
    const xm = offsetMap(x);
    const xd = x.buf.data;
    const od = out.buf.data;
    const row = new Float64Array(C);
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        row[c] = xd[at(xm, x.offset, r * C + c)];
        if (row[c] > max) max = row[c];
      }
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(row[c] - max);
      const o = out.offset + r * C;
      if (log) {
        const lse = max + Math.log(sum);
        for (let c = 0; c < C; c++) od[o + c] = row[c] - lse;
      } else {
        for (let c = 0; c < C; c++) od[o + c] = Math.exp(row[c] - max) / sum;
      }
    }
  }

  layernorm(
    x: View<RefBuffer>,
    w: View<RefBuffer>,
    b: View<RefBuffer>,
    eps: number,
    out: View<RefBuffer>,
    mean: View<RefBuffer>,
    rstd: View<RefBuffer>,
  ): void {
    this.count('layernorm');
    const H = x.shape[x.shape.length - 1];
    const rows = sizeOf(x.shape) / H;
    const xm = offsetMap(x);
    const wm = offsetMap(w);
    const bm = offsetMap(b);
    const xd = x.buf.data;
    const row = new Float64Array(H);
    for (let r = 0; r < rows; r++) {
      let mu = 0;
      for (let h = 0; h < H; h++) {
        row[h] = xd[at(xm, x.offset, r * H + h)];
        mu += row[h];
      }
      mu /= H;
      let v = 0;
      for (let h = 0; h < H; h++) v += (row[h] - mu) * (row[h] - mu);
      const rs = 1 / Math.sqrt(v / H + eps);
      mean.buf.data[mean.offset + r] = mu;
      rstd.buf.data[rstd.offset + r] = rs;
      const o = out.offset + r * H;
      for (let h = 0; h < H; h++) {
        const wh = w.buf.data[at(wm, w.offset, h)];
        const bh = b.buf.data[at(bm, b.offset, h)];
        out.buf.data[o + h] = (row[h] - mu) * rs * wh + bh;
      }
    }
  }

  gather(table: View<RefBuffer>, idx: View<RefBuffer>, out: View<RefBuffer>): void {
    this.count('gather');
    const [V, H] = table.shape;
    const N = idx.shape[0];
    const im = offsetMap(idx);
    for (let n = 0; n < N; n++) {
      const row = idx.buf.data[at(im, idx.offset, n)];
      const inRange = row >= 0 && row < V; // out of range: a row of zeros (Backend.gather)
      for (let h = 0; h < H; h++) {
        out.buf.data[out.offset + n * H + h] = inRange
          ? table.buf.data[table.offset + row * table.strides[0] + h * table.strides[1]]
          : 0;
      }
    }
  }

  scatterAdd(src: View<RefBuffer>, idx: View<RefBuffer>, out: View<RefBuffer>): void {
    this.count('scatterAdd');
    const [V, H] = out.shape;
    const N = idx.shape[0];
    const im = offsetMap(idx);
    const od = out.buf.data;
    od.fill(0, out.offset, out.offset + V * H);
    for (let n = 0; n < N; n++) {
      const row = idx.buf.data[at(im, idx.offset, n)];
      if (!(row >= 0 && row < V)) continue; // out of range: dropped (Backend.scatterAdd)
      for (let h = 0; h < H; h++) {
        od[out.offset + row * H + h] += src.buf.data[src.offset + n * src.strides[0] + h * src.strides[1]];
      }
    }
  }

  rand(seed: number, out: View<RefBuffer>): void {
    this.count('rand');
    const n = sizeOf(out.shape);
    for (let i = 0; i < n; i++) out.buf.data[out.offset + i] = hashUniform(seed, i);
  }

  adamw(p: View<RefBuffer>, g: View<RefBuffer>, m: View<RefBuffer>, v: View<RefBuffer>, h: AdamWParams): void {
    this.count('adamw');
    const n = sizeOf(p.shape);
    const gm = offsetMap(g);
    for (let i = 0; i < n; i++) {
      const [pi, mi, vi] = adamwScalar(
        p.buf.data[p.offset + i],
        g.buf.data[at(gm, g.offset, i)],
        m.buf.data[m.offset + i],
        v.buf.data[v.offset + i],
        h,
      );
      p.buf.data[p.offset + i] = pi;
      m.buf.data[m.offset + i] = mi;
      v.buf.data[v.offset + i] = vi;
    }
  }
}
