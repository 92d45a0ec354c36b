// Round trip retrograd -> PyTorch: a checkpoint saved by retrograd must load in the PyTorch
// reference with the same outputs. Not a test (CI has no torch); run it by hand and record the result:
//
//   npx tsx scripts/torch/roundtrip.ts [OUT_DIR]
//   /usr/bin/python3 scripts/torch/gen_bert_fixture.py --check OUT_DIR/model --outputs OUT_DIR/outputs.safetensors --tol 1e-12
//
// It loads the `tiny` fixture with its MLM head, takes one AdamW step on an InfoNCE loss (so the
// saved weights are retrograd's own, not the fixture's), saves the directory, reloads it in float64
// and writes that model's outputs on the fixture batch next to it (float64, like the reference).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdamW, arange, fromArray, noGrad, ops, tidy, type Tensor } from '../../src/index.js';
import {
  int64ToInt32,
  readSafetensors,
  writeSafetensors,
  type SafetensorsTensorInput,
} from '../../src/nn/safetensors.js';
import { loadModelDir, saveModelDir } from '../../src/nn/model-dir.js';
import { meanPool, clsPool } from '../../src/nn/pooling.js';

const root = join(import.meta.dirname, '..', '..');
const out = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'retrograd-roundtrip-'));
const ref = readSafetensors(join(root, 'test', 'fixtures', 'bert', 'tiny.reference.safetensors')).tensors;
const ids = (key: string): Tensor => {
  const t = ref.get(key)!;
  return fromArray(int64ToInt32(t.data as BigInt64Array, key), t.shape, { dtype: 'int32' });
};

const start = loadModelDir(join(root, 'test', 'fixtures', 'bert', 'tiny'), { head: 'mlm' });
const mlm = start.mlm!;
const optimizer = new AdamW(mlm.parameters(), { lr: 1e-2 });
tidy(() => {
  const mask = ids('attention_mask');
  const h = mlm.bert.forward({
    inputIds: ids('input_ids'),
    attentionMask: mask,
    tokenTypeIds: ids('token_type_ids'),
  }).lastHiddenState;
  const e = meanPool(h, mask); // [6, H]
  const logits = ops.mul(ops.cosineSimilarityMatrix(e.narrow(0, 0, 3), e.narrow(0, 3, 3)), 20); // [3, 3]
  ops.crossEntropy(logits, arange(0, 3, 1, { dtype: 'int32' })).backward();
});
optimizer.step();
await saveModelDir(join(out, 'model'), mlm, { tokenizer: start.tokenizer! });

const saved = loadModelDir(join(out, 'model'), { head: 'mlm', dtype: 'float64' }).mlm!;
const arrays: Record<string, SafetensorsTensorInput> = {};
for (const key of ['input_ids', 'attention_mask', 'token_type_ids']) arrays[key] = ref.get(key)!;
noGrad(() =>
  tidy(() => {
    const mask = ids('attention_mask');
    const o = saved.forward({ inputIds: ids('input_ids'), attentionMask: mask, tokenTypeIds: ids('token_type_ids') });
    const put = (key: string, t: Tensor): void => {
      arrays[key] = { dtype: 'F64', shape: [...t.shape], data: Float64Array.from(t.toArray()) };
    };
    put('last_hidden_state', o.lastHiddenState);
    put('pooler_output', o.poolerOutput!);
    put('mlm_logits', o.logits);
    put('pooled_mean', meanPool(o.lastHiddenState, mask));
    put('pooled_cls', clsPool(o.lastHiddenState));
  }),
);
writeSafetensors(join(out, 'outputs.safetensors'), arrays);
console.log(`wrote ${join(out, 'model')} and ${join(out, 'outputs.safetensors')}; now run:`);
console.log(
  `/usr/bin/python3 scripts/torch/gen_bert_fixture.py --check ${join(out, 'model')} --outputs ${join(out, 'outputs.safetensors')} --tol 1e-12`,
);
