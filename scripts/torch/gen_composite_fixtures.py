#!/usr/bin/python3
"""PyTorch reference fixtures for retrograd's composite functions.

Writes one small JSON file per case under test/fixtures/composite/, read by
test/torch-fixtures.test.ts. It is a generator, not a test: the JSON it writes is committed, so the
test suite never needs torch.

Run with Debian's python3-torch (it lives under /usr/bin/python3, not the python3 first on PATH):

    /usr/bin/python3 scripts/torch/gen_composite_fixtures.py

Each case holds:
  inputs    every input, drawn in float64 from a fixed seed and rounded to float32, so the float32
            and float64 computations start from the same values (integer labels stay integers);
  upstream  a fixed, non-uniform gradient of each output (a scalar 0.7 for scalar losses);
  float64 / float32: the forward outputs, the gradient of sum(output * upstream) w.r.t. every
            differentiable input, and per-dtype constants (the attention mask value).
Numbers are Python floats (repr: the shortest text that round-trips float64 exactly); float32
results are widened to float64 first, so they are exact too.
"""

import json
import math
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'composite')
SEED = 20261125
DTYPES = {'float64': torch.float64, 'float32': torch.float32}

gen = torch.Generator().manual_seed(SEED)


def randn(*shape, scale=1.0):
    """Seeded normal values in float64, rounded to float32 (exactly representable in both)."""
    x = torch.randn(*shape, generator=gen, dtype=torch.float64) * scale
    return x.float().double()


def as_f32_exact(t):
    return t.float().double() if t.is_floating_point() else t


def encode(t):
    t = t.detach()
    if t.is_floating_point():
        return {'shape': list(t.shape), 'dtype': 'float', 'data': [float(v) for v in t.double().flatten().tolist()]}
    return {'shape': list(t.shape), 'dtype': 'int', 'data': [int(v) for v in t.flatten().tolist()]}


def run(name, inputs, differentiable, fn, upstream, constants=None):
    """
    inputs: name -> float64 tensor (or int64 labels); differentiable: names of inputs to
    differentiate; fn(dtype, **inputs) -> dict of outputs; upstream: output name -> float64 tensor.
    Float inputs and upstream gradients are rounded to float32 here, so both dtypes see the same values.
    """
    inputs = {k: as_f32_exact(v) for k, v in inputs.items()}
    upstream = {k: as_f32_exact(v) for k, v in upstream.items()}
    case = {
        'case': name,
        'torch': torch.__version__,
        'generator': 'scripts/torch/gen_composite_fixtures.py',
        'seed': SEED,
        'constants': constants or {},
        'inputs': {k: encode(v) for k, v in inputs.items()},
        'differentiable': list(differentiable),
        'upstream': {k: encode(v) for k, v in upstream.items()},
    }
    for dname, dtype in DTYPES.items():
        xs = {}
        for k, v in inputs.items():
            if v.is_floating_point():
                xs[k] = v.to(dtype).clone().requires_grad_(k in differentiable)
            else:
                xs[k] = v.clone()
        outs, extra = fn(dtype, **xs)
        # d/d(inputs) of sum_o <output_o, upstream_o>: one backward for every output together.
        total = sum((outs[k] * upstream[k].to(dtype)).sum() for k in upstream)
        grads = torch.autograd.grad(total, [xs[k] for k in differentiable])
        for k, g in zip(differentiable, grads):
            if not torch.isfinite(g).all():
                sys.exit(f'{name}/{dname}: non-finite gradient for {k}')
        case[dname] = {
            'constants': extra,
            'outputs': {k: encode(v) for k, v in outs.items()},
            'grads': {k: encode(g) for k, g in zip(differentiable, grads)},
        }
    path = os.path.join(OUT_DIR, f'{name}.json')
    with open(path, 'w') as f:
        json.dump(case, f, separators=(',', ':'), allow_nan=False)
        f.write('\n')
    print(f'{os.path.relpath(path)}: {os.path.getsize(path)} bytes')


