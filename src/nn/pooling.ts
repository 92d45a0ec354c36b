// Sentence embeddings from token states: CLS or mask-aware mean pooling, optional L2 normalisation,
// and the sentence-transformers files that record how a model directory pools:
//   modules.json          [{"idx":0,"path":"","type":"sentence_transformers.models.Transformer"},
//                          {"idx":1,"path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
//                          {"idx":2,"path":"2_Normalize","type":"sentence_transformers.models.Normalize"}?]
//   1_Pooling/config.json {"word_embedding_dimension": H, "pooling_mode_cls_token": bool,
//                          "pooling_mode_mean_tokens": bool, ...}
// (sentence_transformers/models/Pooling.py, Normalize.py). Only CLS and mean pooling are supported;
// other modes in a config are rejected by name. Not here: the model (bert.ts), directories (model-dir.ts).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import * as ops from '../autograd/ops.js';

export type PoolingMode = 'cls' | 'mean';

export interface PoolingConfig {
  mode: PoolingMode;
  normalize: boolean;
}

/** First token: [B, S, H] -> [B, H] */
export function clsPool(hidden: Tensor): Tensor {
  const [batch, , size] = hidden.shape;
  return hidden.narrow(1, 0, 1).reshape([batch, size]); // [B, 1, H] -> [B, H]
}

/**
 * Mean over the tokens whose mask is 1, as sentence-transformers computes it:
 * Σ(h·m) / max(Σm, 1e-9). hidden [B, S, H], mask [B, S] (any dtype; absent: all tokens) -> [B, H].
 */
export function meanPool(hidden: Tensor, mask?: Tensor): Tensor {
  if (!mask) return hidden.mean(1);
  const [batch, seq] = mask.shape;
  const m = mask.cast(hidden.dtype).reshape([batch, seq, 1]); // [B, S] -> [B, S, 1]
  const total = hidden.mul(m).sum(1); // [B, H]
  const count = ops.maximum(m.sum(1), 1e-9); // [B, 1]
  return total.div(count);
}

/** Pool and optionally L2-normalise (torch.nn.functional.normalize, eps 1e-12): [B, S, H] -> [B, H]. */
export function pool(hidden: Tensor, mask: Tensor | undefined, config: PoolingConfig): Tensor {
  const pooled = config.mode === 'cls' ? clsPool(hidden) : meanPool(hidden, mask);
  return config.normalize ? ops.l2Normalize(pooled, -1) : pooled;
}

const POOLING_TYPE = 'sentence_transformers.models.Pooling';
const NORMALIZE_TYPE = 'sentence_transformers.models.Normalize';
const OTHER_MODES = [
  'pooling_mode_max_tokens',
  'pooling_mode_mean_sqrt_len_tokens',
  'pooling_mode_weightedmean_tokens',
  'pooling_mode_lasttoken',
];

interface ModuleEntry {
  idx?: number;
  name?: string;
  path?: string;
  type?: string;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${err instanceof SyntaxError ? `invalid JSON (${err.message})` : String(err)}`);
  }
}

/** Read a `1_Pooling/config.json` object into a mode; `normalize` is decided by modules.json. */
export function poolingModeFromSentenceTransformers(json: unknown, label: string): PoolingMode {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${label}: expected a JSON object`);
  const cfg = json as Record<string, unknown>;
  const enabled = [...OTHER_MODES, 'pooling_mode_cls_token', 'pooling_mode_mean_tokens'].filter((k) => cfg[k] === true);
  if (typeof cfg.pooling_mode === 'string' && enabled.length === 0) {
    const mode = cfg.pooling_mode;
    if (mode === 'cls' || mode === 'mean') return mode;
    throw new Error(`${label}: pooling_mode '${mode}' is not supported (supported: cls, mean)`);
  }
  if (enabled.length !== 1) {
    throw new Error(
      `${label}: exactly one pooling mode must be enabled, found ${enabled.length ? enabled.join(', ') : 'none'}`,
    );
  }
  if (enabled[0] === 'pooling_mode_cls_token') return 'cls';
  if (enabled[0] === 'pooling_mode_mean_tokens') return 'mean';
  throw new Error(
    `${label}: ${enabled[0]} is not supported (supported: pooling_mode_cls_token, pooling_mode_mean_tokens)`,
  );
}

/** The `1_Pooling/config.json` object sentence-transformers writes for this mode. */
export function poolingToSentenceTransformers(mode: PoolingMode, hiddenSize: number): Record<string, unknown> {
  return {
    word_embedding_dimension: hiddenSize,
    pooling_mode_cls_token: mode === 'cls',
    pooling_mode_mean_tokens: mode === 'mean',
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
    pooling_mode_weightedmean_tokens: false,
    pooling_mode_lasttoken: false,
    include_prompt: true,
  };
}

/**
 * How a model directory pools, from modules.json (or a bare 1_Pooling/config.json); null when the
 * directory records nothing (a plain Hugging Face model).
 */
export function readPoolingConfig(dir: string): PoolingConfig | null {
  const modulesPath = join(dir, 'modules.json');
  let poolingPath = join(dir, '1_Pooling', 'config.json');
  let normalize = false;
  if (existsSync(modulesPath)) {
    const modules = readJson(modulesPath);
    if (!Array.isArray(modules)) throw new Error(`${modulesPath}: expected a JSON array of modules`);
    const entries = modules as ModuleEntry[];
    const pooling = entries.find((m) => m?.type === POOLING_TYPE);
    if (!pooling) return null;
    if (typeof pooling.path !== 'string') throw new Error(`${modulesPath}: the Pooling module has no path`);
    poolingPath = join(dir, pooling.path, 'config.json');
    normalize = entries.some((m) => m?.type === NORMALIZE_TYPE);
  }
  if (!existsSync(poolingPath)) {
    if (existsSync(modulesPath)) throw new Error(`${poolingPath}: missing (named by modules.json)`);
    return null;
  }
  return { mode: poolingModeFromSentenceTransformers(readJson(poolingPath), poolingPath), normalize };
}

/**
 * What records a pooling config in a model directory: files (relative path -> JSON text) and the
 * folders to create (sentence-transformers loads the Normalize module from an empty `2_Normalize`).
 */
export function poolingFiles(
  config: PoolingConfig,
  hiddenSize: number,
): { files: Map<string, string>; dirs: string[] } {
  const modules: ModuleEntry[] = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: POOLING_TYPE },
  ];
  if (config.normalize) modules.push({ idx: 2, name: '2', path: '2_Normalize', type: NORMALIZE_TYPE });
  const files = new Map<string, string>();
  files.set('modules.json', `${JSON.stringify(modules, null, 2)}\n`);
  files.set(
    join('1_Pooling', 'config.json'),
    `${JSON.stringify(poolingToSentenceTransformers(config.mode, hiddenSize), null, 2)}\n`,
  );
  return { files, dirs: config.normalize ? ['1_Pooling', '2_Normalize'] : ['1_Pooling'] };
}
