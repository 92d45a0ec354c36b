// `retrograd embed`: sentence embeddings for a JSONL file with a BERT model directory.
//
//   retrograd embed --model DIR --input in.jsonl --output out.jsonl [--pooling cls|mean]
//                   [--normalize | --no-normalize] [--max-length N] [--batch-size N] [--device D]
//
// Input lines are {"id": ..., "text": "..."} (blank lines are skipped); output lines are
// {"id": ..., "embedding": [...]} in input order. Pooling and normalisation default to what the
// directory records (sentence-transformers' modules.json / 1_Pooling), else mean pooling without
// normalisation, as sentence-transformers does for a plain Hugging Face model. Everything is
// validated before any work starts; the output is written to a temporary file and renamed at the
// end, so a failed run writes nothing. Texts are batched by token length (less padding, see
// Biencoder.encoder); each row's result does not depend on its batch. Progress goes to stderr (src/cli/progress.ts).
// A contextual model directory (src/nn/contextual.ts) takes --context-corpus FILE or --context-in
// FILE, and optionally --context-out, --context-size, --context-seed and --kind (src/cli/embed-contextual.ts).

import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { tempSibling } from '../io/atomic.js';
import { type Command, Option } from 'commander';
import { startProgress } from './progress.js';
import { initDevice } from '../tensor/device.js';
import { Biencoder } from '../nn/biencoder.js';
import { firstNonFinite } from '../train/checkpoint.js';
import { isContextualDir, type TextKind } from '../nn/contextual.js';
import { checkContextOptions, embedContextual, type ContextOptions } from './embed-contextual.js';
import type { PoolingConfig, PoolingMode } from '../nn/pooling.js';
import { integerOption, positiveIntOption } from './options.js';

export interface EmbedOptions extends ContextOptions {
  model: string;
  input: string;
  output: string;
  pooling?: PoolingMode;
  normalize?: boolean;
  maxLength?: number;
  batchSize?: number;
  device?: string;
  /** Progress on stderr: a bar on a terminal, else a line every few seconds (default true). */
  progress?: boolean;
}

export interface EmbedSummary {
  /** Contextual models: the context's size and source. */
  context?: { documents: number; source: string };
  rows: number;
  dimension: number;
  pooling: PoolingConfig;
  maxLength: number;
  device: string;
}

interface InputRow {
  id: unknown;
  text: string;
}

