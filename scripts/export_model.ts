// Export a pretraining checkpoint as the shipped model directory, with a model card.
//
//   npx tsx scripts/export_model.ts --run runs/mlm-mini --out models/bert-mini-retrograd [--dtype F16]
//
// Takes the run's latest checkpoint (or --checkpoint DIR), writes config.json, model.safetensors
// (F16 by default: half the size; the loader widens to float32), vocab.txt and tokenizer_config.json
// atomically, and a README.md that records where the weights come from: the corpus and its hash,
// the pretraining arguments, tokens seen, and the held-out MLM loss and accuracy from the run's log;
// the corpus's PROVENANCE.md is copied beside it as PRETRAINING_CORPUS.md.

import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelDir, saveModelDir } from '../src/nn/model-dir.js';
import { latestCheckpoint, readTrainerState } from '../src/train/checkpoint.js';

const { values: args } = parseArgs({
  options: {
    run: { type: 'string' },
    checkpoint: { type: 'string' },
    out: { type: 'string' },
    dtype: { type: 'string', default: 'F16' },
    name: { type: 'string', default: 'bert-mini-retrograd' },
  },
});
if (!args.run || !args.out) throw new Error('usage: --run RUN_DIR --out MODEL_DIR [--checkpoint DIR] [--dtype F16|BF16|F32]');
const dtype = args.dtype as 'F16' | 'BF16' | 'F32';
if (!['F16', 'BF16', 'F32'].includes(dtype)) throw new Error(`--dtype must be F16, BF16 or F32, got ${args.dtype}`);
const checkpoint = args.checkpoint ?? latestCheckpoint(args.run);
if (!checkpoint) throw new Error(`${args.run}: no checkpoint`);
const state = readTrainerState(checkpoint);
const run = args.run;
const corpusInfo = JSON.parse(readFileSync(join(run, 'tokens.json'), 'utf8')) as { source: string; sourceSha256: string; documents: number; tokens: number };
type Entry = { kind: string; step: number; loss: number; accuracy?: number; tokensPerSec?: number; elapsedSec?: number };
const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Entry).filter((e) => e.step <= state.step);
const evals = log.filter((e) => e.kind === 'eval');
const lastEval = evals[evals.length - 1];
const a = state.args as Record<string, unknown>;
const tokensSeen = state.step * (a.batchSize as number) * (a.seqLen as number);

const corpusProvenance = join(dirname(corpusInfo.source), 'PROVENANCE.md');
if (!existsSync(corpusProvenance)) throw new Error(`${corpusProvenance}: missing (the model card points to it)`);

const loaded = loadModelDir(checkpoint, { head: 'mlm' });
const tmp = `${args.out}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
await saveModelDir(tmp, loaded.mlm!, { tokenizer: loaded.tokenizer!, weightsDtype: dtype });
const c = loaded.config;
const card = `# ${args.name}

A BERT-mini (${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${c.num_attention_heads} heads, FFN ${c.intermediate_size},
${(loaded.mlm!.numParameters() / 1e6).toFixed(1)}M parameters with the tied MLM head) pretrained from random initialisation by
retrograd's own masked-language-model trainer (\`retrograd pretrain\`, src/train/pretrain.ts). No
pretrained weights were used: none can be obtained on the machines this project runs on.

Hugging Face layout (\`BertForMaskedLM\`: \`bert.*\` + \`cls.predictions.*\`), bert-base-uncased
WordPiece vocabulary (assets/bert-base-uncased, byte-identical to Google's), weights stored as
${dtype} (the loader widens them to float32).

## Pretraining

| | |
|---|---|
| corpus | \`retrograd data build pretrain\` (its PROVENANCE.md is copied here as PRETRAINING_CORPUS.md): Python 3.11, Perl 5.36 and git documentation, WordNet 3.0 glosses, train-split Debian package descriptions; FAQ pages and dev/test descriptions excluded |
| corpus file sha256 | ${corpusInfo.sourceSha256} |
| corpus size | ${corpusInfo.documents} documents, ${corpusInfo.tokens} WordPiece tokens |
| objective | MLM, 15% of tokens (80% [MASK], 10% random, 10% kept), sequences of ${a.seqLen} packed tokens |
| steps | ${state.step} of ${a.steps} planned, batch ${a.batchSize} x ${a.seqLen} (${(tokensSeen / 1e6).toFixed(1)}M tokens, ${(tokensSeen / corpusInfo.tokens).toFixed(2)} epochs) |
| optimiser | AdamW (betas 0.9/0.999, eps 1e-6), peak lr ${a.lr}, ${a.warmup} warm-up steps, ${a.schedule} decay, weight decay ${a.weightDecay} (not on biases and LayerNorm), gradient clipping ${a.clip} |
| seed | ${a.seed} (data order, masks, dropout and initialisation are functions of it) |
| held-out MLM | ${lastEval ? `loss ${lastEval.loss.toFixed(3)}, accuracy ${(100 * (lastEval.accuracy ?? 0)).toFixed(1)}% at step ${lastEval.step}` : 'not evaluated'} |
| hardware | 2 CPU cores (retrograd's WebAssembly SIMD backend) |

Held-out evaluations during pretraining (step: loss, masked-token accuracy):
${evals.map((e) => `${e.step}: ${e.loss.toFixed(3)}, ${(100 * (e.accuracy ?? 0)).toFixed(1)}%`).join('; ')}

## Use

Fine-tune as a biencoder: \`npx tsx examples/train_sdam.ts\` or \`npx retrograd train --model ${args.out} ...\`.
Continue pretraining: \`npx retrograd pretrain --init ${args.out} ...\`.

## Licence

The weights are released under the project's MIT licence. They were learned from texts under their
own licences (PSF licence, GPL-1+ or Artistic, GPL-2, the WordNet 3.0 licence, and the licences of
Debian main packages); see the corpus PROVENANCE.md.
`;
writeFileSync(join(tmp, 'README.md'), card);
copyFileSync(corpusProvenance, join(tmp, 'PRETRAINING_CORPUS.md'));
rmSync(args.out, { recursive: true, force: true });
renameSync(tmp, args.out);
loaded.mlm!.dispose();
console.log(`${args.out}: step ${state.step}, ${dtype} weights, held-out loss ${lastEval?.loss.toFixed(3) ?? '-'}`);
