// A guided tour of retrograd, layer by layer. Run it: `npx tsx examples/tour.ts`.
// It executes in the test suite (test/examples.test.ts), so every claim printed here is checked
// code, not prose. Later layers (SDAM) extend it.

import {
  tensor,
  randn,
  ops,
  getDevice,
  tidy,
  liveStorages,
  Generator,
  Linear,
  AdamW,
  type RefBackend,
  type CpuBackend,
  BertTokenizer,
  BertModel,
  BERT_PRESETS,
  meanPool,
} from '../src/index.js';
import { ContextualModel, CONTEXTUAL_DEFAULTS } from '../src/nn/contextual.js';

const say = (...args: unknown[]): void => console.log(...args);

// ---- 1. A tensor is a strided view of a device buffer -------------------------------------------
say('\n== 1. tensors ==');
const a = tensor([
  [1, 2, 3],
  [4, 5, 6],
]);
say('a =', a.toString(), 'strides', a.strides, '->', a.tolist());
const at = a.T; // a transposed view: no copy, just swapped strides
say('a.T shares storage:', at.storage === a.storage, 'strides', at.strides, '->', at.tolist());

// ---- 2. An op runs a primitive kernel on the tensor's device -------------------------------------
say('\n== 2. ops and kernels ==');
const c = a.matmul(at); // [2,3]·[3,2] -> [2,2]; the kernel reads a.T through its strides
const cpu = getDevice('cpu') as CpuBackend;
say(`a·aᵀ on device '${a.device}' =`, c.tolist(), 'computed by kernel', cpu.lastKernel);
// The same op on the plain-TypeScript reference backend, which every kernel is tested against:
const ref = getDevice('cpu-ref') as RefBackend;
const cRef = a.to('cpu-ref').matmul(at.to('cpu-ref'));
say(`on 'cpu-ref' =`, cRef.tolist(), 'reference matmul launches:', ref.kernelCounts.get('matmul'));

// ---- 3. Reverse-mode autodiff --------------------------------------------------------------------
say('\n== 3. gradients ==');
const x = tensor([0.5, -1, 2], { requiresGrad: true, dtype: 'float64' });
const y = x.mul(x).sum(); // y = Σ x², so dy/dx = 2x
y.backward();
say('x =', x.tolist(), ' y = Σx² =', y.item(), ' dy/dx =', x.grad!.tolist());
say(
  'graph: y was made by',
  y.node!.name,
  '<-',
  y.node!.inputs.map((t) => t.node?.name ?? 'leaf'),
);

// ---- 4. A training step, and the memory model ----------------------------------------------------
say('\n== 4. a training step ==');
const gen = new Generator(0);
const layer = new Linear(4, 3, { generator: gen });
const opt = new AdamW(layer.parameters(), { lr: 0.1 });
const inputs = randn([8, 4], { generator: gen });
const labels = tensor([0, 1, 2, 0, 1, 2, 0, 1], { dtype: 'int32' });
for (let step = 0; step < 5; step++) {
  const loss = tidy(() => {
    opt.zeroGrad();
    const l = ops.crossEntropy(layer.forward(inputs), labels);
    l.backward();
    opt.step();
    return l.item(); // everything created inside tidy is freed here, except parameters and grads
  });
  say(`step ${step}: loss ${loss.toFixed(4)}  live buffers ${liveStorages()}`);
}

// ---- 5. BERT: text -> WordPiece ids -> encoder -> pooled embedding --------------------------------
say('\n== 5. a BERT encoder ==');
const tokenizer = BertTokenizer.fromVocabFile(
  new URL('../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname,
);
const batch = tokenizer.encodeBatch(['Tensors flow backwards.', 'Retrieval with dense vectors!']);
say('pieces:', tokenizer.tokenize('Tensors flow backwards.').join(' '));
// A small random BERT (no pretrained weights here): module names equal Hugging Face checkpoint keys.
const bert = new BertModel({ ...BERT_PRESETS.mini, num_hidden_layers: 2 }, { generator: new Generator(1) }).eval();
say(
  'first parameters:',
  [...bert.namedParameters()]
    .slice(0, 3)
    .map(([name]) => name)
    .join(', '),
);
const shape = [batch.batchSize, batch.seqLen]; // flat Int32Array -> [B, S]
const emb = tidy(() => {
  const out = bert.forward({
    inputIds: tensor(batch.inputIds, { shape }),
    attentionMask: tensor(batch.attentionMask, { shape }),
    tokenTypeIds: tensor(batch.tokenTypeIds, { shape }),
  });
  const pooled = ops.l2Normalize(meanPool(out.lastHiddenState, tensor(batch.attentionMask, { shape }))); // [B, H]
  return pooled;
});
say(
  'embeddings',
  emb.shape,
  ' cosine of the two texts:',
  ops
    .cosineSimilarity(emb.narrow(0, 0, 1), emb.narrow(0, 1, 1))
    .item()
    .toFixed(4),
);

// ---- 6. CDE: a two-stage contextual embedder --------------------------------------------------
say('\n== 6. contextual document embeddings (CDE) ==');
// The first stage (a BERT, mean pooling, an MLP) turns J documents of the target corpus into J
// "dataset embeddings". The second stage (another BERT) reads [J dataset embeddings | 8 soft-prompt
// vectors | the text's token embeddings]; the prefix has no positions and the text is pooled alone,
// so one text embeds differently in different corpora. Tiny random BERTs here (src/nn/contextual.ts).
const tinyConfig = {
  ...BERT_PRESETS.tiny,
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 64,
  initializer_range: 0.2,
};
const cde = new ContextualModel(
  { ...CONTEXTUAL_DEFAULTS, context_size: 4 },
  new BertModel(tinyConfig, { generator: new Generator(2) }),
  new BertModel(tinyConfig, { generator: new Generator(3) }),
  tokenizer,
  tokenizer,
  { generator: new Generator(4) },
).eval();
const ctxPackages = cde.computeContext([
  'debian package tools',
  'python library for json',
  'perl module docs',
  'git reference',
]);
const ctxMedia = cde.computeContext(['fonts for the desktop', 'audio codecs', 'an image viewer', 'a music player']);
say('context of a corpus (first stage, computed once):', ctxPackages.shape);
const query = 'parse json in python';
const queryTokens = cde.tokenize('second', [query], 'query', 64)[0].inputIds.length;
say(
  `second stage reads ${ctxPackages.shape[0]} context + ${cde.config.prompt_length} prompt + ${queryTokens} text positions ("search_query: " prefixed)`,
);
const [inPackages] = await cde.encoder(ctxPackages, 'query', 64)([query]);
const [inMedia] = await cde.encoder(ctxMedia, 'query', 64)([query]);
const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const cosContexts = inPackages.reduce((s, x, i) => s + x * inMedia[i], 0) / (norm(inPackages) * norm(inMedia));
say(
  'the query in two corpora: dims',
  inPackages.length,
  ' cosine',
  cosContexts.toFixed(6),
  '(below 1: the context changes the embedding; training decides how much)',
);
ctxPackages.dispose();
ctxMedia.dispose();
