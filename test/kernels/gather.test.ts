// gather (row lookup, the embedding primitive) and scatterAdd (its gradient) on every device.
// Kernels: cpu-ref and cpu: src/tensor/backends/ref.ts (cpu runs the reference code on its wasm
// memory); webgpu: kernels/wgsl/gather.wgsl, scatter_sort.wgsl + scatter_add.wgsl; gpujs:
// kernels/gpujs/gather.ts.
// Semantics shared by every device (src/tensor/backend.ts): an index outside [0, V) gives a row of
// zeros in gather and is dropped by scatterAdd; scatterAdd adds in order n = 0..N-1, so its float32
// sums equal the reference's bit for bit.
// Run: xvfb-run -a npx vitest run test/kernels/gather.test.ts

import { describe, expect, it } from 'vitest';
import { DEVICES, EXACT, type KernelNames, SWEEP, useDevice, withDevice } from './harness.js';
import { integers, uniform } from '../util/random.js';
import { RefBackend } from '../../src/tensor/backends/ref.js';
import { contiguousStrides } from '../../src/tensor/backend.js';
import { tensor } from '../../src/tensor/tensor.js';
import * as ops from '../../src/autograd/ops.js';

const GATHER: KernelNames = { 'cpu-ref': 'gather', cpu: 'gather', webgpu: 'gather[T=f32]', gpujs: 'gather' };
const SCATTER: KernelNames = {
  'cpu-ref': 'scatterAdd',
  cpu: 'scatterAdd',
  webgpu: 'scatter_add[T=f32]',
  gpujs: 'scatterAdd',
};

describe.each(DEVICES)('gather on %s', (name) => {
  const d = useDevice(name);

  it('rows of a table over the sweep of widths, repeated indices, bit for bit', async () => {
    const rnd = uniform(-1, 1, 19);
    for (const H of SWEEP) {
      for (const [V, N] of [
        [1, 1],
        [50, 4097],
        [3000, 63],
      ]) {
        const table = d.randomView([V, H], rnd);
        const idx = d.randomView([N], integers(0, V - 1, V + N + H), 'int32');
        const [out, outPair] = d.output([N, H]);
        d.ran(GATHER[name], () => d.backend.gather(table.g, idx.g, out.g));
        d.ref.gather(table.r, idx.r, out.r);
        await d.expectSame(outPair, EXACT, `gather V=${V} H=${H} N=${N}`);
        d.freeAll();
      }
    }
  });

  it('a transposed table and indices read with stride 2', async () => {
    const rnd = uniform(-1, 1, 20);
    const table = d.view(d.pair('float32', Array.from({ length: 30 * 65 }, rnd)), [30, 65], [1, 30]);
    const idx = d.view(d.pair('int32', Array.from({ length: 200 }, integers(0, 29, 21))), [100], [2], 0);
    const [out, outPair] = d.output([100, 65]);
    d.backend.gather(table.g, idx.g, out.g);
    d.ref.gather(table.r, idx.r, out.r);
    await d.expectSame(outPair, EXACT, 'gather strided');
    d.freeAll();
  });

  it('an index outside [0, V) gives a row of zeros', async () => {
    const table = d.view(d.pair('float32', [1, 2, 3, 4]), [2, 2]);
    // far out of range too (±2^24: gpujs stores int32 in float32, exact up to 2^24)
    const idx = d.view(d.pair('int32', [1, -1, 2, 0, 2 ** 24, -(2 ** 24)]), [6]);
    const [out, outPair] = d.output([6, 2]);
    d.ran(GATHER[name], () => d.backend.gather(table.g, idx.g, out.g));
    expect(Array.from(await d.backend.read(outPair.g, 'float32', 0, 12))).toEqual([3, 4, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]);
    d.freeAll();
  });

  it('through the op: ops.gather out of range gives zero rows, and its gradient drops them', async () => {
    const table = tensor(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      { device: name, requiresGrad: true },
    );
    const idx = tensor([2, 3, -1, 2], { dtype: 'int32', device: name });
    const rows = ops.gather(table, idx);
    expect(Array.from(await rows.data())).toEqual([5, 6, 0, 0, 0, 0, 5, 6]);
    rows
      .mul(
        tensor(
          [
            [1, 10],
            [100, 1000],
            [1e4, 1e5],
            [2, 20],
          ],
          { device: name },
        ),
      )
      .sum()
      .backward();
    expect(Array.from(await table.grad!.data())).toEqual([0, 0, 0, 0, 3, 30]);
  });
});

