// Golden PyTorch fixtures for composite functions (style.md §7): softmax cross-entropy, log-softmax,
// layer norm, exact GELU, a BERT-style attention block, cosine similarity, InfoNCE, Margin-MSE and
// every SDAM variant (src/train/losses.ts).
//
// The JSON under test/fixtures/composite/ comes from scripts/torch/gen_composite_fixtures.py (run it
// with Debian's /usr/bin/python3 to regenerate); torch is not needed here. Each case is rebuilt from
// retrograd ops on 'cpu-ref' in float64 (against torch's float64, TOL.f64) and float32 (against
// torch's float32, TOL.f32), comparing every forward output and the gradient of every input under
// the fixture's fixed, non-uniform upstream gradient. The Python of each case sits above its test.
// This is not a gradient check (test/gradcheck.test.ts) nor a fast-backend comparison.

import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type DType,
  type Tensor,
  Linear,
  LayerNorm,
  RefBackend,
  fromArray,
  getDevice,
  grad,
  ops,
} from '../src/index.js';
import { TOL, assertClose, type Tolerance } from './util/close.js';
import { infoNCE, marginMSE, sdamLoss, type SdamOptions } from '../src/train/losses.js';

interface Encoded {
  shape: number[];
  dtype: 'float' | 'int';
  data: number[];
}

interface DtypeResult {
  constants: Record<string, number>;
  outputs: Record<string, Encoded>;
  grads: Record<string, Encoded>;
}

interface Fixture {
  case: string;
  torch: string;
  constants: Record<string, number>;
  inputs: Record<string, Encoded>;
  differentiable: string[];
  upstream: Record<string, Encoded>;
  float64: DtypeResult;
  float32: DtypeResult;
}

/**
 * What a case's builder sees: input tensors by fixture name, and the merged constants. A builder
 * may rebind an input to a module parameter holding the same values (gradients are then taken
 * w.r.t. the parameter).
 */
interface CaseContext {
  x: Record<string, Tensor>;
  c: Record<string, number>;
  dtype: DType;
  device: string;
}

type Build = (ctx: CaseContext) => Record<string, Tensor>;

type FixtureDType = 'float64' | 'float32';
const TOLERANCES: Record<FixtureDType, Tolerance> = { float64: TOL.f64, float32: TOL.f32 };
/** Each case runs once per (dtype, device) pair; another CPU backend that counts kernels can join. */
const RUNS: ReadonlyArray<[FixtureDType, string]> = [
  ['float64', 'cpu-ref'],
  ['float32', 'cpu-ref'],
  ['float32', 'cpu'],
];

/** The fast cpu backend runs these reference kernels as WebAssembly entry points (float32). */
const CPU_KERNEL_NAMES: Record<string, string> = {
  matmul: 'wasm.matmul',
  softmax: 'wasm.softmax',
  logsoftmax: 'wasm.softmax',
  layernorm: 'wasm.layernorm',
  'unary.gelu': 'wasm.gelu',
  'unary.gelu_grad': 'wasm.gelu',
};

/** 'ref:<kernel>' names a kernel that runs as reference code on every CPU backend (strided input). */
function kernelName(kernel: string, device: string): string {
  if (kernel.startsWith('ref:')) return kernel.slice(4);
  return device === 'cpu' ? (CPU_KERNEL_NAMES[kernel] ?? kernel) : kernel;
}

const FIXTURE_DIR = new URL('./fixtures/composite/', import.meta.url);
/** Names passed to fixtureCase, so that a fixture file without a test fails the suite. */
const tested = new Set<string>();

function loadFixture(name: string): Fixture {
  const url = new URL(`${name}.json`, FIXTURE_DIR);
  return JSON.parse(readFileSync(url, 'utf8')) as Fixture;
}

function toTensor(e: Encoded, dtype: DType, device: string, requiresGrad = false): Tensor {
  return fromArray(e.data, e.shape, { dtype: e.dtype === 'int' ? 'int32' : dtype, device, requiresGrad });
}

function kernelCounts(device: string): Map<string, number> {
  const backend = getDevice(device);
  if (!(backend instanceof RefBackend))
    throw new Error(`device '${device}' does not count its kernels (not a RefBackend)`);
  return new Map(backend.kernelCounts);
}

/**
 * Rebuild fixture `name` with `build` in `dtype`, then compare outputs and the gradients of
 * Σ_k sum(output_k · upstream_k) w.r.t. every differentiable input. Each of `kernels` must have
 * run (forward or backward) on `device`.
 */
