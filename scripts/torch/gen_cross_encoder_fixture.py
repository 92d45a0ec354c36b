"""Generate the cross-encoder parity fixture in test/fixtures/cross-encoder/, or check a directory.

  /usr/bin/python3 scripts/torch/gen_cross_encoder_fixture.py        # (re)write the fixture
  /usr/bin/python3 scripts/torch/gen_cross_encoder_fixture.py --check DIR --outputs FILE

Fixture: `tiny/`, a small random Hugging Face BertForSequenceClassification (keys `bert.*` with the
pooler, `classifier.weight` [1, H], `classifier.bias` [1]; config with architectures
["BertForSequenceClassification"] and id2label of one label), and `tiny.reference.safetensors`
(float64, computed in float64 by the plain-torch reference of bert_ref.py):
  inputs: 3 queries x (positive, negative) as 6 pairs `[CLS] q [SEP] d [SEP]`, token types 0 then
  1, right-padded; positives are rows 0-2, negatives rows 3-5. They are tokenized here by a
  separate greedy WordPiece over the tiny vocabulary, documents truncated so a pair has at most
  MAX_LENGTH tokens (the queries are short, so longest-first truncation cuts only the document);
  the texts are in the file's metadata, so the test also checks retrograd's pair tokenization.
  logits [6, 1] = classifier(tanh(pooler.dense(h[:, 0])))   (transformers' BertForSequenceClassification)
  loss = cross_entropy(stack([s[:3], s[3:]], 1), zeros)     (pairwise softmax over [pos, neg])
  grad.<checkpoint key> for every parameter.
Dropout is off (eval mode): masks cannot match across frameworks.

--check loads DIR (e.g. written by `retrograd train-cross-encoder`) into the reference classifier
and compares its logits on FILE's inputs with FILE's logits; prints one JSON line, exit 1 on mismatch.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_ref as ref  # noqa: E402
from gen_bert_fixture import BASE_CONFIG, randomize, tiny_vocab  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "cross-encoder")
MAX_LENGTH = 24
QUERIES = ["a tool for the web", "audio", "the shell"]
POSITIVES = [
    "this is a small tool for fetching pages from the web, with a cache",
    "plays audio",
    "an interactive shell for the terminal with job control, history, completion and scripting",
]
NEGATIVES = [
    "fonts",
    "a compiler for a small language",
    "an editor with syntax highlighting for many languages and a plugin interface",
]


class BertForSequenceClassification(nn.Module):
    """`bert.*` + `classifier.*`: transformers' BertForSequenceClassification (dropout off in eval)."""

    def __init__(self, c, num_labels=1):
        super().__init__()
        self.bert = ref.BertModel(c, add_pooling_layer=True)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.classifier = nn.Linear(c["hidden_size"], num_labels)

    def forward(self, input_ids, attention_mask, token_type_ids):
        _, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        return self.classifier(self.dropout(pooled))


def wordpiece(text, vocab):
    """Lowercase, split on spaces and punctuation, greedy longest-match-first with ## pieces."""
    ids = {t: i for i, t in enumerate(vocab)}
    out = []
    words = []
    for chunk in text.lower().split():
        word = ""
        for ch in chunk:
            if ch in ".,!?'-":
                if word:
                    words.append(word)
                words.append(ch)
                word = ""
            else:
                word += ch
        if word:
            words.append(word)
    for word in words:
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in ids:
                    break
                end -= 1
            out.append(ids[piece])
            start = end
    return out


def pair_batch(vocab):
    """6 pairs (positives then negatives) -> int64 ids, mask, types [6, S]."""
    rows = []
    for q, d in list(zip(QUERIES, POSITIVES)) + list(zip(QUERIES, NEGATIVES)):
        a, b = wordpiece(q, vocab), wordpiece(d, vocab)
        assert len(a) < len(b) or len(a) + len(b) + 3 <= MAX_LENGTH, "the query must be the shorter text"
        b = b[: MAX_LENGTH - 3 - len(a)]
        rows.append(([2] + a + [3] + b + [3], [0] * (len(a) + 2) + [1] * (len(b) + 1)))
    seq = max(len(r[0]) for r in rows)
    ids = torch.zeros(len(rows), seq, dtype=torch.int64)
    mask = torch.zeros(len(rows), seq, dtype=torch.int64)
    types = torch.zeros(len(rows), seq, dtype=torch.int64)
    for i, (r, t) in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
        types[i, : len(t)] = torch.tensor(t)
    return ids, mask, types


