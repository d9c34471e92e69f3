# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Mixture-of-Depths decoder in PyTorch (float64), written from the paper's
equation 1 and lctx's conventions (docs/conventions.md), independent of
lctx's code.

Routed layers (1, 3, ...): r = x . w_router per token; `causal` routing
selects the tokens with sigmoid(r) > 0.5, `topk` the k = floor(capacity *
S) largest r (lowest index on ties); the block f(x) = a + m (a = Attn(
RMSNorm(x)) causal among the selected tokens, RoPE at their original
positions; m = FFN(RMSNorm(x + a))) runs on them, and they become
x + r * f(x); the others are unchanged.
"""
import math

import torch

from megabyte import attention, rms_norm
from switch import switch_ffn



def rope_at(x, pos, theta):
    """x [H, T, Dh] at the given positions [T]."""
    dh = x.shape[-1]
    inv = theta ** (-torch.arange(0, dh, 2, dtype=torch.float64) / dh)
    ang = pos.to(torch.float64)[:, None] * inv[None, :]
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x1 * cos + x0 * sin],
                       -1).flatten(-2)


def ffn(w, pre, h, c, act):
    """The layer's FFN on h [B, S, D]: dense, or Switch experts (hybrid)."""
    if "experts" in c:
        return switch_ffn(w, pre + ".moe", h, c, act, c.get("dropless", False))
    m = h @ w[pre + ".ffn.w_in"]
    m = torch.relu(m) if act == "relu" else torch.nn.functional.gelu(m)
    return m @ w[pre + ".ffn.w_out"]


def dense_layer(w, pre, x, c, act, theta):
    b, t, d = x.shape
    heads = c["heads"]
    h = rms_norm(x, w[pre + ".norm1"])

    def split(y):
        return y.reshape(b, t, heads, d // heads).transpose(1, 2)

    q, k, v = (split(h @ w[f"{pre}.attn.{m}"]) for m in ("wq", "wk", "wv"))
    a = attention(q, k, v, theta).transpose(1, 2).reshape(b, t, d)
    x = x + a @ w[pre + ".attn.wo"]
    return x + ffn(w, pre, rms_norm(x, w[pre + ".norm2"]), c, act)


def block(w, pre, xs, pos, c, act, theta):
    """f(xs) for the selected tokens xs [k, D] at positions pos [k]."""
    k, d = xs.shape
    heads = c["heads"]
    h = rms_norm(xs, w[pre + ".norm1"])

    def split(y):
        return y.reshape(k, heads, d // heads).transpose(0, 1)

    q, kk, v = (split(h @ w[f"{pre}.attn.{m}"]) for m in ("wq", "wk", "wv"))
    q, kk = rope_at(q, pos, theta), rope_at(kk, pos, theta)
    s = q @ kk.transpose(-1, -2) / q.shape[-1] ** 0.5
    s = s.masked_fill(torch.ones(k, k, dtype=torch.bool).triu(1),
                      float("-inf"))
    a = (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(k, d)
    a = a @ w[pre + ".attn.wo"]
    m = ffn(w, pre, rms_norm(xs + a, w[pre + ".norm2"])[None], c, act)[0]
    return a + m


def select(r, c):
    s = r.shape[0]
    if c.get("routing", "causal") == "causal":
        return torch.nonzero(torch.sigmoid(r) > 0.5).flatten()
    product = s * c.get("capacity", 0.125)
    k = min(max(math.floor(product + 1e-9 * max(1.0, product)), 0), s)
    # Largest r, lowest index first on ties, then in sequence order.
    order = sorted(range(s), key=lambda i: (-float(r[i]), i))[:k]
    return torch.tensor(sorted(order), dtype=torch.long)


def forward(w, ids, c, dtype=torch.float64):
    w = {k: torch.as_tensor(v).to(dtype) for k, v in w.items()}
    ids = torch.as_tensor(ids).long()
    b, t = ids.shape
    theta = float(c.get("rope_theta", 10000.0))
    act = c.get("activation", "relu")
    x = w["embed"][ids]
    for i in range(c["layers"]):
        pre = f"layers.{i}"
        if i % 2 == 0:
            x = dense_layer(w, pre, x, c, act, theta)
            continue
        y = x.clone()
        for bi in range(b):
            r = x[bi] @ w[pre + ".router"]
            sel = select(r, c)
            if len(sel) == 0:
                continue
            f = block(w, pre, x[bi, sel], sel, c, act, theta)
            y[bi, sel] = x[bi, sel] + r[sel, None] * f
        x = y
    return rms_norm(x, w["norm"]) @ w["embed"].T
