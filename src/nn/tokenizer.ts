// BERT's WordPiece tokenizer, written to give the same ids as Hugging Face's BertTokenizerFast
// (the `tokenizers` Rust crate with bert-base-uncased's tokenizer.json): special tokens matched in
// the raw text, BertNormalizer (clean text, space out CJK ideographs, strip accents, lowercase),
// BertPreTokenizer (split on whitespace, isolate punctuation), greedy longest-match-first WordPiece
// with "##" continuations, the [CLS] A [SEP] B [SEP] template, longest_first truncation and padding.
// It is not a general tokenizers.json interpreter and not a trainer; it deals in plain arrays and
// does not depend on the tensor library.
//
// Upstream: tokenizers/src/{normalizers,pre_tokenizers}/bert.rs, models/wordpiece/mod.rs,
// utils/truncation.rs, decoders/wordpiece.rs; transformers' BertTokenizer for the vocab format.
//
// Known, deliberate choices where the references disagree with each other:
// - Unicode categories come from this Node's ICU. The Rust crate classifies control/format
//   characters, punctuation and nonspacing marks with frozen tables (crate unicode_categories
//   0.1.1, Unicode 8.0 era), so code points given such a category after 2015 can differ there.
// - Unassigned code points are kept (as the Rust BertNormalizer does; Python's slow tokenizer drops
//   them). Lone UTF-16 surrogates, which Rust strings cannot hold, are dropped like controls.
// - Lowercasing maps each code point on its own, as Rust does (so a final capital sigma becomes σ,
//   not the ς that JavaScript's or Python's whole-string lowercasing would give).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BertTokenizerOptions {
  /** Lowercase the input (uncased models). Default true, as in transformers. */
  doLowerCase?: boolean;
  /** Strip accents (NFD, drop nonspacing marks). Default null: follow doLowerCase. */
  stripAccents?: boolean | null;
  /** Put spaces around CJK ideographs so each becomes a word. Default true. */
  tokenizeChineseChars?: boolean;
  /** Default maxLength for truncation and 'max_length' padding. Default: unlimited. */
  modelMaxLength?: number;
  unkToken?: string;
  sepToken?: string;
  padToken?: string;
  clsToken?: string;
  maskToken?: string;
}

export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second';

export interface EncodeOptions {
  /** Add [CLS] ... [SEP] (and [SEP] after the pair). Default true. */
  addSpecialTokens?: boolean;
  /** Length limit for truncation and for 'max_length' padding; defaults to modelMaxLength. */
  maxLength?: number;
  /** true means 'longest_first'. Default: truncate ('longest_first') only when maxLength is given, as transformers does. */
  truncation?: boolean | TruncationStrategy;
  /** 'max_length' pads up to maxLength; 'longest' pads to the longest row of a batch. Default false. */
  padding?: 'max_length' | 'longest' | false;
}

export interface Encoding {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
}

/** A padded batch; every array is row-major [batchSize, seqLen]. */
export interface BatchEncoding {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
}

export interface BatchEncodeOptions extends Omit<EncodeOptions, 'padding'> {
  /** Default 'longest'. */
  padding?: 'max_length' | 'longest';
}

export interface DecodeOptions {
  /** Drop [CLS], [SEP], [PAD], [UNK], [MASK]. Default false. */
  skipSpecialTokens?: boolean;
  /** Remove spaces before punctuation and in contractions, as transformers does by default. Default true. */
  cleanUpTokenizationSpaces?: boolean;
}

const MAX_INPUT_CHARS_PER_WORD = 100;
const CONTINUATION = '##';
/** Bound on the raw-chunk cache; it is cleared when full (simple and enough for corpora of text). */
const CACHE_LIMIT = 200_000;

/** Characters that clean_text removes: NUL, U+FFFD, and control/format/private-use (not \t \n \r). */
const REMOVED_CHARS = /(?![\t\n\r])[\0\uFFFD\p{Cc}\p{Cf}\p{Co}\p{Cs}]/gu;
/**
 * Whitespace that survives clean_text (White_Space minus the control characters it removes):
 * BERT turns each into a space, so raw text can be cut into independent chunks there.
 */
