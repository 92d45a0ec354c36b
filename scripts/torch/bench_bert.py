"""PyTorch side of `retrograd bench bert`: the same BERT step, timed the same way, printed as JSON.

  /usr/bin/python3 scripts/torch/bench_bert.py --config mini --batch 32 --seq 128 --mode train --threads 2

train: forward (dropout on), InfoNCE on first-token embeddings (first half of the batch against the
second half, scale 20), backward, AdamW step (lr 1e-4, weight decay 0.01 on every parameter).
infer: forward without gradients in eval mode, first-token embeddings.
mlm: MLM pretraining step: 15% of positions (a fixed random set) replaced by [MASK], the head
applied to those rows only, cross-entropy, backward, AdamW (bert_ref.BertWithMLMHead, no pooler).
Inputs: random ids in [1000, vocab), full attention mask, token type 0. Warm-up steps are not timed.
The model is bert_ref.BertModel (Hugging Face names and semantics) without a pooler.
Memory (peakLiveMiB): one more step under torch.profiler with profile_memory=True; the bytes of the
tensors live at its start (parameters, gradients, AdamW state, inputs) plus the highest running sum
of the allocations and frees it records (each op's own, in time order): the peak of live tensor
bytes, as retrograd counts its storages. Allocator overhead is in neither.
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_ref as ref  # noqa: E402

COMMON = dict(vocab_size=30522, hidden_act="gelu", max_position_embeddings=512, type_vocab_size=2,
              layer_norm_eps=1e-12, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, pad_token_id=0)
PRESETS = {
    "tiny": dict(COMMON, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512),
    "mini": dict(COMMON, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "small": dict(COMMON, hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=2048),
    "base": dict(COMMON, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def tensor_bytes(t):
    return t.numel() * t.element_size()


def peak_live_bytes(step, inputs, module, optimizer):
    """Live tensor bytes at the start of one profiled step plus the peak of its allocations."""
    start = sum(tensor_bytes(t) for t in inputs)
    for p in module.parameters():
        start += tensor_bytes(p) + (tensor_bytes(p.grad) if p.grad is not None else 0)
    for state in optimizer.state.values():
        start += sum(tensor_bytes(v) for v in state.values() if torch.is_tensor(v))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(prof.profiler.function_events, key=lambda e: e.time_range.start)
    running = peak = 0
    for e in events:
        running += e.self_cpu_memory_usage
        peak = max(peak, running)
    return start + peak


def blas_library():
    """The BLAS shared library this process has mapped (Debian's torch calls whichever libblas.so.3
    the alternatives system selects: the reference implementation is ~40x slower than OpenBLAS)."""
    torch.ones(64, 64) @ torch.ones(64, 64)  # make sure the library is loaded
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.rsplit("/", 1)[-1]}
    return sorted(paths)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", choices=PRESETS, default="mini")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--mode", choices=["train", "infer", "mlm"], default="train")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = PRESETS[args.config]
    mlm = ref.BertWithMLMHead(config, add_pooling_layer=False) if args.mode == "mlm" else None
    model = mlm.bert if mlm else ref.BertModel(config, add_pooling_layer=False)
    ids = torch.randint(1000, config["vocab_size"], (args.batch, args.seq))
    mask = torch.ones(args.batch, args.seq, dtype=torch.int64)
    types = torch.zeros(args.batch, args.seq, dtype=torch.int64)
    half = args.batch // 2
    optimizer = torch.optim.AdamW((mlm or model).parameters(), lr=1e-4, weight_decay=0.01)
    selected = torch.rand(args.batch * args.seq) < 0.15
    positions = selected.nonzero().flatten()
    labels = ids.flatten()[positions]
    masked_ids = ids.flatten().clone()
    masked_ids[positions] = 103
    masked_ids = masked_ids.view(args.batch, args.seq)

    def step():
        if args.mode == "mlm":
            mlm.train()
            last, _ = model(masked_ids, mask, types)
            rows = last.reshape(-1, config["hidden_size"])[positions]
            loss = torch.nn.functional.cross_entropy(mlm.cls(rows), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss.item()
        if args.mode == "train":
            model.train()
            last, _ = model(ids, mask, types)
            e = ref.pool_cls(last)
            loss = ref.info_nce(e[:half], e[half:])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss.item()
        model.eval()
        with torch.no_grad():
            last, _ = model(ids, mask, types)
            return ref.pool_cls(last).sum().item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    peak = peak_live_bytes(step, [ids, mask, types, masked_ids], mlm or model, optimizer)
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "threads": args.threads,
        "config": args.config,
        "batch": args.batch,
        "seq": args.seq,
        "mode": args.mode,
        "steps": args.steps,
        "msPerStep": round(mean * 1000, 1),
        "msPerStepMin": round(min(times) * 1000, 1),
        "tokensPerSec": round(args.batch * args.seq / mean, 1),
        "peakLiveMiB": round(peak / 2**20, 1),
        "blas": blas_library(),
    }))


if __name__ == "__main__":
    main()
