// Reverse-mode autodiff engine: graph recording, grad mode, and the backward walk.
//
// A differentiable op calls `record(out, name, inputs, saved, backward)`. When grad mode is on and
// some input requires a gradient, the output gets a Node holding the inputs (for the graph walk
// only), its own handles to the `saved` tensors (what the gradient rule reads, and no more) and the
// rule (primitives.ts's rule table). The saved handles belong to the enclosing `tidy` (not to
// a `tidyLocal` around a layer), so model code may drop its own handles early; the engine releases
// them as soon as the node has run. `backward` sorts the graph topologically with an explicit stack
// (no recursion: a 10,000-deep chain must work), then walks it in reverse: each rule runs in its
// own scope (its temporaries are freed at once), a tensor's gradient is freed as soon as its node
// has run, and gradients of tensors used more than once are accumulated. The backward pass itself
// runs with grad mode off, so it records nothing; a graph runs backward once (its saved tensors are
// gone afterwards), as in PyTorch without retain_graph.
// The engine calls no differentiable op itself: the seed gradient is a fill of ones, missing
// gradients are fills of zeros, and accumulation is the device's add kernel, so a gradient is
// exact whatever the forward values were (±Inf or NaN in the output do not leak into the seed).

import { type GradNode, type Tensor, empty, full } from '../tensor/tensor.js';
import { keep, tidy, trackInOwner } from '../tensor/memory.js';

declare module '../tensor/tensor.js' {
  // What autograd adds to the graph node declared in src/tensor/tensor.ts.
  interface GradNode {
    /** The engine's handles to what the rule reads; null once the node has run backward. */
    saved: readonly (Tensor | null)[] | null;
    /** Gradient of each input given the output's gradient g (null: no gradient flows there). */
    readonly backward: (g: Tensor, saved: readonly (Tensor | null)[]) => readonly (Tensor | null)[];
  }
}

export type Node = GradNode;

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

function withGrad<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Run fn with graph recording off (inference, optimizer updates, the backward pass itself). */
export function noGrad<T>(fn: () => T): T {
  return withGrad(false, fn);
}

/** Run fn with graph recording on (a recomputed forward inside a backward rule). */
export function enableGrad<T>(fn: () => T): T {
  return withGrad(true, fn);
}

/** A handle of its own on t's storage, owned by the nearest enclosing tidy. */
function savedHandle(t: Tensor): Tensor {
  const h = t.detach();
  trackInOwner(h);
  return h;
}

/**
 * Attach a graph node to `out` if any input needs a gradient. `saved` lists the tensors the rule
 * reads (null for a slot it will not read); the rule receives them in the same order. Returns `out`.
 */
export function record(
  out: Tensor,
  name: string,
  inputs: readonly Tensor[],
  saved: readonly (Tensor | null)[],
  backward: (g: Tensor, saved: readonly (Tensor | null)[]) => readonly (Tensor | null)[],
): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return out;
  out.requiresGrad = true;
  out.node = { name, inputs, saved: saved.map((t) => (t ? savedHandle(t) : null)), backward };
  return out;
}

/** Release a node's saved handles (after it has run). */
function release(node: Node): void {
  for (const t of node.saved ?? []) t?.dispose();
  node.saved = null;
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

/** The engine's own (kept) handle on a gradient. */
function own(g: Tensor): Tensor {
  return keep(g.detach());
}

/** a + b (same shape, dtype and device) by the device's add kernel, outside the graph. */
function sumOf(a: Tensor, b: Tensor): Tensor {
  const out = empty(a.shape, { dtype: a.dtype, device: a.device });
  a.backend.binary('add', a.view(), b.view(), out.view());
  return out;
}

/**
 * Walk the graph from root. Returns the engine's handles (kept: the caller disposes them) to the
 * gradients of the tensors for which `wanted` is true; every other gradient is freed on the way.
 */
function propagate(root: Tensor, seed: Tensor, wanted: (t: Tensor) => boolean): Map<Tensor, Tensor> {
  if (!sameShape(seed.shape, root.shape)) {
    throw new Error(`backward: gradient shape [${seed.shape}] does not match output shape [${root.shape}]`);
  }
  const grads = new Map<Tensor, Tensor>([[root, own(seed)]]);
  const order = topoSort(root);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      const node = t.node;
      if (!g || !node) continue;
      const saved = node.saved;
      if (saved === null) {
        throw new Error(
          `backward: the graph through '${node.name}' (id ${t.id}) already ran backward and released its saved tensors; run the forward again`,
        );
      }
      if (saved.some((s) => s?.disposed)) {
        throw new Error(
          `backward: tensors saved by '${node.name}' (id ${t.id}) were freed when their tidy() ended; keep the whole step inside one tidy()`,
        );
      }
      const inputGrads = tidy(() => node.backward(g, saved));
      release(node);
      node.inputs.forEach((inp, k) => {
        const gi = inputGrads[k];
        if (!gi || !inp.requiresGrad) return;
        if (!sameShape(gi.shape, inp.shape)) {
          throw new Error(
            `backward of '${node.name}': gradient for input ${k} has shape [${gi.shape}], input has [${inp.shape}]`,
          );
        }
        const h = own(gi);
        const prev = grads.get(inp);
        if (prev) {
          grads.set(inp, keep(sumOf(prev, h)));
          prev.dispose();
          h.dispose();
        } else {
          grads.set(inp, h);
        }
      });
      // The rule's results: the engine holds handles to what it uses. g itself may be among them.
      for (const gi of new Set(inputGrads)) if (gi && gi !== g) gi.dispose();
      if (!wanted(t)) {
        grads.delete(t);
        g.dispose();
      }
    }
  });
  for (const [t, g] of grads) {
    if (wanted(t)) continue;
    grads.delete(t);
    g.dispose();
  }
  return grads;
}

function defaultSeed(root: Tensor, grad?: Tensor): Tensor {
  if (grad) return grad;
  if (root.size !== 1)
    throw new Error(`backward: output has shape [${root.shape}]; pass a gradient for non-scalar outputs`);
  return full(root.shape, 1, { dtype: root.dtype, device: root.device });
}

/**
 * Backpropagate from root, accumulating into `.grad` of every leaf that requires a gradient and of
 * every tensor that called retainGrad(). Those gradients are kept (outlive `tidy` scopes) until
 * replaced or zeroed; everything else is freed during the walk.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad)
    throw new Error('backward: tensor does not require grad (no differentiable path to a parameter)');
  const grads = propagate(root, defaultSeed(root, grad), (t) => t.isLeaf || t.retainsGrad);
  noGrad(() => {
    for (const [t, g] of grads) {
      // A storage of its own per owner: rules may hand one gradient to several inputs.
      const whole = g.storage.refs === 1 && g.isContiguous() && g.offset === 0 && g.size === g.storage.size;
      const fresh = whole ? g : g.copy();
      const prev = t.grad;
      t.grad = keep(prev ? sumOf(prev, fresh) : fresh);
      if (prev) prev.dispose();
      if (fresh !== t.grad) fresh.dispose();
      if (g !== t.grad) g.dispose();
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
  const requested = new Set(inputs);
  const grads = propagate(output, defaultSeed(output, gradOutput), (t) => requested.has(t));
  const out = inputs.map((t) => {
    const g = grads.get(t);
    return g ? g.detach() : full(t.shape, 0, { dtype: t.dtype, device: t.device });
  });
  for (const g of grads.values()) g.dispose();
  return out;
}