def pairwise_loss(logits):
    s = logits[:, 0]
    half = s.shape[0] // 2
    pairs = torch.stack([s[:half], s[half:]], 1)
    return torch.nn.functional.cross_entropy(pairs, torch.zeros(half, dtype=torch.int64))


def generate():
    config = dict(BASE_CONFIG, architectures=["BertForSequenceClassification"], id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
    gen = torch.Generator().manual_seed(3)
    model = BertForSequenceClassification(config)
    randomize(model, gen)
    path = os.path.join(OUT, "tiny")
    os.makedirs(path, exist_ok=True)
    vocab = tiny_vocab(config["vocab_size"])
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(path, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": config["max_position_embeddings"]}, f, indent=2)
    stored = {name: p.detach().numpy().astype(np.float32) for name, p in model.named_parameters()}
    ref.save_safetensors(os.path.join(path, "model.safetensors"), stored, {"format": "pt"})

    model64 = BertForSequenceClassification(config).double().eval()
    ref.load_state(model64, stored, torch.float64)
    ids, mask, types = pair_batch(vocab)
    logits = model64(ids, mask, types)
    loss = pairwise_loss(logits)
    loss.backward()
    arrays = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy()}
    arrays["logits"] = logits.detach().numpy()
    arrays["loss"] = loss.detach().numpy()
    for name, p in model64.named_parameters():
        arrays[f"grad.{name}"] = p.grad.numpy()
    texts = {"queries": QUERIES, "positives": POSITIVES, "negatives": NEGATIVES, "max_length": MAX_LENGTH}
    out = os.path.join(OUT, "tiny.reference.safetensors")
    ref.save_safetensors(out, arrays, {"texts": json.dumps(texts)})
    print(f"wrote tiny/ and tiny.reference.safetensors ({os.path.getsize(out)} bytes); loss {loss.item():.6f}")


def check(model_dir, outputs_file, tol):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    if config.get("architectures") != ["BertForSequenceClassification"]:
        raise SystemExit(f"{model_dir}/config.json: architectures {config.get('architectures')}")
    tensors, _ = ref.load_safetensors(os.path.join(model_dir, "model.safetensors"))
    model = BertForSequenceClassification(config, num_labels=len(config["id2label"])).double().eval()
    ref.load_state(model, tensors, torch.float64)
    unused = set(tensors) - {n for n, _ in model.named_parameters()}
    expected, _ = ref.load_safetensors(outputs_file)
    ids, mask, types = (torch.from_numpy(expected[k].astype(np.int64)) for k in ("input_ids", "attention_mask", "token_type_ids"))
    with torch.no_grad():
        got = model(ids, mask, types).numpy()
    diff = np.abs(got - expected["logits"])
    ok = bool((diff <= tol * (1 + np.abs(expected["logits"]))).all()) and not unused
    print(json.dumps({"model_dir": model_dir, "logits_max_diff": float(diff.max()), "unused_keys": sorted(unused), "ok": ok}))
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", metavar="DIR", help="cross-encoder directory to check instead of generating")
    parser.add_argument("--outputs", metavar="FILE", help="inputs and expected logits for --check")
    parser.add_argument("--tol", type=float, default=1e-5, help="|got - expected| <= tol * (1 + |expected|)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.check:
        if not args.outputs:
            parser.error("--check needs --outputs FILE")
        sys.exit(0 if check(args.check, args.outputs, args.tol) else 1)
    os.makedirs(OUT, exist_ok=True)
    generate()


if __name__ == "__main__":
    main()
