# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""MEGABYTE in PyTorch (float64), written from the paper's math and lctx's
conventions (docs/conventions.md), independent of lctx's code.

    logits = forward(weights, ids, config)

`weights` maps lctx's weight names (docs/models.md) to tensors; `ids` is
[B, T] bytes with T a multiple of P; `config` is the lctx-gen config
(models/megabyte/*.json). Pre-norm layers: x + Attn(RMSNorm(x)), then
x + FFN(RMSNorm(x)); causal attention with RoPE on q and k (pairs (2i,
2i+1) rotated by p * theta^(-2i/Dh)), scale 1/sqrt(Dh); RMSNorm epsilon is
f32(1e-6).
"""
import struct

import torch

RMS_EPS = struct.unpack("f", struct.pack("f", 1e-6))[0]


def rms_norm(x, w):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + RMS_EPS) * w


def rope(x, theta):
    """x [N, H, T, Dh] at positions 0..T-1 (angles in float64)."""
    t, dh = x.shape[-2], x.shape[-1]
    pos = torch.arange(t, dtype=torch.float64)[:, None]
    inv = theta ** (-torch.arange(0, dh, 2, dtype=torch.float64) / dh)
    ang = pos * inv[None, :]
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x1 * cos + x0 * sin],
                       -1).flatten(-2)


def attention(q, k, v, theta):
    q, k = rope(q, theta), rope(k, theta)
    t = q.shape[-2]
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)
    s = s.masked_fill(mask, float("-inf"))
    return torch.softmax(s, -1) @ v


def layer(w, prefix, x, heads, act, theta):
    n, t, d = x.shape
    h = rms_norm(x, w[prefix + ".norm1"])

    def split(y):
        return y.reshape(n, t, heads, d // heads).transpose(1, 2)

    q, k, v = (split(h @ w[f"{prefix}.attn.{m}"]) for m in ("wq", "wk", "wv"))
    a = attention(q, k, v, theta).transpose(1, 2).reshape(n, t, d)
    x = x + a @ w[prefix + ".attn.wo"]
    h = rms_norm(x, w[prefix + ".norm2"]) @ w[prefix + ".ffn.w_in"]
    h = torch.relu(h) if act == "relu" else torch.nn.functional.gelu(h)
    return x + h @ w[prefix + ".ffn.w_out"]


def forward(w, ids, c, dtype=torch.float64):
    """Logits [B, T, V]; differentiable in the weights (the training script
    uses dtype=torch.float32)."""
    w = {k: torch.as_tensor(v).to(dtype) for k, v in w.items()}
    ids = torch.as_tensor(ids).long()
    b, t = ids.shape
    p, g, l = c["patch"], c["global"], c["local"]
    dg, kp = g["dim_per_byte"], t // p
    theta = float(c.get("rope_theta", 10000.0))
    act = c.get("activation", "relu")
    # Global: patch k >= 1 is the concatenated embeddings of patch k - 1;
    # patch 0 is the trainable pad.
    emb = w["global.embed"][ids].reshape(b, kp, p * dg)
    pad = w["global.pad"].reshape(1, 1, p * dg).expand(b, 1, p * dg)
    x = torch.cat([pad, emb[:, :-1]], 1)
    for i in range(g["layers"]):
        if g.get("attention") == "infini":
            # Hybrid: Infini-attention over segments of patches.
            from infini import infini_layer
            x = infini_layer(w, f"global.layers.{i}", x, dict(
                g, activation=act, rope_theta=theta))
        else:
            x = layer(w, f"global.layers.{i}", x, g["heads"], act, theta)
    gout = rms_norm(x, w["global.norm"])
    # Local: slot j of patch k reads dims j*D_G..(j+1)*D_G of the patch's
    # global output through the shared w_GL, plus the previous byte's local
    # embedding (the local pad for j = 0).
    slots = gout.reshape(b * kp, p, dg) @ w["global_to_local"]
    prev = w["local.embed"][ids].reshape(b * kp, p, -1)
    lpad = w["local.pad"].reshape(1, 1, -1).expand(b * kp, 1, -1)
    y = slots + torch.cat([lpad, prev[:, :-1]], 1)
    for i in range(l["layers"]):
        y = layer(w, f"local.layers.{i}", y, l["heads"], act, theta)
    lout = rms_norm(y, w["local.norm"])
    logits = lout @ w["local.embed"].T
    return logits.reshape(b, t, -1)
