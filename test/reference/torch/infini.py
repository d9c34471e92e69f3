# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Infini-Transformer in PyTorch (float64), written from the paper's
equations 5-11 and lctx's conventions (docs/conventions.md), independent of
lctx's code.

    logits = forward(weights, ids, config)

Segments of N tokens (the last may be short); per segment and head: local
causal attention with RoPE at positions inside the segment; A_mem =
sigma(Q) M / (sigma(Q) z) with sigma = ELU + 1, 0 where the denominator is 0
(the first segment); the gate sigmoid(beta_h) A_mem + (1 - sigmoid(beta_h))
A_dot; then the memory update with the segment's keys and values (linear,
or delta: V - sigma(K) M / (sigma(K) z), the retrieval term 0 where its
denominator is 0). Pre-norm layers; output tied to the embedding.
"""
import torch

from megabyte import rms_norm, rope  # same conventions


def sigma(x):
    return torch.nn.functional.elu(x) + 1


def retrieve(q, m, z):
    sq = sigma(q)
    num = sq @ m
    den = (sq * z[:, :, None, :]).sum(-1, keepdim=True)
    safe = torch.where(den == 0, torch.ones_like(den), den)
    return torch.where(den == 0, torch.zeros_like(num), num / safe)


def update(rule, k, v, m, z):
    sk = sigma(k)
    target = v
    if rule == "delta":
        target = v - retrieve(k, m, z)
    return m + sk.transpose(-1, -2) @ target, z + sk.sum(-2)


def local_attention(q, k, v, theta):
    q, k = rope(q, theta), rope(k, theta)
    t = q.shape[-2]
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    s = s.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1),
                      float("-inf"))
    return torch.softmax(s, -1) @ v


def infini_layer(w, pre, x, c):
    """One pre-norm Infini layer over x [B, T, D] (weights under `pre`;
    c: heads, segment, rule, activation, rope_theta)."""
    b, t, d = x.shape
    heads, n = c["heads"], c["segment"]
    dh = d // heads
    theta = float(c.get("rope_theta", 10000.0))
    rule = c.get("rule", "linear")
    act = c.get("activation", "relu")
    h = rms_norm(x, w[pre + ".norm1"])

    def split(y):
        return y.reshape(b, t, heads, dh).transpose(1, 2)

    q, k, v = (split(h @ w[f"{pre}.attn.{m}"]) for m in ("wq", "wk", "wv"))
    m = torch.zeros(b, heads, dh, dh, dtype=x.dtype)
    z = torch.zeros(b, heads, dh, dtype=x.dtype)
    gate = torch.sigmoid(w[pre + ".attn.beta"])[None, :, None, None]
    outs = []
    for s0 in range(0, t, n):
        qs, ks, vs = (y[:, :, s0:s0 + n] for y in (q, k, v))
        adot = local_attention(qs, ks, vs, theta)
        amem = retrieve(qs, m, z)
        outs.append(gate * amem + (1 - gate) * adot)
        m, z = update(rule, ks, vs, m, z)
    a = torch.cat(outs, 2).transpose(1, 2).reshape(b, t, d)
    x = x + a @ w[pre + ".attn.wo"]
    f = rms_norm(x, w[pre + ".norm2"]) @ w[pre + ".ffn.w_in"]
    f = torch.relu(f) if act == "relu" else torch.nn.functional.gelu(f)
    return x + f @ w[pre + ".ffn.w_out"]


def forward(w, ids, c, dtype=torch.float64):
    w = {k: torch.as_tensor(v).to(dtype) for k, v in w.items()}
    ids = torch.as_tensor(ids).long()
    x = w["embed"][ids]
    for i in range(c["layers"]):
        x = infini_layer(w, f"layers.{i}", x, c)
    x = rms_norm(x, w["norm"])
    return x @ w["embed"].T
