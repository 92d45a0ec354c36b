"""Reference BERT in plain PyTorch, with Hugging Face's parameter names and semantics.

This is the independent reference retrograd's BERT (src/nn/bert.ts) is checked against. It is a
transcription of transformers' modeling_bert.py (BertEmbeddings ... BertForPreTraining-style heads:
https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py)
for the eager attention path, without transformers itself (not installed here). It is not a
training library: no dropout at evaluation, no caching, no cross-attention.

Also here: a minimal safetensors reader/writer over numpy (torch 1.13 has none) and the losses
shared by the fixture generator and the benchmark.

Run with Debian's interpreter: /usr/bin/python3 (python3-torch 1.13, python3-numpy).
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ---- safetensors over numpy ---------------------------------------------------------------------

_NP_OF = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
_ST_OF = {np.dtype(v).str: k for k, v in _NP_OF.items()}


def save_safetensors(path, arrays, metadata=None):
    """arrays: dict name -> numpy array (little-endian); written in name order, header padded to 8."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _ST_OF[a.dtype.str], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def load_safetensors(path):
    """Returns (dict name -> numpy array, metadata). F16/BF16 are widened to float32."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = data[base + begin : base + end]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_NP_OF[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(info["shape"]).copy()
    return out, metadata


# ---- the model ----------------------------------------------------------------------------------

ACT = {
    "gelu": F.gelu,  # exact erf form
    "relu": F.relu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c["pad_token_id"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, input_ids, token_type_ids):
        seq = input_ids.shape[1]
        position_ids = torch.arange(seq, device=input_ids.device).unsqueeze(0)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_heads = c["num_attention_heads"]
        self.head_size = c["hidden_size"] // self.num_heads
        h = c["hidden_size"]
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.num_heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, hidden, extended_mask):
        q, k, v = self.split(self.query(hidden)), self.split(self.key(hidden)), self.split(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size)
        scores = scores + extended_mask
        probs = self.dropout(F.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.shape[0], ctx.shape[1], -1)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, hidden, extended_mask):
        return self.output(self.self(hidden, extended_mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.act = ACT[c["hidden_act"]]

    def forward(self, hidden):
        return self.act(self.dense(hidden))


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["intermediate_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, hidden, extended_mask):
        attn = self.attention(hidden, extended_mask)
        return self.output(self.intermediate(attn), attn)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, hidden, extended_mask):
        for layer in self.layer:
            hidden = layer(hidden, extended_mask)
        return hidden


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c, add_pooling_layer=True):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c) if add_pooling_layer else None

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.embeddings(input_ids, token_type_ids)
        dtype = hidden.dtype
        # HF get_extended_attention_mask: [B, S] -> [B, 1, 1, S], 0 kept, finfo.min masked
        extended = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        last = self.encoder(hidden, extended)
        pooled = self.pooler(last) if self.pooler is not None else None
        return last, pooled


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.act = ACT[c["hidden_act"]]
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, hidden):
        return self.LayerNorm(self.act(self.dense(hidden)))


class BertLMPredictionHead(nn.Module):
    """Decoder weight tied to the word embeddings (passed in), bias of its own."""

    def __init__(self, c, word_embeddings):
        super().__init__()
        self.transform = BertPredictionHeadTransform(c)
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.word_embeddings = [word_embeddings]  # a list, so it is not registered twice

    def forward(self, hidden):
        return F.linear(self.transform(hidden), self.word_embeddings[0].weight, self.bias)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.predictions = BertLMPredictionHead(c, word_embeddings)

    def forward(self, hidden):
        return self.predictions(hidden)


class BertWithMLMHead(nn.Module):
    """`bert.*` + `cls.predictions.*`: BertForPreTraining's keys without the NSP head."""

    def __init__(self, c, add_pooling_layer=True):
        super().__init__()
        self.bert = BertModel(c, add_pooling_layer)
        self.cls = BertOnlyMLMHead(c, self.bert.embeddings.word_embeddings)

    def forward(self, input_ids, attention_mask, token_type_ids):
        last, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        return last, pooled, self.cls(last)


# ---- pooling and losses (the same definitions as src/nn/pooling.ts and test/bert.test.ts) -------


def pool_cls(last):
    return last[:, 0]


def pool_mean(last, attention_mask):
    """sentence-transformers' mean pooling: masked sum / clamp(count, min=1e-9)."""
    m = attention_mask.unsqueeze(-1).to(last.dtype)
    return (last * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)


def info_nce(queries, docs, scale=20.0):
    """In-batch contrastive loss: cross-entropy of scale * cos(q_i, d_j) with target j = i."""
    logits = scale * F.normalize(queries, dim=-1) @ F.normalize(docs, dim=-1).T
    return F.cross_entropy(logits, torch.arange(queries.shape[0], device=queries.device))


# ---- loading a model directory ---------------------------------------------------------------


def load_state(model, tensors, dtype):
    """Load tensors (HF keys, with or without the `bert.` prefix) into model; every key must be used."""
    state = {}
    own = dict(model.named_parameters())
    for name in own:
        candidates = [name, name[len("bert.") :]] if name.startswith("bert.") else [name]
        found = next((c for c in candidates if c in tensors), None)
        if found is None:
            raise KeyError(f"missing key {name}")
        state[name] = torch.from_numpy(np.asarray(tensors[found], dtype=np.float64)).to(dtype)
    with torch.no_grad():
        for name, p in own.items():
            if tuple(p.shape) != tuple(state[name].shape):
                raise ValueError(f"{name}: shape {tuple(state[name].shape)} != {tuple(p.shape)}")
            p.copy_(state[name])
