// Reverse-mode autodiff engine: graph recording, grad mode, and the backward walk.
//
// A differentiable op calls `record(out, name, inputs, backward)`. When grad mode is on and some
// input requires a gradient, the output gets a Node holding the inputs and a closure that maps the
// output's gradient to one gradient per input (the op's rule, kept beside its forward in ops.ts).
// `backward` sorts the graph topologically with an explicit stack (no recursion: a 10,000-deep
// chain must work), then walks it in reverse, accumulating gradients of tensors used more than once.
// The backward pass itself runs with grad mode off, so it records nothing.

import type { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/memory.js';

export interface Node {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /** Gradient of each input given the output's gradient g (null: no gradient flows there). */
  readonly backward: (g: Tensor) => readonly (Tensor | null)[];
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn with graph recording off (inference, optimizer updates, the backward pass itself). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Attach a graph node to `out` if any input needs a gradient. Returns `out`. */
export function record(
  out: Tensor, name: string, inputs: readonly Tensor[], backward: (g: Tensor) => readonly (Tensor | null)[],
): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return out;
  out.requiresGrad = true;
  out.node = { name, inputs, backward };
  return out;
}

/** Tensors reachable from root through requiresGrad edges, inputs before the ops that use them. */
function topoSort(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: Array<[Tensor, boolean]> = [[root, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const inp of t.node?.inputs ?? []) {
      if (inp.requiresGrad && !visited.has(inp)) stack.push([inp, false]);
    }
  }
  return order;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Walk the graph from root; returns the gradient of every tensor reached. */
function propagate(root: Tensor, seed: Tensor): Map<Tensor, Tensor> {
  if (!sameShape(seed.shape, root.shape)) {
    throw new Error(`backward: gradient shape [${seed.shape}] does not match output shape [${root.shape}]`);
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const order = topoSort(root);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g || !t.node) continue;
      if (t.disposed) {
        throw new Error(`backward: tensor ${t.name ? `'${t.name}' ` : ''}(id ${t.id}, from '${t.node.name}') was disposed before backward; keep the whole step inside one tidy()`);
      }
      const inputGrads = t.node.backward(g);
      t.node.inputs.forEach((inp, k) => {
        const gi = inputGrads[k];
        if (!gi || !inp.requiresGrad) return;
        if (!sameShape(gi.shape, inp.shape)) {
          throw new Error(`backward of '${t.node!.name}': gradient for input ${k} has shape [${gi.shape}], input has [${inp.shape}]`);
        }
        const prev = grads.get(inp);
        grads.set(inp, prev ? prev.add(gi) : gi);
      });
    }
  });
  return grads;
}

function defaultSeed(root: Tensor, grad?: Tensor): Tensor {
  if (grad) return grad;
  if (root.size !== 1) throw new Error(`backward: output has shape [${root.shape}]; pass a gradient for non-scalar outputs`);
  return noGrad(() => root.mul(0).add(1));
}

/**
 * Backpropagate from root, accumulating into `.grad` of every leaf that requires a gradient and of
 * every tensor that called retainGrad(). Those gradients are kept (outlive `tidy` scopes) until
 * replaced or zeroed; everything else is released by the enclosing scope.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward: tensor does not require grad (no differentiable path to a parameter)');
  const grads = propagate(root, defaultSeed(root, grad));
  noGrad(() => {
    for (const [t, g] of grads) {
      if (!(t.isLeaf || t.retainsGrad)) continue;
      // A fresh tensor per owner: rules may hand the same gradient object to several inputs.
      const prev = t.grad;
      t.grad = keep(prev ? prev.add(g) : g.clone());
      if (prev) prev.dispose();
    }
  });
}

/**
 * Functional gradients: d(output)/d(input) for each requested tensor, leaf or intermediate,
 * without touching `.grad`. Research on loss internals uses this for per-example gradients of
 * embeddings. Inputs the output does not depend on get zeros.
 */
export function grad(output: Tensor, inputs: readonly Tensor[], gradOutput?: Tensor): Tensor[] {
  if (!output.requiresGrad) throw new Error('grad: output does not require grad');
  const grads = propagate(output, defaultSeed(output, gradOutput));
  return inputs.map((t) => grads.get(t) ?? noGrad(() => t.mul(0)));
}
