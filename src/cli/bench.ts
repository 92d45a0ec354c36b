// `retrograd bench <what> [--json]`: benchmarks, printed as JSON. Never timed tests.
//   matmul   GFLOP/s per backend on 512x768x768 and the BERT-mini step shapes (src/bench/matmul.ts)

import type { Command } from 'commander';

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('measure speed (prints JSON)');
  bench
    .command('matmul')
    .description('matmul GFLOP/s per backend and thread count')
    .option('--json', 'print JSON (the default and only format)', true)
    .option('--threads <list>', 'thread counts for the cpu backend', '1,2')
    .option('--device <name>', 'also measure this GPU device (webgpu|gpujs)')
    .action(async (opts: { threads: string; device?: string }) => {
      const { benchMatmul } = await import('../bench/matmul.js');
      const result = await benchMatmul({ threads: opts.threads.split(',').map(Number), device: opts.device });
      console.log(JSON.stringify(result, null, 2));
    });
  bench
    .command('tokenizer')
    .description('WordPiece tokenizer tokens/s, cold and warm cache')
    .option('--json', 'print JSON (the default and only format)', true)
    .action(async () => {
      const { benchTokenizer } = await import('../bench/tokenizer.js');
      console.log(JSON.stringify(benchTokenizer(), null, 2));
    });
}
