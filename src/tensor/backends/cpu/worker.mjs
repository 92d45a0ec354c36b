// A worker thread of the cpu backend's pool (see pool.ts for the protocol).
//
// It instantiates the kernel modules it is handed on the backend's shared memory, reports
// ready, then loops: wait on its wake word, claim the posted call (or skip it if the caller
// revoked the post), run its share of the requested entry point, count itself out. It is plain .mjs because Node 20 workers cannot load .ts; it computes nothing of
// its own and never returns to its event loop until told to exit.

import { parentPort, workerData } from 'node:worker_threads';

const { memory, modules, entries, control, layout, states, tid } = workerData;
// in order, each importing the memory and the exports of the modules before it (as kernels.ts)
const env = { memory };
const instances = modules.map((m) => {
  const instance = new WebAssembly.Instance(m, { env });
  Object.assign(env, instance.exports);
  return instance;
});
const kernels = entries.map(([module, name]) => instances[module].exports[name]);
const ctl = new Int32Array(memory.buffer, control, layout.INTS);

let seen = Atomics.load(ctl, layout.WAKE + tid);
Atomics.store(ctl, layout.READY + tid, 1);
parentPort.postMessage('ready');

for (;;) {
  Atomics.wait(ctl, layout.WAKE + tid, seen);
  seen = Atomics.load(ctl, layout.WAKE + tid);
  if (Atomics.load(ctl, layout.OP) < 0) break;
  // claim the posted call; a post the caller revoked (it did the work itself) is skipped
  if (Atomics.compareExchange(ctl, layout.STATE + tid, states.POSTED, states.RUNNING) !== states.POSTED) continue;
  // read after the claim: the caller wrote these before posting
  const op = Atomics.load(ctl, layout.OP);
  try {
    kernels[op](ctl[layout.DESC], tid, ctl[layout.NT]);
  } catch (err) {
    Atomics.add(ctl, layout.ERRORS, 1);
    console.error(`cpu worker ${tid}: ${entries[op][1]} failed:`, err);
  }
  Atomics.store(ctl, layout.STATE + tid, states.IDLE);
  if (Atomics.sub(ctl, layout.PENDING, 1) === 1) Atomics.notify(ctl, layout.PENDING);
}
