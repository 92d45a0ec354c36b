// retrograd: the public API. Tensors and devices (src/tensor), autodiff and ops (src/autograd),
// modules and models (src/nn), training, losses and evaluation (src/train).

export * from './tensor/backend.js';
export {
  Tensor,
  tensor,
  fromArray,
  empty,
  full,
  zeros,
  ones,
  scalar,
  arange,
  rand,
  randn,
  randint,
} from './tensor/tensor.js';
export type { Shape, NestedArray, TensorOptions } from './tensor/tensor.js';
export {
  registerDevice,
  getDevice,
  initDevice,
  setDefaultDevice,
  getDefaultDevice,
  knownDevices,
} from './tensor/device.js';
export {
  tidy,
  tidyLocal,
  consume,
  keep,
  liveStorages,
  liveBytes,
  peakLiveBytes,
  resetPeakLiveBytes,
} from './tensor/memory.js';
export { Generator, manualSeed, defaultGenerator } from './tensor/random.js';
export { RefBackend } from './tensor/backends/ref.js';
export { CpuBackend } from './tensor/backends/cpu/index.js';
export * as ops from './autograd/ops.js';
export { noGrad, grad, backward, isGradEnabled } from './autograd/engine.js';
export type { Node } from './autograd/engine.js';
export { Module, Linear, LayerNorm, Embedding, Dropout } from './nn/module.js';
export type { InitOptions } from './nn/module.js';
export { AdamW, SGD, decayGroups } from './train/optim.js';
export type { ParamGroup, AdamWOptions } from './train/optim.js';
export { BertModel, BertForMaskedLM, BERT_PRESETS, checkBertConfig } from './nn/bert.js';
export type { BertConfig, BertInputs, BertOutputs, BertPreset } from './nn/bert.js';
export { clsPool, meanPool, pool } from './nn/pooling.js';
export type { PoolingConfig, PoolingMode } from './nn/pooling.js';
export { loadModelDir, saveModelDir, ModelDirError } from './nn/model-dir.js';
export { BertTokenizer } from './nn/tokenizer.js';
export {
  readSafetensors,
  writeSafetensors,
  parseSafetensors,
  serializeSafetensors,
  SafetensorsError,
} from './nn/safetensors.js';
export { infoNCE } from './train/losses.js';
export {
  ContextualModel,
  CONTEXTUAL_DEFAULTS,
  isContextualDir,
  sampleContext,
  saveContext,
  loadContext,
} from './nn/contextual.js';
export type { ContextualConfig, TextKind } from './nn/contextual.js';
