// `retrograd <command>`: the command-line entry. Each command lives in its own file in this folder
// and registers itself on the commander program; this file only wires them together and turns
// errors into one clear line and a non-zero exit.

import { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerEmbed } from './embed.js';
import { registerPretrain } from './pretrain.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerMine } from './mine.js';
import { registerData } from './data.js';
import { registerPlot } from './plot.js';
import { registerCluster } from './cluster.js';
import { registerCrossEncoder } from './cross-encoder.js';
import { registerScore } from './score.js';

const program = new Command();
program
  .name('retrograd')
  .description(
    'A from-scratch deep-learning stack for dense retrieval: build data, pretrain, train and evaluate biencoders, plot runs, embed texts, run benchmarks',
  )
  // A bad option value, an unknown option or a missing one: one line `retrograd: <commander's
  // message>` on stderr and exit 1, as an error of a command's own (below); --help shows the usage.
  .configureOutput({ outputError: (text, write) => write(`retrograd: ${text.replace(/^error: /, '')}`) });

registerBench(program);
registerEmbed(program);
registerPretrain(program);
registerTrain(program);
registerEval(program);
registerMine(program);
registerData(program);
registerPlot(program);
registerCluster(program);
registerCrossEncoder(program);
registerScore(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`retrograd: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
