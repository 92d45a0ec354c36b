// A guided tour of retrograd, layer by layer. Run it: `npx tsx examples/tour.ts`.
// It executes in the test suite (test/examples.test.ts), so every claim printed here is checked
// code, not prose. Later layers (BERT, SDAM, CDE) extend it.

import {
  tensor, randn, ops, getDevice, tidy, liveStorages, Generator, Linear, AdamW, type RefBackend, type CpuBackend,
} from '../src/index.js';

const say = (...args: unknown[]): void => console.log(...args);

// ---- 1. A tensor is a strided view of a device buffer -------------------------------------------
say('\n== 1. tensors ==');
const a = tensor([[1, 2, 3], [4, 5, 6]]);
say('a =', a.toString(), 'strides', a.strides, '->', a.tolist());
const at = a.T; // a transposed view: no copy, just swapped strides
say('a.T shares storage:', at.storage === a.storage, 'strides', at.strides, '->', at.tolist());

// ---- 2. An op runs a primitive kernel on the tensor's device -------------------------------------
say('\n== 2. ops and kernels ==');
const c = a.matmul(at); // [2,3]·[3,2] -> [2,2]; the kernel reads a.T through its strides
const cpu = getDevice('cpu') as CpuBackend;
say(`a·aᵀ on device '${a.device}' =`, c.tolist(), 'computed by kernel', cpu.lastKernel);
// The same op on the plain-TypeScript reference backend, which every kernel is tested against:
const ref = getDevice('cpu-ref') as RefBackend;
const cRef = a.to('cpu-ref').matmul(at.to('cpu-ref'));
say(`on 'cpu-ref' =`, cRef.tolist(), 'reference matmul launches:', ref.kernelCounts.get('matmul'));

// ---- 3. Reverse-mode autodiff --------------------------------------------------------------------
say('\n== 3. gradients ==');
const x = tensor([0.5, -1, 2], { requiresGrad: true, dtype: 'float64' });
const y = x.mul(x).sum(); // y = Σ x², so dy/dx = 2x
y.backward();
say('x =', x.tolist(), ' y = Σx² =', y.item(), ' dy/dx =', x.grad!.tolist());
say('graph: y was made by', y.node!.name, '<-', y.node!.inputs.map((t) => t.node?.name ?? 'leaf'));

// ---- 4. A training step, and the memory model ----------------------------------------------------
say('\n== 4. a training step ==');
const gen = new Generator(0);
const layer = new Linear(4, 3, { generator: gen });
const opt = new AdamW(layer.parameters(), { lr: 0.1 });
const inputs = randn([8, 4], { generator: gen });
const labels = tensor([0, 1, 2, 0, 1, 2, 0, 1], { dtype: 'int32' });
for (let step = 0; step < 5; step++) {
  const loss = tidy(() => {
    opt.zeroGrad();
    const l = ops.crossEntropy(layer.forward(inputs), labels);
    l.backward();
    opt.step();
    return l.item(); // everything created inside tidy is freed here, except parameters and grads
  });
  say(`step ${step}: loss ${loss.toFixed(4)}  live buffers ${liveStorages()}`);
}
