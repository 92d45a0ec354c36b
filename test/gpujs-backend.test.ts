// The gpujs backend itself, not its kernels: that it runs on gpu.js's headless-GL path (never a
// CPU/WASM fallback), its memory (textures stay flat), index arithmetic past 2^24 elements, and the
// tiny BERT fixture on it against PyTorch. Every primitive's kernels are tested over every device,
// gpujs included, in test/kernels/<primitive>.test.ts. There is no skip: without gpu.js's GL path
// (native `gl` module, X display) `new GpuJsBackend()` throws, saying why, and every test fails.
// Run: xvfb-run -a npx vitest run test/gpujs-backend.test.ts   (npm test wraps xvfb-run itself)

import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GpuJsBackend } from '../src/tensor/backends/gpujs/index.js';
import { RefBackend } from '../src/tensor/backends/ref.js';
import { getDevice, initDevice } from '../src/tensor/device.js';
import { infoNCE } from '../src/train/losses.js';
import { type Tensor, fromArray } from '../src/tensor/tensor.js';
import { tidy } from '../src/tensor/memory.js';
import * as ops from '../src/autograd/ops.js';
import { BertForMaskedLM } from '../src/nn/bert.js';
import { loadModelDir } from '../src/nn/model-dir.js';
import { meanPool } from '../src/nn/pooling.js';
import { type SafetensorsTensor, int64ToInt32, readSafetensors } from '../src/nn/safetensors.js';
import { TOL, assertClose } from './util/close.js';
import { expectMemoryGuards } from './util/device-memory.js';
import { pairedBuffers } from './util/paired.js';
import { uniform } from './util/random.js';

const NO_DISPLAY =
  'gpujs tests need an X display for headless gl: DISPLAY is unset; run them under `xvfb-run -a` (npm test does)';

let gpu: GpuJsBackend;
const ref = new RefBackend();
let startError: Error | null = null;

// A start failure is rethrown by every test (a failing beforeAll would report them as skipped).
beforeAll(async () => {
  try {
    if (!process.env.DISPLAY) throw new Error(NO_DISPLAY);
    // The registry's instance, so kernel tests and the Tensor-level BERT test share one backend.
    gpu = (await initDevice('gpujs')) as GpuJsBackend;
  } catch (e) {
    startError = e as Error;
  }
});

beforeEach(() => {
  if (startError) throw startError;
});

// paired buffers: the same data on both backends (test/util/paired.ts)
const { pair, zeros, view, randomView, output, expectSame, freeAll, ran } = pairedBuffers(() => gpu, ref, 'kernel');

// ---- tests ---------------------------------------------------------------------------------------

