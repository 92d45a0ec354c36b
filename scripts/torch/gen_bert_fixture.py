"""Generate the BERT parity fixtures in test/fixtures/bert/, or check a model directory against them.

  /usr/bin/python3 scripts/torch/gen_bert_fixture.py            # (re)write the fixtures
  /usr/bin/python3 scripts/torch/gen_bert_fixture.py --check DIR --outputs FILE

Fixtures (small random BERTs under exact Hugging Face names, weights stored as F32 like HF does):
  tiny/       gelu, pooler, MLM head (keys `bert.*` + `cls.predictions.*`, tied decoder omitted)
  tiny-relu/  relu, layer_norm_eps 1e-5, no pooler, no head, bare keys (`embeddings.*`)
and next to each a `<name>.reference.safetensors` (float64, computed in float64 by bert_ref.py):
inputs (a padded batch with token types), last hidden states, pooler output, CLS/mean pooled
embeddings (raw and L2-normalised), MLM logits, and for `tiny` the loss below with the gradient of
every parameter (`grad.<checkpoint key>`):
  loss = info_nce(mean[:3], mean[3:]) + info_nce(pooler[:3], pooler[3:]) + 0.5 * mlm_cross_entropy
         + 0.1 * mean(last_hidden_state ** 2)
The last term reaches padded positions too, so the padding row's gradient (nn.Embedding's
padding_idx: none) is compared as well. Dropout is off (eval mode): masks cannot match across frameworks.

--check loads DIR (config.json + model.safetensors, e.g. written by retrograd) into the reference
model and compares its outputs on FILE's inputs with FILE's expected outputs (any of
last_hidden_state, pooler_output, mlm_logits present there). Prints one JSON line; exit 1 on mismatch.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_ref as ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "bert")

BASE_CONFIG = {
    "architectures": ["BertForPreTraining"],
    "model_type": "bert",
    "vocab_size": 512,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "pad_token_id": 0,
    "initializer_range": 0.02,
}

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = "the a of and to in is was for on with as by at it an be this that from are or his her".split()


def tiny_vocab(size):
    """Specials, letters, continuation letters, a few words, then [unusedN] up to `size` lines."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = SPECIAL + letters + ["##" + c for c in letters] + list(".,!?'-") + WORDS
    tokens += [f"[unused{i}]" for i in range(size - len(tokens))]
    return tokens[:size]


def randomize(model, gen):
    """Weights large enough that attention is far from uniform and every term matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(p.shape[1]))


def make_batch(config, gen):
    """6 sequences of length 12: varied padding, sentence pairs with token type 1 on the second part."""
    lengths = [12, 9, 5, 12, 7, 3]
    batch, seq = len(lengths), 12
    ids = torch.zeros(batch, seq, dtype=torch.int64)
    mask = torch.zeros(batch, seq, dtype=torch.int64)
    types = torch.zeros(batch, seq, dtype=torch.int64)
    labels = torch.full((batch, seq), -100, dtype=torch.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(5, config["vocab_size"], (n,), generator=gen)
        ids[b, 0] = 2  # [CLS]
        ids[b, n - 1] = 3  # [SEP]
        mask[b, :n] = 1
        if n >= 7:
            types[b, n // 2 : n] = 1
        for t in range(1, n - 1):
            if torch.rand(1, generator=gen).item() < 0.3:
                labels[b, t] = torch.randint(5, config["vocab_size"], (1,), generator=gen).item()
    return ids, mask, types, labels


def outputs(model, has_head, ids, mask, types):
    if has_head:
        last, pooled, logits = model(ids, mask, types)
    else:
        (last, pooled), logits = model(ids, mask, types), None
    out = {
        "last_hidden_state": last,
        "pooled_cls": ref.pool_cls(last),
        "pooled_mean": ref.pool_mean(last, mask),
    }
    out["pooled_cls_normalized"] = torch.nn.functional.normalize(out["pooled_cls"], dim=-1)
    out["pooled_mean_normalized"] = torch.nn.functional.normalize(out["pooled_mean"], dim=-1)
    if pooled is not None:
        out["pooler_output"] = pooled
    if logits is not None:
        out["mlm_logits"] = logits
    return out


def self_check(bert, config, ids, mask, types, last):
    """The encoder must equal torch's own post-norm TransformerEncoderLayer stack (independent code)."""
    h, heads = config["hidden_size"], config["num_attention_heads"]
    act = {"gelu": "gelu", "relu": "relu"}[config["hidden_act"]]
    hidden = bert.embeddings(ids, types)
    for layer in bert.encoder.layer:
        twin = torch.nn.TransformerEncoderLayer(
            h, heads, config["intermediate_size"], dropout=0.0, activation=act,
            layer_norm_eps=config["layer_norm_eps"], batch_first=True, dtype=torch.float64,
        ).eval()
        attn, out = layer.attention, layer.output
        with torch.no_grad():
            twin.self_attn.in_proj_weight.copy_(torch.cat([attn.self.query.weight, attn.self.key.weight, attn.self.value.weight]))
            twin.self_attn.in_proj_bias.copy_(torch.cat([attn.self.query.bias, attn.self.key.bias, attn.self.value.bias]))
            twin.self_attn.out_proj.weight.copy_(attn.output.dense.weight)
            twin.self_attn.out_proj.bias.copy_(attn.output.dense.bias)
            twin.norm1.load_state_dict(attn.output.LayerNorm.state_dict())
            twin.linear1.load_state_dict(layer.intermediate.dense.state_dict())
            twin.linear2.load_state_dict(out.dense.state_dict())
            twin.norm2.load_state_dict(out.LayerNorm.state_dict())
        hidden = twin(hidden, src_key_padding_mask=mask == 0)
    err = (hidden - last).abs().max().item()
    if err > 1e-10:
        raise AssertionError(f"reference encoder differs from torch.nn.TransformerEncoderLayer by {err}")
    print(f"self-check: encoder == torch.nn.TransformerEncoderLayer stack (max diff {err:.1e})")


