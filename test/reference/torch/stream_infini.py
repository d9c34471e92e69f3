# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Infini-Transformer over a stream of any length in PyTorch float64, block
by block with the per-layer memory (M, z) carried from one block to the
next, so that a million tokens take seconds and constant memory. Written
from the same equations as infini.py (whose retrieve / update /
local_attention it reuses), independent of lctx's code.

    for start, logits in stream(weights, ids, config):  # logits [1, n, V]
        ...

A block is `block_segments` segments of N tokens, processed layer by layer
with the segments as the batch: projections, the local causal attention
(RoPE at positions inside the segment) and the FFN of all segments at once;
the memory read by segment s is M_{s-1}: for the linear rule the exclusive
prefix sum of the segments' updates sigma(K)^T V (and sigma(K) summed for
z), for the delta rule (whose update reads M_{s-1}) a loop over the
segments. It equals infini.forward over the whole sequence (segments start
at multiples of N from the start of the stream; the last may be short):
stream_test.py checks that on a short sequence.
"""
import torch

from infini import local_attention, retrieve, update
from megabyte import rms_norm


def layer_block(w, pre, x, m, z, c):
    """One pre-norm Infini layer over S consecutive segments x [S, n, D]
    following the memory (m, z) [1, H, Dh, Dh], [1, H, Dh]. Returns
    (x, m, z) with the memory after the last segment."""
    s_, t, d = x.shape
    heads = c["heads"]
    dh = d // heads
    theta = float(c.get("rope_theta", 10000.0))
    act = c.get("activation", "relu")
    rule = c.get("rule", "linear")
    h = rms_norm(x, w[pre + ".norm1"])

    def split(y):
        return y.reshape(s_, t, heads, dh).transpose(1, 2)

    q, k, v = (split(h @ w[f"{pre}.attn.{n}"]) for n in ("wq", "wk", "wv"))
    if rule == "linear":
        sk = torch.nn.functional.elu(k) + 1
        dm = sk.transpose(-1, -2) @ v  # [S, H, Dh, Dh]
        dz = sk.sum(-2)  # [S, H, Dh]
        m_all = m + torch.cumsum(dm, 0) - dm  # M_{s-1} for every s
        z_all = z + torch.cumsum(dz, 0) - dz
        amem = retrieve(q, m_all, z_all)
        m, z = m_all[-1:] + dm[-1:], z_all[-1:] + dz[-1:]
    else:
        parts = []
        for i in range(s_):
            parts.append(retrieve(q[i:i + 1], m, z))
            m, z = update(rule, k[i:i + 1], v[i:i + 1], m, z)
        amem = torch.cat(parts, 0)
    gate = torch.sigmoid(w[pre + ".attn.beta"])[None, :, None, None]
    a = gate * amem + (1 - gate) * local_attention(q, k, v, theta)
    a = a.transpose(1, 2).reshape(s_, t, d)
    x = x + a @ w[pre + ".attn.wo"]
    f = rms_norm(x, w[pre + ".norm2"]) @ w[pre + ".ffn.w_in"]
    f = torch.relu(f) if act == "relu" else torch.nn.functional.gelu(f)
    return x + f @ w[pre + ".ffn.w_out"], m, z


def stream(w, ids, c, dtype=torch.float64, block_segments=1024):
    """Yields (start, logits [1, n, V]) for consecutive blocks of the 1-D
    token sequence `ids` (whole segments, except a short last one)."""
    w = {k: torch.as_tensor(v).to(dtype) for k, v in w.items()}
    ids = torch.as_tensor(ids).long().reshape(-1)
    n, heads, d = c["segment"], c["heads"], c["dim"]
    dh = d // heads
    mem = [(torch.zeros(1, heads, dh, dh, dtype=dtype),
            torch.zeros(1, heads, dh, dtype=dtype))
           for _ in range(c["layers"])]
    embed_t = w["embed"].T.contiguous()
    total = ids.numel()
    s0 = 0
    while s0 < total:
        whole = min(block_segments * n, (total - s0) // n * n)
        size = whole if whole else total - s0  # a short last segment alone
        x = w["embed"][ids[s0:s0 + size]].reshape(-1, min(size, n), d)
        for i in range(c["layers"]):
            x, m, z = layer_block(w, f"layers.{i}", x, *mem[i], c)
            mem[i] = (m, z)
        x = x.reshape(1, size, d)
        yield s0, rms_norm(x, w["norm"]) @ embed_t
        s0 += size
