// Masked-language modelling: the data side (packing a tokenized corpus into fixed-length sequences,
// BERT's 80/10/10 masking) and the loss, scored only at the masked positions.
//
// Packing (RoBERTa's FULL-SENTENCES without NSP): every document is tokenized without special tokens
// and appended to one stream, documents separated by [SEP]; the stream is cut into chunks of
// seqLen - 2 tokens and each chunk becomes `[CLS] chunk [SEP]`. Every sequence is full, so a batch
// needs no padding and no attention mask.
// Masking (Devlin et al. 2019, as Hugging Face's DataCollatorForLanguageModeling): each non-special
// token is selected with probability 0.15; a selected token becomes [MASK] with probability 0.8, a
// uniformly random vocabulary id with 0.1, and stays itself with 0.1. The loss is the cross-entropy
// of the original token at the selected positions.
// Not here: the training loop and checkpoints (src/train/pretrain.ts), corpus building (src/data).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { fromArray } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import * as ops from '../autograd/ops.js';
import type { BertForMaskedLM } from '../nn/bert.js';
import type { BertTokenizer } from '../nn/tokenizer.js';
import { readJsonl } from '../data/beir.js';
import { writeFileAtomic } from '../io/atomic.js';

export interface MaskingOptions {
  maskTokenId: number;
  vocabSize: number;
  /** Ids never selected for prediction ([CLS], [SEP], [PAD]). */
  specialIds: readonly number[];
  probability?: number;
  /** Of the selected tokens: the share replaced by [MASK], and the share by a random id. */
  maskShare?: number;
  randomShare?: number;
}

export interface MaskedBatch {
  batch: number;
  seq: number;
  /** [B·S] input ids after masking. */
  inputIds: Int32Array;
  /** [M] flat positions (b·S + s) of the selected tokens, ascending. */
  positions: Int32Array;
  /** [M] original ids at those positions. */
  labels: Int32Array;
}

/** Select and corrupt tokens of `ids` [batch, seq] (flat). At least one token is always selected. */
export function maskTokens(
  ids: Int32Array,
  batch: number,
  seq: number,
  o: MaskingOptions,
  gen: Generator,
): MaskedBatch {
  if (ids.length !== batch * seq) throw new Error(`maskTokens: ${ids.length} ids for a [${batch}, ${seq}] batch`);
  const p = o.probability ?? 0.15;
  const maskShare = o.maskShare ?? 0.8;
  const randomShare = o.randomShare ?? 0.1;
  const special = new Set(o.specialIds);
  const inputIds = Int32Array.from(ids);
  const positions: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (!special.has(ids[i]) && gen.uniform() < p) positions.push(i);
  }
  if (positions.length === 0) {
    const candidates = [...ids.keys()].filter((i) => !special.has(ids[i]));
    if (candidates.length === 0) throw new Error('maskTokens: the batch holds only special tokens');
    positions.push(candidates[gen.int(candidates.length)]);
  }
  const labels = new Int32Array(positions.length);
  positions.forEach((pos, k) => {
    labels[k] = ids[pos];
    const r = gen.uniform();
    if (r < maskShare) inputIds[pos] = o.maskTokenId;
    else if (r < maskShare + randomShare) inputIds[pos] = gen.int(o.vocabSize);
  });
  return { batch, seq, inputIds, positions: Int32Array.from(positions), labels };
}

/** Mean cross-entropy over the masked positions, and the logits [M, V] (for accuracy). */
export function mlmLoss(model: BertForMaskedLM, b: MaskedBatch): { loss: Tensor; logits: Tensor } {
  const device = model.bert.embeddings.word_embeddings.weight.device;
  const inputIds = fromArray(b.inputIds, [b.batch, b.seq], { dtype: 'int32', device });
  const positions = fromArray(b.positions, [b.positions.length], { dtype: 'int32', device });
  const labels = fromArray(b.labels, [b.labels.length], { dtype: 'int32', device });
  const { logits } = model.logitsAt({ inputIds }, positions);
  return { loss: ops.crossEntropy(logits, labels), logits };
}

/** Number of rows of logits [M, V] whose argmax equals the label (first maximum wins). */
export function countCorrect(logits: Float32Array | Float64Array, labels: Int32Array): number {
  const vocab = logits.length / labels.length;
  let correct = 0;
  for (let m = 0; m < labels.length; m++) {
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[m * vocab + v] > logits[m * vocab + best]) best = v;
    if (best === labels[m]) correct++;
  }
  return correct;
}

export interface PackedCorpusInfo {
  source: string;
  sourceSha256: string;
  documents: number;
  tokens: number;
  seqLen: number;
  sequences: number;
}

/**
 * A corpus tokenized once into a Uint16 stream (vocabularies up to 65,536 ids) and viewed as packed
 * sequences. The stream is cached beside the run (`tokens.u16` + `tokens.json`) and reused when the
 * corpus file's hash and the sequence length match.
 */
export class PackedCorpus {
  private constructor(
    readonly info: PackedCorpusInfo,
    private readonly stream: Uint16Array,
    private readonly clsId: number,
    private readonly sepId: number,
  ) {}

  static fromStream(
    stream: Uint16Array,
    seqLen: number,
    clsId: number,
    sepId: number,
    info: Omit<PackedCorpusInfo, 'tokens' | 'seqLen' | 'sequences'>,
  ): PackedCorpus {
    if (seqLen < 3) throw new Error(`PackedCorpus: seqLen must be at least 3, got ${seqLen}`);
    const sequences = Math.floor(stream.length / (seqLen - 2));
    if (sequences === 0)
      throw new Error(`${info.source}: ${stream.length} tokens is less than one sequence of ${seqLen}`);
    return new PackedCorpus({ ...info, tokens: stream.length, seqLen, sequences }, stream, clsId, sepId);
  }

