// Peak memory of one CDE training step on the cpu device, with and without two-stage gradient
// caching (src/train/contextual.ts). Run one mode per process, so each starts from a fresh heap:
//
//   npx tsx scripts/cde_heap.ts --mode cached|plain [--batch 64] [--context 64] [--chunk 16]
//        [--query-length 32] [--doc-length 128] [--model models/bert-mini-retrograd] [--data data/pkgdesc-train]
//
// The batch is the first `batch` triples of the data's train split (queries, positives and hard
// negatives: 2·batch documents), the context `context` of those documents. Prints one JSON line:
// the peak of live device bytes (every alloc and free counted), the peak of the heap's top (what
// the 4 GiB wasm32 limit applies to: live blocks plus the free ones between them), the step's
// seconds, or the error (the heap running out) with the peaks reached by then.

import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { getDevice, initDevice } from '../src/tensor/device.js';
import type { CpuBackend } from '../src/tensor/backends/cpu/index.js';
import { ContextualModel } from '../src/nn/contextual.js';
import { contextualStep } from '../src/train/contextual.js';
import { docText, loadBeir, readTriples } from '../src/data/beir.js';

const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'cached' },
    batch: { type: 'string', default: '64' },
    context: { type: 'string', default: '64' },
    chunk: { type: 'string', default: '16' },
    'query-length': { type: 'string', default: '32' },
    'doc-length': { type: 'string', default: '128' },
    model: { type: 'string', default: 'models/bert-mini-retrograd' },
    data: { type: 'string', default: 'data/pkgdesc-train' },
  },
});
if (a.mode !== 'cached' && a.mode !== 'plain') throw new Error(`--mode must be cached or plain, got ${a.mode}`);
const batchSize = Number(a.batch);
const J = Number(a.context);

await initDevice('cpu');
const cpu = getDevice('cpu') as CpuBackend;
let live = 0;
let peak = 0;
const sizes = new Map<unknown, number>();
const alloc = cpu.alloc.bind(cpu);
const free = cpu.free.bind(cpu);
cpu.alloc = (dtype, size) => {
  const buf = alloc(dtype, size);
  const bytes = size * (dtype === 'float64' ? 8 : 4);
  sizes.set(buf, bytes);
  live += bytes;
  peak = Math.max(peak, live);
  return buf;
};
cpu.free = (buf) => {
  live -= sizes.get(buf) ?? 0;
  sizes.delete(buf);
  free(buf);
};

const data = await loadBeir(a.data!, 'train');
const triples = (await readTriples(join(a.data!, 'triples', 'train.jsonl.gz'))).slice(0, batchSize);
const model = ContextualModel.fromBert(a.model!, { device: 'cpu', config: { context_size: J } });
const before = { live, reserved: cpu.heapBytes() };
const batch = {
  queries: triples.map((t) => data.queries.get(t.qid)!),
  documents: [
    ...triples.map((t) => docText(data.corpus.get(t.pos)!)),
    ...triples.map((t) => docText(data.corpus.get(t.neg)!)),
  ],
};
const t0 = performance.now();
const report: Record<string, unknown> = {
  mode: a.mode,
  batch: batchSize,
  documents: batch.documents.length,
  context: J,
  chunk: a.mode === 'cached' ? Number(a.chunk) : null,
  queryLength: Number(a['query-length']),
  docLength: Number(a['doc-length']),
  modelBytes: before.live,
};
try {
  const r = contextualStep(model, batch, {
    queryLength: Number(a['query-length']),
    docLength: Number(a['doc-length']),
    contextSeed: 1,
    gradCache: a.mode === 'cached',
    chunkSize: a.mode === 'cached' ? Number(a.chunk) : undefined,
  });
  report.loss = r.loss;
} catch (err) {
  report.error = (err as Error).message;
}
report.seconds = Math.round(performance.now() - t0) / 1000;
report.peakLiveBytes = peak;
report.peakLiveMiB = Math.round(peak / 2 ** 20);
report.heapPeakMiB = Math.round(cpu.heap.peakBytes() / 2 ** 20);
console.log(JSON.stringify(report));
await cpu.dispose();
