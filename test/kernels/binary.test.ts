// The binary primitives on every device (src/tensor/backend.ts BINARY_OPS: add, sub, mul, div,
// pow, maximum, minimum and the comparisons eq, ne, lt, le, gt, ge, which give 1 or 0 in the
// operands' dtype), with operands already expanded to the output shape (broadcast = stride 0).
// Kernels: cpu-ref: src/tensor/backends/ref.ts; cpu: kernels/wasm/elementwise.wat (float32, every
// op but pow, bit-identical to the reference; the rest runs the reference code); webgpu:
// kernels/wgsl/binary.wgsl and binary_int.wgsl; gpujs: kernels/gpujs/elementwise.ts (binaryKernel).
// Run: xvfb-run -a npx vitest run test/kernels/binary.test.ts

import { describe, expect, it } from 'vitest';
import { BINARY_OPS, type BinaryOp, sizeOf } from '../../src/tensor/backend.js';
import { TOL, assertClose } from '../util/close.js';
import { BINARY_FNS } from '../../src/tensor/backends/ref.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import * as ops from '../../src/autograd/ops.js';
import { indices, oracleViews, rawGet } from '../util/oracle.js';
import {
  chunkedThreads,
  cpu1,
  cpu2,
  cpuBuffer,
  edgyF32,
  expectBitIdentical,
  poisoned,
  randomF32,
  readCpu,
  ref,
  refF32,
  span,
  useCpuThreads,
  view,
} from '../util/cpu-threads.js';
import { integers, uniform } from '../util/random.js';
import { DEVICES, type DeviceName, EXACT, SWEEP, tolerance, useDevice, withDevice } from './harness.js';

/** The kernel each device runs for op on contiguous operands of dtype. */
function kernelFor(name: DeviceName, op: BinaryOp, dtype: 'float32' | 'int32' = 'float32'): string {
  if (name === 'cpu') return dtype === 'float32' && op !== 'pow' ? 'wasm.elementwise' : `binary.${op}`;
  if (name === 'webgpu') return dtype === 'int32' ? `binary_int[OP=${op}]` : `binary[OP=${op}]`;
  return `binary.${op}`;
}

/** Operands: pow takes positive bases (negative ones are in the special values), div no zeros. */
function binaryInputs(op: BinaryOp, seed: number): [() => number, () => number] {
  if (op === 'pow') return [uniform(0.1, 4, seed), uniform(-3, 3, seed + 1)];
  if (op === 'div') return [uniform(-5, 5, seed), uniform(0.5, 5, seed + 1)];
  // small integers so that eq/ne/le/ge see ties, then continuous values
  return seed % 2 === 0
    ? [integers(-3, 3, seed), integers(-3, 3, seed + 1)]
    : [uniform(-4, 4, seed), uniform(-4, 4, seed + 1)];
}

/** pow goes through exp2/log2 in float32 on the GPUs: relative error grows with |y log2 x|. */
const POW_TOL = { atol: 1e-6, rtol: 2e-5 };

