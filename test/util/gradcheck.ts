// Directional gradient check in float64 (style.md §7): for random directions u and a random,
// non-uniform upstream gradient v, compare
//   numeric  = <v, (f(x + h·u) - f(x - h·u)) / 2h>
//   analytic = <backward(v), u>
// for every input. One direction per input keeps it cheap and still catches wrong rules, because
// v and u are dense and random.

import { Tensor, fromArray, grad, noGrad, randn, Generator, type Node } from '../../src/index.js';
import { TOL, assertClose, type Tolerance } from './close.js';

export interface GradcheckResult {
  /** Names of every graph node reached from the output (for primitive coverage). */
  nodeNames: Set<string>;
}

function dot(a: Tensor, b: Tensor): number {
  return noGrad(() => a.mul(b).sum().item());
}

function nodeNames(root: Tensor): Set<string> {
  const names = new Set<string>();
  const seen = new Set<Tensor>();
  const stack = [root];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const node: Node | null = t.node;
    if (node) {
      names.add(node.name);
      stack.push(...node.inputs);
    }
  }
  return names;
}

export function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { seed?: number; h?: number; tol?: Tolerance; label?: string } = {},
): GradcheckResult {
  const g = new Generator(opts.seed ?? 1234);
  const h = opts.h ?? 1e-6;
  const tol = opts.tol ?? TOL.gradcheck;
  for (const x of inputs) {
    if (x.dtype !== 'float64') throw new Error('gradcheck needs float64 inputs');
    x.requiresGrad = true;
  }
  const y = fn(...inputs);
  const v = randn(y.shape, { dtype: 'float64', generator: g });
  const analyticGrads = grad(y, inputs, v);
  const names = nodeNames(y);
  inputs.forEach((x, i) => {
    const u = randn(x.shape, { dtype: 'float64', generator: g });
    const analytic = dot(analyticGrads[i], u);
    const shifted = (sign: number): number =>
      noGrad(() => {
        const xs = inputs.map((other, j) => {
          if (j !== i) return other;
          const moved = other.add(u.mul(sign * h));
          return fromArray(moved.toArray(), moved.shape, { dtype: 'float64' });
        });
        return dot(fn(...xs), v);
      });
    const numeric = (shifted(1) - shifted(-1)) / (2 * h);
    assertClose([analytic], [numeric], tol, `${opts.label ?? 'gradcheck'}: input ${i} [${x.shape}]`);
  });
  return { nodeNames: names };
}