describe.each(DEVICES)('scatterAdd on %s', (name) => {
  const d = useDevice(name);

  it('repeated indices over the sweep, bit-identical to the reference and across runs', async () => {
    const rnd = uniform(-1, 1, 22);
    for (const N of SWEEP) {
      for (const [V, H] of [
        [7, 65],
        [3000, 64],
        [1, 1],
      ]) {
        const src = d.randomView([N, H], rnd);
        const idx = d.randomView([N], integers(0, V - 1, 23 + N), 'int32');
        const [out, outPair] = d.output([V, H]);
        d.ran(SCATTER[name], () => d.backend.scatterAdd(src.g, idx.g, out.g));
        d.ref.scatterAdd(src.r, idx.r, out.r);
        // the same float32 additions in the same order n = 0..N-1: exactly the reference's bits
        await d.expectSame(outPair, EXACT, `scatterAdd N=${N} V=${V} H=${H}`);
        const first = await d.backend.read(outPair.g, 'float32', 0, outPair.size);
        d.backend.scatterAdd(src.g, idx.g, out.g);
        expect(await d.backend.read(outPair.g, 'float32', 0, outPair.size)).toEqual(first);
        d.freeAll();
      }
    }
    if (name === 'webgpu') expect(d.backend.kernelCounts.get('scatter_sort') ?? 0).toBeGreaterThan(0);
  });

  it('a transposed src, strided indices, and indices computed on the device', async () => {
    const rnd = uniform(-1, 1, 24);
    const src = d.view(d.pair('float32', Array.from({ length: 65 * 40 }, rnd)), [40, 65], [1, 40]);
    const idx = d.view(d.pair('int32', Array.from({ length: 80 }, integers(0, 4, 25))), [40], [2], 1);
    const [out, outPair] = d.output([5, 65]);
    d.backend.scatterAdd(src.g, idx.g, out.g);
    d.ref.scatterAdd(src.r, idx.r, out.r);
    await d.expectSame(outPair, EXACT, 'scatterAdd strided');
    // an index list written by a kernel (float32 -> int32 copy), not by the host
    const f = d.view(d.pair('float32', [2, 0, 2]), [3]);
    const [idx2] = d.output([3], 'int32');
    d.backend.copy(f.g, idx2.g);
    d.ref.copy(f.r, idx2.r);
    const src2 = d.view(d.pair('float32', Array.from({ length: 12 }, rnd)), [3, 4], [1, 3]);
    const [out2, out2Pair] = d.output([3, 4]);
    d.backend.scatterAdd(src2.g, idx2.g, out2.g);
    d.ref.scatterAdd(src2.r, idx2.r, out2.r);
    await d.expectSame(out2Pair, EXACT, 'scatterAdd device index, transposed src');
    d.freeAll();
  });

  it('an index outside [0, V) is dropped', async () => {
    const src = d.view(d.pair('float32', [1, 2, 10, 20, 100, 200, 1000, 2000]), [4, 2]);
    const idx = d.view(d.pair('int32', [1, -1, 3, 1]), [4]);
    const [out, outPair] = d.output([3, 2]);
    d.ran(SCATTER[name], () => d.backend.scatterAdd(src.g, idx.g, out.g));
    expect(Array.from(await d.backend.read(outPair.g, 'float32', 0, 6))).toEqual([0, 0, 1001, 2002, 0, 0]);
    d.freeAll();
  });
});

withDevice('cpu-ref', () => {
  describe('gather and scatterAdd oracle: cpu-ref against the formulas', () => {
    it('out[n] = table[idx[n]] (0 out of range); out[v] = Σ src[n] over idx[n] = v, in float64', () => {
      const ref = new RefBackend();
      const [V, H, N] = [6, 5, 40];
      const table = Array.from({ length: V * H }, uniform(-1, 1, 30));
      const idx = Array.from({ length: N }, integers(-2, V + 1, 31));
      const src = Array.from({ length: N * H }, uniform(-1, 1, 32));
      const buf = (dtype: 'float64' | 'int32', data: number[]) => {
        const b = ref.alloc(dtype, data.length);
        ref.write(b, dtype, data);
        return b;
      };
      const v = (b: ReturnType<typeof buf>, dtype: 'float64' | 'int32', shape: number[]) => ({
        buf: b,
        dtype,
        shape,
        strides: contiguousStrides(shape),
        offset: 0,
      });
      const out = buf('float64', new Array(N * H).fill(0));
      ref.gather(
        v(buf('float64', table), 'float64', [V, H]),
        v(buf('int32', idx), 'int32', [N]),
        v(out, 'float64', [N, H]),
      );
      const want = idx.flatMap((row) =>
        Array.from({ length: H }, (_, h) => (row >= 0 && row < V ? table[row * H + h] : 0)),
      );
      expect(Array.from(ref.readSync(out, 'float64', 0, N * H))).toEqual(want);
      const sums = buf('float64', new Array(V * H).fill(0));
      ref.scatterAdd(
        v(buf('float64', src), 'float64', [N, H]),
        v(buf('int32', idx), 'int32', [N]),
        v(sums, 'float64', [V, H]),
      );
      const expected = new Array<number>(V * H).fill(0);
      idx.forEach((row, n) => {
        if (row >= 0 && row < V) for (let h = 0; h < H; h++) expected[row * H + h] += src[n * H + h];
      });
      expect(Array.from(ref.readSync(sums, 'float64', 0, V * H))).toEqual(expected);
    });
  });
});
