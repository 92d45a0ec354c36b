// A worker thread of the cpu backend's pool (see pool.ts for the protocol).
//
// It instantiates the kernel modules it is handed on the backend's shared memory, reports
// ready, then loops: wait on its wake word, run its share of the requested entry point, count
// itself out. It is plain .mjs because Node 20 workers cannot load .ts; it computes nothing of
// its own and never returns to its event loop until told to exit.

import { parentPort, workerData } from 'node:worker_threads';

const { memory, modules, entries, control, layout, tid } = workerData;
const instances = modules.map((m) => new WebAssembly.Instance(m, { env: { memory } }));
const kernels = entries.map(([module, name]) => instances[module].exports[name]);
const ctl = new Int32Array(memory.buffer, control, layout.INTS);

let seen = Atomics.load(ctl, layout.WAKE + tid);
Atomics.store(ctl, layout.READY + tid, 1);
parentPort.postMessage('ready');

for (;;) {
  Atomics.wait(ctl, layout.WAKE + tid, seen);
  seen = Atomics.load(ctl, layout.WAKE + tid);
  const op = Atomics.load(ctl, layout.OP);
  if (op < 0) break;
  try {
    kernels[op](ctl[layout.DESC], tid, ctl[layout.NT]);
  } catch (err) {
    Atomics.add(ctl, layout.ERRORS, 1);
    console.error(`cpu worker ${tid}: ${entries[op][1]} failed:`, err);
  }
  if (Atomics.sub(ctl, layout.PENDING, 1) === 1) Atomics.notify(ctl, layout.PENDING);
}