describe.each(DEVICES)('binary on %s', (name) => {
  const d = useDevice(name);

  it('every op on float32 over the sweep, a transposed operand and a broadcast row', async () => {
    for (const op of BINARY_OPS) {
      for (const seed of [10, 11]) {
        const [ra, rb] = binaryInputs(op, seed);
        const tol = op === 'pow' ? POW_TOL : tolerance('float32');
        for (const n of SWEEP) {
          const a = d.randomView([n], ra);
          const b = d.randomView([n], rb);
          const [out, outPair] = d.output([n]);
          d.ran(kernelFor(name, op), () => d.backend.binary(op, a.g, b.g, out.g));
          d.ref.binary(op, a.r, b.r, out.r);
          await d.expectSame(outPair, tol, `${op} n=${n}`);
        }
        // a: [65, 63] transposed from a [63, 65] buffer; b: a [63] row broadcast over 65 rows
        const a = d.view(d.pair('float32', Array.from({ length: 63 * 65 }, ra)), [65, 63], [1, 65]);
        const b = d.view(d.pair('float32', Array.from({ length: 63 }, rb)), [65, 63], [0, 1]);
        const [out, outPair] = d.output([65, 63]);
        d.backend.binary(op, a.g, b.g, out.g);
        d.ref.binary(op, a.r, b.r, out.r);
        await d.expectSame(outPair, tol, `${op} transposed x broadcast`);
        d.freeAll();
      }
    }
  });

  it('special values: NaN, signed zeros, infinities, negative bases; pow with JavaScript semantics', async () => {
    const nan = Number.NaN;
    const as = [nan, 1, nan, 0, -0, 0, 0, -2, -2, -2, 3, -Infinity, 2, 5, -1];
    const bs = [1, nan, nan, 0, -1, -1, 2, 3, 2, 0.5, 0, 3, -Infinity, 5, 7];
    const a = d.view(d.pair('float32', as), [as.length]);
    const b = d.view(d.pair('float32', bs), [as.length]);
    for (const op of BINARY_OPS) {
      const [out, outPair] = d.output([as.length]);
      d.backend.binary(op, a.g, b.g, out.g);
      d.ref.binary(op, a.r, b.r, out.r);
      await d.expectSame(outPair, tolerance('float32'), `${op} special values`);
    }
    // negative bases with integer exponents, zero exponents, NaN, infinities, overflow
    const bases = [-2, -2, -3, -0.5, 0, 0, -0, -0, 0, 2, nan, -2, 1, Infinity, -Infinity, -Infinity, 2, 10];
    const exps = [3, 2, -1, 4, 2, -1, -1, -2, -0.5, 0, 0, 0.5, nan, -1, 3, 2, 200, -50];
    const [out, outPair] = d.output([bases.length]);
    d.backend.binary(
      'pow',
      d.view(d.pair('float32', bases), [bases.length]).g,
      d.view(d.pair('float32', exps), [bases.length]).g,
      out.g,
    );
    d.ref.binary(
      'pow',
      d.view(d.pair('float32', bases), [bases.length]).r,
      d.view(d.pair('float32', exps), [bases.length]).r,
      out.r,
    );
    // the two pairs above hold the same data on both sides (pairs are made twice, identically)
    await d.expectSame(outPair, tolerance('float32'), 'pow special');
    d.freeAll();
  });

  it('every op on int32: truncating division, exact pow, results within ±2^24', async () => {
    // gpujs stores int32 in float32, exact up to 2^24: operands here keep every result inside it
    // (wrapping past 2^31 is checked below on the devices that store 32-bit integers)
    for (const op of BINARY_OPS) {
      const small = op === 'pow';
      const a = d.randomView([300], small ? integers(-5, 5, 6) : integers(-40000, 40000, 6), 'int32');
      const b = d.randomView([300], small ? integers(-2, 6, 7) : integers(-300, 300, 7), 'int32');
      const [out, outPair] = d.output([300], 'int32');
      d.ran(kernelFor(name, op, 'int32'), () => d.backend.binary(op, a.g, b.g, out.g));
      d.ref.binary(op, a.r, b.r, out.r);
      await d.expectSame(outPair, EXACT, `int32 ${op}`);
    }
    d.freeAll();
  });

  it('int32 pow up to ±2^24, negative exponents, zero bases; int32 results stay integers on the device', async () => {
    // gpujs (kernels/gpujs/math.ts powInt) is exact while |a^b| <= 2^24; past that it rounds
    const as = [2, -2, 3, -3, 4096, -4096, 7, 5, 0, 0, 0, 1, -1, -1, 2, -7, 1, -1, 16777216, 9];
    const bs = [24, 23, 15, 15, 2, 2, 8, 0, 0, 5, -1, -5, -3, -4, -1, -2, 16777216, 16777215, 1, 7];
    const a = d.view(d.pair('int32', as), [as.length]);
    const b = d.view(d.pair('int32', bs), [as.length]);
    const [out, outPair] = d.output([as.length], 'int32');
    d.ran(kernelFor(name, 'pow', 'int32'), () => d.backend.binary('pow', a.g, b.g, out.g));
    d.ref.binary('pow', a.r, b.r, out.r);
    await d.expectSame(outPair, EXACT, 'int32 pow edges');
    // (a / b) * b and (a / b) + 0.5-free chains: the quotient is truncated where it is stored
    const n = [7, -7, 7, -7, 1, 0, 5, 16777215, -16777215];
    const m = [2, 2, -2, -2, 0, 0, 3, 2, 4];
    const x = d.view(d.pair('int32', n), [n.length]);
    const y = d.view(d.pair('int32', m), [n.length]);
    const [q, qPair] = d.output([n.length], 'int32');
    const [p, pPair] = d.output([n.length], 'int32');
    d.backend.binary('div', x.g, y.g, q.g);
    d.backend.binary('mul', q.g, y.g, p.g);
    d.ref.binary('div', x.r, y.r, q.r);
    d.ref.binary('mul', q.r, y.r, p.r);
    await d.expectSame(qPair, EXACT, 'int32 div');
    await d.expectSame(pPair, EXACT, 'int32 (a / b) * b');
    d.freeAll();
  });
});

