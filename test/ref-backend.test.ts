// The reference backend checked against first principles: every elementwise kernel on random
// strided, broadcast, narrowed and 0-d views equals an element-by-element evaluation that reads the
// raw buffer through offset + Σ index·stride. (Other backends are then tested against cpu-ref.)

import { describe, expect, it } from 'vitest';
import { Tensor, Generator, randn, tensor, ops, UNARY_OPS, BINARY_OPS } from '../src/index.js';
import { UNARY_FNS, BINARY_FNS, erf } from '../src/tensor/backends/ref.js';
import { TOL, assertClose } from './util/close.js';

function indices(shape: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const d of shape) out = out.flatMap((prefix) => Array.from({ length: d }, (_, i) => [...prefix, i]));
  return out;
}

/** Read element `idx` straight from the buffer: no kernel involved. */
function rawGet(t: Tensor, idx: number[]): number {
  const data = (t.storage.buf as { data: Float64Array }).data;
  return data[t.offset + idx.reduce((s, i, k) => s + i * t.strides[k], 0)];
}

const gen = new Generator(5);
const r = (shape: number[]): Tensor => randn(shape, { dtype: 'float64', generator: gen });

/** A variety of views with logical shape [2, 3, 4]. */
function views(): Array<[string, Tensor]> {
  return [
    ['contiguous', r([2, 3, 4])],
    ['permuted', r([4, 2, 3]).permute([1, 2, 0])],
    ['narrowed', r([2, 5, 4]).narrow(1, 1, 3)],
    ['broadcast', r([3, 1]).expand([2, 3, 4])],
    ['transposed+narrowed', r([4, 3, 3]).transpose(0, 2).narrow(0, 1, 2)],
  ];
}

describe('cpu-ref elementwise kernels vs element-by-element evaluation', () => {
  for (const [la, a] of views()) {
    for (const [lb, b] of views()) {
      it(`binary ops on ${la} x ${lb}`, () => {
        for (const op of BINARY_OPS) {
          const y = (ops as unknown as Record<string, (p: Tensor, q: Tensor) => Tensor>)[op](a, b);
          const expected = indices(y.shape).map((i) => BINARY_FNS[op](rawGet(a, i), rawGet(b, i)));
          assertClose(y.toArray(), expected, TOL.f64, `${op} ${la} x ${lb}`);
        }
      });
    }
    it(`unary ops and copy on ${la}`, () => {
      for (const op of UNARY_OPS) {
        const fn = (ops as unknown as Record<string, (p: Tensor) => Tensor>)[op === 'gelu_grad' ? 'geluGrad' : op];
        const y = fn(a);
        const expected = indices(y.shape).map((i) => UNARY_FNS[op](rawGet(a, i)));
        assertClose(y.toArray(), expected, TOL.f64, `${op} on ${la}`);
      }
      assertClose(a.contiguous().toArray(), indices(a.shape).map((i) => rawGet(a, i)), TOL.f64, 'copy');
    });
  }

  it('0-d tensors and size-0 dims', () => {
    const s = tensor(3, { dtype: 'float64' });
    expect(s.shape).toEqual([]);
    expect(s.add(tensor(4, { dtype: 'float64' })).item()).toBe(7);
    const e = r([2, 0, 3]);
    expect(e.exp().size).toBe(0);
    expect(e.sum(1).toArray().length).toBe(6);
  });

  it('erf matches reference values to double precision', () => {
    // erf values from Abramowitz & Stegun table 7.1 / high-precision sources
    const known: Array<[number, number]> = [
      [0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
      [2, 0.9953222650189527], [3, 0.9999779095030014], [-1.5, -0.9661051464753108], [5.9, 0.9999999999999999],
    ];
    for (const [x, v] of known) expect(Math.abs(erf(x) - v)).toBeLessThanOrEqual(4.5e-16); // ≤ 2 ulp near 1
  });
});