describe('gpujs backend', () => {
  it('runs under an X display on gpu.js headless GL (HeadlessGLKernel), never a CPU/WASM fallback', () => {
    expect(process.env.DISPLAY, NO_DISPLAY).toBeTruthy();
    console.log(`gpujs: mode ${gpu.kernelMode}, kernel class ${gpu.kernelClass}, GL ${gpu.glRenderer}`);
    expect(gpu.name).toBe('gpujs');
    expect(gpu.kernelMode).toBe('headlessgl');
    expect(gpu.kernelClass).toBe('HeadlessGLKernel');
    expect(gpu.dtypes).toEqual(['float32', 'int32']);
  });

  it('memory: alloc/free, float64 refused, partial writes on host and device, int32 range', async () => {
    const before = gpu.liveBuffers();
    const a = gpu.alloc('float32', 10);
    expect(gpu.liveBuffers()).toBe(before + 1);
    gpu.write(a, 'float32', [1.5, -2, 3], 4);
    expect(Array.from(await gpu.read(a, 'float32', 3, 3))).toEqual([0, 1.5, -2]);
    // make it device-resident, then write part of it: merged on the GPU
    gpu.fill({ buf: a, dtype: 'float32', shape: [10], strides: [1], offset: 0 }, 7);
    ran('writeRange', () => gpu.write(a, 'float32', [8, 9], 8));
    expect(Array.from(await gpu.read(a, 'float32', 0, 10))).toEqual([7, 7, 7, 7, 7, 7, 7, 7, 8, 9]);
    const b = gpu.alloc('int32', 3);
    gpu.write(b, 'int32', [7, -8, 16777216]);
    expect(Array.from(await gpu.read(b, 'int32', 0, 3))).toEqual([7, -8, 16777216]);
    expect(await gpu.read(b, 'int32', 0, 3)).toBeInstanceOf(Int32Array);
    // int32 lives in float32 texels: beyond 2^24 it would be rounded, so it is refused
    expect(() => gpu.write(b, 'int32', [16777217])).toThrow(/2\^24/);
    gpu.free(a);
    gpu.free(b);
    expect(gpu.liveBuffers()).toBe(before);
    await expectMemoryGuards(gpu, a);
  });

  it('memory: textures stay flat across repeated kernels and frees', async () => {
    const rnd = uniform(-1, 1, 3);
    const step = (): void => {
      const a = randomView([33, 17], rnd);
      const b = randomView([17, 9], rnd);
      const [out] = output([33, 9]);
      gpu.matmul(a.g, b.g, out.g);
      const [s] = output([33, 9]);
      gpu.softmax(out.g, s.g, false);
      const [t] = output([33, 1]);
      gpu.reduce('sum', s.g, [1], t.g);
      freeAll();
    };
    step();
    const textures = gpu.liveTextures();
    const buffers = gpu.liveBuffers();
    for (let i = 0; i < 5; i++) step();
    expect(gpu.liveTextures()).toBe(textures);
    expect(gpu.liveBuffers()).toBe(buffers);
  });

  it('buffers beyond 2^24 elements: index arithmetic stays exact (int, not float)', async () => {
    // 4100 x 4097 = 16,797,700 elements, past the 2^24 where float32 stops counting by ones; the
    // value of element i is i mod 8191, so an address off by one reads a different value.
    const [V, H] = [4100, 4097];
    const table = pair(
      'float32',
      Float32Array.from({ length: V * H }, (_, i) => i % 8191),
    );
    const idx = view(pair('int32', [4099, 0, 4096, 4098]), [4]);
    const [out, outPair] = output([4, H]);
    gpu.gather(view(table, [V, H]).g, idx.g, out.g);
    ref.gather(view(table, [V, H]).r, idx.r, out.r);
    await expectSame(outPair, { atol: 0, rtol: 0 }, 'gather rows past 2^24');
    const tail = view(table, [2, 50], [H, 1], V * H - H - 50);
    const [copied, copiedPair] = output([2, 50]);
    gpu.copy(tail.g, copied.g);
    ref.copy(tail.r, copied.r);
    await expectSame(copiedPair, { atol: 0, rtol: 0 }, 'copy from offsets past 2^24');
    freeAll();
  });

  it("loops past llvmpipe's 65,535 iterations per GL thread are refused, not cut short", () => {
    // kernels/gpujs/reduce.ts: reductions unroll and chunk; matmul (one iteration per 4 of K) and
    // scatterAdd (one per index hitting a row) would silently stop early, so they throw instead
    const K = 4 * 65_500;
    const a = view(zeros('float32', K), [1, K]);
    const b = view(zeros('float32', K), [K, 1]);
    const [out] = output([1, 1]);
    expect(() => gpu.matmul(a.g, b.g, out.g)).toThrow(/matmul with K = 262000 needs 65500 loop iterations/);
    const n = 65_500;
    const src = view(zeros('float32', n), [n, 1]);
    const idx = view(pair('int32', new Array(n).fill(0)), [n]);
    const [table] = output([2, 1]);
    expect(() => gpu.scatterAdd(src.g, idx.g, table.g)).toThrow(/scatterAdd with 65500 indices hitting one row/);
    freeAll();
  });

  it('BERT (tiny fixture, MLM head) on gpujs: forward, loss and every gradient against PyTorch', () => {
    // The fixture and loss of test/bert.test.ts (scripts/torch/gen_bert_fixture.py), run through
    // the Tensor/autograd stack on this device: gather, layernorm, batched and transposed matmul,
    // softmax with the padding mask, gelu, cross-entropy, and backward through scatterAdd.
    expect(getDevice('gpujs')).toBe(gpu);
    const fixtures = join(import.meta.dirname, 'fixtures', 'bert');
    const refs = readSafetensors(join(fixtures, 'tiny.reference.safetensors')).tensors;
    const expected = (key: string): Float64Array => refs.get(key)!.data as Float64Array;
    const ids = (key: string): Tensor => {
      const t = refs.get(key) as SafetensorsTensor;
      return fromArray(int64ToInt32(t.data as BigInt64Array, key), t.shape, { dtype: 'int32', device: 'gpujs' });
    };
    const mlm = loadModelDir(join(fixtures, 'tiny'), { head: 'mlm', dtype: 'float32', device: 'gpujs' }).mlm!;
    expect(mlm).toBeInstanceOf(BertForMaskedLM);
    // float32 accumulation on the device, where cpu-ref accumulates in float64
    const fwd = TOL.f32;
    const matmuls = gpu.kernelCounts.get('matmul') ?? 0;
    const scatters = gpu.kernelCounts.get('scatterAdd') ?? 0;
    tidy(() => {
      const attentionMask = ids('attention_mask');
      const out = mlm.forward({ inputIds: ids('input_ids'), attentionMask, tokenTypeIds: ids('token_type_ids') });
      expect(out.lastHiddenState.device).toBe('gpujs');
      assertClose(out.lastHiddenState.toArray(), expected('last_hidden_state'), fwd, 'last_hidden_state');
      assertClose(out.poolerOutput!.toArray(), expected('pooler_output'), fwd, 'pooler_output');
      assertClose(out.logits.toArray(), expected('mlm_logits'), fwd, 'mlm_logits');
      const h = out.lastHiddenState;
      const mean = meanPool(h, attentionMask); // [6, H]
      const pooled = out.poolerOutput!; // [6, H]
      const [batch, seq, vocab] = out.logits.shape;
      const flatLogits = out.logits.reshape([batch * seq, vocab]); // [B, S, V] -> [B·S, V]
      const flatLabels = ids('mlm_labels').reshape([batch * seq]); // [B, S] -> [B·S]
      const loss = infoNCE(mean.narrow(0, 0, 3), mean.narrow(0, 3, 3))
        .add(infoNCE(pooled.narrow(0, 0, 3), pooled.narrow(0, 3, 3)))
        .add(ops.crossEntropy(flatLogits, flatLabels, { ignoreIndex: -100 }).mul(0.5))
        .add(h.square().mean().mul(0.1));
      assertClose(loss.item(), expected('loss'), fwd, 'loss');
      mlm.zeroGrad();
      loss.backward();
    });
    for (const [name, p] of mlm.namedParameters()) {
      expect(p.grad, `gradient of ${name}`).not.toBeNull();
      // gradients go through two float32 passes (forward and backward) on the device
      assertClose(p.grad!.toArray(), expected(`grad.${name}`), TOL.f32Loose, `grad ${name}`);
    }
    expect(gpu.kernelCounts.get('matmul') ?? 0).toBeGreaterThan(matmuls);
    expect(gpu.kernelCounts.get('scatterAdd') ?? 0).toBeGreaterThan(scatters);
    mlm.dispose();
  });
});
