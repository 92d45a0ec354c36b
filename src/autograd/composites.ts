// Composite ops: written with the primitives of primitives.ts, so their gradients come from the
// primitives' rules and need no rule of their own. A fused kernel may replace one of these only
// after it matches the composition in a test.

import { type Tensor, arange } from '../tensor/tensor.js';
import { noGrad } from './engine.js';
import {
  abs,
  add,
  cast,
  concat,
  div,
  exp,
  gather,
  log,
  lt,
  matmul,
  max,
  maximum,
  mul,
  ne,
  neg,
  normAxes,
  normAxis,
  reshape,
  rsqrt,
  sameShape,
  square,
  sub,
  sum,
  transpose,
  where,
  logSoftmax,
} from './primitives.js';

// ---- shape helpers ------------------------------------------------------------------------------

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const a = normAxis(axis, x.ndim);
  if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${a} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  const a = normAxis(axis, xs[0].ndim + 1);
  return concat(
    xs.map((x) => unsqueeze(x, a)),
    a,
  );
}

export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}

/** Embedding lookup for int32 ids of any shape: [...ids] -> [...ids, H]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const flat = reshape(ids, [ids.size]); // [...ids] -> [N]
  const rows = gather(table, flat); // [N, H]
  return reshape(rows, [...ids.shape, table.shape[1]]); // [N, H] -> [...ids, H]
}

// ---- statistics --------------------------------------------------------------------------------

function count(x: Tensor, axes: readonly number[]): number {
  return axes.reduce((p, a) => p * x.shape[a], 1);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.ndim);
  return div(sum(x, ax, keepdim), count(x, ax));
}

/** Variance with `correction` (0: population, 1: Bessel). */
export function variance(x: Tensor, axes?: number | readonly number[], keepdim = false, correction = 0): Tensor {
  const ax = normAxes(axes, x.ndim);
  const centered = sub(x, mean(x, ax, true));
  return div(sum(square(centered), ax, keepdim), count(x, ax) - correction);
}

/** log Σ exp(x), stable: the max is subtracted first (and treated as a constant). */
export function logsumexp(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes(axes, x.ndim);
  const m = noGrad(() => {
    const raw = max(x, ax, true);
    return where(lt(abs(raw), Infinity), raw, 0); // rows of -inf stay finite
  });
  const lse = add(log(sum(exp(sub(x, m)), ax, true)), m);
  return keepdim
    ? lse
    : reshape(
        lse,
        lse.shape.filter((_, i) => !ax.includes(i)),
      );
}

// ---- losses and similarities -------------------------------------------------------------------

export interface CrossEntropyOptions {
  reduction?: 'mean' | 'sum' | 'none';
  /** Hard labels equal to this are excluded (and the mean is over the rest). */
  ignoreIndex?: number;
}

/**
 * Softmax cross-entropy for logits [N, C]. target: int32 class ids [N] (hard labels) or a float
 * distribution [N, C] (soft labels).
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  if (logits.ndim !== 2) throw new Error(`crossEntropy: logits must be [N, C], got [${logits.shape}]`);
  const [N, C] = logits.shape;
  const logp = logSoftmax(logits, -1);
  let perRow: Tensor; // [N]
  let n: Tensor | number = N;
  if (target.dtype === 'int32') {
    if (target.ndim !== 1 || target.shape[0] !== N)
      throw new Error(`crossEntropy: labels must be [${N}], got [${target.shape}]`);
    let labels = target;
    let valid: Tensor | null = null;
    if (opts.ignoreIndex !== undefined) {
      valid = ne(target, opts.ignoreIndex); // int32 0/1
      labels = mul(target, valid); // ignored rows point at class 0, then get weight 0
    }
    const rowStart = mul(arange(0, N, 1, { dtype: 'int32', device: logits.device }), C);
    const flatIdx = add(rowStart, labels); // row n -> n·C + label
    const picked = reshape(gather(reshape(logp, [N * C, 1]), flatIdx), [N]); // [N, C] -> [N·C, 1] -> [N, 1] -> [N]
    perRow = neg(picked);
    if (valid) {
      const weight = cast(valid, logits.dtype);
      perRow = mul(perRow, weight);
      n = maximum(sum(weight), 1);
    }
  } else {
    if (!sameShape(target.shape, logits.shape))
      throw new Error(`crossEntropy: soft targets must be [${N}, ${C}], got [${target.shape}]`);
    perRow = neg(sum(mul(target, logp), -1));
  }
  if (reduction === 'none') return perRow;
  if (reduction === 'sum') return sum(perRow);
  return div(sum(perRow), n);
}

/** x / max(‖x‖₂, eps) along an axis (as torch.nn.functional.normalize). */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  const sq = sum(square(x), axis, true);
  return mul(x, rsqrt(maximum(sq, eps * eps)));
}

/** Cosine similarity of every row of a [N, H] with every row of b [M, H] -> [N, M]. */
export function cosineSimilarityMatrix(a: Tensor, b: Tensor, eps = 1e-12): Tensor {
  return matmul(l2Normalize(a, -1, eps), transpose(l2Normalize(b, -1, eps)));
}

/** Row-wise cosine similarity of two [N, H] tensors -> [N]. */
export function cosineSimilarity(a: Tensor, b: Tensor, eps = 1e-12): Tensor {
  return sum(mul(l2Normalize(a, -1, eps), l2Normalize(b, -1, eps)), -1);
}
