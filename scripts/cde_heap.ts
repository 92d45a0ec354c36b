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

import { join } from 'node:path';
import { Option } from 'commander';
import { positiveIntOption, scriptProgram } from '../src/cli/options.js';
import { getDevice, initDevice } from '../src/tensor/device.js';
import type { CpuBackend } from '../src/tensor/backends/cpu/index.js';
import { ContextualModel } from '../src/nn/contextual.js';
import { contextualStep } from '../src/train/contextual.js';
import { docText, loadBeir, readTriples } from '../src/data/beir.js';

const a = scriptProgram(
  'cde_heap',
  'Peak memory of one CDE training step on the cpu device, with or without gradient caching',
)
  .addOption(
    new Option('--mode <mode>', 'cached: two-stage gradient caching; plain: one pass')
      .choices(['cached', 'plain'])
      .default('cached'),
  )
  .option('--batch <n>', 'triples in the batch (2·n documents)', positiveIntOption, 64)
  .option('--context <n>', 'context size J (documents)', positiveIntOption, 64)
  .option('--chunk <n>', 'chunk size of the cached mode', positiveIntOption, 16)
  .option('--query-length <n>', 'query truncation (tokens)', positiveIntOption, 32)
  .option('--doc-length <n>', 'document truncation (tokens)', positiveIntOption, 128)
  .option('--model <dir>', 'model directory', 'models/bert-mini-retrograd')
  .option('--data <dir>', 'BEIR-layout data with triples/train.jsonl.gz', 'data/pkgdesc-train')
  .parse()
  .opts<{
    mode: 'cached' | 'plain';
    batch: number;
    context: number;
    chunk: number;
    queryLength: number;
    docLength: number;
    model: string;
    data: string;
  }>();
const batchSize = a.batch;
const J = a.context;

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

const data = await loadBeir(a.data, 'train');
const triples = (await readTriples(join(a.data, 'triples', 'train.jsonl.gz'))).slice(0, batchSize);
const model = ContextualModel.fromBert(a.model, { device: 'cpu', config: { context_size: J } });
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
  chunk: a.mode === 'cached' ? a.chunk : null,
  queryLength: a.queryLength,
  docLength: a.docLength,
  modelBytes: before.live,
};
try {
  const r = contextualStep(model, batch, {
    queryLength: a.queryLength,
    docLength: a.docLength,
    contextSeed: 1,
    gradCache: a.mode === 'cached',
    chunkSize: a.mode === 'cached' ? a.chunk : undefined,
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