  /** Tokenize a JSONL(.gz) corpus of `{"text": ...}` lines, or load the cached stream from cacheDir. */
  static async load(path: string, tokenizer: BertTokenizer, seqLen: number, cacheDir: string): Promise<PackedCorpus> {
    if (tokenizer.vocabSize > 65536)
      throw new Error(`PackedCorpus: vocabulary of ${tokenizer.vocabSize} does not fit 16-bit ids`);
    const sha = createHash('sha256').update(readFileSync(path)).digest('hex');
    const clsId = tokenizer.tokenToId(tokenizer.specialTokens.cls)!;
    const sepId = tokenizer.tokenToId(tokenizer.specialTokens.sep)!;
    const metaPath = join(cacheDir, 'tokens.json');
    const binPath = join(cacheDir, 'tokens.u16');
    if (existsSync(metaPath) && existsSync(binPath)) {
      let meta: PackedCorpusInfo;
      try {
        meta = JSON.parse(readFileSync(metaPath, 'utf8')) as PackedCorpusInfo;
      } catch (err) {
        throw new Error(
          `${metaPath}: not valid JSON (${(err as Error).message}); delete it and tokens.u16 to rebuild the cache`,
        );
      }
      if (meta.sourceSha256 === sha) {
        const bytes = readFileSync(binPath);
        if (!Number.isSafeInteger(meta.tokens) || bytes.byteLength !== meta.tokens * 2) {
          throw new Error(
            `${binPath}: ${bytes.byteLength} bytes, but ${metaPath} records ${meta.tokens} tokens (${meta.tokens * 2} bytes); delete both to rebuild the cache`,
          );
        }
        const stream = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
        return PackedCorpus.fromStream(stream, seqLen, clsId, sepId, meta);
      }
    }
    const chunks: Uint16Array[] = [];
    let documents = 0;
    let total = 0;
    for await (const row of readJsonl(path)) {
      const text = (row as { text?: unknown }).text;
      if (typeof text !== 'string') throw new Error(`${path} line ${documents + 1}: missing string field "text"`);
      const ids = tokenizer.textToIds(text);
      const chunk = new Uint16Array(ids.length + 1);
      chunk.set(ids);
      chunk[ids.length] = sepId;
      chunks.push(chunk);
      total += chunk.length;
      documents++;
    }
    const stream = new Uint16Array(total);
    let offset = 0;
    for (const c of chunks) {
      stream.set(c, offset);
      offset += c.length;
    }
    const info = { source: path, sourceSha256: sha, documents };
    const packed = PackedCorpus.fromStream(stream, seqLen, clsId, sepId, info);
    writeFileAtomic(binPath, new Uint8Array(stream.buffer));
    writeFileAtomic(metaPath, `${JSON.stringify({ ...packed.info }, null, 2)}\n`);
    return packed;
  }

  get sequences(): number {
    return this.info.sequences;
  }

  /** Write sequence `i` ([CLS] chunk [SEP], seqLen ids) into `out` at `offset`. */
  write(i: number, out: Int32Array, offset: number): void {
    const body = this.info.seqLen - 2;
    out[offset] = this.clsId;
    const start = i * body;
    for (let k = 0; k < body; k++) out[offset + 1 + k] = this.stream[start + k];
    out[offset + this.info.seqLen - 1] = this.sepId;
  }

  /** Sequences `indices` as one flat [B·S] id array. */
  batch(indices: readonly number[]): Int32Array {
    const seq = this.info.seqLen;
    const out = new Int32Array(indices.length * seq);
    indices.forEach((i, b) => this.write(i, out, b * seq));
    return out;
  }
}

/**
 * Deterministic split and order of a packed corpus: a seeded permutation holds out `valSequences`
 * sequences; each epoch visits the rest in its own seeded order, so (epoch, cursor) is a complete
 * position to resume from.
 */
export class SequenceOrder {
  readonly val: number[];
  readonly train: number[];
  private epochOrder: number[] = [];
  private orderEpoch = -1;

  constructor(
    total: number,
    valSequences: number,
    readonly seed: number,
  ) {
    if (valSequences >= total)
      throw new Error(`held-out sequences (${valSequences}) must be fewer than the corpus's ${total}`);
    const perm = new Generator(seed).shuffle([...Array(total).keys()]);
    this.val = perm.slice(0, valSequences).sort((a, b) => a - b);
    this.train = perm.slice(valSequences).sort((a, b) => a - b);
  }

  /** The training sequences of `epoch`, in that epoch's order. */
  order(epoch: number): number[] {
    if (epoch !== this.orderEpoch) {
      this.epochOrder = new Generator(mixSeed(this.seed, 0x5eed, epoch)).shuffle([...this.train]);
      this.orderEpoch = epoch;
    }
    return this.epochOrder;
  }

  /** The next `n` training sequences from (epoch, cursor), wrapping into the next epoch. */
  take(
    n: number,
    pos: { epoch: number; cursor: number },
  ): { indices: number[]; next: { epoch: number; cursor: number } } {
    const indices: number[] = [];
    let { epoch, cursor } = pos;
    while (indices.length < n) {
      const order = this.order(epoch);
      indices.push(order[cursor]);
      cursor++;
      if (cursor === order.length) {
        epoch++;
        cursor = 0;
      }
    }
    return { indices, next: { epoch, cursor } };
  }
}

/** A 32-bit seed derived from several integers (splitmix-style mixing), for per-step generators. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
  }
  return h | 0;
}
