// Activation checkpointing: run a block's forward without keeping its intermediates, and run it
// again during backward to get them back (Chen et al. 2016, "Training Deep Nets with Sublinear
// Memory Cost"; torch.utils.checkpoint). The block is recorded as one graph node whose inputs are
// its tensor inputs and the parameters it uses, and which saves only its tensor inputs.
// The recomputation is exact: the generators of the block's dropout masks are rewound to their
// state at the forward pass, and every kernel is deterministic, so the gradients equal those of
// the plain forward (tested in float64 on cpu-ref and float32 on cpu).
// Not here: choosing what to checkpoint (BertEncoder.checkpointActivations does per layer).

import type { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { tidyLocal } from '../tensor/memory.js';
import { enableGrad, grad, isGradEnabled, noGrad, record } from './engine.js';

export interface CheckpointOptions {
  /** Every parameter fn reads: they receive gradients through the checkpoint node. */
  params: readonly Tensor[];
  /** Generators fn draws from (dropout): rewound for the recomputation, then put back. */
  generators?: readonly Generator[];
}

/** fn(inputs), keeping only the inputs for backward, which recomputes fn. */
export function checkpoint(
  fn: (inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  opts: CheckpointOptions,
): Tensor {
  const diffInputs = [...inputs, ...opts.params];
  if (!isGradEnabled() || !diffInputs.some((t) => t.requiresGrad)) return fn([...inputs]);
  const generators = opts.generators ?? [];
  const states = generators.map((g) => g.getState());
  const y = noGrad(() => tidyLocal(() => fn([...inputs])));
  const needs = diffInputs.map((t) => t.requiresGrad);
  // d checkpoint(fn)(x, θ) = the gradients of fn recomputed from the saved x
  return record(y, 'checkpoint', diffInputs, inputs, (g, saved) => {
    const after = generators.map((gen) => gen.getState());
    generators.forEach((gen, i) => gen.setState(states[i]));
    try {
      const leaves = saved.map((s, i) => {
        const leaf = s!.detach();
        leaf.requiresGrad = needs[i];
        return leaf;
      });
      const out = enableGrad(() => fn(leaves));
      const wanted = [...leaves, ...opts.params].filter((_, i) => needs[i]);
      const grads = grad(out, wanted, g);
      return needs.map((n) => (n ? grads.shift()! : null));
    } finally {
      generators.forEach((gen, i) => gen.setState(after[i]));
    }
  });
}