withDevice('cpu-ref', () => {
  describe('binary oracle: cpu-ref against element-by-element evaluation (float64, every pair of views)', () => {
    for (const [la, a] of oracleViews()) {
      for (const [lb, b] of oracleViews()) {
        it(`every op on ${la} x ${lb}`, () => {
          for (const op of BINARY_OPS) {
            const y = (ops as unknown as Record<string, (p: Tensor, q: Tensor) => Tensor>)[op](a, b);
            const expected = indices(y.shape).map((i) => BINARY_FNS[op](rawGet(a, i), rawGet(b, i)));
            assertClose(y.toArray(), expected, TOL.f64, `${op} ${la} x ${lb}`);
          }
        });
      }
    }
  });
});

for (const device of ['cpu-ref', 'cpu', 'webgpu'] as const) {
  withDevice(device, () => {
    describe(`binary on ${device}: int32 results past 2^31 wrap like the reference (ToInt32 of the exact product)`, () => {
      const d = useDevice(device);

      it('every op on values up to 10^5 and 300 equals the reference bit for bit', async () => {
        for (const op of BINARY_OPS) {
          const small = op === 'pow';
          const a = d.randomView([300], small ? integers(-5, 5, 6) : integers(-100000, 100000, 6), 'int32');
          const b = d.randomView([300], small ? integers(-2, 6, 7) : integers(-300, 300, 7), 'int32');
          const [out, outPair] = d.output([300], 'int32');
          d.backend.binary(op, a.g, b.g, out.g);
          d.ref.binary(op, a.r, b.r, out.r);
          await d.expectSame(outPair, EXACT, `int32 ${op}`);
        }
        d.freeAll();
      });
    });
  });
}

