// A small synthetic retrieval set and a tiny random BERT for trainer and example tests: 12 topics x
// 3 documents of filler words with the topic word planted twice; the query of a document is its topic
// plus a filler word. Documents 0-1 of each topic are train (one BM25-free triple each: a document of
// another topic as the negative), document 2 is test. Written in BEIR layout; the model directory in
// Hugging Face layout with the bert-base-uncased vocabulary.

import { join } from 'node:path';
import { Generator } from '../../src/index.js';
import { BERT_PRESETS, BertModel, type BertConfig } from '../../src/nn/bert.js';
import { saveModelDir } from '../../src/nn/model-dir.js';
import { BertTokenizer } from '../../src/nn/tokenizer.js';
import { writeBeir, type Qrels, type Triple } from '../../src/data/beir.js';

const VOCAB = new URL('../../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname;
const TOPICS = [
  'python',
  'kernel',
  'network',
  'database',
  'font',
  'audio',
  'image',
  'editor',
  'compiler',
  'game',
  'shell',
  'music',
];
const FILLER = ['tool', 'library', 'support', 'files', 'utility', 'package', 'program', 'data', 'simple', 'fast'];

/**
 * Writes `<root>/data` (BEIR, splits train and test, triples/train) and `<root>/model`; returns both
 * paths. `maxPositions` (default 64) sizes the model's position table: a trainer that truncates
 * documents to N tokens needs at least N.
 */
export async function writeSyntheticRetrieval(
  root: string,
  o: { maxPositions?: number } = {},
): Promise<{ dataDir: string; modelDir: string }> {
  const dataDir = join(root, 'data');
  const modelDir = join(root, 'model');
  const gen = new Generator(3);
  const corpus = new Map<string, { title: string; text: string }>();
  const queries = new Map<string, string>();
  const train: Qrels = new Map();
  const test: Qrels = new Map();
  const triples: Triple[] = [];
  TOPICS.forEach((topic, t) => {
    for (let k = 0; k < 3; k++) {
      const id = `${topic}-${k}`;
      const words = Array.from({ length: 12 }, () => FILLER[gen.int(FILLER.length)]);
      words.splice(gen.int(12), 0, topic, topic);
      corpus.set(id, { title: '', text: words.join(' ') });
      queries.set(`q:${id}`, `${topic} ${FILLER[gen.int(FILLER.length)]}`);
      (k < 2 ? train : test).set(`q:${id}`, new Map([[id, 1]]));
      if (k < 2)
        triples.push({
          qid: `q:${id}`,
          pos: id,
          neg: `${TOPICS[(t + 1 + gen.int(TOPICS.length - 1)) % TOPICS.length]}-${gen.int(3)}`,
        });
    }
  });
  await writeBeir(dataDir, { corpus, queries, qrels: { train, test }, triples: { train: triples } });
  const config: BertConfig = {
    ...BERT_PRESETS.tiny,
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 64,
    max_position_embeddings: o.maxPositions ?? 64,
  };
  const model = new BertModel(config, { addPoolingLayer: false, generator: new Generator(5) });
  await saveModelDir(modelDir, model, { tokenizer: BertTokenizer.fromVocabFile(VOCAB) });
  model.dispose();
  return { dataDir, modelDir };
}
