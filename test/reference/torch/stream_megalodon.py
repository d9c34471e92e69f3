# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Megalodon over a stream of any length in PyTorch float64 / complex128,
block by block: per layer the TimestepNorm statistics (count and the running
sums of x and x^2 per group, from which megalodon.py's cumulative mean and
variance follow) and the CEMA hidden state h [1, D, N] are carried from one
block to the next; attention is inside each chunk anyway (the chunks of a
block are its batch). Written from the same equations as megalodon.py (whose
chunk_attention, silu and constants it reuses), independent of lctx's code.

The CEMA recurrence h_t = p x_t + q h_{t-1} is evaluated per chunk of c
tokens in closed form instead of step by step (vectorized, so a million
tokens take seconds): with powers q^k = |q|^k e^{i k arg q} and h_s the
state before chunk s,
    h_{s,t} = q^{t+1} h_s + sum_{j<=t} q^{t-j} p x_{s,j},
    y_{s,t} = Re(sum_n g_n h_{s,t,n}) + omega x_{s,t},
    h_{s+1} = q^c h_s + sum_j q^{c-1-j} p x_{s,j},
i.e. a causal convolution with the real kernel Re(sum_n g_n p_n q_n^k)
inside every chunk (all chunks at once), the decayed state of the chunk
start, and a scan over the chunks for h_s.

    for start, logits in stream(weights, ids, config):  # logits [1, n, V]
        ...

