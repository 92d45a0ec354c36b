// The tiny BERT configuration of the checkpoint crash tests (test/checkpoint.test.ts and its child
// process, save-checkpoint-and-die.ts).

import { BERT_PRESETS, type BertConfig } from '../../src/nn/bert.js';
import { BertTokenizer } from '../../src/nn/tokenizer.js';

export const CHECKPOINT_TOKENIZER = BertTokenizer.fromVocabFile(
  new URL('../../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname,
);

export const CHECKPOINT_CONFIG: BertConfig = {
  ...BERT_PRESETS.tiny,
  vocab_size: CHECKPOINT_TOKENIZER.vocabSize,
  hidden_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 16,
};
