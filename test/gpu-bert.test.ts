// A whole BERT training step on the webgpu backend, checked against cpu-ref (issue 4).
//
// One tiny BERT (vocab 64, hidden 32, 2 layers, 2 heads, FFN 64), built on cpu-ref from a seeded
// generator and copied to webgpu with `module.to('webgpu')`, so both devices hold the same weights.
// - forward (last hidden states, pooler output, masked mean pooling) and backward (every
//   parameter's gradient of an InfoNCE loss on pooled embeddings, padding in the batch) agree;
// - ten AdamW steps with dropout on (masks from the shared counter-based hash, so identical on both
//   devices) give the same loss trajectory; each webgpu step reads back exactly one value (the loss),
//   runs no cpu kernel, submits one command buffer (plus one per full uniform ring), and the
//   device's live-buffer count stays flat from step to step;
// - the backend's host writes keep their order against recorded kernels without splitting batches.
// Not here: per-kernel shape sweeps (test/kernels/<primitive>.test.ts), PyTorch parity (test/bert.test.ts).
// There is no skip: without a WebGPU adapter `initDevice('webgpu')` throws and every test fails.
// Run: npx vitest run test/gpu-bert.test.ts

import { beforeEach, describe, expect, it } from 'vitest';
import { type Backend, type Tensor, type View, RefBackend, getDevice, initDevice, tidy } from '../src/index.js';
import { type GpuBuf, MAX_DISPATCHES_PER_SUBMIT, WebGPUBackend } from '../src/tensor/backends/webgpu/index.js';
import { AdamW } from '../src/train/optim.js';
import { CONFIG, DROPOUTS_PER_STEP, buildModel, disposeBatch, forwardLoss, makeBatch } from './util/tiny-bert.js';
import { TOL, assertClose } from './util/close.js';

// Tolerance: every comparison uses TOL.f32 (atol 1e-5, rtol 1e-4), no override. Both devices
// compute in float32 and differ only in summation order and exp/erf implementations; measured on
// llvmpipe, the worst gradient (word embeddings, |g| up to 4) uses 15% of it, hidden states under 1%,
// the losses about 3%.

let gpu: WebGPUBackend;

// In beforeEach (not beforeAll) so that a missing adapter fails every test rather than skipping it.
beforeEach(async () => {
  const be = await initDevice('webgpu');
  if (!(be instanceof WebGPUBackend)) throw new Error(`device 'webgpu' is ${be.constructor.name}, not WebGPUBackend`);
  gpu = be;
});

async function host(t: Tensor): Promise<Float32Array> {
  const data = await t.data();
  if (!(data instanceof Float32Array)) throw new Error(`expected float32 data, got ${data.constructor.name}`);
  return data;
}

function totalKernels(be: RefBackend): number {
  let n = 0;
  for (const c of be.kernelCounts.values()) n += c;
  return n;
}

/** cpu-ref and cpu kernel launches so far: a cpu fallback inside a webgpu step would move this. */
function cpuKernels(): number {
  const ref = getDevice('cpu-ref');
  const cpu = getDevice('cpu');
  return [ref, cpu].reduce((s, be: Backend) => s + (be instanceof RefBackend ? totalKernels(be) : 0), 0);
}

function gpuCounts(): Map<string, number> {
  return new Map(gpu.kernelCounts);
}

/** Dispatches since `before` of the pipelines whose key starts with `prefix`. */
function ranSince(before: Map<string, number>, prefix: string): number {
  let n = 0;
  for (const [key, count] of gpu.kernelCounts) {
    if (key.startsWith(prefix)) n += count - (before.get(key) ?? 0);
  }
  return n;
}