function checkFixture(
  name: string,
  dtype: FixtureDType,
  device: string,
  kernels: readonly string[],
  build: Build,
): void {
  const fx = loadFixture(name);
  expect(fx.torch.startsWith('1.13')).toBe(true);
  const expected = fx[dtype];
  const tol = TOLERANCES[dtype];
  const x: Record<string, Tensor> = {};
  for (const [key, enc] of Object.entries(fx.inputs))
    x[key] = toTensor(enc, dtype, device, fx.differentiable.includes(key));

  const before = kernelCounts(device);
  const outputs = build({ x, c: { ...fx.constants, ...expected.constants }, dtype, device });

  expect(Object.keys(outputs).sort()).toEqual(Object.keys(expected.outputs).sort());
  for (const [key, enc] of Object.entries(expected.outputs)) {
    const y = outputs[key];
    expect(y.device).toBe(device);
    expect(y.dtype).toBe(dtype);
    expect(y.shape).toEqual(enc.shape);
    assertClose(y.toArray(), enc.data, tol, `${name} ${dtype} output '${key}'`);
  }

  let total: Tensor | null = null;
  for (const [key, enc] of Object.entries(fx.upstream)) {
    const term = ops.sum(ops.mul(outputs[key], toTensor(enc, dtype, device)));
    total = total === null ? term : ops.add(total, term);
  }
  if (total === null) throw new Error(`${name}: fixture has no upstream gradient`);
  const wrt = fx.differentiable.map((key) => x[key]);
  fx.differentiable.forEach((key, i) => {
    assertClose(
      wrt[i].toArray(),
      fx.inputs[key].data,
      { atol: 0, rtol: 0 },
      `${name} ${dtype} input '${key}' as differentiated`,
    );
  });
  const grads = grad(total, wrt);
  const after = kernelCounts(device);
  for (const k of kernels.map((name) => kernelName(name, device))) {
    expect((after.get(k) ?? 0) - (before.get(k) ?? 0), `kernel '${k}' on ${device}`).toBeGreaterThan(0);
  }
  fx.differentiable.forEach((key, i) => {
    const enc = expected.grads[key];
    expect(grads[i].shape).toEqual(enc.shape);
    assertClose(grads[i].toArray(), enc.data, tol, `${name} ${dtype} grad '${key}'`);
  });
}

/** One test per (dtype, device) run for a fixture case. */
function fixtureCase(name: string, kernels: readonly string[], build: Build): void {
  tested.add(name);
  for (const [dtype, device] of RUNS) {
    it(`${name} (${dtype}, ${device})`, () => checkFixture(name, dtype, device, kernels, build));
  }
}