SCALAR_UPSTREAM = torch.tensor(0.7, dtype=torch.float64)


def cross_entropy_cases():
    # Hard labels, two rows ignored (-100), one row of large logits (stability).
    logits = randn(6, 5, scale=2.0)
    logits[3] = randn(5, scale=30.0)
    labels = torch.tensor([1, -100, 4, 0, -100, 2])

    def hard(dtype, logits, labels):
        mean = F.cross_entropy(logits, labels, ignore_index=-100, reduction='mean')
        rows = F.cross_entropy(logits, labels, ignore_index=-100, reduction='none')
        return {'loss': mean, 'rows': rows}, {}

    run('cross_entropy_hard', {'logits': logits, 'labels': labels}, ['logits'], hard,
        {'loss': SCALAR_UPSTREAM, 'rows': randn(6)}, {'ignore_index': -100})

    # Soft labels: each target row is a probability distribution; gradients w.r.t. both.
    logits = randn(4, 5, scale=2.0)
    target = torch.softmax(randn(4, 5, scale=1.5), dim=-1).float().double()

    def soft(dtype, logits, target):
        return {'loss': F.cross_entropy(logits, target, reduction='mean')}, {}

    run('cross_entropy_soft', {'logits': logits, 'target': target}, ['logits', 'target'], soft,
        {'loss': SCALAR_UPSTREAM})


def softmax_cases():
    # Rows: ordinary, shifted by +500, shifted by -500, nearly flat.
    x = randn(4, 7, scale=2.0)
    x[1] += 500.0
    x[2] -= 500.0
    x[3] = randn(7, scale=1e-3)

    def log_softmax(dtype, x):
        return {'y': F.log_softmax(x, dim=-1)}, {}

    run('log_softmax', {'x': x}, ['x'], log_softmax, {'y': randn(4, 7)})

    # Softmax over a middle axis of a 3-d tensor.
    x3 = randn(2, 3, 4, scale=2.0)

    def softmax_dim1(dtype, x):
        return {'y': torch.softmax(x, dim=1)}, {}

    run('softmax_dim1', {'x': x3}, ['x'], softmax_dim1, {'y': randn(2, 3, 4)})


def layer_norm_cases():
    # [2, 3, 8]; one row has a spread of 1e-3, where eps 1e-5 visibly matters and 1e-12 does not.
    x = randn(2, 3, 8, scale=1.5)
    x[0, 1] = randn(8, scale=1e-3)
    x[1, 2] += 3.0
    w = 1.0 + randn(8, scale=0.3)
    b = randn(8, scale=0.3)
    g = randn(2, 3, 8)
    for eps, tag in ((1e-12, '1e-12'), (1e-5, '1e-5')):
        def layer_norm(dtype, x, w, b, eps=eps):
            return {'y': F.layer_norm(x, (8,), w, b, eps)}, {}

        run(f'layer_norm_eps{tag}', {'x': x, 'w': w, 'b': b}, ['x', 'w', 'b'], layer_norm, {'y': g},
            {'eps': eps})


def gelu_cases():
    special = torch.tensor([-10.0, -6.0, -3.0, -1.0, -1e-3, -1e-8, 0.0, 1e-8, 1e-3, 0.5, 1.0, 3.0, 6.0, 10.0],
                           dtype=torch.float64).float().double()
    x = torch.cat([special, randn(18, scale=2.0)])  # [32]

    def gelu(dtype, x):
        return {'y': F.gelu(x)}, {}  # exact erf form (approximate='none')

    run('gelu', {'x': x}, ['x'], gelu, {'y': randn(32)})