It equals megalodon.forward over the whole sequence when the chunks start at
multiples of the chunk length (stream_test.py checks that).
"""
import math

import torch

from megabyte import rms_norm
from megalodon import LN_EPS, TSN_EPS, chunk_attention, silu


class TimestepNorm:
    """Cumulative group statistics carried across chunks."""

    def __init__(self, w, b, groups, dim, dtype):
        self.w, self.b, self.groups = w, b, groups
        self.size = dim // groups
        self.count = 0
        self.s1 = torch.zeros(1, groups, dtype=dtype)
        self.s2 = torch.zeros(1, groups, dtype=dtype)

    def __call__(self, x):
        bsz, t, d = x.shape
        xg = x.reshape(bsz, t, self.groups, self.size)
        s1 = self.s1[:, None] + xg.sum(-1).cumsum(1)
        s2 = self.s2[:, None] + (xg * xg).sum(-1).cumsum(1)
        cnt = (self.count + torch.arange(1, t + 1, dtype=x.dtype))[
            None, :, None] * self.size
        mean = s1 / cnt
        var = s2 / cnt - mean * mean
        self.s1, self.s2, self.count = s1[:, -1], s2[:, -1], self.count + t
        y = (xg - mean[..., None]) / torch.sqrt(var[..., None] + TSN_EPS)
        return y.reshape(bsz, t, d) * (self.w + 1) + self.b


class Cema:
    """Complex EMA with its hidden state carried across chunks."""

    def __init__(self, alpha, delta, theta, gamma, omega, dtype):
        d, n = alpha.shape
        self.p = torch.sigmoid(alpha).to(torch.complex128)  # [D, N]
        ang = torch.sigmoid(theta)[:, None] * (2 * math.pi / n) * \
            torch.arange(1, n + 1, dtype=dtype)[None, :]
        self.log_r = torch.log(1 - torch.sigmoid(alpha) *
                               torch.sigmoid(delta))  # |q| in (0, 1)
        self.ang = ang
        self.g = gamma.to(torch.complex128) / math.sqrt(n)
        self.omega = omega
        self.h = torch.zeros(1, d, n, dtype=torch.complex128)
        self.cache = {}

    def constants(self, t):
        """The per-chunk-length constants: the causal kernel as [D, t, t]
        matrices, g q^{k+1} (decay of the initial state into y_k), p q^{t-1-j}
        (input j into the final state) and q^t."""
        if t not in self.cache:
            k = torch.arange(t + 1, dtype=self.ang.dtype)[:, None, None]
            qk = torch.exp(k * self.log_r[None]) * torch.exp(
                1j * (k * self.ang[None]).to(torch.complex128))  # [t+1, D, N]
            # Real causal kernel kern[k, d] = Re(sum_n g p q^k), k < t.
            kern = (self.g * self.p * qk[:t]).sum(-1).real  # [t, D]
            idx = torch.arange(t)
            lag = idx[:, None] - idx[None, :]  # row - column
            toeplitz = kern[lag.clamp(min=0)] * (lag >= 0)[..., None]
            self.cache[t] = (toeplitz.permute(2, 0, 1).contiguous(),
                             self.g * qk[1:], qk[:t].flip(0) * self.p,
                             qk[t])
        return self.cache[t]

    def __call__(self, x, chunk):
        """x [1, S * c, D] (or one short chunk): y [1, S * c, D]."""
        _, length, d = x.shape
        c = min(chunk, length)
        xs = x[0].reshape(-1, c, d)  # [S, c, D]
        toeplitz, gq, pq, qt = self.constants(c)
        y = torch.einsum("dtj,sjd->std", toeplitz.to(x.dtype), xs)
        u = torch.einsum("jdn,sjd->sdn", pq, xs.to(torch.complex128))
        starts = []
        h = self.h[0]
        for s in range(xs.shape[0]):
            starts.append(h)
            h = qt * h + u[s]
        self.h = h[None]
        y = y + torch.einsum("kdn,sdn->skd", gq,
                             torch.stack(starts)).real.to(x.dtype)
        return y.reshape(1, length, d) + self.omega * x


def stream(w, ids, c, dtype=torch.float64, block_chunks=1024):
    """Yields (start, logits [1, n, V]) for consecutive blocks of the 1-D
    token sequence `ids` (whole chunks, except a short last one)."""
    w = {k: (torch.as_tensor(v).to(torch.complex128)
             if torch.as_tensor(v).is_complex()
             else torch.as_tensor(v).to(dtype)) for k, v in w.items()}
    ids = torch.as_tensor(ids).long().reshape(-1)
    hds, dz, dv, d = c["heads"], c["z_dim"], c["v_dim"], c["dim"]
    theta = float(c.get("rope_theta", 10000.0))
    groups = c.get("groups", 4)
    chunk = c["chunk"]
    layers = []
    for i in range(c["layers"]):
        pre = f"layers.{i}"
        layers.append((pre, TimestepNorm(w[pre + ".tsn.w"], w[pre + ".tsn.b"],
                                         groups, d, dtype),
                       Cema(*(w[f"{pre}.cema.{n}"] for n in
                              ("alpha", "delta", "theta", "gamma", "omega")),
                            dtype)))
    out_tsn = TimestepNorm(w["out.tsn.w"], w["out.tsn.b"], groups, d, dtype)
    embed_t = w["embed"].T.contiguous()
    inv = 1.0 / math.sqrt(dz // hds)
    total = ids.numel()
    s0 = 0
    while s0 < total:
        whole = min(block_chunks * chunk, (total - s0) // chunk * chunk)
        t = whole if whole else total - s0  # a short last chunk alone
        x = w["embed"][ids[s0:s0 + t]][None]
        for pre, tsn, cema in layers:
            xt = tsn(x)
            mx = rms_norm(cema(xt, chunk), w[pre + ".cema_norm"])
            z = mx @ w[pre + ".attn.wz"] + w[pre + ".attn.bz"]
            z = rms_norm(z.reshape(1, t, hds, dz // hds), 1.0).reshape(1, t,
                                                                       dz)
            q = z * (w[pre + ".attn.gamma_q"] + 1) * inv + \
                w[pre + ".attn.beta_q"]
            k = z * (w[pre + ".attn.gamma_k"] + 1) * inv + \
                w[pre + ".attn.beta_k"]
            v = silu(xt @ w[pre + ".attn.wv"] + w[pre + ".attn.bv"])
            r = silu(mx @ w[pre + ".attn.wr"] + w[pre + ".attn.br"])
            cl = min(chunk, t)

            def split(y_, width):
                # [1, t, width] -> one chunk per batch row [S, H, c, w/H]
                return y_.reshape(t // cl, cl, hds, width // hds) \
                    .transpose(1, 2)

            o = chunk_attention(split(q, dz), split(k, dz), split(v, dv),
                                chunk, theta)
            o = o.transpose(1, 2).reshape(1, t, dv)
            h = mx @ w[pre + ".attn.wh1"] + w[pre + ".attn.bh"] + \
                (o * r) @ w[pre + ".attn.wh2"]
            yhat = x + h
            ln = torch.nn.functional.layer_norm(
                yhat, (yhat.shape[-1],), w[pre + ".ffn_norm.w"],
                w[pre + ".ffn_norm.b"], LN_EPS)
            ff = (silu(ln @ w[pre + ".ffn.w_gate"]) *
                  (ln @ w[pre + ".ffn.w_in"])) @ w[pre + ".ffn.w_out"]
            x = x + ff
        yield s0, out_tsn(x) @ embed_t
        s0 += t
