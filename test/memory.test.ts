// The memory model under load: activation checkpointing gives the plain forward's gradients
// (float64 on cpu-ref, float32 on cpu), no-grad forward passes keep only what the next op needs
// (their peak does not grow with depth), training keeps less with checkpointing, and the live
// buffer count stays flat across checkpointed steps. The allocator's own tests are in
// cpu-backend.test.ts.

import { beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, fromArray, ones } from '../src/tensor/tensor.js';
import { initDevice } from '../src/tensor/device.js';
import { Generator } from '../src/tensor/random.js';
import { liveBytes, liveStorages, peakLiveBytes, resetPeakLiveBytes, tidy } from '../src/tensor/memory.js';
import { noGrad } from '../src/autograd/engine.js';
import { BERT_PRESETS, type BertConfig, BertModel } from '../src/nn/bert.js';
import { meanPool } from '../src/nn/pooling.js';
import { TOL, assertClose } from './util/close.js';

const SMALL: BertConfig = {
  ...BERT_PRESETS.tiny,
  vocab_size: 64,
  hidden_size: 16,
  num_hidden_layers: 3,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 32,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
};

function inputs(device: string, batch: number, seq: number, seed: number): { inputIds: Tensor; attentionMask: Tensor } {
  const g = new Generator(seed);
  const ids = Int32Array.from({ length: batch * seq }, () => 1 + Math.floor(g.uniform() * 63));
  // the last sequence is padded after half its length
  const mask = Int32Array.from({ length: batch * seq }, (_, i) =>
    Math.floor(i / seq) === batch - 1 && i % seq >= seq / 2 ? 0 : 1,
  );
  return {
    inputIds: fromArray(ids, [batch, seq], { dtype: 'int32', device }),
    attentionMask: fromArray(mask, [batch, seq], { dtype: 'int32', device }),
  };
}

/** Loss and parameter gradients of one training step (dropout on, generator reseeded). */
function gradients(
  model: BertModel,
  dropout: Generator,
  batch: ReturnType<typeof inputs>,
  checkpoint: boolean,
): { loss: number; grads: Float64Array[] } {
  model.encoder.checkpointActivations = checkpoint;
  dropout.seed(11);
  const params = model.parameters();
  const loss = tidy(() => {
    const e = meanPool(model.forward(batch).lastHiddenState, batch.attentionMask); // [B, H]
    const l = e
      .square()
      .sum()
      .add(e.narrow(0, 0, 1).sum().mul(3));
    l.backward();
    return l.item();
  });
  const grads = params.map((p) => Float64Array.from(p.grad!.toArray()));
  for (const p of params) {
    p.grad!.dispose();
    p.grad = null;
  }
  return { loss, grads };
}

describe('activation checkpointing', () => {
  beforeAll(async () => {
    await initDevice('cpu');
  });

  for (const [device, dtype] of [
    ['cpu-ref', 'float64'],
    ['cpu', 'float32'],
  ] as const) {
    it(`gives the plain forward's loss and gradients (${dtype} on ${device}), dropout included`, () => {
      const dropout = new Generator(3);
      const model = new BertModel(SMALL, {
        device,
        dtype,
        generator: new Generator(1),
        dropoutGenerator: dropout,
        addPoolingLayer: false,
      });
      model.train();
      const batch = inputs(device, 3, 12, 5);
      const plain = gradients(model, dropout, batch, false);
      const ckpt = gradients(model, dropout, batch, true);
      expect(ckpt.loss).toBe(plain.loss);
      // the recomputation replays the same kernels in the same order: bit-identical
      ckpt.grads.forEach((g, i) => expect(g).toEqual(plain.grads[i]));
      // and the checkpointed gradients are not trivially equal (they are nonzero)
      expect(ckpt.grads.some((g) => g.some((v) => v !== 0))).toBe(true);
      assertClose(ckpt.grads[0], plain.grads[0], TOL.f64, 'word embeddings');
      model.dispose();
      for (const t of Object.values(batch)) t.dispose();
    });
  }

  it('keeps less than the plain step, and live buffers stay flat across checkpointed steps', () => {
    const config = { ...SMALL, hidden_size: 32, intermediate_size: 128, num_hidden_layers: 6 };
    const dropout = new Generator(3);
    const model = new BertModel(config, {
      device: 'cpu',
      generator: new Generator(1),
      dropoutGenerator: dropout,
      addPoolingLayer: false,
    });
    model.train();
    const batch = inputs('cpu', 8, 32, 6);
    const peakOf = (checkpoint: boolean): number => {
      const base = liveBytes();
      resetPeakLiveBytes();
      gradients(model, dropout, batch, checkpoint);
      return peakLiveBytes() - base;
    };
    const plain = peakOf(false);
    const ckpt = peakOf(true);
    expect(ckpt).toBeLessThan(0.6 * plain);
    const live: number[] = [];
    for (let s = 0; s < 3; s++) {
      gradients(model, dropout, batch, true);
      live.push(liveStorages());
    }
    expect(new Set(live).size).toBe(1);
    model.dispose();
    for (const t of Object.values(batch)) t.dispose();
  });
});

describe('inference frees as it goes', () => {
  it('the peak of a no-grad forward does not grow with the number of layers', () => {
    const peaks: number[] = [];
    for (const layers of [2, 8]) {
      const model = new BertModel(
        { ...SMALL, num_hidden_layers: layers },
        { device: 'cpu-ref', generator: new Generator(1), addPoolingLayer: false },
      );
      model.eval();
      const batch = {
        inputIds: inputs('cpu-ref', 4, 24, 7).inputIds,
        attentionMask: ones([4, 24], { dtype: 'int32', device: 'cpu-ref' }),
      };
      const base = liveBytes();
      resetPeakLiveBytes();
      const e = noGrad(() => tidy(() => meanPool(model.forward(batch).lastHiddenState, batch.attentionMask)));
      peaks.push(peakLiveBytes() - base);
      e.dispose();
      model.dispose();
      for (const t of Object.values(batch)) t.dispose();
    }
    expect(peaks[1]).toBe(peaks[0]);
  });
});