def attention_cases():
    B, T, H, NH = 2, 5, 8, 2
    D = H // NH
    x = randn(B, T, H)
    params = {}
    for p in ('q', 'k', 'v', 'o'):
        params[f'{p}_w'] = randn(H, H, scale=0.35)  # Linear layout [out, in]
        params[f'{p}_b'] = randn(H, scale=0.1)
    params['ln_w'] = 1.0 + randn(H, scale=0.2)
    params['ln_b'] = randn(H, scale=0.1)
    # 1 = token, 0 = padding; sequence 1 has two padded positions.
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.float64)

    def attention(dtype, x, mask, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln_w, ln_b):
        neg = torch.finfo(dtype).min

        def heads(t):
            return t.view(B, T, NH, D).permute(0, 2, 1, 3)  # [B, T, H] -> [B, T, NH, D] -> [B, NH, T, D]

        q = heads(F.linear(x, q_w, q_b))
        k = heads(F.linear(x, k_w, k_b))
        v = heads(F.linear(x, v_w, v_b))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D)  # [B, NH, T, T]
        bias = (1.0 - mask.to(dtype))[:, None, None, :] * neg  # [B, T] -> [B, 1, 1, T]
        probs = torch.softmax(scores + bias, dim=-1)  # [B, NH, T, T]
        context = (probs @ v).permute(0, 2, 1, 3).reshape(B, T, H)  # [B, NH, T, D] -> [B, T, NH, D] -> [B, T, H]
        out = F.layer_norm(F.linear(context, o_w, o_b) + x, (H,), ln_w, ln_b, 1e-12)
        return {'out': out, 'probs': probs}, {'mask_value': neg}

    inputs = {'x': x, 'mask': mask, **params}
    differentiable = ['x', *params.keys()]
    run('attention_block', inputs, differentiable, attention,
        {'out': randn(B, T, H), 'probs': randn(B, NH, T, T)},
        {'batch': B, 'seq': T, 'hidden': H, 'heads': NH, 'layer_norm_eps': 1e-12})


def similarity_cases():
    N, H = 4, 6
    a = randn(N, H)
    b = randn(N, H)
    a[2] *= 1e-3  # a short row: normalisation must still give a unit vector
    tau = 0.05

    def cosine_matrix(dtype, a, b):
        s = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T  # [N, N]
        return {'s': s}, {}

    run('cosine_matrix', {'a': a, 'b': b}, ['a', 'b'], cosine_matrix, {'s': randn(N, N)})

    def info_nce(dtype, a, b):
        s = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T  # [N, N]
        loss = F.cross_entropy(s / tau, torch.arange(N))
        return {'loss': loss}, {}

    run('info_nce', {'a': a, 'b': b}, ['a', 'b'], info_nce, {'loss': SCALAR_UPSTREAM}, {'tau': tau})


