// `retrograd embed` for contextual model directories (src/nn/contextual.ts): the two-stage path of
// src/cli/embed.ts.
//
//   retrograd embed --model CDE_DIR --input in.jsonl --output out.jsonl
//                   (--context-corpus corpus.jsonl [--context-size J] [--context-seed 0] [--context-out ctx.safetensors]
//                    | --context-in ctx.safetensors) [--kind query|document] [--normalize]
//
// The context is J documents of the context corpus (same JSONL as --input), sampled with a seed
// (with replacement when the corpus has fewer than J), run once through the first stage; --context-out
// keeps it as a safetensors file that --context-in reuses. Texts get the query or document prefix
// (--kind, default document). Every option is checked before any work, and files are written only
// once everything succeeded.

import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { ContextualModel, loadContext, sampleContext, saveContext, type TextKind } from '../nn/contextual.js';

export interface ContextOptions {
  /** JSONL {"id", "text"} documents the context is sampled from. */
  contextCorpus?: string;
  /** A context saved by --context-out. */
  contextIn?: string;
  /** Write the computed context here. */
  contextOut?: string;
  /** J (default: the model's context_size). */
  contextSize?: number;
  /** Seed of the context sample (default 0). */
  contextSeed?: number;
  /** Prefix of the embedded texts (default 'document'). */
  kind?: TextKind;
}

const FLAGS: [keyof ContextOptions, string][] = [
  ['contextCorpus', '--context-corpus'],
  ['contextIn', '--context-in'],
  ['contextOut', '--context-out'],
  ['contextSize', '--context-size'],
  ['contextSeed', '--context-seed'],
  ['kind', '--kind'],
];

/**
 * Check the context options against the kind of model directory and the files they name (before any
 * work; their values are parsed by commander where `retrograd embed` declares them).
 */
export function checkContextOptions(o: ContextOptions, model: string, contextual: boolean): void {
  if (!contextual) {
    const given = FLAGS.find(([key]) => o[key] !== undefined);
    if (given)
      throw new Error(
        `${model} is not a contextual model directory (its config.json has no model_type 'retrograd-contextual'); ${given[1]} needs one`,
      );
    return;
  }
  if ((o.contextCorpus === undefined) === (o.contextIn === undefined)) {
    throw new Error(`${model} is a contextual model: give exactly one of --context-corpus FILE or --context-in FILE`);
  }
  if (
    o.contextIn !== undefined &&
    (o.contextOut !== undefined || o.contextSize !== undefined || o.contextSeed !== undefined)
  ) {
    throw new Error(
      '--context-in reuses a saved context: --context-out, --context-size and --context-seed apply only with --context-corpus',
    );
  }
  for (const [path, flag] of [
    [o.contextCorpus, '--context-corpus'],
    [o.contextIn, '--context-in'],
  ] as const) {
    if (path !== undefined && !(existsSync(path) && statSync(path).isFile()))
      throw new Error(`${flag}: ${path} does not exist`);
  }
  if (o.contextOut !== undefined) {
    const dir = dirname(o.contextOut);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new Error(`--context-out: directory ${dir} does not exist`);
  }
}

export interface ContextualEmbedding {
  embeddings: Float32Array[];
  dimension: number;
  maxLength: number;
  /** Context vectors used, and where they came from. */
  context: { documents: number; source: string };
  /** Write --context-out (call once the embeddings are safely written, or before; idempotent). */
  finish: () => Promise<void>;
}

/**
 * Embed `texts` with a contextual model. `readTexts` parses a JSONL file of {"id", "text"} lines
 * (embed.ts's reader, so both files follow one format). The caller writes the output, then calls
 * `finish` to write --context-out.
 */
export async function embedContextual(
  o: ContextOptions & {
    model: string;
    device: string;
    batchSize: number;
    maxLength?: number;
    normalize?: boolean;
    onProgress?: (done: number) => void;
  },
  texts: string[],
  readTexts: (path: string) => string[],
): Promise<ContextualEmbedding> {
  const corpus = o.contextCorpus !== undefined ? readTexts(o.contextCorpus) : null;
  if (corpus && corpus.length === 0) throw new Error(`--context-corpus: ${o.contextCorpus} holds no documents`);
  const model = ContextualModel.load(o.model, { device: o.device });
  let ctx: Tensor | null = null;
  try {
    let maxLength: number;
    try {
      maxLength = model.lengthLimit('second', o.maxLength);
      if (corpus) model.lengthLimit('first', o.maxLength);
    } catch (err) {
      throw new Error(`--max-length: ${(err as Error).message}`);
    }
    if (corpus) {
      const docs = sampleContext(corpus, o.contextSize ?? model.config.context_size, o.contextSeed ?? 0);
      ctx = model.computeContext(docs, { maxLength: o.maxLength, batchSize: o.batchSize });
    } else {
      ctx = loadContext(o.contextIn!, model);
    }
    let embeddings = await model.encoder(ctx, o.kind ?? 'document', maxLength, o.batchSize, o.onProgress)(texts);
    const dimension = model.dimension;
    if (o.normalize) {
      // torch.nn.functional.normalize: x / max(‖x‖, 1e-12)
      embeddings = embeddings.map((row) => {
        const norm = Math.max(Math.sqrt(row.reduce((sum, x) => sum + x * x, 0)), 1e-12);
        return row.map((x) => x / norm);
      });
    }
    const context = {
      documents: ctx.shape[0],
      source: corpus ? `${o.contextCorpus} (seed ${o.contextSeed ?? 0})` : o.contextIn!,
    };
    const keepCtx = ctx;
    ctx = null;
    const finish = async (): Promise<void> => {
      try {
        if (o.contextOut !== undefined) await saveContext(o.contextOut, keepCtx);
      } finally {
        keepCtx.dispose();
      }
    };
    return { embeddings, dimension, maxLength, context, finish };
  } finally {
    ctx?.dispose();
    model.dispose();
  }
}
