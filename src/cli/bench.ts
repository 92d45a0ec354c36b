// `retrograd bench <what> [--json]`: benchmarks, printed as JSON. Never timed tests.
//   matmul   GFLOP/s per backend on 512x768x768 and the BERT-mini step shapes (src/bench/matmul.ts)
//   ops      elementwise/softmax/layernorm/gelu per backend (src/bench/ops.ts)
//   tokenizer  WordPiece tokens/s (src/bench/tokenizer.ts)
//   bert     BERT train/infer tokens/s, profile by primitive, optional PyTorch side by side (src/bench/bert.ts)

import { type Command, Option } from 'commander';
import { BERT_PRESETS } from '../nn/bert.js';
import type { BenchBertOptions } from '../bench/bert.js';
import { intAtLeastOption, listOption, parsedOption, positiveIntOption } from './options.js';

/** --threads 1,2: thread counts of the cpu backend. */
const threadsOption = (): Option =>
  parsedOption('--threads <list>', 'thread counts for the cpu backend', listOption(positiveIntOption), '1,2');

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('measure speed (prints JSON)');
  bench
    .command('matmul')
    .description('matmul GFLOP/s per backend and thread count')
    .option('--json', 'print JSON (the default and only format)', true)
    .addOption(threadsOption())
    .option('--device <name>', 'also measure this GPU device (webgpu|gpujs)')
    .option(
      '--shapes <list>',
      "only shapes whose name contains one of these (comma-separated, e.g. 'MLM head,FFN')",
      (v) =>
        v
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== ''),
    )
    .action(async (opts: { threads: number[]; device?: string; shapes?: string[] }) => {
      const { benchMatmul } = await import('../bench/matmul.js');
      const result = await benchMatmul({ threads: opts.threads, device: opts.device, shapes: opts.shapes });
      console.log(JSON.stringify(result, null, 2));
    });
  bench
    .command('ops')
    .description('elementwise, softmax, layernorm, gelu throughput per backend on BERT-mini step shapes')
    .option('--json', 'print JSON (the default and only format)', true)
    .addOption(threadsOption())
    .action(async (opts: { threads: number[] }) => {
      const { benchOps } = await import('../bench/ops.js');
      console.log(JSON.stringify(await benchOps({ threads: opts.threads }), null, 2));
    });
  bench
    .command('tokenizer')
    .description('WordPiece tokenizer tokens/s, cold and warm cache')
    .option('--json', 'print JSON (the default and only format)', true)
    .action(async () => {
      const { benchTokenizer } = await import('../bench/tokenizer.js');
      console.log(JSON.stringify(benchTokenizer(), null, 2));
    });
  bench
    .command('bert')
    .description('BERT training step (or inference) tokens/s, profiled by primitive')
    .option('--json', 'print JSON (the default and only format)', true)
    .addOption(new Option('--config <preset>', 'BERT size').choices(Object.keys(BERT_PRESETS)).default('mini'))
    .option('--batch <n>', 'sequences per step (train: even)', positiveIntOption, 32)
    .option('--seq <n>', 'tokens per sequence', positiveIntOption, 128)
    .addOption(new Option('--mode <mode>', 'what is timed').choices(['train', 'infer', 'mlm']).default('train'))
    .option('--device <name>', 'cpu | cpu-ref | webgpu', 'cpu')
    .option('--steps <n>', 'timed steps', positiveIntOption, 3)
    .option('--warmup <n>', 'untimed steps first', intAtLeastOption(0), 1)
    .option('--no-profile', 'skip the per-primitive profile step')
    .option('--compare-torch', 'also run scripts/torch/bench_bert.py (needs /usr/bin/python3 with torch)')
    .option('--torch-threads <n>', 'threads for PyTorch', positiveIntOption, 2)
    .option('--checkpoint-activations', 'recompute each encoder layer in backward (train, mlm)')
    .action(async (o: BenchBertOptions & { compareTorch?: boolean }) => {
      const { benchBert } = await import('../bench/bert.js');
      const { compareTorch, ...options } = o;
      const result = await benchBert({
        ...options,
        profile: o.profile !== false,
        torchThreads: compareTorch ? o.torchThreads : 0,
        checkpointActivations: o.checkpointActivations === true,
      });
      console.log(JSON.stringify(result, null, 2));
    });
}
