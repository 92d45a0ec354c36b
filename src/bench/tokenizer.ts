// Tokenizer throughput (tokens/s), cold and warm word cache, on seeded random sentences built
// from the vocabulary. `retrograd bench tokenizer --json`.

import { BertTokenizer } from '../nn/tokenizer.js';
import { Generator } from '../tensor/random.js';
import { fileURLToPath } from 'node:url';

export const DEFAULT_VOCAB = fileURLToPath(new URL('../../assets/bert-base-uncased/vocab.txt', import.meta.url));

export function benchTokenizer(opts: { vocab?: string; sentences?: number } = {}): object {
  const tok = BertTokenizer.fromVocabFile(opts.vocab ?? DEFAULT_VOCAB);
  const words = tok.vocab.filter((t) => /^[a-z]+$/.test(t));
  const g = new Generator(99);
  const sentences: string[] = [];
  for (let i = 0; i < (opts.sentences ?? 4000); i++) {
    const ws = Array.from({ length: 24 }, () => words[g.int(words.length)] + (g.uniform() < 0.1 ? ',' : ''));
    sentences.push(`${ws.join(' ')}.`);
  }
  const time = (): [number, number] => {
    const t0 = performance.now();
    let tokens = 0;
    for (const s of sentences) tokens += tok.encode(s).inputIds.length;
    return [tokens, (performance.now() - t0) / 1000];
  };
  const [tokens, cold] = time();
  const [, warm] = time();
  return {
    bench: 'tokenizer',
    sentences: sentences.length,
    tokens,
    coldTokensPerSec: Math.round(tokens / cold),
    warmTokensPerSec: Math.round(tokens / warm),
  };
}