def pairwise_cos(a, b):
    """S[i, j] = cos(a_i, b_j) for [B, H] rows (torchmetrics' pairwise_cosine_similarity, no zeroed diagonal)."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


SDAM_ERRORS = {
    'l2': lambda e: e.square(),
    'l1': lambda e: e.abs(),
    'soft': lambda e: torch.log1p(torch.exp(-e)),
}


def sdam_reference(q, p, n, target, in_batch, margin_mode, error, detach):
    """SDAM as in the paper's released loss (webis-de/adaptive-relevance-margin-loss, src/loss.py),
    re-derived here, plus the row-wise in-batch margin and the detached-target switch."""
    s_qp, s_qn, s_pn = pairwise_cos(q, p), pairwise_cos(q, n), pairwise_cos(p, n)  # [B, B] each
    if in_batch and margin_mode == 'rowwise':
        margin = s_qp.diag()[:, None] - s_qn      # M[i, j] = s(q_i, p_i) - s(q_i, n_j)
    elif in_batch:
        margin = s_qp.diag() - s_qn               # broadcast: M[i, j] = s(q_j, p_j) - s(q_i, n_j)
    else:
        margin = s_qp.diag() - s_qn.diag()        # [B]
    if isinstance(target, float):
        t = torch.tensor(target, dtype=q.dtype)
    elif target == 'adaptive' and not in_batch:
        t = s_pn.diag() / 2 + 0.5                 # [B]
    else:
        t = s_pn / 2 + 0.5                        # [B, B]
    if detach:
        t = t.detach()
    e = margin - t                                # distributed: [B] - [B, B] -> E[i, j] = m_j - T[i, j]
    return SDAM_ERRORS[error](e).mean(), e


def loss_cases():
    B, H = 5, 8
    q, p = randn(B, H), randn(B, H)
    n = p + 0.6 * randn(B, H)  # negatives resembling their positives, so s(p, n) spans a range
    q[1] *= 1e-3
    variants = [
        ('sdam_adaptive_l2', 'adaptive', False, 'rowwise', 'l2', False),
        ('sdam_adaptive_l1', 'adaptive', False, 'rowwise', 'l1', False),
        ('sdam_adaptive_soft', 'adaptive', False, 'rowwise', 'soft', False),
        ('sdam_adaptive_l2_detached', 'adaptive', False, 'rowwise', 'l2', True),
        ('sdam_static_l2', 0.3, False, 'rowwise', 'l2', False),
        ('sdam_distributed_l2', 'distributed', False, 'rowwise', 'l2', False),
        ('sdam_distributed_soft', 'distributed', False, 'rowwise', 'soft', False),
        ('sdam_inbatch_rowwise_l2', 'adaptive', True, 'rowwise', 'l2', False),
        ('sdam_inbatch_released_l2', 'adaptive', True, 'as-released', 'l2', False),
        ('sdam_inbatch_rowwise_soft', 'adaptive', True, 'rowwise', 'soft', False),
        ('sdam_inbatch_static_l1', 0.2, True, 'rowwise', 'l1', False),
        ('sdam_inbatch_released_l2_detached', 'adaptive', True, 'as-released', 'l2', True),
    ]
    for name, target, in_batch, mode, error, detach in variants:
        def sdam(dtype, q, p, n, target=target, in_batch=in_batch, mode=mode, error=error, detach=detach):
            loss, e = sdam_reference(q, p, n, target, in_batch, mode, error, detach)
            return {'loss': loss, 'error': e}, {}

        e_shape = (B,) if not in_batch and target != 'distributed' else (B, B)
        constants = {'target': target if isinstance(target, float) else {'adaptive': -1.0, 'distributed': -2.0}[target]}
        run(name, {'q': q, 'p': p, 'n': n}, ['q', 'p', 'n'], sdam,
            {'loss': SCALAR_UPSTREAM, 'error': randn(*e_shape)}, constants)

    t_pos, t_neg = randn(B, scale=0.3), randn(B, scale=0.3)

    def margin_mse(dtype, q, p, n, t_pos, t_neg):
        student = pairwise_cos(q, p).diag() - pairwise_cos(q, n).diag()  # [B]
        return {'loss': F.mse_loss(student, t_pos - t_neg)}, {}

    run('margin_mse', {'q': q, 'p': p, 'n': n, 't_pos': t_pos, 't_neg': t_neg}, ['q', 'p', 'n'], margin_mse,
        {'loss': SCALAR_UPSTREAM})

    tau = 0.05

    def info_nce_negatives(dtype, q, p, n):
        s = torch.cat([pairwise_cos(q, p), pairwise_cos(q, n)], dim=1)  # [B, 2B]
        return {'loss': F.cross_entropy(s / tau, torch.arange(B))}, {}

    run('info_nce_negatives', {'q': q, 'p': p, 'n': n}, ['q', 'p', 'n'], info_nce_negatives,
        {'loss': SCALAR_UPSTREAM}, {'tau': tau})


def masked_loss_cases():
    """In-batch losses with cells left out (duplicates of the gold, filtered false negatives):
    InfoNCE excludes them from the softmax (-inf here, independent of retrograd's -1e10 offset),
    in-batch SDAM averages its error over the kept cells only."""
    B, H = 5, 8
    q, p = randn(B, H), randn(B, H)
    n = p + 0.6 * randn(B, H)
    tau = 0.05
    # [B, 2B] over [p | n]: no diagonal (gold) cell; row 2 keeps only its gold and own negative.
    mask = torch.zeros(B, 2 * B, dtype=torch.int64)
    for i, j in [(0, 1), (0, 7), (1, 0), (2, 0), (2, 1), (2, 3), (2, 4), (2, 5), (2, 6), (2, 8), (2, 9), (3, 9), (4, 2)]:
        mask[i, j] = 1

    def info_nce_masked(dtype, q, p, n, mask):
        s = torch.cat([pairwise_cos(q, p), pairwise_cos(q, n)], dim=1)  # [B, 2B]
        logits = (s / tau).masked_fill(mask.bool(), float('-inf'))
        return {'loss': F.cross_entropy(logits, torch.arange(B))}, {}

    run('info_nce_masked', {'q': q, 'p': p, 'n': n, 'mask': mask}, ['q', 'p', 'n'], info_nce_masked,
        {'loss': SCALAR_UPSTREAM}, {'tau': tau})

    # [B, B] (query i, negative j) cells of in-batch SDAM; the diagonal (own negative) stays.
    cells = torch.zeros(B, B, dtype=torch.int64)
    for i, j in [(0, 3), (1, 0), (1, 4), (3, 1), (4, 0), (4, 1), (4, 2)]:
        cells[i, j] = 1

    def sdam_masked(dtype, q, p, n, mask):
        _, e = sdam_reference(q, p, n, 'adaptive', True, 'rowwise', 'l2', False)  # [B, B]
        keep = 1 - mask.to(dtype)
        return {'loss': (SDAM_ERRORS['l2'](e) * keep).sum() / keep.sum(), 'error': e}, {}

    run('sdam_inbatch_rowwise_l2_masked', {'q': q, 'p': p, 'n': n, 'mask': cells}, ['q', 'p', 'n'], sdam_masked,
        {'loss': SCALAR_UPSTREAM, 'error': randn(B, B)}, {'target': -1.0})


def debian_torch_version():
    try:
        return subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'python3-torch'],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def write_readme():
    text = f"""# PyTorch reference fixtures for composite functions

Generated by `scripts/torch/gen_composite_fixtures.py` with PyTorch {torch.__version__} (Debian
package `python3-torch` {debian_torch_version()}), seed {SEED}, on the CPU; read by
`test/torch-fixtures.test.ts`, which needs no torch.
Regenerate (overwrites every file here) with:

    /usr/bin/python3 scripts/torch/gen_composite_fixtures.py

Each `<case>.json` holds the inputs (float32-representable float64 values, integer labels), the fixed
upstream gradient of each output, and for `float64` and `float32` the forward outputs and the
gradient of every differentiable input. Cases: softmax cross-entropy with hard labels
(ignore_index -100, mean and per-row) and soft labels, log-softmax, softmax over a middle axis,
layer norm (eps 1e-12 and 1e-5, affine), exact erf GELU, a BERT-style attention block (Q/K/V
projections, 2 heads, additive padding mask, softmax, context, output projection, residual,
LayerNorm), a cosine-similarity matrix of L2-normalised rows, InfoNCE (also with each triple's own
negative), Margin-MSE, and SDAM losses (per-triple, distributed and in-batch margins; static and
adaptive targets; l2, l1 and soft errors; detached targets), and the in-batch losses with masked
cells (InfoNCE with -inf logits, in-batch SDAM averaged over the kept cells).
"""
    with open(os.path.join(OUT_DIR, 'README.md'), 'w') as f:
        f.write(text)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    cross_entropy_cases()
    softmax_cases()
    layer_norm_cases()
    gelu_cases()
    attention_cases()
    similarity_cases()
    loss_cases()
    masked_loss_cases()
    write_readme()


if __name__ == '__main__':
    main()