describe('BERT on webgpu vs cpu-ref (tiny config)', () => {
  it('runs on a WebGPU adapter and reports which one', () => {
    const info = gpu.adapterInfo;
    console.log(`webgpu adapter: ${JSON.stringify(info)}; matmul kernel: ${gpu.matmulKernel}`);
    expect(gpu.name).toBe('webgpu');
    expect(['native', 'opengles']).toContain(info.route);
    const forced = process.env.RETROGRAD_WEBGPU_ROUTE;
    if (forced === 'native' || forced === 'opengles') expect(info.route).toBe(forced);
    if (info.route === 'opengles') {
      // the software fallback: Mesa llvmpipe behind Dawn's OpenGL ES backend
      expect(info.featureLevel).toBe('compatibility');
      expect(info.software).toBe(true);
      expect(`${info.device} ${info.description}`).toMatch(/llvmpipe|Mesa/i);
    }
    expect(gpu.matmulKernel).toBe(info.software ? 'direct' : 'tiled');
  });

  it('forward outputs and every parameter gradient of an InfoNCE loss match cpu-ref', async () => {
    const ref = buildModel('cpu-ref');
    const dev = buildModel('webgpu');
    ref.eval();
    dev.eval();
    const refParams = new Map(ref.namedParameters());
    for (const [name, p] of dev.namedParameters()) {
      expect(p.device, name).toBe('webgpu');
      assertClose(await host(p), refParams.get(name)!.toArray(), { atol: 0, rtol: 0 }, `copied ${name}`);
    }

    const refBatch = makeBatch('cpu-ref');
    const r = tidy(() => {
      const f = forwardLoss(ref, refBatch);
      ref.zeroGrad();
      f.loss.backward();
      return { hidden: f.hidden.toArray(), pooler: f.pooler.toArray(), mean: f.mean.toArray(), loss: f.loss.item() };
    });

    const devBatch = makeBatch('webgpu');
    const cpuBefore = cpuKernels();
    const gpuBefore = gpuCounts();
    const d = tidy(() => {
      const f = forwardLoss(dev, devBatch);
      dev.zeroGrad();
      f.loss.backward();
      return f;
    });
    expect(cpuKernels(), 'cpu kernels run during the webgpu forward/backward').toBe(cpuBefore);
    for (const prefix of [
      'matmul',
      'softmax',
      'layernorm',
      'gather',
      'scatter_add',
      'unary[OP=gelu]',
      'unary[OP=gelu_grad]',
      'reduce',
    ]) {
      expect(ranSince(gpuBefore, prefix), `webgpu ${prefix} dispatches`).toBeGreaterThan(0);
    }
    expect(ranSince(gpuBefore, 'rand'), 'dropout is off in eval mode').toBe(0);

    assertClose(await host(d.hidden), r.hidden, TOL.f32, 'last_hidden_state');
    assertClose(await host(d.pooler), r.pooler, TOL.f32, 'pooler_output');
    assertClose(await host(d.mean), r.mean, TOL.f32, 'mean pooled');
    assertClose(await host(d.loss), r.loss, TOL.f32, 'loss');
    for (const t of Object.values(d)) t.dispose();

    const H = CONFIG.hidden_size;
    for (const [name, p] of dev.namedParameters()) {
      const refGrad = refParams.get(name)!.grad;
      expect(refGrad, `cpu-ref gradient of ${name}`).not.toBeNull();
      expect(p.grad, `webgpu gradient of ${name}`).not.toBeNull();
      expect(p.grad!.device).toBe('webgpu');
      const g = await host(p.grad!);
      assertClose(g, refGrad!.toArray(), TOL.f32, `grad ${name}`);
      if (name === 'embeddings.word_embeddings.weight') {
        // [PAD] = row 0 receives no gradient (nn.Embedding padding_idx), though padded positions feed the loss
        expect(
          g.subarray(0, H).every((v) => v === 0),
          'padding row gradient',
        ).toBe(true);
      }
    }
    disposeBatch(refBatch);
    disposeBatch(devBatch);
    ref.dispose();
    dev.dispose();
  });

  it('ten AdamW steps with dropout on: same loss trajectory, one read per step, flat live buffers', async () => {
    const STEPS = 10;
    interface Hooks {
      beforeStep(step: number): void;
      afterStep(step: number): void;
    }
    const train = async (device: string, hooks?: Hooks): Promise<{ losses: number[]; numParams: number }> => {
      const model = buildModel(device).train();
      const optimizer = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
      const batch = makeBatch(device);
      const losses: number[] = [];
      for (let s = 0; s < STEPS; s++) {
        hooks?.beforeStep(s);
        const loss = tidy(() => {
          const f = forwardLoss(model, batch);
          optimizer.zeroGrad();
          f.loss.backward();
          return f.loss.detach();
        });
        optimizer.step();
        losses.push((await loss.data())[0]);
        loss.dispose();
        hooks?.afterStep(s);
      }
      const numParams = model.parameters().length;
      optimizer.dispose();
      disposeBatch(batch);
      model.dispose();
      return { losses, numParams };
    };

    const ref = await train('cpu-ref');

    // Per webgpu step: the backend's reads (the only device -> host path, counted by wrapping the
    // instance's `read`), cpu kernel launches, device dropout and adamw dispatches, live buffers.
    const reads: number[][] = [];
    const cpuPerStep: number[] = [];
    const randPerStep: number[] = [];
    const dispatchesPerStep: number[] = [];
    const submitsPerStep: number[] = [];
    const adamwPerStep: number[] = [];
    const liveBuffers: number[] = [];
    let cpuBefore = 0;
    let submitsBefore = 0;
    let gpuBefore = gpuCounts();
    const originalRead = gpu.read;
    gpu.read = (buf, dtype, offset, size) => {
      reads[reads.length - 1]?.push(size);
      return originalRead.call(gpu, buf, dtype, offset, size);
    };
    let dev: { losses: number[]; numParams: number };
    try {
      dev = await train('webgpu', {
        beforeStep: () => {
          reads.push([]);
          cpuBefore = cpuKernels();
          submitsBefore = gpu.submissions();
          gpuBefore = gpuCounts();
        },
        afterStep: () => {
          cpuPerStep.push(cpuKernels() - cpuBefore);
          randPerStep.push(ranSince(gpuBefore, 'rand'));
          adamwPerStep.push(ranSince(gpuBefore, 'adamw'));
          dispatchesPerStep.push(ranSince(gpuBefore, ''));
          submitsPerStep.push(gpu.submissions() - submitsBefore);
          liveBuffers.push(gpu.liveBuffers());
        },
      });
    } finally {
      gpu.read = originalRead;
    }
    console.log(`loss trajectory cpu-ref: ${ref.losses.map((x) => x.toFixed(6)).join(' ')}`);
    console.log(`loss trajectory webgpu:  ${dev.losses.map((x) => x.toFixed(6)).join(' ')}`);
    console.log(`webgpu live buffers after each step: ${liveBuffers.join(' ')}`);
    console.log(`webgpu dispatches per step: ${dispatchesPerStep.join(' ')}; submissions: ${submitsPerStep.join(' ')}`);

    const each = (value: number): number[] => new Array<number>(STEPS).fill(value);
    assertClose(dev.losses, ref.losses, TOL.f32, 'loss trajectory');
    expect(dev.losses[STEPS - 1], 'training lowers the loss').toBeLessThan(dev.losses[0]);
    expect(
      reads.map((r) => r.length),
      'reads per step',
    ).toEqual(each(1));
    expect(
      reads.map((r) => r[0]),
      'elements read per step (the loss)',
    ).toEqual(each(1));
    expect(cpuPerStep, 'cpu kernels per webgpu step').toEqual(each(0));
    // one command buffer per step (submitted by the loss read) plus one per full uniform ring:
    // the step's host writes (position ids, labels) go into fresh buffers and never split it
    const expectedSubmits = dispatchesPerStep.map((n) => 1 + Math.floor(n / MAX_DISPATCHES_PER_SUBMIT));
    expect(submitsPerStep, 'command buffers submitted per step').toEqual(expectedSubmits);
    // each mask is drawn in the forward pass and drawn again from its seed in backward (not kept)
    expect(randPerStep, 'dropout masks drawn on the device per step').toEqual(each(2 * DROPOUTS_PER_STEP));
    expect(adamwPerStep, 'fused adamw dispatches per step').toEqual(each(dev.numParams));
    expect(new Set(liveBuffers).size, `webgpu live buffers per step: ${liveBuffers.join(' ')}`).toBe(1);
  });

  it('host writes between kernels: a buffer in use is written after its recorded readers, a fresh one joins the batch', async () => {
    const vec = (buf: GpuBuf): View<GpuBuf> => ({ buf, dtype: 'float32', shape: [3], strides: [1], offset: 0 });
    const [a, b, c, fresh, d] = [0, 1, 2, 3, 4].map(() => gpu.alloc('float32', 3));
    const live = gpu.liveBuffers();
    gpu.write(a, 'float32', [1, 2, 3]);
    await gpu.sync();
    const submitsBefore = gpu.submissions();
    gpu.copy(vec(a), vec(b)); // recorded, reads a
    gpu.write(a, 'float32', [7, 8, 9]); // must not reach the copy above: submits it first
    expect(gpu.submissions() - submitsBefore, 'write into a buffer a recorded kernel reads').toBe(1);
    gpu.copy(vec(a), vec(c));
    gpu.write(fresh, 'float32', [4, 5, 6]); // no recorded command touches it: no submit
    gpu.copy(vec(fresh), vec(d));
    expect(gpu.submissions() - submitsBefore, 'write into an untouched buffer').toBe(1);
    expect(Array.from(await gpu.read(b, 'float32', 0, 3))).toEqual([1, 2, 3]);
    expect(Array.from(await gpu.read(c, 'float32', 0, 3))).toEqual([7, 8, 9]);
    expect(Array.from(await gpu.read(d, 'float32', 0, 3))).toEqual([4, 5, 6]);
    for (const buf of [a, b, c, fresh, d]) gpu.free(buf);
    expect(gpu.liveBuffers()).toBe(live - 5);
  });

  it('a model moves to webgpu and back (toAsync) with its weights bit-exact', async () => {
    const model = buildModel('cpu-ref');
    const before = new Map([...model.namedParameters()].map(([n, p]) => [n, Array.from(p.toArray())]));
    model.to('webgpu');
    expect(model.parameters().every((p) => p.device === 'webgpu')).toBe(true);
    expect(() => model.to('cpu-ref'), 'sync move off webgpu is refused').toThrow(/await/);
    await model.toAsync('cpu-ref');
    for (const [name, p] of model.namedParameters()) {
      expect(p.device).toBe('cpu-ref');
      expect(Array.from(p.toArray()), name).toEqual(before.get(name));
    }
    model.dispose();
  });
});
