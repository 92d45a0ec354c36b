// Child process of test/checkpoint.test.ts: saves a checkpoint of a tiny BERT (weights from a seed)
// at a given step and kills itself with SIGKILL when the save reaches a given phase — a crash at
// that exact moment.
//
//   node --import tsx test/util/save-checkpoint-and-die.ts <runDir> <step> <weightSeed> <phase>

import { Generator } from '../../src/tensor/random.js';
import { BertModel } from '../../src/nn/bert.js';
import { AdamW } from '../../src/train/optim.js';
import { saveCheckpoint } from '../../src/train/checkpoint.js';
import { CHECKPOINT_CONFIG, CHECKPOINT_TOKENIZER } from './checkpoint-model.js';

const [runDir, step, seed, phase] = process.argv.slice(2);
const model = new BertModel(CHECKPOINT_CONFIG, { device: 'cpu-ref', generator: new Generator(Number(seed)) });
const optimizer = new AdamW(model.parameters());
await saveCheckpoint(
  runDir,
  model,
  optimizer,
  { step: Number(step), optimizerStep: 0 },
  {
    tokenizer: CHECKPOINT_TOKENIZER,
    onPhase: (p) => {
      if (p === phase) process.kill(process.pid, 'SIGKILL');
    },
  },
);