describe('PyTorch 1.13 fixtures: composite functions', () => {
  // logits = randn(6, 5) * 2; logits[3] = randn(5) * 30; labels = [1, -100, 4, 0, -100, 2]
  // loss = F.cross_entropy(logits, labels, ignore_index=-100, reduction='mean')
  // rows = F.cross_entropy(logits, labels, ignore_index=-100, reduction='none')
  fixtureCase('cross_entropy_hard', ['logsoftmax', 'gather'], ({ x, c }) => ({
    loss: ops.crossEntropy(x.logits, x.labels, { ignoreIndex: c.ignore_index }),
    rows: ops.crossEntropy(x.logits, x.labels, { ignoreIndex: c.ignore_index, reduction: 'none' }),
  }));

  // target = softmax(randn(4, 5) * 1.5, dim=-1)   (gradients w.r.t. logits and target)
  // loss = F.cross_entropy(logits, target, reduction='mean')
  fixtureCase('cross_entropy_soft', ['logsoftmax'], ({ x }) => ({
    loss: ops.crossEntropy(x.logits, x.target),
  }));

  // x = randn(4, 7) * 2; x[1] += 500; x[2] -= 500; x[3] = randn(7) * 1e-3
  // y = F.log_softmax(x, dim=-1)
  fixtureCase('log_softmax', ['logsoftmax'], ({ x }) => ({
    y: ops.logSoftmax(x.x, -1),
  }));

  // x = randn(2, 3, 4) * 2
  // y = torch.softmax(x, dim=1)
  // softmax over a middle axis reads a transposed view, so even `cpu` runs the reference kernel
  fixtureCase('softmax_dim1', ['ref:softmax'], ({ x }) => ({
    y: ops.softmax(x.x, 1),
  }));

  // x = randn(2, 3, 8) * 1.5; x[0, 1] = randn(8) * 1e-3; x[1, 2] += 3
  // y = F.layer_norm(x, (8,), w, b, eps=1e-12)
  fixtureCase('layer_norm_eps1e-12', ['layernorm'], ({ x, c }) => ({
    y: ops.layerNorm(x.x, x.w, x.b, c.eps),
  }));

  // same inputs; y = F.layer_norm(x, (8,), w, b, eps=1e-5)   (eps dominates the 1e-3-spread row)
  fixtureCase('layer_norm_eps1e-5', ['layernorm'], ({ x, c }) => ({
    y: ops.layerNorm(x.x, x.w, x.b, c.eps),
  }));

  // x = cat([-10, -6, -3, -1, -1e-3, -1e-8, 0, 1e-8, 1e-3, 0.5, 1, 3, 6, 10], randn(18) * 2)
  // y = F.gelu(x)   (exact erf form, approximate='none')
  fixtureCase('gelu', ['unary.gelu', 'unary.gelu_grad'], ({ x }) => ({
    y: ops.gelu(x.x),
  }));

  // B, T, H, NH, D = 2, 5, 8, 2, 4; mask = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]; neg = torch.finfo(dtype).min
  // heads = lambda t: t.view(B, T, NH, D).permute(0, 2, 1, 3)
  // q, k, v = heads(F.linear(x, q_w, q_b)), heads(F.linear(x, k_w, k_b)), heads(F.linear(x, v_w, v_b))
  // scores = q @ k.transpose(-1, -2) / math.sqrt(D)
  // probs = torch.softmax(scores + (1.0 - mask)[:, None, None, :] * neg, dim=-1)
  // context = (probs @ v).permute(0, 2, 1, 3).reshape(B, T, H)
  // out = F.layer_norm(F.linear(context, o_w, o_b) + x, (H,), ln_w, ln_b, 1e-12)
  fixtureCase('attention_block', ['matmul', 'softmax', 'layernorm'], ({ x, c, dtype, device }) => {
    const B = c.batch;
    const T = c.seq;
    const H = c.hidden;
    const NH = c.heads;
    const D = H / NH;
    const linear = (prefix: string): Linear => {
      const layer = new Linear(H, H, { dtype, device });
      layer.weight.assign(x[`${prefix}_w`]);
      layer.bias!.assign(x[`${prefix}_b`]);
      return layer;
    };
    const [query, key, value, output] = ['q', 'k', 'v', 'o'].map(linear);
    const norm = new LayerNorm(H, c.layer_norm_eps, { dtype, device });
    norm.weight.assign(x.ln_w);
    norm.bias.assign(x.ln_b);
    // Gradients are taken w.r.t. the modules' parameters, which now hold the fixture's values.
    const params: Record<string, Tensor> = {
      q_w: query.weight,
      q_b: query.bias!,
      k_w: key.weight,
      k_b: key.bias!,
      v_w: value.weight,
      v_b: value.bias!,
      o_w: output.weight,
      o_b: output.bias!,
      ln_w: norm.weight,
      ln_b: norm.bias,
    };
    Object.assign(x, params);

    const heads = (t: Tensor): Tensor => t.reshape([B, T, NH, D]).permute([0, 2, 1, 3]); // [B, T, H] -> [B, T, NH, D] -> [B, NH, T, D]
    const q = heads(query.forward(x.x));
    const k = heads(key.forward(x.x));
    const v = heads(value.forward(x.x));
    const scores = q.matmul(k.transpose(-1, -2)).div(Math.sqrt(D)); // [B, NH, T, T]
    const bias = ops.sub(1, x.mask).mul(c.mask_value).reshape([B, 1, 1, T]); // [B, T] -> [B, 1, 1, T]
    const probs = scores.add(bias).softmax(-1); // [B, NH, T, T]
    const context = probs.matmul(v).permute([0, 2, 1, 3]).reshape([B, T, H]); // [B, NH, T, D] -> [B, T, NH, D] -> [B, T, H]
    const out = norm.forward(output.forward(context).add(x.x)); // [B, T, H]
    return { out, probs };
  });

  // a, b = randn(4, 6), randn(4, 6); a[2] *= 1e-3
  // s = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
  fixtureCase('cosine_matrix', ['matmul', 'unary.rsqrt'], ({ x }) => ({
    s: ops.cosineSimilarityMatrix(x.a, x.b),
  }));

  // s = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T; tau = 0.05
  // loss = F.cross_entropy(s / tau, torch.arange(4))
  fixtureCase('info_nce', ['matmul', 'logsoftmax'], ({ x, c, device }) => {
    const s = ops.cosineSimilarityMatrix(x.a, x.b); // [N, N]
    const n = s.shape[0];
    const labels = fromArray(
      Array.from({ length: n }, (_, i) => i),
      [n],
      { dtype: 'int32', device },
    );
    return { loss: ops.crossEntropy(s.div(c.tau), labels) };
  });

  // s = [pairwise_cos(q, p) | pairwise_cos(q, n)]  # [B, 2B]; loss = F.cross_entropy(s / tau, arange(B))
  fixtureCase('info_nce_negatives', ['matmul', 'logsoftmax'], ({ x, c }) => ({
    loss: infoNCE(x.q, x.p, 1 / c.tau, x.n),
  }));

  // student = diag(pairwise_cos(q, p)) - diag(pairwise_cos(q, n)); loss = F.mse_loss(student, t_pos - t_neg)
  fixtureCase('margin_mse', ['unary.rsqrt', 'unary.square'], ({ x }) => ({
    loss: marginMSE(x.q, x.p, x.n, x.t_pos, x.t_neg),
  }));

  // sdam_reference in the generator: margins from pairwise cosines (per triple: diagonals; in-batch
  // rowwise: diag(S_qp)[:, None] - S_qn; as-released: diag(S_qp) - S_qn), targets 0.5 + s(p, n)/2
  // (distributed: E[i, j] = m_j - T[i, j]) or a constant, error l2 / l1 / softplus(-e), mean.
  const SDAM_CASES: Record<string, SdamOptions> = {
    sdam_adaptive_l2: { target: 'adaptive', error: 'l2' },
    sdam_adaptive_l1: { target: 'adaptive', error: 'l1' },
    sdam_adaptive_soft: { target: 'adaptive', error: 'soft' },
    sdam_adaptive_l2_detached: { target: 'adaptive', error: 'l2', detachTarget: true },
    sdam_static_l2: { target: 0.3, error: 'l2' },
    sdam_distributed_l2: { target: 'distributed', error: 'l2' },
    sdam_distributed_soft: { target: 'distributed', error: 'soft' },
    sdam_inbatch_rowwise_l2: { target: 'adaptive', inBatch: true, marginMode: 'rowwise', error: 'l2' },
    sdam_inbatch_released_l2: { target: 'adaptive', inBatch: true, marginMode: 'as-released', error: 'l2' },
    sdam_inbatch_rowwise_soft: { target: 'adaptive', inBatch: true, marginMode: 'rowwise', error: 'soft' },
    sdam_inbatch_static_l1: { target: 0.2, inBatch: true, marginMode: 'rowwise', error: 'l1' },
    sdam_inbatch_released_l2_detached: {
      target: 'adaptive',
      inBatch: true,
      marginMode: 'as-released',
      error: 'l2',
      detachTarget: true,
    },
  };
  for (const [name, options] of Object.entries(SDAM_CASES)) {
    fixtureCase(name, ['matmul'], ({ x, c }) => {
      expect(c.target).toBe(
        typeof options.target === 'number' ? options.target : options.target === 'adaptive' ? -1 : -2,
      );
      const { loss, error } = sdamLoss(x.q, x.p, x.n, options);
      return { loss, error };
    });
  }

  // Masked cells (duplicates of the gold, filtered false negatives; masked_loss_cases in the generator):
  // logits = (cat(S_qp, S_qn) / tau).masked_fill(mask, -inf); loss = F.cross_entropy(logits, arange(B))
  fixtureCase('info_nce_masked', ['matmul', 'logsoftmax'], ({ x, c }) => ({
    loss: infoNCE(x.q, x.p, 1 / c.tau, x.n, Uint8Array.from(x.mask.toArray())),
  }));

  // e = sdam_reference(q, p, n, 'adaptive', in_batch, 'rowwise', 'l2'); keep = 1 - mask; loss = (e² · keep).sum() / keep.sum()
  fixtureCase('sdam_inbatch_rowwise_l2_masked', ['matmul'], ({ x }) => {
    const { loss, error } = sdamLoss(x.q, x.p, x.n, {
      target: 'adaptive',
      inBatch: true,
      marginMode: 'rowwise',
      error: 'l2',
      mask: Uint8Array.from(x.mask.toArray()),
    });
    return { loss, error };
  });

  it('every fixture file has a test', () => {
    const files = readdirSync(FIXTURE_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
    expect(files.sort()).toEqual([...tested].sort());
  });
});
