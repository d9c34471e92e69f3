# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Switch Transformer decoder in PyTorch (float64), written from the paper's
equations 1-3 and lctx's conventions (docs/conventions.md), independent of
lctx's code.

Top-1 routing in each batch row (one group): p = softmax(x W_r), expert
e = argmax p (lowest index on ties), y = p_e * FFN_e(x); with a capacity
C = max(1, floor(S * cf / E)) tokens per expert, in sequence order, a token
past it is dropped (its branch is 0); dropless keeps every token. The
Switch FFN replaces the dense FFN of layers 1, 3, ...
"""
import math

import torch

from megabyte import attention, rms_norm


def switch_ffn(w, pre, x, c, act, dropless):
    b, s, d = x.shape
    e = c["experts"]
    probs = torch.softmax(x @ w[pre + ".router"], -1)
    gate, expert = probs.max(-1)
    cap = s if dropless else max(1, math.floor(s * c["capacity_factor"] / e))
    # Position of each token in its expert's queue (sequence order, per row).
    onehot = torch.nn.functional.one_hot(expert, e)
    position = ((onehot.cumsum(1) - 1) * onehot).sum(-1)
    kept = position < cap
    y = torch.zeros_like(x)
    for ei in range(e):
        sel = (expert == ei) & kept
        if not sel.any():
            continue
        hdn = x[sel] @ w[pre + ".w_in"][ei]
        hdn = torch.relu(hdn) if act == "relu" else \
            torch.nn.functional.gelu(hdn)
        y[sel] = gate[sel][:, None] * (hdn @ w[pre + ".w_out"][ei])
    return y


def forward(w, ids, c, dtype=torch.float64):
    w = {k: torch.as_tensor(v).to(dtype) for k, v in w.items()}
    ids = torch.as_tensor(ids).long()
    b, t = ids.shape
    d, heads = c["dim"], c["heads"]
    theta = float(c.get("rope_theta", 10000.0))
    act = c.get("activation", "relu")
    x = w["embed"][ids]
    for i in range(c["layers"]):
        pre = f"layers.{i}"
        h = rms_norm(x, w[pre + ".norm1"])

        def split(y):
            return y.reshape(b, t, heads, d // heads).transpose(1, 2)

        q, k, v = (split(h @ w[f"{pre}.attn.{m}"]) for m in ("wq", "wk", "wv"))
        a = attention(q, k, v, theta).transpose(1, 2).reshape(b, t, d)
        x = x + a @ w[pre + ".attn.wo"]
        h = rms_norm(x, w[pre + ".norm2"])
        if i % 2 == 1:
            f = switch_ffn(w, pre + ".moe", h, c, act,
                           c.get("dropless", False))
        else:
            f = h @ w[pre + ".ffn.w_in"]
            f = torch.relu(f) if act == "relu" else \
                torch.nn.functional.gelu(f)
            f = f @ w[pre + ".ffn.w_out"]
        x = x + f
    return rms_norm(x, w["norm"]) @ w["embed"].T