const WHITESPACE_RUN = /[\t\n\r\p{Zs}\u2028\u2029]+/u;
/** The CJK ideograph blocks of BertNormalizer's is_chinese_char. */
const CJK_CHAR =
  /[\u4E00-\u9FFF\u3400-\u4DBF\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B920}-\u{2CEAF}\uF900-\uFAFF\u{2F800}-\u{2FA1F}]/gu;
const NONSPACING_MARK = /\p{Mn}/gu;
/** BERT punctuation: ASCII ranges 33-47, 58-64, 91-96, 123-126 plus Unicode P*. */
const PUNCT = '\\p{P}\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7E';
/** A word is a run of non-space, non-punctuation characters, or a single punctuation character. */
const WORD = new RegExp(`[^\\s${PUNCT}]+|[${PUNCT}]`, 'gu');

/** transformers' clean_up_tokenization, applied to the whole decoded string. */
function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** The Rust WordPiece decoder's per-token cleanup (it runs on each token, space included). */
function cleanUpToken(token: string): string {
  return cleanUpTokenization(token).replaceAll(' do not', " don't");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Lowercase code point by code point (no context-dependent final sigma), like Rust's char::to_lowercase. */
function lowercase(s: string): string {
  if (!s.includes('\u03A3')) return s.toLowerCase();
  let out = '';
  for (const ch of s) out += ch.toLowerCase();
  return out;
}

/** Read a vocab.txt: one token per line, id = line number (the last line may lack a newline). */
export function readVocabFile(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  // The Rust loader trims trailing whitespace from each line (a \r from Windows line ends included).
  return lines.map((line) => line.trimEnd());
}

export class BertTokenizer {
  /** id -> token. */
  readonly vocab: readonly string[];
  readonly doLowerCase: boolean;
  readonly stripAccents: boolean;
  readonly tokenizeChineseChars: boolean;
  readonly modelMaxLength: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  /** The five special tokens, by role. */
  readonly specialTokens: Readonly<{ pad: string; unk: string; cls: string; sep: string; mask: string }>;

  private readonly ids: Map<string, number>;
  private readonly specialIds: Set<number>;
  private readonly specialPattern: RegExp;
  /** Longest vocabulary entry in code points (without "##"): WordPiece never needs to try longer. */
  private readonly maxPieceChars: number;
  private readonly chunkCache = new Map<string, readonly number[]>();

  constructor(vocab: readonly string[], options: BertTokenizerOptions = {}) {
    this.vocab = [...vocab];
    this.ids = new Map();
    // As in the Rust loader, a repeated token maps to its last line.
    this.vocab.forEach((token, id) => this.ids.set(token, id));
    this.doLowerCase = options.doLowerCase ?? true;
    this.stripAccents = options.stripAccents ?? this.doLowerCase;
    this.tokenizeChineseChars = options.tokenizeChineseChars ?? true;
    this.modelMaxLength = options.modelMaxLength ?? Infinity;
    this.specialTokens = {
      pad: options.padToken ?? '[PAD]',
      unk: options.unkToken ?? '[UNK]',
      cls: options.clsToken ?? '[CLS]',
      sep: options.sepToken ?? '[SEP]',
      mask: options.maskToken ?? '[MASK]',
    };
    const idOf = (token: string): number => {
      const id = this.ids.get(token);
      if (id === undefined) throw new Error(`special token ${token} is not in the vocabulary`);
      return id;
    };
    this.padId = idOf(this.specialTokens.pad);
    this.unkId = idOf(this.specialTokens.unk);
    this.clsId = idOf(this.specialTokens.cls);
    this.sepId = idOf(this.specialTokens.sep);
    this.maskId = idOf(this.specialTokens.mask);
    this.specialIds = new Set([this.padId, this.unkId, this.clsId, this.sepId, this.maskId]);
    // Leftmost match, longest first among tokens starting at the same place (as aho-corasick's LeftmostLongest).
    const alternatives = Object.values(this.specialTokens)
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp);
    this.specialPattern = new RegExp(alternatives.join('|'), 'g');
    let maxPieceChars = 1;
    for (const token of this.vocab) {
      const body = token.startsWith(CONTINUATION) ? token.slice(CONTINUATION.length) : token;
      maxPieceChars = Math.max(maxPieceChars, [...body].length);
    }
    this.maxPieceChars = maxPieceChars;
  }

  static fromVocabFile(path: string, options: BertTokenizerOptions = {}): BertTokenizer {
    return new BertTokenizer(readVocabFile(path), options);
  }

  /**
   * Load a Hugging Face model directory: vocab.txt plus, when present, tokenizer_config.json
   * (do_lower_case, strip_accents, tokenize_chinese_chars, model_max_length, special tokens).
   */
  static fromDir(modelDir: string): BertTokenizer {
    const configPath = join(modelDir, 'tokenizer_config.json');
    const config: Record<string, unknown> = existsSync(configPath)
      ? (JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>)
      : {};
    const bool = (key: string): boolean | undefined =>
      typeof config[key] === 'boolean' ? (config[key] as boolean) : undefined;
    // Special tokens appear either as strings or as AddedToken objects {content: ...}.
    const token = (key: string): string | undefined => {
      const value = config[key];
      if (typeof value === 'string') return value;
      if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
        return (value as { content: string }).content;
      }
      return undefined;
    };
    const maxLength = config['model_max_length'];
    return BertTokenizer.fromVocabFile(join(modelDir, 'vocab.txt'), {
      doLowerCase: bool('do_lower_case'),
      stripAccents: bool('strip_accents') ?? null,
      tokenizeChineseChars: bool('tokenize_chinese_chars'),
      // transformers writes a huge sentinel (1e30) for "no limit".
      modelMaxLength: typeof maxLength === 'number' && maxLength < 2 ** 31 ? maxLength : undefined,
      unkToken: token('unk_token'),
      sepToken: token('sep_token'),
      padToken: token('pad_token'),
      clsToken: token('cls_token'),
      maskToken: token('mask_token'),
    });
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.vocab[id];
  }

  /** WordPiece tokens of `text`, without [CLS]/[SEP] (special tokens written in the text are kept). */
  tokenize(text: string): string[] {
    return this.textToIds(text).map((id) => this.vocab[id]!);
  }

  /** Ids of `text` without added [CLS]/[SEP]. */
  textToIds(text: string): number[] {
    const out: number[] = [];
    let last = 0;
    for (const match of text.matchAll(this.specialPattern)) {
      this.sectionToIds(text.slice(last, match.index), out);
      out.push(this.ids.get(match[0])!);
      last = match.index + match[0].length;
    }
    this.sectionToIds(text.slice(last), out);
    return out;
  }

  /** Encode one text or a pair: [CLS] A [SEP] (B [SEP]), type ids 0 for A, 1 for B. */
  encode(text: string, pair?: string, options: EncodeOptions = {}): Encoding {
    const a = this.textToIds(text);
    const b = pair === undefined ? undefined : this.textToIds(pair);
    const encoding = this.assemble(a, b, options);
    if (options.padding === 'max_length') {
      this.pad(encoding, this.limit(options.maxLength, 'max_length padding'));
    }
    return encoding;
  }

  /** Encode a batch of texts or [text, pair] rows, padded to the longest row or to maxLength. */
  encodeBatch(
    inputs: readonly (string | readonly [string, string])[],
    options: BatchEncodeOptions = {},
  ): BatchEncoding {
    const padding = options.padding ?? 'longest';
    const rows = inputs.map((input) => {
      const [text, pair] = typeof input === 'string' ? [input, undefined] : input;
      return this.assemble(this.textToIds(text), pair === undefined ? undefined : this.textToIds(pair), options);
    });
    let seqLen = rows.reduce((m, r) => Math.max(m, r.inputIds.length), 0);
    if (padding === 'max_length') {
      const target = this.limit(options.maxLength, 'max_length padding');
      if (seqLen > target) {
        throw new Error(`a row has ${seqLen} tokens, more than maxLength ${target}: enable truncation`);
      }
      seqLen = target;
    }
    return this.padBatch(rows, seqLen);
  }

  /** Encodings as one [batchSize, seqLen] batch (default: the longest row), right-padded with [PAD] / type 0 / mask 0. */
  padBatch(
    rows: readonly Encoding[],
    seqLen = rows.reduce((m, r) => Math.max(m, r.inputIds.length), 0),
  ): BatchEncoding {
    const batchSize = rows.length;
    const inputIds = new Int32Array(batchSize * seqLen).fill(this.padId);
    const tokenTypeIds = new Int32Array(batchSize * seqLen);
    const attentionMask = new Int32Array(batchSize * seqLen);
    rows.forEach((row, i) => {
      if (row.inputIds.length > seqLen)
        throw new Error(`padBatch: row ${i} has ${row.inputIds.length} tokens, more than ${seqLen}`);
      inputIds.set(row.inputIds, i * seqLen);
      tokenTypeIds.set(row.tokenTypeIds, i * seqLen);
      attentionMask.set(row.attentionMask, i * seqLen);
    });
    return { batchSize, seqLen, inputIds, tokenTypeIds, attentionMask };
  }

  /** Ids back to text: the WordPiece decoder ("##" joins, spaces otherwise), then transformers' cleanup. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    const tokens: string[] = [];
    for (const id of ids) {
      const token = this.vocab[id];
      if (token === undefined)
        throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.vocab.length})`);
      if (!(skip && this.specialIds.has(id))) tokens.push(token);
    }
    const pieces = tokens.map((token, i) => {
      let piece = token;
      if (i > 0) piece = token.startsWith(CONTINUATION) ? token.slice(CONTINUATION.length) : ` ${token}`;
      return cleanUpToken(piece);
    });
    const text = pieces.join('');
    return (options.cleanUpTokenizationSpaces ?? true) ? cleanUpTokenization(text) : text;
  }

  /** The limit to use: an explicit maxLength, else modelMaxLength; fails if neither exists. */
  private limit(maxLength: number | undefined, purpose: string): number {
    const limit = maxLength ?? this.modelMaxLength;
    if (!Number.isFinite(limit)) throw new Error(`${purpose} needs maxLength (this tokenizer has no modelMaxLength)`);
    if (!Number.isSafeInteger(limit) || limit < 0)
      throw new Error(`maxLength must be a non-negative integer, got ${limit}`);
    return limit;
  }

  /** Truncate, then add the special tokens and type ids (no padding). */
  private assemble(a: number[], b: number[] | undefined, options: EncodeOptions): Encoding {
    const addSpecial = options.addSpecialTokens ?? true;
    const truncation = options.truncation ?? options.maxLength !== undefined;
    if (truncation !== false) {
      const strategy = truncation === true ? 'longest_first' : truncation;
      const limit = options.maxLength ?? this.modelMaxLength;
      if (Number.isFinite(limit)) {
        const added = addSpecial ? (b === undefined ? 2 : 3) : 0;
        if (!Number.isSafeInteger(limit) || limit < added) {
          throw new Error(`maxLength ${limit} cannot hold the ${added} special tokens`);
        }
        [a, b] = truncatePair(a, b, limit - added, strategy);
      }
    }
    const inputIds: number[] = [];
    const tokenTypeIds: number[] = [];
    const push = (ids: readonly number[], type: number) => {
      for (const id of ids) {
        inputIds.push(id);
        tokenTypeIds.push(type);
      }
    };
    if (addSpecial) push([this.clsId], 0);
    push(a, 0);
    if (addSpecial) push([this.sepId], 0);
    if (b !== undefined) {
      push(b, 1);
      if (addSpecial) push([this.sepId], 1);
    }
    return { inputIds, tokenTypeIds, attentionMask: new Array<number>(inputIds.length).fill(1) };
  }

  private pad(encoding: Encoding, length: number): void {
    while (encoding.inputIds.length < length) {
      encoding.inputIds.push(this.padId);
      encoding.tokenTypeIds.push(0);
      encoding.attentionMask.push(0);
    }
  }

  /** Special-token-free text -> ids, chunk by chunk (a chunk is a run without whitespace). */
  private sectionToIds(section: string, out: number[]): void {
    for (const chunk of section.split(WHITESPACE_RUN)) {
      if (chunk === '') continue;
      let ids = this.chunkCache.get(chunk);
      if (ids === undefined) {
        ids = this.chunkToIds(chunk);
        if (this.chunkCache.size >= CACHE_LIMIT) this.chunkCache.clear();
        this.chunkCache.set(chunk, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /**
   * One whitespace-free chunk through BertNormalizer, BertPreTokenizer and WordPiece. Every step is
   * local to the chunk (whitespace is a normalization starter and a word boundary), so the result
   * equals tokenizing the whole text, which is what makes the cache exact.
   */
  private chunkToIds(chunk: string): number[] {
    let text = chunk.replace(REMOVED_CHARS, '');
    if (this.tokenizeChineseChars) text = text.replace(CJK_CHAR, ' $& ');
    if (this.stripAccents) text = text.normalize('NFD').replace(NONSPACING_MARK, '');
    if (this.doLowerCase) text = lowercase(text);
    const ids: number[] = [];
    for (const match of text.matchAll(WORD)) this.wordPiece(match[0], ids);
    return ids;
  }

  /** Greedy longest-match-first WordPiece; an unmatchable or over-long word becomes one [UNK]. */
  private wordPiece(word: string, out: number[]): void {
    const chars = [...word];
    if (chars.length > MAX_INPUT_CHARS_PER_WORD) {
      out.push(this.unkId);
      return;
    }
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = Math.min(chars.length, start + this.maxPieceChars);
      let found: number | undefined;
      while (end > start) {
        const body = chars.slice(start, end).join('');
        found = this.ids.get(start > 0 ? CONTINUATION + body : body);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) {
        out.push(this.unkId);
        return;
      }
      pieces.push(found);
      start = end;
    }
    for (const id of pieces) out.push(id);
  }
}

/**
 * Truncate a sequence (and its pair) to at most `maxLength` tokens in total, exactly as the
 * `tokenizers` crate's truncate_encodings: longest_first shortens the longer sequence first and,
 * when both must be cut, gives each half (the second sequence gets the odd token).
 */
export function truncatePair(
  a: number[],
  b: number[] | undefined,
  maxLength: number,
  strategy: TruncationStrategy = 'longest_first',
): [number[], number[] | undefined] {
  if (maxLength === 0) return [[], b === undefined ? undefined : []];
  const total = a.length + (b?.length ?? 0);
  if (total <= maxLength) return [a, b];
  const toRemove = total - maxLength;
  if (strategy === 'longest_first') {
    if (b === undefined) return [a.slice(0, maxLength), undefined];
    let n1 = a.length;
    let n2 = b.length;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    // Now n1 <= n2. Either only the longer one is cut, or both get half of maxLength.
    n2 = n1 > maxLength ? n1 : Math.max(n1, maxLength - n1);
    if (n1 + n2 > maxLength) {
      n1 = Math.floor(maxLength / 2);
      n2 = n1 + (maxLength % 2);
    }
    if (swap) [n1, n2] = [n2, n1];
    return [a.slice(0, n1), b.slice(0, n2)];
  }
  if (strategy === 'only_second' && b === undefined) {
    throw new Error('truncation only_second needs a pair of sequences');
  }
  const target = strategy === 'only_first' ? a : b!;
  if (target.length <= toRemove) {
    throw new Error(
      `cannot truncate: the ${strategy === 'only_first' ? 'first' : 'second'} sequence is too short to remove ${toRemove} tokens`,
    );
  }
  const kept = target.slice(0, target.length - toRemove);
  return strategy === 'only_first' ? [kept, b] : [a, kept];
}
