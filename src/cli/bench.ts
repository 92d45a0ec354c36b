// `retrograd bench <what> [--json]`: benchmarks, printed as JSON. Never timed tests.
//   matmul   GFLOP/s per backend on 512x768x768 and the BERT-mini step shapes (src/bench/matmul.ts)
//   ops      elementwise/softmax/layernorm/gelu per backend (src/bench/ops.ts)
//   tokenizer  WordPiece tokens/s (src/bench/tokenizer.ts)
//   bert     BERT train/infer tokens/s, profile by primitive, optional PyTorch side by side (src/bench/bert.ts)

import type { Command } from 'commander';
import type { BertPreset } from '../nn/bert.js';

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
    .command('ops')
    .description('elementwise, softmax, layernorm, gelu throughput per backend on BERT-mini step shapes')
    .option('--json', 'print JSON (the default and only format)', true)
    .option('--threads <list>', 'thread counts for the cpu backend', '1,2')
    .action(async (opts: { threads: string }) => {
      const { benchOps } = await import('../bench/ops.js');
      console.log(JSON.stringify(await benchOps({ threads: opts.threads.split(',').map(Number) }), null, 2));
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
    .option('--config <preset>', 'tiny | mini | small | base', 'mini')
    .option('--batch <n>', 'sequences per step', '32')
    .option('--seq <n>', 'tokens per sequence', '128')
    .option('--mode <mode>', 'train | infer | mlm', 'train')
    .option('--device <name>', 'cpu | cpu-ref | webgpu', 'cpu')
    .option('--steps <n>', 'timed steps', '3')
    .option('--warmup <n>', 'untimed steps first', '1')
    .option('--no-profile', 'skip the per-primitive profile step')
    .option('--compare-torch', 'also run scripts/torch/bench_bert.py (needs /usr/bin/python3 with torch)')
    .option('--torch-threads <n>', 'threads for PyTorch', '2')
    .option('--checkpoint-activations', 'recompute each encoder layer in backward (train, mlm)')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const { benchBert } = await import('../bench/bert.js');
      const int = (key: string): number => {
        const n = Number(o[key]);
        if (!Number.isSafeInteger(n) || n < 0)
          throw new Error(`--${key} must be a non-negative integer, got ${String(o[key])}`);
        return n;
      };
      if (o.mode !== 'train' && o.mode !== 'infer' && o.mode !== 'mlm')
        throw new Error(`--mode must be train, infer or mlm, got ${String(o.mode)}`);
      const result = await benchBert({
        config: o.config as BertPreset,
        batch: int('batch'),
        seq: int('seq'),
        mode: o.mode,
        device: String(o.device),
        steps: Math.max(1, int('steps')),
        warmup: int('warmup'),
        profile: o.profile !== false,
        torchThreads: o.compareTorch ? int('torchThreads') : 0,
        checkpointActivations: o.checkpointActivations === true,
      });
      console.log(JSON.stringify(result, null, 2));
    });
}
