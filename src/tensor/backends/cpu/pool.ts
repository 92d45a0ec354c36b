// The cpu backend's persistent worker pool: threads that share the backend's memory, run the
// same WebAssembly kernels, and are dispatched synchronously with Atomics.
//
// Thread 0 is the caller's thread; workers are threads 1..threads-1, started once (about 300 ms
// each) and then kept waiting on their own word of a control block in shared memory:
//
//   Int32 index (from CONTROL_BYTE)   meaning
//   OP, DESC, NT                      entry point, descriptor address, thread count of the call
//   PENDING                           workers of the current call not yet accounted for
//   ERRORS                            workers whose kernel threw during the current call
//   WAKE + t                          call counter of worker t: bumped and notified to start it
//   READY + t                         1 once worker t has instantiated the kernels
//   STATE + t                         IDLE, POSTED (a call waits for worker t) or RUNNING
//
// A call: the caller writes OP/DESC/NT, sets PENDING = nt - 1, marks STATE + t POSTED and bumps
// and notifies WAKE + t for t = 1..nt-1, then runs the kernel itself as thread 0. The kernels
// share out their work through a counter in their descriptor, so whoever runs takes work until
// none is left. A woken worker claims the call (POSTED -> RUNNING, compare-and-swap) before it
// reads OP/DESC, and counts itself out of PENDING when done. When the caller's share is done it
// revokes every post not yet claimed (POSTED -> IDLE) and counts those workers out itself: a
// worker the OS has not scheduled (another process holds its core) never makes the caller wait,
// it skips the call when it finally wakes. The caller then Atomics.wait()s until PENDING is 0,
// i.e. only for workers that are actually running. From the caller's view every kernel is
// synchronous. Workers are unref'd, so they never keep the process alive. This file knows
// nothing about what the kernels compute.

import { Worker } from 'node:worker_threads';
import { CONTROL_BYTE } from './heap.js';
import { ENTRY_TABLE, KERNEL_MODULES, type KernelFn } from './kernels.js';
import type { WasmMemory } from './wasm-api.js';

export const MAX_THREADS = 32;

/** Int32 indices into the control block; shared with worker.mjs through workerData. */
export const LAYOUT = {
  OP: 0,
  DESC: 1,
  NT: 2,
  PENDING: 3,
  ERRORS: 4,
  WAKE: 8,
  READY: 8 + MAX_THREADS,
  STATE: 8 + 2 * MAX_THREADS,
  INTS: 8 + 3 * MAX_THREADS,
} as const;

/** Values of STATE + t. */
export const WORKER_STATE = { IDLE: 0, POSTED: 1, RUNNING: 2 } as const;

/** The op number that tells a worker to leave its loop. */
const EXIT = -1;

export class WorkerPool {
  private readonly control: Int32Array;
  private readonly workers: Worker[] = [];
  private readonly started: Promise<void>[] = [];
  private startError: Error | null = null;
  /** Worker posts of all calls so far, and how many of them the caller revoked (did the work itself). */
  readonly posts = { posted: 0, revoked: 0 };

  constructor(
    private readonly memory: WasmMemory,
    private readonly mainKernels: readonly KernelFn[],
  ) {
    this.control = new Int32Array(memory.buffer, CONTROL_BYTE, LAYOUT.INTS);
  }

  /** Threads started so far, the caller's included. */
  size(): number {
    return 1 + this.workers.length;
  }

