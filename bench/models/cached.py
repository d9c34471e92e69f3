# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Eager PyTorch *cached* decode steps of the five architectures: the fair
peer of lctx's decode entry points (bench/models/bench.py).

The references in test/reference/torch/*.py only have a full forward; their
decode is a re-forward of the prefix per token. Here each architecture has
the step a competent eager implementation would write, from the math in
/work/shared/architectures.md and the conventions of the references (same
weight names, same RoPE, epsilons, routing rules):

  - MEGABYTE: two-rate; one global step per patch over a global KV cache
    (one entry per patch), P local steps per patch over a P-slot local cache;
  - Infini-Transformer: memory M, z per layer and head, a KV cache of the
    current segment; the memory is updated (linear or delta) only when the
    segment fills;
  - Switch: KV caches, dropless top-1 experts (only the chosen expert runs);
  - Mixture-of-Depths: causal routing (sigmoid(r) > 0.5), the routed layers'
    KV caches hold the routed tokens only;
  - Megalodon: CEMA state (complex), TimestepNorm running statistics, the
    current chunk's KV cache.

Every peer preallocates its caches, precomputes the RoPE tables and fuses
the q/k/v projections into one matmul; call it under torch.inference_mode().

    peer = make(config, weights, dtype)     # weights: name -> tensor
    logits = peer.logits_at(ids, t)         # [B, V]: the reference's
                                            # forward(ids)[:, t]
    peer.reset()

Positions must be visited in order 0, 1, 2, ... (after reset()).
`check(config, weights, n)` compares every position of a short sequence with
the reference's full forward in float64 and returns the normalized max
error.
"""
import math
import struct

import torch

F = torch.nn.functional
RMS_EPS = struct.unpack("f", struct.pack("f", 1e-6))[0]
NORM_EPS = struct.unpack("f", struct.pack("f", 1e-5))[0]  # TSN, LayerNorm


def _weights(w, dtype):
    cdt = torch.complex128 if dtype == torch.float64 else torch.complex64
    out = {}
    for k, v in w.items():
        v = torch.as_tensor(v)
        out[k] = (v.to(cdt) if v.is_complex() else v.to(dtype)).contiguous()
    return out


def _act(name):
    return torch.relu if name == "relu" else F.gelu


def rms_norm(x, w):
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + RMS_EPS) * w


class Rope:
    """cos/sin per position (angles in float64, as the references), applied
    to x [..., Dh] at one position: pairs (2i, 2i+1) rotated."""

    def __init__(self, n, dh, theta, dtype):
        pos = torch.arange(n, dtype=torch.float64)[:, None]
        inv = theta ** (-torch.arange(0, dh, 2, dtype=torch.float64) / dh)
        ang = pos * inv[None, :]
        c, s = torch.cos(ang), torch.sin(ang)
        self.cos = c.repeat_interleave(2, -1).to(dtype).contiguous()
        self.sin = torch.stack([-s, s], -1).flatten(-2).to(dtype).contiguous()

    def __call__(self, x, p):
        swapped = x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)
        return torch.addcmul(x * self.cos[p], swapped, self.sin[p])


def _fuse(w, pre, names):
    return torch.cat([w[f"{pre}.{n}"] for n in names], 1).contiguous()


class KVAttention:
    """Causal self-attention of one token over a preallocated KV cache
    [B, H, n, Dh] (RoPE at the token's position, rotated keys cached)."""

    def __init__(self, w, pre, b, heads, d, n, rope, scale=None):
        self.wqkv = _fuse(w, pre, ("attn.wq", "attn.wk", "attn.wv"))
        self.wo = w[pre + ".attn.wo"]
        self.h, self.dh, self.d = heads, d // heads, d
        self.scale = self.dh ** -0.5 if scale is None else scale
        dt = self.wo.dtype
        self.k = torch.zeros(b, heads, n, self.dh, dtype=dt)
        self.v = torch.zeros(b, heads, n, self.dh, dtype=dt)
        self.rope = rope

    def reset(self):
        self.k.zero_()
        self.v.zero_()

    def __call__(self, h, p, slot=None, length=None):
        """h [B, D] at position p; writes cache slot `slot` (default p) and
        attends to slots [0, length) (default slot + 1); returns [B, D]
        before the output projection's residual."""
        b = h.shape[0]
        slot = p if slot is None else slot
        length = slot + 1 if length is None else length
        qkv = h @ self.wqkv
        qk = self.rope(qkv[:, :2 * self.d].view(b, 2 * self.h, self.dh), p)
        q, k = qk[:, :self.h], qk[:, self.h:]
        self.k[:, :, slot] = k
        self.v[:, :, slot] = qkv[:, 2 * self.d:].view(b, self.h, self.dh)
        s = torch.matmul(q.unsqueeze(2), self.k[:, :, :length].transpose(
            -1, -2))
        a = torch.matmul(torch.softmax(s * self.scale, -1),
                         self.v[:, :, :length])
        return a.view(b, self.d) @ self.wo


class FFN:
    def __init__(self, w, pre, act):
        self.w_in, self.w_out = w[pre + ".ffn.w_in"], w[pre + ".ffn.w_out"]
        self.act = _act(act)

    def __call__(self, h):
        return self.act(h @ self.w_in) @ self.w_out


class SwitchFFN:
    """Dropless top-1: only the chosen expert of each token runs."""

    def __init__(self, w, pre, act):
        self.router = w[pre + ".moe.router"]
        self.w_in, self.w_out = w[pre + ".moe.w_in"], w[pre + ".moe.w_out"]
        self.act = _act(act)

    def __call__(self, h):
        gate, expert = torch.softmax(h @ self.router, -1).max(-1)
        if h.shape[0] == 1:
            e = int(expert)
            return gate[:, None] * (self.act(h @ self.w_in[e]) @ self.w_out[e])
        rows = [gate[i] * (self.act(h[i:i + 1] @ self.w_in[int(e)]) @
                           self.w_out[int(e)]) for i, e in enumerate(expert)]
        return torch.cat(rows, 0)


class Megabyte:
    def __init__(self, c, w, dtype):
        if c["global"].get("attention") == "infini":
            raise NotImplementedError("cached MEGABYTE with an Infini global "
                                      "model")
        w = _weights(w, dtype)
        self.b, self.p = c.get("batch", 1), c["patch"]
        g, l = c["global"], c["local"]
        theta = float(c.get("rope_theta", 10000.0))
        act = c.get("activation", "relu")
        self.dg = g["dim_per_byte"]
        gd, ld = self.p * self.dg, l["dim"]
        kp = c["context"] // self.p
        grope = Rope(kp, gd // g["heads"], theta, dtype)
        lrope = Rope(self.p, ld // l["heads"], theta, dtype)
        self.glayers = [
            (w[f"global.layers.{i}.norm1"], w[f"global.layers.{i}.norm2"],
             KVAttention(w, f"global.layers.{i}", self.b, g["heads"], gd, kp,
                         grope), FFN(w, f"global.layers.{i}", act))
            for i in range(g["layers"])]
        self.llayers = [
            (w[f"local.layers.{i}.norm1"], w[f"local.layers.{i}.norm2"],
             KVAttention(w, f"local.layers.{i}", self.b, l["heads"], ld,
                         self.p, lrope), FFN(w, f"local.layers.{i}", act))
            for i in range(l["layers"])]
        self.gembed = w["global.embed"]
        self.gpad = w["global.pad"].reshape(1, gd).expand(self.b, gd)
        self.gnorm, self.lnorm = w["global.norm"], w["local.norm"]
        self.g2l = w["global_to_local"]
        self.lembed = w["local.embed"]
        self.lembed_t = w["local.embed"].t().contiguous()
        self.lpad = w["local.pad"].reshape(1, ld).expand(self.b, ld)
        self.slots = None

    def reset(self):
        for *_, attn, _ in self.glayers + self.llayers:
            attn.reset()

    def global_step(self, k, prev_patch):
        x = self.gpad if prev_patch is None else \
            self.gembed[prev_patch].reshape(self.b, -1)
        for n1, n2, attn, ffn in self.glayers:
            x = x + attn(rms_norm(x, n1), k)
            x = x + ffn(rms_norm(x, n2))
        g = rms_norm(x, self.gnorm)
        self.slots = g.view(self.b, self.p, self.dg) @ self.g2l

    def local_step(self, j, prev_byte):
        y = self.slots[:, j] + (self.lpad if prev_byte is None else
                                self.lembed[prev_byte])
        for n1, n2, attn, ffn in self.llayers:
            y = y + attn(rms_norm(y, n1), j)
            y = y + ffn(rms_norm(y, n2))
        return rms_norm(y, self.lnorm) @ self.lembed_t

    def logits_at(self, ids, t):
        """Logits predicting byte t from the bytes before it."""
        k, j = divmod(t, self.p)
        if j == 0:
            self.global_step(k, ids[:, t - self.p:t] if t else None)
        return self.local_step(j, ids[:, t - 1] if j else None)


class Infini:
    def __init__(self, c, w, dtype):
        w = _weights(w, dtype)
        self.b, self.n, d, heads = c.get("batch", 1), c["segment"], \
            c["dim"], c["heads"]
        self.h, self.dh, self.d = heads, d // heads, d
        self.delta = c.get("rule", "linear") == "delta"
        rope = Rope(self.n, self.dh, float(c.get("rope_theta", 10000.0)),
                    dtype)
        act = c.get("activation", "relu")
        self.layers = []
        for i in range(c["layers"]):
            pre = f"layers.{i}"
            attn = KVAttention(w, pre, self.b, heads, d, self.n, rope)
            self.layers.append(dict(
                n1=w[pre + ".norm1"], n2=w[pre + ".norm2"], attn=attn,
                ffn=FFN(w, pre, act),
                gate=torch.sigmoid(w[pre + ".attn.beta"])[None, :, None],
                kraw=torch.zeros_like(attn.k),
                m=torch.zeros(self.b, heads, self.dh, self.dh, dtype=dtype),
                z=torch.zeros(self.b, heads, self.dh, 1, dtype=dtype)))
        self.embed, self.norm = w["embed"], w["norm"]
        self.embed_t = w["embed"].t().contiguous()
        self.seg = 0

    def reset(self):
        for layer in self.layers:
            for k in ("m", "z", "kraw"):
                layer[k].zero_()
            layer["attn"].reset()
        self.seg = 0

    @staticmethod
    def _retrieve(sq, m, z):
        return (sq @ m) / (sq @ z)

    def logits_at(self, ids, t):
        j = t % self.n
        self.seg = t // self.n
        b, h, dh, d = self.b, self.h, self.dh, self.d
        x = self.embed[ids[:, t]]
        for L in self.layers:
            attn = L["attn"]
            hn = rms_norm(x, L["n1"])
            qkv = hn @ attn.wqkv
            qk = qkv[:, :2 * d].view(b, 2 * h, dh)
            L["kraw"][:, :, j] = qk[:, h:]
            rot = attn.rope(qk, j)
            attn.k[:, :, j] = rot[:, h:]
            attn.v[:, :, j] = qkv[:, 2 * d:].view(b, h, dh)
            s = torch.matmul(rot[:, :h].unsqueeze(2),
                             attn.k[:, :, :j + 1].transpose(-1, -2))
            a = torch.matmul(torch.softmax(s * attn.scale, -1),
                             attn.v[:, :, :j + 1]).view(b, h, dh)
            if self.seg:  # memory retrieval (A_mem = 0 in the first segment)
                sq = (F.elu(qk[:, :h]) + 1).unsqueeze(2)
                amem = self._retrieve(sq, L["m"], L["z"]).view(b, h, dh)
                a = torch.lerp(a, amem, L["gate"])
            else:
                a = a * (1 - L["gate"])
            x = x + a.view(b, d) @ attn.wo
            x = x + L["ffn"](rms_norm(x, L["n2"]))
            if j == self.n - 1:  # the segment is full: update the memory
                sk = F.elu(L["kraw"]) + 1
                target = attn.v
                if self.delta and self.seg:
                    target = target - self._retrieve(sk, L["m"], L["z"])
                L["m"] += sk.transpose(-1, -2) @ target
                L["z"] += sk.sum(-2).unsqueeze(-1)
        return rms_norm(x, self.norm) @ self.embed_t


class TokenDecoder:
    """Switch (dropless) and Mixture-of-Depths (causal routing)."""

    def __init__(self, c, w, dtype):
        w = _weights(w, dtype)
        self.arch = c["arch"]
        self.b, d, heads, t = c.get("batch", 1), c["dim"], c["heads"], \
            c["context"]
        act = c.get("activation", "relu")
        rope = Rope(t, d // heads, float(c.get("rope_theta", 10000.0)), dtype)
        self.layers = []
        for i in range(c["layers"]):
            pre = f"layers.{i}"
            moe = (self.arch == "switch" and i % 2 == 1) or \
                (self.arch == "mod" and "experts" in c)
            self.layers.append(dict(
                n1=w[pre + ".norm1"], n2=w[pre + ".norm2"],
                attn=KVAttention(w, pre, self.b, heads, d, t, rope),
                ffn=SwitchFFN(w, pre, act) if moe else FFN(w, pre, act),
                router=(w[pre + ".router"] if self.arch == "mod" and i % 2
                        else None),
                count=[0] * self.b))
        self.embed, self.norm = w["embed"], w["norm"]
        self.embed_t = w["embed"].t().contiguous()

    def reset(self):
        for L in self.layers:
            L["attn"].reset()
            L["count"] = [0] * self.b

    def logits_at(self, ids, t):
        x = self.embed[ids[:, t]]
        for L in self.layers:
            if L["router"] is None:
                x = x + L["attn"](rms_norm(x, L["n1"]), t)
                x = x + L["ffn"](rms_norm(x, L["n2"]))
                continue
            # Routed layer: only tokens with sigmoid(r) > 0.5 run the block
            # and write K/V (into the next free slot of their row's cache).
            r = x @ L["router"]
            routed = (torch.sigmoid(r) > 0.5).tolist()
            if self.b == 1:
                if routed[0]:
                    x = self._block(L, x, r, t, 0)
                continue
            rows = [self._block(L, x[i:i + 1], r[i:i + 1], t, i, i)
                    if routed[i] else x[i:i + 1] for i in range(self.b)]
            x = torch.cat(rows, 0)
        return rms_norm(x, self.norm) @ self.embed_t

    @staticmethod
    def _block(L, x, r, t, row, sl=slice(None)):
        attn, n = L["attn"], L["count"][row]
        L["count"][row] = n + 1
        if sl == slice(None):
            a = attn(rms_norm(x, L["n1"]), t, slot=n)
        else:  # one row of a batch: its own cache row
            k, v = attn.k, attn.v
            attn.k, attn.v = k[sl:sl + 1], v[sl:sl + 1]
            a = attn(rms_norm(x, L["n1"]), t, slot=n)
            attn.k, attn.v = k, v
        m = L["ffn"](rms_norm(x + a, L["n2"]))
        return x + r[:, None] * (a + m)


class TimestepNorm:
    """Running per-group sums over all steps so far (count, sum, sum of
    squares), as the reference's cumulative moments."""

    def __init__(self, w, pre, b, d, groups, dtype):
        self.w1, self.bias = w[pre + ".w"] + 1, w[pre + ".b"]
        self.g, self.dg, self.b = groups, d // groups, b
        self.s1 = torch.zeros(b, groups, dtype=dtype)
        self.s2 = torch.zeros(b, groups, dtype=dtype)
        self.count = 0

    def reset(self):
        self.s1.zero_()
        self.s2.zero_()
        self.count = 0

    def __call__(self, x):
        xg = x.view(self.b, self.g, self.dg)
        self.s1 += xg.sum(-1)
        self.s2 += xg.square().sum(-1)
        self.count += self.dg
        mean = self.s1 / self.count
        var = self.s2 / self.count - mean.square()
        y = (xg - mean[..., None]) * torch.rsqrt(var + NORM_EPS)[..., None]
        return torch.addcmul(self.bias, y.view(self.b, -1), self.w1)


class Megalodon:
    def __init__(self, c, w, dtype):
        w = _weights(w, dtype)
        self.b, d, heads = c.get("batch", 1), c["dim"], c["heads"]
        self.chunk = c["chunk"]
        dz, dv, n = c["z_dim"], c["v_dim"], c["cema_ndim"]
        self.h, self.dz, self.dv, self.d = heads, dz, dv, d
        groups = c.get("groups", 4)
        cdt = torch.complex128 if dtype == torch.float64 else torch.complex64
        rope = Rope(self.chunk, dz // heads, float(c.get("rope_theta",
                                                         10000.0)), dtype)
        self.rope = rope
        inv = 1.0 / math.sqrt(dz // heads)
        self.layers = []
        for i in range(c["layers"]):
            pre = f"layers.{i}"
            alpha, delta = w[pre + ".cema.alpha"], w[pre + ".cema.delta"]
            ang = torch.sigmoid(w[pre + ".cema.theta"])[:, None] * \
                (2 * math.pi / n) * torch.arange(1, n + 1, dtype=dtype)[None]
            q = (1 - torch.sigmoid(alpha) * torch.sigmoid(delta)) * \
                torch.exp(1j * ang.to(cdt))
            self.layers.append(dict(
                tsn=TimestepNorm(w, pre + ".tsn", self.b, d, groups, dtype),
                p=torch.sigmoid(alpha).to(cdt), q=q.to(cdt),
                g=(w[pre + ".cema.gamma"] / math.sqrt(n)).to(cdt),
                omega=w[pre + ".cema.omega"],
                h=torch.zeros(self.b, d, n, dtype=cdt),
                cema_norm=w[pre + ".cema_norm"],
                # mx feeds z, r and h1: one matmul.
                w_mx=_fuse(w, pre, ("attn.wz", "attn.wr", "attn.wh1")),
                b_mx=torch.cat([w[pre + ".attn.bz"], w[pre + ".attn.br"],
                                w[pre + ".attn.bh"]]),
                wv=w[pre + ".attn.wv"], bv=w[pre + ".attn.bv"],
                sq=(w[pre + ".attn.gamma_q"] + 1) * inv,
                bq=w[pre + ".attn.beta_q"],
                sk=(w[pre + ".attn.gamma_k"] + 1) * inv,
                bk=w[pre + ".attn.beta_k"],
                wh2=w[pre + ".attn.wh2"],
                lnw=w[pre + ".ffn_norm.w"], lnb=w[pre + ".ffn_norm.b"],
                w_gate_in=_fuse(w, pre, ("ffn.w_gate", "ffn.w_in")),
                w_out=w[pre + ".ffn.w_out"], ffn=c["ffn"],
                kc=torch.zeros(self.b, heads, self.chunk, dz // heads,
                               dtype=dtype),
                vc=torch.zeros(self.b, heads, self.chunk, dv // heads,
                               dtype=dtype)))
        self.out_tsn = TimestepNorm(w, "out.tsn", self.b, d, groups, dtype)
        self.embed_t = w["embed"].t().contiguous()
        self.embed = w["embed"]

    def reset(self):
        for L in self.layers:
            L["tsn"].reset()
            for k in ("h", "kc", "vc"):
                L[k].zero_()
        self.out_tsn.reset()

    def logits_at(self, ids, t):
        j = t % self.chunk
        b, h, dz, dv, d = self.b, self.h, self.dz, self.dv, self.d
        x = self.embed[ids[:, t]]
        for L in self.layers:
            xt = L["tsn"](x)
            # CEMA step: h = p x + q h; y = Re(sum_n g h) + omega x.
            hs = L["h"]
            hs.mul_(L["q"]).add_(L["p"] * xt[:, :, None])
            y = torch.addcmul((hs * L["g"]).real.sum(-1), L["omega"], xt)
            mx = rms_norm(y, L["cema_norm"])
            zrh = torch.addmm(L["b_mx"], mx, L["w_mx"])
            z = zrh[:, :dz].view(b, h, dz // h)
            z = z * torch.rsqrt(z.square().mean(-1, keepdim=True) + RMS_EPS)
            z = z.view(b, dz)
            qk = torch.stack([torch.addcmul(L["bq"], z, L["sq"]),
                              torch.addcmul(L["bk"], z, L["sk"])], 1)
            qk = self.rope(qk.view(b, 2 * h, dz // h), j)
            r = F.silu(zrh[:, dz:dz + dv])
            L["kc"][:, :, j] = qk[:, h:]
            L["vc"][:, :, j] = F.silu(torch.addmm(L["bv"], xt, L["wv"])).view(
                b, h, dv // h)
            s = torch.matmul(qk[:, :h].unsqueeze(2),
                             L["kc"][:, :, :j + 1].transpose(-1, -2))
            o = torch.matmul(torch.softmax(s, -1), L["vc"][:, :, :j + 1])
            hh = torch.addmm(zrh[:, dz + dv:], o.view(b, dv) * r, L["wh2"])
            ln = F.layer_norm(x + hh, (d,), L["lnw"], L["lnb"], NORM_EPS)
            gi = ln @ L["w_gate_in"]
            x = x + (F.silu(gi[:, :L["ffn"]]) * gi[:, L["ffn"]:]) @ L["w_out"]
        return self.out_tsn(x) @ self.embed_t


ARCHS = {"megabyte": Megabyte, "infini": Infini, "switch": TokenDecoder,
         "mod": TokenDecoder, "megalodon": Megalodon}


def make(c, w, dtype=torch.float32):
    return ARCHS[c["arch"]](c, w, dtype)


def reference_config(c):
    """The reference configuration the cached step must equal: Switch
    dropless, Mixture-of-Depths causal routing (the decode forms)."""
    c = dict(c)
    if c["arch"] == "switch" or "experts" in c:
        c["dropless"] = True
    if c["arch"] == "mod":
        c["routing"] = "causal"
    return c


def check(c, w, n, ids=None, seed=0):
    """Normalized max error of the cached float64 step at positions 0..n-1
    against the reference's float64 forward over those n tokens."""
    import importlib
    ref = importlib.import_module(c["arch"])
    b = c.get("batch", 1)
    if ids is None:
        ids = torch.randint(0, c.get("vocab", 256), (b, n),
                            generator=torch.Generator().manual_seed(seed))
    ids = torch.as_tensor(ids)[:, :n].long()
    rc = dict(reference_config(c), context=n)
    with torch.inference_mode():
        want = ref.forward(w, ids, rc, dtype=torch.float64)
        peer = make(dict(c, context=max(n, c["context"])), w, torch.float64)
        got = torch.stack([peer.logits_at(ids, t) for t in range(n)], 1)
    return float((got - want).abs().max() / want.abs().max())