def build(config, has_head, has_pooler):
    if has_head:
        return ref.BertWithMLMHead(config, add_pooling_layer=has_pooler)
    return ref.BertModel(config, add_pooling_layer=has_pooler)


def write_model_dir(path, config, model):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(path, "vocab.txt"), "w") as f:
        f.write("\n".join(tiny_vocab(config["vocab_size"])) + "\n")
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": config["max_position_embeddings"]}, f, indent=2)
    arrays = {}
    for name, p in model.named_parameters():
        arrays[name] = p.detach().numpy().astype(np.float32)
    ref.save_safetensors(os.path.join(path, "model.safetensors"), arrays, {"format": "pt"})
    return arrays


def generate(name, config, has_head, has_pooler, with_grads, seed):
    gen = torch.Generator().manual_seed(seed)
    model = build(config, has_head, has_pooler)
    randomize(model, gen)
    stored = write_model_dir(os.path.join(OUT, name), config, model)

    # The float64 reference: the stored float32 weights, widened exactly.
    model64 = build(config, has_head, has_pooler).double().eval()
    ref.load_state(model64, stored, torch.float64)
    ids, mask, types, labels = make_batch(config, gen)
    out = outputs(model64, has_head, ids, mask, types)
    with torch.no_grad():
        self_check(model64.bert if has_head else model64, config, ids, mask, types, out["last_hidden_state"])
    arrays = {
        "input_ids": ids.numpy(),
        "attention_mask": mask.numpy(),
        "token_type_ids": types.numpy(),
        "mlm_labels": labels.numpy(),
    }
    if with_grads:
        mean, pooler = out["pooled_mean"], out["pooler_output"]
        loss_mean = ref.info_nce(mean[:3], mean[3:])
        loss_pooler = ref.info_nce(pooler[:3], pooler[3:])
        vocab = config["vocab_size"]
        loss_mlm = torch.nn.functional.cross_entropy(out["mlm_logits"].reshape(-1, vocab), labels.reshape(-1), ignore_index=-100)
        loss_hidden = (out["last_hidden_state"] ** 2).mean()
        loss = loss_mean + loss_pooler + 0.5 * loss_mlm + 0.1 * loss_hidden
        loss.backward()
        out.update(loss=loss, loss_mean=loss_mean, loss_pooler=loss_pooler, loss_mlm=loss_mlm, loss_hidden=loss_hidden)
        for pname, p in model64.named_parameters():
            arrays[f"grad.{pname}"] = p.grad.numpy()
    for key, value in out.items():
        arrays[key] = value.detach().numpy().astype(np.float64)
    ref.save_safetensors(os.path.join(OUT, f"{name}.reference.safetensors"), arrays)
    size = os.path.getsize(os.path.join(OUT, f"{name}.reference.safetensors"))
    print(f"wrote {name}/ and {name}.reference.safetensors ({size} bytes)")


def check(model_dir, outputs_file, tol):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    tensors, _ = ref.load_safetensors(os.path.join(model_dir, "model.safetensors"))
    has_head = "cls.predictions.bias" in tensors
    has_pooler = any(k.endswith("pooler.dense.weight") for k in tensors)
    model = build(config, has_head, has_pooler).double().eval()
    ref.load_state(model, tensors, torch.float64)
    expected, _ = ref.load_safetensors(outputs_file)
    ids, mask, types = (torch.from_numpy(expected[k].astype(np.int64)) for k in ("input_ids", "attention_mask", "token_type_ids"))
    with torch.no_grad():
        got = outputs(model, has_head, ids, mask, types)
    report, ok = {"model_dir": model_dir, "head": has_head, "pooler": has_pooler}, True
    for key in ("last_hidden_state", "pooler_output", "mlm_logits", "pooled_mean", "pooled_cls"):
        if key not in expected:
            continue
        if key not in got:
            report[key] = "missing from the loaded model"
            ok = False
            continue
        diff = np.abs(got[key].numpy() - expected[key])
        bound = tol * (1 + np.abs(expected[key]))
        report[key] = float(diff.max())
        ok = ok and bool((diff <= bound).all())
    report["ok"] = ok
    print(json.dumps(report))
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", metavar="DIR", help="model directory to check instead of generating")
    parser.add_argument("--outputs", metavar="FILE", help="inputs and expected outputs for --check")
    parser.add_argument("--tol", type=float, default=1e-5, help="|got - expected| <= tol * (1 + |expected|)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.check:
        if not args.outputs:
            parser.error("--check needs --outputs FILE")
        sys.exit(0 if check(args.check, args.outputs, args.tol) else 1)
    os.makedirs(OUT, exist_ok=True)
    generate("tiny", dict(BASE_CONFIG), has_head=True, has_pooler=True, with_grads=True, seed=1)
    relu = dict(BASE_CONFIG, hidden_act="relu", layer_norm_eps=1e-5, architectures=["BertModel"])
    generate("tiny-relu", relu, has_head=False, has_pooler=False, with_grads=False, seed=2)


if __name__ == "__main__":
    main()