  /** Start workers until there are `threads` threads in all; does not wait for them. */
  grow(threads: number): void {
    if (threads > MAX_THREADS) throw new RangeError(`cpu backend: at most ${MAX_THREADS} threads`);
    while (this.size() < threads) {
      const tid = this.size();
      const worker = new Worker(new URL('./worker.mjs', import.meta.url), {
        workerData: {
          memory: this.memory,
          modules: KERNEL_MODULES,
          entries: ENTRY_TABLE,
          control: CONTROL_BYTE,
          layout: LAYOUT,
          states: WORKER_STATE,
          tid,
        },
      });
      worker.unref();
      const started = new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', (err) => {
          this.startError = err;
          reject(err);
        });
        worker.once('exit', (code) => reject(new Error(`cpu worker ${tid} exited with code ${code}`)));
      });
      // A lazily started pool may never be awaited: keep a failure from becoming an unhandled
      // rejection; it stays visible through ready() and failure().
      started.catch(() => undefined);
      this.started.push(started);
      this.workers.push(worker);
    }
  }

  /** Resolves once every started worker is ready; rejects if one failed to start. */
  async ready(): Promise<void> {
    await Promise.all(this.started);
  }

  /** 1 + the number of workers 1, 2, ... that are ready, counted up to the first that is not. */
  readyThreads(): number {
    let n = 1;
    while (n < this.size() && Atomics.load(this.control, LAYOUT.READY + n) === 1) n++;
    return n;
  }

  failure(): Error | null {
    return this.startError;
  }

  /** Run entry point `op` on `desc` with `nt` threads (the caller's included); returns when all are done. */
  run(op: number, desc: number, nt: number): void {
    if (nt <= 1) {
      this.mainKernels[op](desc, 0, 1);
      return;
    }
    if (nt > this.readyThreads()) throw new Error(`cpu backend: ${nt} threads requested, ${this.readyThreads()} ready`);
    const c = this.control;
    c[LAYOUT.OP] = op;
    c[LAYOUT.DESC] = desc;
    c[LAYOUT.NT] = nt;
    Atomics.store(c, LAYOUT.ERRORS, 0);
    Atomics.store(c, LAYOUT.PENDING, nt - 1);
    for (let t = 1; t < nt; t++) {
      Atomics.store(c, LAYOUT.STATE + t, WORKER_STATE.POSTED);
      Atomics.add(c, LAYOUT.WAKE + t, 1);
      Atomics.notify(c, LAYOUT.WAKE + t, 1);
    }
    this.posts.posted += nt - 1;
    let mainError: unknown = null;
    try {
      this.mainKernels[op](desc, 0, nt);
    } catch (err) {
      mainError = err;
    }
    // Our share is done, and with it all the work nobody had taken: workers that have not
    // claimed the call yet are not waited for.
    for (let t = 1; t < nt; t++) {
      if (
        Atomics.compareExchange(c, LAYOUT.STATE + t, WORKER_STATE.POSTED, WORKER_STATE.IDLE) === WORKER_STATE.POSTED
      ) {
        Atomics.sub(c, LAYOUT.PENDING, 1);
        this.posts.revoked++;
      }
    }
    // Wait for every running worker even if our own share failed: the memory they write must settle.
    for (;;) {
      const pending = Atomics.load(c, LAYOUT.PENDING);
      if (pending === 0) break;
      Atomics.wait(c, LAYOUT.PENDING, pending);
    }
    if (mainError !== null) throw mainError;
    const errors = Atomics.load(c, LAYOUT.ERRORS);
    if (errors > 0) throw new Error(`cpu backend: kernel ${ENTRY_TABLE[op][1]} failed on ${errors} worker thread(s)`);
  }

  /** Stop every worker; resolves when they have exited. */
  async close(): Promise<void> {
    // A worker still starting would miss the exit signal: let every worker get ready first.
    await this.ready().catch(() => undefined);
    const c = this.control;
    c[LAYOUT.OP] = EXIT;
    // Unref'd workers would not keep the event loop alive while we wait for their exit.
    for (const w of this.workers) w.ref();
    const exits = this.workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
    for (let t = 1; t < this.size(); t++) {
      Atomics.add(c, LAYOUT.WAKE + t, 1);
      Atomics.notify(c, LAYOUT.WAKE + t, 1);
    }
    await Promise.all(exits);
    this.workers.length = 0;
    this.started.length = 0;
    for (let t = 1; t < MAX_THREADS; t++) {
      Atomics.store(c, LAYOUT.READY + t, 0);
      Atomics.store(c, LAYOUT.STATE + t, WORKER_STATE.IDLE);
    }
  }
}