withDevice('cpu', () => {
  interface Operand {
    strides: number[];
    offset?: number;
  }

  interface ElementwiseCase {
    name: string;
    shape: number[];
    a: Operand;
    b: Operand;
    fast: boolean;
  }

  function elementwiseCases(): ElementwiseCase[] {
    const [R, C] = [67, 301];
    return [
      { name: 'same shape', shape: [R, C], a: { strides: [C, 1] }, b: { strides: [C, 1] }, fast: true },
      {
        name: 'bias row [C] broadcast over rows',
        shape: [R, C],
        a: { strides: [C, 1] },
        b: { strides: [0, 1] },
        fast: true,
      },
      { name: 'scalar broadcast', shape: [R, C], a: { strides: [C, 1] }, b: { strides: [0, 0] }, fast: true },
      { name: 'scalar op tensor', shape: [R, C], a: { strides: [0, 0] }, b: { strides: [C, 1] }, fast: true },
      { name: 'one value per row [R, 1]', shape: [R, C], a: { strides: [C, 1] }, b: { strides: [1, 0] }, fast: true },
      {
        name: '3-D bias [2, 5, 64] + [64]',
        shape: [2, 5, 64],
        a: { strides: [320, 64, 1] },
        b: { strides: [0, 0, 1] },
        fast: true,
      },
      {
        name: 'lengths 1, 63, 64, 65, 4097',
        shape: [4097],
        a: { strides: [1], offset: 3 },
        b: { strides: [1] },
        fast: true,
      },
      { name: 'rows of 63', shape: [5, 63], a: { strides: [63, 1] }, b: { strides: [63, 1] }, fast: true },
      { name: 'rows of 65', shape: [4, 65], a: { strides: [65, 1] }, b: { strides: [0, 1] }, fast: true },
      { name: 'single element', shape: [1], a: { strides: [1] }, b: { strides: [0] }, fast: true },
      {
        name: 'broadcast over a middle dim [2, 3, 5] + [2, 1, 5]',
        shape: [2, 3, 5],
        a: { strides: [15, 5, 1] },
        b: { strides: [5, 0, 1] },
        fast: true,
      },
      {
        name: 'attention mask [B, 1, 1, S] over [B, h, T, S]',
        shape: [3, 4, 5, 65],
        a: { strides: [1300, 325, 65, 1] },
        b: { strides: [65, 0, 0, 1] },
        fast: true,
      },
      { name: 'transposed operand', shape: [5, 7], a: { strides: [7, 1] }, b: { strides: [1, 5] }, fast: true },
      // rows of 12 (whole vectors): the whole-row path, with chunks of 64 ending mid-row
      {
        name: 'whole rows [6, 7, 12] + [6, 1, 12]',
        shape: [6, 7, 12],
        a: { strides: [84, 12, 1] },
        b: { strides: [12, 0, 1] },
        fast: true,
      },
      {
        name: 'whole rows [9, 64] with a per-row scalar',
        shape: [9, 64],
        a: { strides: [64, 1], offset: 4 },
        b: { strides: [1, 0] },
        fast: true,
      },
      {
        name: 'heads [B, T, h, d] read as [B, h, T, d]',
        shape: [2, 3, 5, 66],
        a: { strides: [990, 66, 198, 1] },
        b: { strides: [990, 330, 66, 1] },
        fast: true,
      },
      {
        name: 'six unmergeable dims (falls back)',
        shape: [2, 3, 2, 3, 2, 3],
        a: { strides: [1, 2, 6, 12, 36, 72] },
        b: { strides: [108, 36, 18, 6, 3, 1] },
        fast: false,
      },
    ];
  }

  describe('binary on cpu: wasm.elementwise on 1 and 2 threads, bit for bit, fallbacks', () => {
    useCpuThreads();
    const ops = [
      'add',
      'sub',
      'mul',
      'div',
      'maximum',
      'minimum',
      'eq',
      'ne',
      'lt',
      'le',
      'gt',
      'ge',
    ] as const satisfies readonly BinaryOp[];

    it('equal RefBackend bit for bit on strided, broadcast and transposed operands, 1 and 2 threads', () => {
      let seed = 9000;
      for (const c of elementwiseCases()) {
        const n = sizeOf(c.shape);
        const aData = edgyF32(span(c.shape, c.a.strides, c.a.offset), seed++);
        const bData = edgyF32(span(c.shape, c.b.strides, c.b.offset), seed++);
        for (const op of ops) {
          const out = refF32(new Float32Array(n));
          ref.binary(
            op,
            view(refF32(aData), 'float32', c.shape, c.a.strides, c.a.offset),
            view(refF32(bData), 'float32', c.shape, c.b.strides, c.b.offset),
            view(out, 'float32', c.shape),
          );
          const expected = out.data;
          for (const cpu of [cpu1, cpu2]) {
            const o = poisoned(cpu, n);
            cpu.binary(
              op,
              view(cpuBuffer(cpu, aData), 'float32', c.shape, c.a.strides, c.a.offset),
              view(cpuBuffer(cpu, bData), 'float32', c.shape, c.b.strides, c.b.offset),
              view(o, 'float32', c.shape),
            );
            const label = `${op} ${c.name} threads ${cpu.getThreads()}`;
            expect(cpu.lastKernel, label).toBe(c.fast ? 'wasm.elementwise' : `ref.binary.${op}`);
            if (c.fast) expect(cpu.lastThreads, label).toBe(chunkedThreads(cpu, n, 1));
            expectBitIdentical(readCpu(cpu, o, n), expected, label);
          }
        }
      }
    });

    it('pow, float64 and int32 operands use the reference kernel', () => {
      const a = randomF32(16, 5000).map(Math.abs);
      const b = randomF32(16, 5001);
      const o = cpu2.alloc('float32', 16);
      cpu2.binary(
        'pow',
        view(cpuBuffer(cpu2, a), 'float32', [16]),
        view(cpuBuffer(cpu2, b), 'float32', [16]),
        view(o, 'float32', [16]),
      );
      expect(cpu2.lastKernel).toBe('ref.binary.pow');
      assertClose(
        readCpu(cpu2, o, 16),
        Array.from(a, (x, i) => x ** b[i]),
        TOL.f32,
        'pow',
      );

      const o64 = cpu2.alloc('float64', 16);
      cpu2.binary(
        'add',
        view(cpuBuffer(cpu2, a, 'float64'), 'float64', [16]),
        view(cpuBuffer(cpu2, b, 'float64'), 'float64', [16]),
        view(o64, 'float64', [16]),
      );
      expect(cpu2.lastKernel).toBe('ref.binary.add');
      assertClose(
        readCpu(cpu2, o64, 16, 'float64'),
        Array.from(a, (x, i) => x + b[i]),
        TOL.f64,
        'float64 add',
      );

      const ai = Int32Array.from({ length: 16 }, (_, i) => i - 8);
      const oi = cpu2.alloc('int32', 16);
      cpu2.binary(
        'eq',
        view(cpuBuffer(cpu2, ai, 'int32'), 'int32', [16]),
        view(cpuBuffer(cpu2, [0], 'int32'), 'int32', [16], [0]),
        view(oi, 'int32', [16]),
      );
      expect(cpu2.lastKernel).toBe('ref.binary.eq');
      expect(Array.from(readCpu(cpu2, oi, 16, 'int32'))).toEqual(Array.from(ai, (x) => (x === 0 ? 1 : 0)));
    });
  });
});