/** Parse the whole input first, so a malformed line fails before any work. */
function readInput(path: string): InputRow[] {
  if (!existsSync(path)) throw new Error(`input file ${path} does not exist`);
  const rows: InputRow[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: malformed JSON (${(err as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error(`${where}: expected a JSON object {"id": ..., "text": ...}`);
    const row = value as Record<string, unknown>;
    if (!('id' in row)) throw new Error(`${where}: missing "id"`);
    if (typeof row.text !== 'string') throw new Error(`${where}: "text" must be a string`);
    rows.push({ id: row.id, text: row.text });
  });
  return rows;
}

/** Shortest decimal that reads back as the same float32 (9 significant digits suffice). */
function f32(x: number): number {
  return Number(x.toPrecision(9));
}

export async function runEmbed(opts: EmbedOptions): Promise<EmbedSummary> {
  // Option values are parsed and checked by commander (registerEmbed); here only what needs files.
  const batchSize = opts.batchSize ?? 32;
  const requestedLength = opts.maxLength;
  const outDir = dirname(opts.output);
  if (!existsSync(outDir) || !statSync(outDir).isDirectory())
    throw new Error(`output directory ${outDir} does not exist`);
  if (existsSync(opts.output) && statSync(opts.output).isDirectory())
    throw new Error(`--output ${opts.output}: is a directory`);
  const contextual = isContextualDir(opts.model);
  checkContextOptions(opts, opts.model, contextual);
  if (contextual && opts.pooling !== undefined)
    throw new Error(`--pooling does not apply to the contextual model ${opts.model} (it mean-pools its text tokens)`);
  const rows = readInput(opts.input);
  const device = opts.device ?? 'cpu';
  await initDevice(device);
  if (contextual) {
    const bar = startProgress({ label: 'embed', total: rows.length, unit: 'text', enabled: opts.progress });
    let result: Awaited<ReturnType<typeof embedContextual>>;
    try {
      result = await embedContextual(
        { ...opts, device, batchSize, maxLength: requestedLength, onProgress: (done) => bar.update(done) },
        rows.map((r) => r.text),
        (path) => readInput(path).map((r) => r.text),
      );
    } finally {
      bar.finish();
    }
    writeEmbeddings(opts.output, rows, result.embeddings);
    await result.finish();
    return {
      rows: rows.length,
      dimension: result.dimension,
      pooling: { mode: 'mean', normalize: opts.normalize ?? false },
      maxLength: result.maxLength,
      device,
      context: result.context,
    };
  }

  const loaded = Biencoder.load(opts.model, { device });
  // NaN or Infinity in the weights would give embeddings of NaN, written as null.
  const bad = await firstNonFinite(loaded.model.namedParameters());
  if (bad) {
    loaded.dispose();
    throw new Error(`${opts.model}: weight ${bad.name} holds ${bad.value} at index ${bad.index}`);
  }
  const chosen: PoolingConfig = {
    mode: opts.pooling ?? loaded.pooling.mode,
    normalize: opts.normalize ?? loaded.pooling.normalize,
  };
  const bi = loaded.withPooling(chosen);
  let maxLength: number;
  try {
    maxLength = bi.lengthLimit(requestedLength);
  } catch (err) {
    bi.dispose();
    throw new Error(`--max-length: ${(err as Error).message}`);
  }

  const bar = startProgress({ label: 'embed', total: rows.length, unit: 'text', enabled: opts.progress });
  let embeddings: Float32Array[];
  try {
    embeddings = await bi.encoder(maxLength, batchSize, (done) => bar.update(done))(rows.map((r) => r.text));
  } finally {
    bar.finish();
    bi.dispose();
  }

  writeEmbeddings(opts.output, rows, embeddings);
  return { rows: rows.length, dimension: bi.dimension, pooling: chosen, maxLength, device };
}

/** Write {"id", "embedding"} lines in input order to a temporary file, then rename it into place. */
function writeEmbeddings(output: string, rows: readonly InputRow[], embeddings: readonly Float32Array[]): void {
  const tmp = tempSibling(output);
  const fd = openSync(tmp, 'wx');
  try {
    rows.forEach((row, i) => {
      writeSync(fd, `${JSON.stringify({ id: row.id, embedding: Array.from(embeddings[i], f32) })}\n`);
    });
    closeSync(fd);
    renameSync(tmp, output);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
}

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('embed the texts of a JSONL file with a BERT model directory')
    .requiredOption('--model <dir>', 'Hugging Face model directory (config.json, model.safetensors, vocab.txt)')
    .requiredOption('--input <file>', 'JSONL input, one {"id": ..., "text": ...} per line')
    .requiredOption('--output <file>', 'JSONL output, one {"id": ..., "embedding": [...]} per line')
    .addOption(
      new Option(
        '--pooling <mode>',
        "pooling of the token vectors (default: the directory's 1_Pooling config, else mean)",
      ).choices(['cls', 'mean']),
    )
    .option('--normalize', "L2-normalise the embeddings (default: the directory's setting, else off)")
    .option('--no-normalize', 'do not L2-normalise')
    .option('--max-length <n>', "truncate texts to n tokens (default: the model's limit)", positiveIntOption)
    .option('--batch-size <n>', 'texts per forward pass', positiveIntOption, 32)
    .option('--device <name>', 'cpu | cpu-ref | webgpu', 'cpu')
    .option('--context-corpus <file>', 'contextual models: JSONL documents the context is sampled from')
    .option('--context-in <file>', 'contextual models: a context saved with --context-out')
    .option('--context-out <file>', 'contextual models: save the computed context (safetensors)')
    .option('--context-size <n>', "contextual models: context documents J (default: the model's)", positiveIntOption)
    .option('--context-seed <n>', 'contextual models: seed of the context sample (default 0)', integerOption)
    .addOption(
      new Option('--kind <kind>', 'contextual models: prefix of the texts (default document)').choices([
        'query',
        'document',
      ]),
    )
    .action(
      async (o: {
        model: string;
        input: string;
        output: string;
        pooling?: PoolingMode;
        normalize?: boolean;
        maxLength?: number;
        batchSize: number;
        device: string;
        contextCorpus?: string;
        contextIn?: string;
        contextOut?: string;
        contextSize?: number;
        contextSeed?: number;
        kind?: TextKind;
      }) => {
        const summary = await runEmbed({
          model: o.model,
          input: o.input,
          output: o.output,
          pooling: o.pooling,
          normalize: o.normalize,
          maxLength: o.maxLength,
          batchSize: o.batchSize,
          device: o.device,
          contextCorpus: o.contextCorpus,
          contextIn: o.contextIn,
          contextOut: o.contextOut,
          contextSize: o.contextSize,
          contextSeed: o.contextSeed,
          kind: o.kind,
        });
        const context = summary.context
          ? `, context of ${summary.context.documents} from ${summary.context.source}`
          : '';
        process.stderr.write(
          `embedded ${summary.rows} texts (${summary.dimension} dims, ${summary.pooling.mode} pooling${summary.pooling.normalize ? ', normalized' : ''}, max length ${summary.maxLength}${context}) on ${summary.device} -> ${o.output}\n`,
        );
      },
    );
}
