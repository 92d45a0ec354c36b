// BERT training on the gpujs backend (gpu.js in its headless-GL path), checked against cpu-ref:
// forward outputs and every parameter gradient of the tiny BERT (test/util/tiny-bert.ts), then ten
// AdamW steps with dropout on giving the same loss trajectory, with a flat live-buffer count.
// The kernel class is asserted (gpu.js silently falls back to CPU kernels otherwise), and no cpu
// kernel may run inside a gpujs step. Needs an X display (npm test runs under xvfb-run); without
// one, or without the native `gl` module, initDevice('gpujs') throws and every test fails.
// Run: xvfb-run -a npx vitest run test/gpujs-bert.test.ts

import { beforeEach, describe, expect, it } from 'vitest';
import { type Backend, RefBackend, getDevice, initDevice, tidy } from '../src/index.js';
import { GpuJsBackend } from '../src/tensor/backends/gpujs/index.js';
import { AdamW } from '../src/train/optim.js';
import { DROPOUTS_PER_STEP, buildModel, disposeBatch, forwardLoss, makeBatch } from './util/tiny-bert.js';
import { TOL, assertClose } from './util/close.js';

let gpu: GpuJsBackend;

// In beforeEach (not beforeAll) so that a missing display or GL module fails every test.
beforeEach(async () => {
  const be = await initDevice('gpujs');
  if (!(be instanceof GpuJsBackend)) throw new Error(`device 'gpujs' is ${be.constructor.name}, not GpuJsBackend`);
  gpu = be;
});

function cpuKernels(): number {
  let n = 0;
  for (const be of [getDevice('cpu-ref'), getDevice('cpu')] as Backend[]) {
    if (be instanceof RefBackend) for (const c of be.kernelCounts.values()) n += c;
  }
  return n;
}

function kernelsSince(before: ReadonlyMap<string, number>): Map<string, number> {
  const ran = new Map<string, number>();
  for (const [k, c] of gpu.kernelCounts) if (c > (before.get(k) ?? 0)) ran.set(k, c - (before.get(k) ?? 0));
  return ran;
}

describe('BERT on gpujs vs cpu-ref (tiny config)', () => {
  it('runs gpu.js kernels on the headless GL path', () => {
    expect(gpu.name).toBe('gpujs');
    expect(gpu.kernelMode).toBe('headlessgl');
    expect(gpu.kernelClass).toBe('HeadlessGLKernel');
  });

  it('forward outputs and every parameter gradient match cpu-ref', () => {
    const ref = buildModel('cpu-ref').eval();
    const dev = buildModel('gpujs').eval();
    const refBatch = makeBatch('cpu-ref');
    const devBatch = makeBatch('gpujs');
    const r = tidy(() => {
      const f = forwardLoss(ref, refBatch);
      f.loss.backward();
      return { hidden: f.hidden.toArray(), pooler: f.pooler.toArray(), loss: f.loss.item() };
    });
    const cpuBefore = cpuKernels();
    const gpuBefore = new Map(gpu.kernelCounts);
    const d = tidy(() => {
      const f = forwardLoss(dev, devBatch);
      f.loss.backward();
      return { hidden: f.hidden.toArray(), pooler: f.pooler.toArray(), loss: f.loss.item() };
    });
    expect(cpuKernels(), 'cpu kernels run during the gpujs forward/backward').toBe(cpuBefore);
    const ran = [...kernelsSince(gpuBefore).keys()].join(' ');
    for (const family of ['matmul', 'softmax', 'layernorm', 'gather', 'scatterAdd']) expect(ran).toContain(family);

    assertClose(d.hidden, r.hidden, TOL.f32, 'last_hidden_state');
    assertClose(d.pooler, r.pooler, TOL.f32, 'pooler_output');
    assertClose(d.loss, r.loss, TOL.f32, 'loss');
    const refParams = new Map(ref.namedParameters());
    for (const [name, p] of dev.namedParameters()) {
      expect(p.grad?.device, `gpujs gradient of ${name}`).toBe('gpujs');
      assertClose(p.grad!.toArray(), refParams.get(name)!.grad!.toArray(), TOL.f32, `grad ${name}`);
    }
    disposeBatch(refBatch);
    disposeBatch(devBatch);
    ref.dispose();
    dev.dispose();
  });

  it('ten AdamW steps with dropout on: same loss trajectory as cpu-ref, flat live buffers', () => {
    const STEPS = 10;
    const train = (device: string, hooks?: { before(): void; after(): void }): number[] => {
      const model = buildModel(device).train();
      const optimizer = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
      const batch = makeBatch(device);
      const losses: number[] = [];
      for (let s = 0; s < STEPS; s++) {
        hooks?.before();
        losses.push(
          tidy(() => {
            optimizer.zeroGrad();
            const f = forwardLoss(model, batch);
            f.loss.backward();
            optimizer.step();
            return f.loss.item();
          }),
        );
        hooks?.after();
      }
      optimizer.dispose();
      disposeBatch(batch);
      model.dispose();
      return losses;
    };
    const ref = train('cpu-ref');
    const live: number[] = [];
    const cpuPerStep: number[] = [];
    let cpuBefore = 0;
    const gpuBefore = new Map(gpu.kernelCounts);
    const dev = train('gpujs', {
      before: () => {
        cpuBefore = cpuKernels();
      },
      after: () => {
        cpuPerStep.push(cpuKernels() - cpuBefore);
        live.push(gpu.liveBuffers());
      },
    });
    console.log(`loss trajectory cpu-ref: ${ref.map((x) => x.toFixed(6)).join(' ')}`);
    console.log(`loss trajectory gpujs:   ${dev.map((x) => x.toFixed(6)).join(' ')}`);
    assertClose(dev, ref, TOL.f32, 'loss trajectory');
    expect(dev[STEPS - 1]).toBeLessThan(dev[0]);
    expect(cpuPerStep, 'cpu kernels per gpujs step').toEqual(new Array<number>(STEPS).fill(0));
    const ran = kernelsSince(gpuBefore);
    const count = (family: string): number =>
      [...ran].filter(([k]) => k.includes(family)).reduce((s, [, c]) => s + c, 0);
    // each mask is drawn in the forward pass and drawn again from its seed in backward (not kept)
    expect(count('rand'), 'dropout masks drawn on the device').toBe(2 * STEPS * DROPOUTS_PER_STEP);
    expect(count('adamw'), 'adamw updates on the device').toBeGreaterThan(0);
    expect(new Set(live).size, `gpujs live buffers per step: ${live.join(' ')}`).toBe(1);
  });
});
