# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Megalodon decoder in PyTorch (float64 / complex128), written from the
paper's equations and the official code's parameterization as fixed by
lctx's conventions (docs/conventions.md), independent of lctx's code.

Per layer: xt = TSN(x) (cumulative group statistics from step 0, scale
weight + 1, epsilon 1e-5); mx = RMSNorm(CEMA(xt)) with h_t = p x_t +
q h_{t-1}, y_t = Re(sum_n gamma/sqrt(N) h_t) + omega x_t; z = per-head
RMSNorm(W_z mx + b_z); q, k = z (gamma + 1)/sqrt(d_z) + beta; v =
SiLU(W_v xt + b_v); r = SiLU(W_r mx + b_r); o = causal attention inside
chunks of c (scale 1, RoPE at positions inside the chunk); h = W_h1 mx +
b_h + W_h2 (o r); y = x + FFN_swiglu(LayerNorm(x + h)). Final TSN, then
the tied output projection.
"""
import math
import struct

import torch

from megabyte import rms_norm, rope

TSN_EPS = struct.unpack("f", struct.pack("f", 1e-5))[0]
LN_EPS = struct.unpack("f", struct.pack("f", 1e-5))[0]


def timestep_norm(x, w, b, groups):
    bsz, t, d = x.shape
    xg = x.reshape(bsz, t, groups, d // groups)
    cnt = torch.arange(1, t + 1, dtype=x.dtype)[None, :, None] * (d // groups)
    mean = xg.sum(-1).cumsum(1) / cnt
    sq = (xg * xg).sum(-1).cumsum(1) / cnt
    var = sq - mean * mean
    y = (xg - mean[..., None]) / torch.sqrt(var[..., None] + TSN_EPS)
    return y.reshape(bsz, t, d) * (w + 1) + b


def cema(x, alpha, delta, theta, gamma, omega):
    bsz, t, d = x.shape
    n = alpha.shape[1]
    p = torch.sigmoid(alpha)
    ang = torch.sigmoid(theta)[:, None] * (2 * math.pi / n) * \
        torch.arange(1, n + 1, dtype=x.dtype)[None, :]
    q = (1 - torch.sigmoid(alpha) * torch.sigmoid(delta)) * \
        torch.exp(1j * ang.to(torch.complex128))
    g = gamma.to(torch.complex128) / math.sqrt(n)
    h = torch.zeros(bsz, d, n, dtype=torch.complex128)
    ys = []
    for step in range(t):
        h = p * x[:, step, :, None] + q * h
        ys.append((g * h).sum(-1).real)
    return torch.stack(ys, 1) + omega * x


def chunk_attention(q, k, v, chunk, theta):
    t = q.shape[-2]
    out = []
    for s0 in range(0, t, chunk):
        qs, ks, vs = (y[:, :, s0:s0 + chunk] for y in (q, k, v))
        qs, ks = rope(qs, theta), rope(ks, theta)
        n = qs.shape[-2]
        s = qs @ ks.transpose(-1, -2)
        s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1),
                          float("-inf"))
        out.append(torch.softmax(s, -1) @ vs)
    return torch.cat(out, 2)


def silu(x):
    return x * torch.sigmoid(x)


def forward(w, ids, c, dtype=torch.float64):
    w = {k: (torch.as_tensor(v).to(torch.complex128)
             if torch.as_tensor(v).is_complex()
             else torch.as_tensor(v).to(dtype)) for k, v in w.items()}
    ids = torch.as_tensor(ids).long()
    b, t = ids.shape
    hds, dz, dv = c["heads"], c["z_dim"], c["v_dim"]
    theta = float(c.get("rope_theta", 10000.0))
    groups = c.get("groups", 4)
    x = w["embed"][ids]
    for i in range(c["layers"]):
        pre = f"layers.{i}"
        xt = timestep_norm(x, w[pre + ".tsn.w"], w[pre + ".tsn.b"], groups)
        y = cema(xt, *(w[f"{pre}.cema.{n}"] for n in
                       ("alpha", "delta", "theta", "gamma", "omega")))
        y = y.to(x.dtype)
        mx = rms_norm(y, w[pre + ".cema_norm"])
        z = mx @ w[pre + ".attn.wz"] + w[pre + ".attn.bz"]
        z = rms_norm(z.reshape(b, t, hds, dz // hds), 1.0).reshape(b, t, dz)
        inv = 1.0 / math.sqrt(dz // hds)
        q = z * (w[pre + ".attn.gamma_q"] + 1) * inv + w[pre + ".attn.beta_q"]
        k = z * (w[pre + ".attn.gamma_k"] + 1) * inv + w[pre + ".attn.beta_k"]
        v = silu(xt @ w[pre + ".attn.wv"] + w[pre + ".attn.bv"])
        r = silu(mx @ w[pre + ".attn.wr"] + w[pre + ".attn.br"])

        def split(y_, width):
            return y_.reshape(b, t, hds, width // hds).transpose(1, 2)

        o = chunk_attention(split(q, dz), split(k, dz), split(v, dv),
                            c["chunk"], theta)
        o = o.transpose(1, 2).reshape(b, t, dv)
        h = mx @ w[pre + ".attn.wh1"] + w[pre + ".attn.bh"] + \
            (o * r) @ w[pre + ".attn.wh2"]
        yhat = x + h
        ln = torch.nn.functional.layer_norm(
            yhat, (yhat.shape[-1],), w[pre + ".ffn_norm.w"],
            w[pre + ".ffn_norm.b"], LN_EPS)
        ff = (silu(ln @ w[pre + ".ffn.w_gate"]) * (ln @ w[pre + ".ffn.w_in"])) \
            @ w[pre + ".ffn.w_out"]
        x = x + ff
    x = timestep_norm(x, w["out.tsn.w"], w["out.tsn.b"], groups)
    return x @ w["embed"].T
