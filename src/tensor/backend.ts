// The device interface: what a backend (cpu-ref, cpu, webgpu, gpujs) must implement.
//
// It is deliberately small. A backend owns buffers and runs a fixed set of primitive kernels on
// strided views of them. Everything else — broadcasting, autograd, composite ops such as
// cross-entropy or attention — lives above it in src/tensor and src/autograd, written once.
//
// Conventions every kernel follows:
// - A View is (buffer, dtype, shape, strides, offset), strides and offset counted in elements.
//   Inputs may be arbitrary strided views (stride 0 = broadcast). `out` views passed to kernels
//   are always freshly allocated and contiguous unless a kernel says otherwise (copy, adamw).
// - Binary/where kernels receive operands already expanded to the output shape (broadcasting is
//   the `expand` view op above this layer, whose gradient is a sum).
// - Reductions keep dims: out.shape equals x.shape with each reduced axis set to 1.
// - Only `read` is asynchronous (GPU readback). CPU backends also offer `readSync`.

export type DType = 'float32' | 'float64' | 'int32';
export type TypedArray = Float32Array | Float64Array | Int32Array;

export interface View<B = unknown> {
  readonly buf: B;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/** Elementwise unary primitives. gelu is the exact erf form; gelu_grad is its derivative. */
export const UNARY_OPS = [
  'neg',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'tanh',
  'erf',
  'gelu',
  'gelu_grad',
  'relu',
  'sigmoid',
  'abs',
  'sign',
  'softplus',
  'recip',
  'square',
  'step',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** Elementwise binary primitives. Comparisons return 1 or 0 in the operands' dtype. */
export const BINARY_OPS = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'maximum',
  'minimum',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export const REDUCE_OPS = ['sum', 'max'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, used for bias correction. */
  step: number;
}

export interface Backend<B = unknown> {
  /** 'cpu-ref' | 'cpu' | 'webgpu' | 'gpujs' */
  readonly name: string;
  /** Dtypes this backend can store and compute with (GPU backends have no float64). */
  readonly dtypes: readonly DType[];

  // ---- memory -------------------------------------------------------------------------------
  alloc(dtype: DType, size: number): B;
  free(buf: B): void;
  /** Copy host data into buf starting at element `offset`. */
  write(buf: B, dtype: DType, data: ArrayLike<number>, offset?: number): void;
  /** Read `size` elements from element `offset`. The only asynchronous call. */
  read(buf: B, dtype: DType, offset: number, size: number): Promise<TypedArray>;
  /** Synchronous read, offered by backends whose memory is host memory. */
  readSync?(buf: B, dtype: DType, offset: number, size: number): TypedArray;

  // ---- kernels ------------------------------------------------------------------------------
  /** out = value everywhere (out contiguous). */
  fill(out: View<B>, value: number): void;
  /** dst[i] = src[i] for every index of their common shape; either may be strided; may cast. */
  copy(src: View<B>, dst: View<B>): void;
  unary(op: UnaryOp, x: View<B>, out: View<B>): void;
  binary(op: BinaryOp, a: View<B>, b: View<B>, out: View<B>): void;
  /** out = cond != 0 ? a : b, all three already expanded to out.shape. */
  where(cond: View<B>, a: View<B>, b: View<B>, out: View<B>): void;
  /** Reduce over `axes` (sorted, unique), keeping dims. */
  reduce(op: ReduceOp, x: View<B>, axes: readonly number[], out: View<B>): void;
  /**
   * Batched matmul: a [...batch, M, K] · b [...batch, K, N] -> out [...batch, M, N].
   * Batch dims are equal (broadcast happened above, as stride-0 views); the last two dims of a and
   * b may have any strides, which is how transposed operands arrive.
   */
  matmul(a: View<B>, b: View<B>, out: View<B>): void;
  /** Softmax (or log-softmax when `log`) over the last axis. */
  softmax(x: View<B>, out: View<B>, log: boolean): void;
  /**
   * LayerNorm over the last axis with affine weight and bias [H]:
   * out = (x - mean) * rstd * w + b; also writes mean and rstd, contiguous [rows].
   */
  layernorm(x: View<B>, w: View<B>, b: View<B>, eps: number, out: View<B>, mean: View<B>, rstd: View<B>): void;
  /**
   * Row gather: table [V, H], idx int32 [N] -> out [N, H]. An index outside [0, V) gives a row of
   * zeros, on every device (a GPU kernel cannot throw without a readback; test/kernels/gather).
   */
  gather(table: View<B>, idx: View<B>, out: View<B>): void;
  /**
   * Deterministic scatter-add, the backward of gather: out [V, H] = 0, then for n = 0..N-1 in order
   * out[idx[n]] += src[n]. Summation order is fixed, so results are bit-reproducible per backend.
   * An index outside [0, V) is dropped (its row of src is added nowhere), on every device.
   */
  scatterAdd(src: View<B>, idx: View<B>, out: View<B>): void;
  /** Counter-based uniform [0,1) noise: out[i] = hashUniform(seed, i) for contiguous element i. */
  rand(seed: number, out: View<B>): void;
  /** In-place AdamW (decoupled weight decay) on contiguous p, m, v given gradient g. */
  adamw(p: View<B>, g: View<B>, m: View<B>, v: View<B>, h: AdamWParams): void;
}

/**
 * The counter-based hash behind `rand`, shared by every backend so that dropout masks are the
 * same on every device: two rounds of murmur3's 32-bit finaliser over (seed, index).
 * Returns the top 24 bits as a float in [0, 1).
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hashUniform(seed: number, i: number): number {
  const k = Math.imul(seed >>> 0, 0x9e3779b9) >>> 0;
  const h = fmix32((fmix32((i ^ k) >>> 0) + k) >>> 0);
  return (h >>> 8) / 16777216;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function isContiguous(v: { shape: readonly number[]; strides: readonly number[] }): boolean {
  let s = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] !== 1 && v.strides[i] !== s) return false;
    s *= v.shape[i];
  }
  return true;
}

export interface Coalesced {
  shape: number[];
  /** strides[k][d]: operand k's stride along coalesced dim d. */
  strides: number[][];
}

/**
 * Drop size-1 dims and merge neighbouring dims that every operand walks as one: dims d and d+1
 * merge when strides[d] == strides[d+1]·shape[d+1] for all operands. A fully contiguous set of
 * views becomes rank 1; a scalar becomes rank 0. Every backend's strided loops start here.
 */
export function coalesceDims(shape: readonly number[], strides: readonly (readonly number[])[]): Coalesced {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  // walk from the innermost dim outwards, building reversed lists
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d];
    if (size === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((s, k) => s[d] === outStrides[k][last] * outShape[last]);
    if (mergeable) {
      outShape[last] *= size;
    } else {
      outShape.push(size);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  outShape.reverse();
  outStrides.forEach((s) => s.reverse());
  return { shape: outShape, strides: outStrides };
}
