#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Single-thread benchmark of the lctx ops that bench.py does not cover,
each against an eager PyTorch peer written from the op's math.

For each case in bench/ops/suite/<case>.mlir: generates the inputs once in
this process (valid integer inputs: token ids, positions, routing decisions
computed by a real router), writes them to a safetensors file, compiles the
function with lctx-compile, runs `lctx-run --inputs FILE --repeat N
--threads 1` (the median it reports), and times the PyTorch peer on the
same tensors in this process (median of N calls after 3 warm-up calls;
OPENBLAS_CORETYPE=SkylakeX, one thread). The two sides alternate for
--rounds rounds, so that both see the same machine load, and the median
round counts. Where eager PyTorch has several reasonable forms of the op,
each is timed and the fastest is the peer. The outputs of lctx-run are
compared with the peer's (column "check"); the last column is the 1-minute
load average after the case.

ratio = torch ms / lctx ms (> 1: lctx is faster); target: 1x for the norms,
embedding, RoPE, patch and memory retrieve/update/gate ops, 2x for
attention (lctx.memory.attention), CEMA (lctx.cema.timestep_norm) and
routing ops (lctx.route.*).

usage: bench/ops/suite.py [--build-dir DIR] [--repeat N] [--rounds R]
                          [--only NAME ...] [--markdown] [--no-check]
"""
import argparse
import ctypes
import json
import math
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
# Sets OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS, OMP_NUM_THREADS before torch
# loads; time_torch is the same timing loop bench.py uses.
from bench import build, time_torch  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

#===------------------------------------------------------------------------===#
# safetensors I/O (the format is a JSON header and raw little-endian blobs)
#===------------------------------------------------------------------------===#

DTYPES = {torch.float32: "F32", torch.int32: "I32", torch.int64: "I64"}
TORCH_DTYPES = {v: k for k, v in DTYPES.items()}


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        t = t.contiguous()
        size = t.numel() * t.element_size()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + size]}
        blobs.append(t)
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in blobs:
            f.write(ctypes.string_at(t.data_ptr(), t.numel() * t.element_size()))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        blob = bytearray(data[8 + n + lo:8 + n + hi])
        t = torch.frombuffer(blob, dtype=TORCH_DTYPES[info["dtype"]]) \
            if blob else torch.empty(0, dtype=TORCH_DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


#===------------------------------------------------------------------------===#
# The cases: inputs and eager forms, from the math in docs/LCtxOps.md
#===------------------------------------------------------------------------===#

def sigma(x):
    """Infini-attention's feature map ELU(x) + 1."""
    return F.elu(x) + 1


def switch_route(x, wr, cf, coef=0.01):
    """Switch top-1 routing in fp32: expert, gate, slot (-1 = dropped), aux."""
    B, S, _ = x.shape
    E = wr.shape[1]
    C = max(1, math.floor(S * cf / E))
    p = torch.softmax(torch.matmul(x, wr), dim=-1)               # [B, S, E]
    gate, expert = p.max(dim=-1)
    onehot = F.one_hot(expert, E)                                # [B, S, E]
    pos = onehot.cumsum(1).gather(2, expert[..., None]).squeeze(2) - 1
    slot = torch.where(pos < C, pos, torch.full_like(pos, -1))
    aux = coef * E * torch.sum(onehot.float().mean((0, 1)) * p.mean((0, 1)))
    return expert, gate, slot, aux, C


def case_rms_norm(rand):
    x, w = rand(1, 4096, 1024), rand(1024)
    eps = 1e-6

    def hf():
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def vnorm():
        ms = torch.linalg.vector_norm(x, dim=-1, keepdim=True).square_()
        return (x * ms.div_(x.shape[-1]).add_(eps).rsqrt_()).mul_(w)
    return {"x": x, "w": w}, [("pow-mean-rsqrt", hf), ("vector_norm", vnorm)]


def case_layer_norm(rand):
    x, w, b = rand(1, 4096, 1024), rand(1024), rand(1024)
    return {"x": x, "w": w, "b": b}, [
        ("F.layer_norm", lambda: F.layer_norm(x, (1024,), w, b, 1e-5))]


def case_embedding(rand):
    table = rand(32000, 1024)
    ids = torch.randint(0, 32000, (1, 4096), generator=GEN)
    return {"table": table, "ids": ids.int()}, [
        ("F.embedding", lambda: F.embedding(ids, table))]


def case_rope(rand):
    B, H, T, Dh, theta = 1, 8, 4096, 128, 10000.0
    x = rand(B, H, T, Dh)
    pos = torch.arange(T)
    # The inverse frequencies are a constant (a buffer in eager models); the
    # angles depend on the positions and are computed per call, as lctx does.
    inv = theta ** (-torch.arange(0, Dh, 2, dtype=torch.float64) / Dh)
    inv = inv.float()

    def complex_form():
        ang = pos[:, None].float() * inv                         # [T, Dh/2]
        rot = torch.polar(torch.ones_like(ang), ang)
        xc = torch.view_as_complex(x.view(B, H, T, Dh // 2, 2))
        return torch.view_as_real(xc * rot).flatten(3)

    def real_form():
        ang = pos[:, None].float() * inv
        c, s = ang.cos(), ang.sin()
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).flatten(3)
    return {"x": x, "pos": pos}, [("complex mul", complex_form),
                                  ("real cos/sin", real_form)]


def case_patch_embed(rand):
    B, T, P, DG = 1, 8192, 8, 512
    K = T // P
    ids = torch.randint(0, 256, (B, T), generator=GEN)
    table, pad, pos = rand(256, DG), rand(P, DG), rand(T, DG)

    def cat_form():
        e = (F.embedding(ids, table) + pos[:T]).view(B, K, P * DG)
        return torch.cat([pad.reshape(1, 1, P * DG).expand(B, 1, P * DG),
                          e[:, :-1]], 1)

    def into_form():
        # Only the bytes that survive the shift, written in place (B = 1).
        out = torch.empty(B, K, P * DG)
        out[:, 0] = pad.reshape(-1)
        torch.add(F.embedding(ids[:, :T - P], table), pos[:T - P],
                  out=out[:, 1:].view(B, T - P, DG))
        return out
    return ({"ids": ids.int(), "table": table, "pad": pad, "pos": pos},
            [("embed+cat", cat_form), ("embed into out", into_form)])


def case_patch_to_local(rand):
    B, T, P, DG, DL = 1, 8192, 8, 512, 512
    K = T // P
    g, wgl = rand(B, K, P * DG), rand(DG, DL)
    ids = torch.randint(0, 256, (B, T), generator=GEN)
    ltab, lpad = rand(256, DL), rand(DL)

    def eager():
        out = torch.matmul(g.reshape(B * K * P, DG), wgl).view(B * K, P, DL)
        emb = F.embedding(ids, ltab).view(B * K, P, DL)
        out[:, 1:] += emb[:, :-1]          # previous byte within the patch
        out[:, 0] += lpad
        return out
    return ({"g": g, "w_gl": wgl, "ids": ids.int(), "local_table": ltab,
             "local_pad": lpad}, [("matmul + shifted embed", eager)])


def case_patch_merge(rand):
    x = rand(1024, 8, 256)
    return {"x": x}, [("reshape (a view)", lambda: x.reshape(1, 8192, 256)),
                      ("reshape + clone", lambda: x.reshape(1, 8192, 256).clone())]


def infini_state(rand, B, H, N, Dk, Dv):
    """A memory after one earlier segment: M = sigma(K)^T V, z = sum sigma(K)."""
    k0, v0 = rand(B, H, N, Dk), rand(B, H, N, Dv)
    s0 = sigma(k0)
    return torch.matmul(s0.transpose(-1, -2), v0), s0.sum(-2)


def retrieve(q, M, z):
    sq = sigma(q)
    num = torch.matmul(sq, M)
    den = torch.matmul(sq, z[..., None])
    return num.div_(den).masked_fill_(den == 0, 0.0)


def case_memory_retrieve(rand):
    q = rand(1, 8, 2048, 128)
    M, z = infini_state(rand, 1, 8, 2048, 128, 128)
    return {"q": q, "M": M, "z": z}, [("elu+1, matmul, div", lambda: retrieve(q, M, z))]


def memory_update_case(rule):
    def case(rand):
        B, H, N, D = 1, 8, 2048, 128
        k, v = rand(B, H, N, D), rand(B, H, N, D)
        M, z = infini_state(rand, B, H, N, D, D)

        def eager():
            sk = sigma(k)
            target = v - retrieve(k, M, z) if rule == "delta" else v
            m1 = torch.baddbmm(M.view(B * H, D, D),
                               sk.view(B * H, N, D).transpose(1, 2),
                               target.reshape(B * H, N, D)).view(B, H, D, D)
            return m1, z + sk.sum(-2)
        return {"k": k, "v": v, "M": M, "z": z}, [("elu+1, baddbmm", eager)]
    return case


def case_memory_gate(rand):
    amem, adot, beta = rand(1, 8, 2048, 128), rand(1, 8, 2048, 128), rand(8)

    def mix():
        g = torch.sigmoid(beta).view(1, -1, 1, 1)
        return g * amem + (1 - g) * adot

    def lerp():
        return torch.lerp(adot, amem, torch.sigmoid(beta).view(1, -1, 1, 1))
    return {"a_mem": amem, "a_dot": adot, "beta": beta}, [
        ("g*a+(1-g)*b", mix), ("torch.lerp", lerp)]


def case_memory_attention(rand):
    B, H, T, D, N = 1, 8, 8192, 128, 2048
    q, k, v = rand(B, H, T, D), rand(B, H, T, D), rand(B, H, T, D)
    M0, z0 = torch.zeros(B, H, D, D), torch.zeros(B, H, D)   # a fresh stream
    beta = rand(H)
    mask = torch.ones(N, N, dtype=torch.bool).triu(1)        # cached mask
    scale = D ** -0.5

    def eager():
        out = torch.empty(B, H, T, D)
        M, z = M0, z0
        g = torch.sigmoid(beta).view(1, H, 1, 1)
        for s in range(0, T, N):
            qs, ks, vs = q[:, :, s:s + N], k[:, :, s:s + N], v[:, :, s:s + N]
            sc = torch.matmul(qs, ks.transpose(-1, -2)) * scale
            adot = torch.matmul(torch.softmax(sc.masked_fill_(mask, float("-inf")),
                                              dim=-1), vs)
            amem = retrieve(qs, M, z)
            out[:, :, s:s + N] = torch.lerp(adot, amem, g)
            sk = sigma(ks)
            M = M + torch.matmul(sk.transpose(-1, -2), vs)
            z = z + sk.sum(-2)
        return out, M, z
    return {"q": q, "k": k, "v": v, "M": M0, "z": z0, "beta": beta}, [
        ("segment loop, unfused softmax attention", eager)]


def case_cema_timestep_norm(rand):
    B, L, D, G, eps = 1, 4096, 1024, 32, 1e-5
    dg = D // G
    x, w, b = rand(B, L, D), rand(D), rand(D)
    # Mid-stream statistics: 4096 steps seen of roughly uniform [-1, 1) data.
    count = torch.full((B,), 4096, dtype=torch.int64)
    mean = rand(B, G) * 0.01
    var = 1.0 / 3 + rand(B, G) * 0.01
    steps = torch.arange(1, L + 1, dtype=torch.float32) * dg    # constant

    def cumsum_form():
        xg = x.view(B, L, G, dg)
        n0 = (count.float() * dg)[:, None]                      # [B, 1]
        n = n0 + steps                                          # [B, L]
        c1 = xg.sum(-1).cumsum(1) + (mean * n0)[:, None]        # [B, L, G]
        c2 = xg.square().sum(-1).cumsum(1) + ((var + mean * mean) * n0)[:, None]
        mu = c1 / n[..., None]
        vr = c2 / n[..., None] - mu * mu
        rstd = torch.rsqrt(vr + eps)
        y = ((xg - mu[..., None]) * rstd[..., None]).view(B, L, D)
        y = torch.addcmul(b, y, w + 1)
        return y, count + L, mu[:, -1], vr[:, -1]
    return ({"x": x, "w": w, "b": b, "count": count, "mean": mean, "var": var},
            [("cumsum moments", cumsum_form)])


def switch_inputs(rand):
    x, wr = rand(1, 2048, 512), rand(512, 8)
    return x, wr


def case_route_experts(rand):
    x, wr = switch_inputs(rand)

    def eager():
        expert, gate, slot, aux, _ = switch_route(x, wr, 1.25)
        return expert, gate, slot, aux
    return {"x": x, "router": wr}, [("softmax, max, one_hot cumsum", eager)]


def dispatch_index(expert, slot, C):
    """Flat row of each token in the [E * B * C, D] buffer; keep mask."""
    B, S = expert.shape
    keep = slot >= 0
    b = torch.arange(B)[:, None]
    return (expert * (B * C) + b * C + slot.clamp(min=0)), keep


def case_route_dispatch(rand):
    x, wr = switch_inputs(rand)
    expert, _, slot, _, C = switch_route(x, wr, 1.25)
    E, (B, S, D) = wr.shape[1], x.shape

    def index_copy():
        flat, keep = dispatch_index(expert, slot, C)
        out = torch.zeros(E, B * C, D)
        out.view(-1, D).index_copy_(0, flat[keep], x[keep])
        return out
    return {"x": x, "expert": expert.int(), "slot": slot.int()}, [
        ("zeros + index_copy_", index_copy)]


def case_route_combine(rand):
    x, wr = switch_inputs(rand)
    expert, gate, slot, _, C = switch_route(x, wr, 1.25)
    E, (B, S, D) = wr.shape[1], x.shape
    eo = rand(E, B * C, D)

    def index_select():
        flat, keep = dispatch_index(expert, slot, C)
        rows = eo.view(-1, D).index_select(0, flat.view(-1)).view(B, S, D)
        return rows * torch.where(keep, gate, torch.zeros_like(gate))[..., None]

    def masked():
        flat, keep = dispatch_index(expert, slot, C)
        y = torch.zeros(B, S, D)
        y[keep] = eo.view(-1, D)[flat[keep]] * gate[keep][:, None]
        return y
    return ({"expert_out": eo, "expert": expert.int(), "slot": slot.int(),
             "gate": gate}, [("index_select * gate", index_select),
                             ("masked index put", masked)])


def case_route_moe(rand):
    x, wr = switch_inputs(rand)
    B, S, D = x.shape
    E, Fdim = wr.shape[1], 2048
    w1 = rand(E, D, Fdim) * D ** -0.5
    w2 = rand(E, Fdim, D) * Fdim ** -0.5

    def capacity_bmm():
        expert, gate, slot, aux, C = switch_route(x, wr, 1.25)
        flat, keep = dispatch_index(expert, slot, C)
        buf = torch.zeros(E, B * C, D)
        buf.view(-1, D).index_copy_(0, flat[keep], x[keep])
        o = torch.bmm(torch.bmm(buf, w1).relu_(), w2)
        rows = o.view(-1, D).index_select(0, flat.view(-1)).view(B, S, D)
        return rows * torch.where(keep, gate, torch.zeros_like(gate))[..., None], aux

    def expert_loop():
        expert, gate, slot, aux, _ = switch_route(x, wr, 1.25)
        xf, ef, gf = x.view(-1, D), expert.view(-1), gate.view(-1)
        keep = slot.view(-1) >= 0
        y = torch.zeros(B * S, D)
        for e in range(E):
            idx = torch.nonzero(keep & (ef == e)).squeeze(1)
            h = torch.matmul(torch.matmul(xf[idx], w1[e]).relu_(), w2[e])
            y.index_copy_(0, idx, h.mul_(gf[idx, None]))
        return y.view(B, S, D), aux
    return {"x": x, "router": wr, "w_in": w1, "w_out": w2}, [
        ("capacity buffers + bmm", capacity_bmm),
        ("loop over experts, kept tokens only", expert_loop)]


def mod_indices(B, S, K):
    """Top-k of random router logits, sorted ascending (MoD's selection)."""
    r = torch.rand(B, S, generator=GEN)
    return torch.topk(r, K, dim=1).indices.sort(dim=1).values


def case_route_gather(rand):
    B, S, D, K = 2, 4096, 1024, 512
    x, idx = rand(B, S, D), mod_indices(B, S, K)

    def gather():
        return x.gather(1, idx[..., None].expand(B, K, D))

    def advanced():
        return x[torch.arange(B)[:, None], idx]

    def index_select():
        flat = (idx + S * torch.arange(B)[:, None]).view(-1)
        return x.view(-1, D).index_select(0, flat).view(B, K, D)
    return {"x": x, "indices": idx}, [("gather", gather), ("x[b, idx]", advanced),
                                      ("index_select", index_select)]


def case_route_scatter_add(rand):
    B, S, D, K = 2, 4096, 1024, 512
    x, upd, idx, w = rand(B, S, D), rand(B, K, D), mod_indices(B, S, K), rand(B, K)

    def scatter_add():
        return x.scatter_add(1, idx[..., None].expand(B, K, D), upd * w[..., None])

    def index_add():
        flat = (idx + S * torch.arange(B)[:, None]).view(-1)
        return x.view(-1, D).index_add(0, flat, (upd * w[..., None]).view(-1, D)) \
            .view(B, S, D)
    return {"x": x, "updates": upd, "indices": idx, "weights": w}, [
        ("scatter_add", scatter_add), ("index_add", index_add)]


# name, shape, target, case builder
CASES = [
    ("rms_norm", "[1, 4096, 1024], weight", 1, case_rms_norm),
    ("layer_norm", "[1, 4096, 1024], weight + bias", 1, case_layer_norm),
    ("embedding", "table [32000, 1024], 4096 ids", 1, case_embedding),
    ("rope", "[1, 8, 4096, 128], positions [4096]", 1, case_rope),
    ("patch_embed", "T=8192, P=8, D_G=512, pos table", 1, case_patch_embed),
    ("patch_to_local", "K=1024, P=8, D_G=512 -> D_L=512", 1, case_patch_to_local),
    ("patch_merge", "[1024, 8, 256] -> [1, 8192, 256]", 1, case_patch_merge),
    ("memory_retrieve", "[1, 8, 2048, 128], M [128, 128]", 1, case_memory_retrieve),
    ("memory_update_linear", "[1, 8, 2048, 128], M [128, 128]", 1,
     memory_update_case("linear")),
    ("memory_update_delta", "[1, 8, 2048, 128], M [128, 128]", 1,
     memory_update_case("delta")),
    ("memory_gate", "[1, 8, 2048, 128], beta [8]", 1, case_memory_gate),
    ("memory_attention", "linear, [1, 8, 8192, 128], segments of 2048", 2,
     case_memory_attention),
    ("cema_timestep_norm", "[1, 4096, 1024], G=32, mid-stream state", 2,
     case_cema_timestep_norm),
    ("route_experts", "2048 tokens, D=512, E=8, cf 1.25", 2, case_route_experts),
    ("route_dispatch", "2048 tokens, D=512 -> [8, 320, 512]", 2, case_route_dispatch),
    ("route_combine", "[8, 320, 512] -> 2048 tokens, D=512", 2, case_route_combine),
    ("route_moe", "relu, 2048 tokens, D=512, F=2048, E=8, cf 1.25", 2, case_route_moe),
    ("route_gather", "[2, 4096, 1024], k=512", 2, case_route_gather),
    ("route_scatter_add", "[2, 4096, 1024], k=512, weighted", 2, case_route_scatter_add),
]

# Cases whose eager peer takes seconds per call run at most this many times.
MAX_REPEAT = {"memory_attention": 5}

GEN = torch.Generator().manual_seed(1)


def rand(*shape):
    return torch.rand(*shape, generator=GEN) * 2 - 1


#===------------------------------------------------------------------------===#
# Driver
#===------------------------------------------------------------------------===#

def compile_lctx(build_dir, name, workdir):
    art = os.path.join(workdir, name + ".lctx")
    subprocess.run([os.path.join(build_dir, "bin", "lctx-compile"), "--quiet",
                    os.path.join(HERE, "suite", name + ".mlir"), "-o", art],
                   check=True)
    return art


def run_lctx(build_dir, art, inputs_path, out_path, repeat):
    cmd = [os.path.join(build_dir, "bin", "lctx-run"), art, "--inputs",
           inputs_path, "--repeat", str(repeat), "--threads", "1"]
    if out_path:
        cmd += ["--output", out_path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"median ([0-9.]+) ms", out)
    if not m:
        sys.exit("suite: no median in lctx-run output:\n" + out)
    return float(m.group(1))


def compare(lctx_out, ref):
    """'ok' or what differs, output by output (result0, result1, ...)."""
    if not isinstance(ref, (tuple, list)):
        ref = (ref,)
    problems = []
    for i, r in enumerate(ref):
        got = lctx_out.get("result%d" % i)
        r = torch.as_tensor(r)
        if got is None or tuple(got.shape) != tuple(r.shape):
            problems.append("result%d shape" % i)
            continue
        if not r.is_floating_point():
            bad = int((got.long() != r.long()).sum())
            if bad:
                problems.append("result%d: %d ints differ" % (i, bad))
            continue
        err = float((got.float() - r).abs().max()) / max(1.0, float(r.abs().max()))
        if not err <= 1e-3:
            problems.append("result%d: rel err %.1e" % (i, err))
    return "; ".join(problems) or "ok"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternate lctx and torch this many times per case, "
                    "each round timing --repeat calls of each side, so that "
                    "both see the same machine load; the median of the "
                    "rounds' medians counts")
    ap.add_argument("--only", nargs="*", help="case names to run")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--no-check", action="store_true",
                    help="skip comparing lctx's outputs with the peer's")
    args = ap.parse_args()
    build(args.build_dir)
    torch.set_num_threads(1)
    cases = [c for c in CASES if not args.only or c[0] in args.only]
    if args.only and len(cases) != len(args.only):
        sys.exit("suite: unknown case in %s; cases: %s" % (
            args.only, ", ".join(c[0] for c in CASES)))

    load0 = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lctx-suite-") as workdir:
        for name, shape, target, builder in cases:
            inputs, forms = builder(rand)
            in_path = os.path.join(workdir, name + ".in.safetensors")
            out_path = None if args.no_check else os.path.join(
                workdir, name + ".out.safetensors")
            write_safetensors(in_path, inputs)
            repeat = min(args.repeat, MAX_REPEAT.get(name, args.repeat))
            art = compile_lctx(args.build_dir, name, workdir)
            lctx_rounds, torch_rounds = [], {form: [] for form, _ in forms}
            for r in range(max(1, args.rounds)):
                lctx_rounds.append(run_lctx(args.build_dir, art, in_path,
                                            out_path if r == 0 else None,
                                            repeat))
                for form, fn in forms:
                    torch_rounds[form].append(time_torch(fn, repeat))
            lctx_ms = statistics.median(lctx_rounds)
            times = {form: statistics.median(t) for form, t in torch_rounds.items()}
            best = min(times, key=times.get)
            check = "-"
            if out_path:
                check = compare(read_safetensors(out_path), forms[0][1]())
            os.remove(in_path)
            ratio = times[best] / lctx_ms
            rows.append((name, shape, lctx_ms, times[best], ratio, target,
                         "yes" if ratio >= target else "**no**", best,
                         ", ".join("%s %.3f" % kv for kv in times.items())
                         if len(times) > 1 else "", check,
                         os.getloadavg()[0]))
            if not args.markdown:
                print("%-22s lctx %9.3f ms  torch %9.3f ms  ratio %6.2f  (%s)"
                      % (name, lctx_ms, times[best], ratio, check),
                      flush=True)
    load1 = os.getloadavg()

    print()
    print("| op | shape | lctx ms | torch ms | ratio | target | met? | "
          "torch peer (other forms, ms) | check | load |")
    print("|---|---|---:|---:|---:|---:|---|---|---|---:|")
    for r in rows:
        peer = r[7] + (" (%s)" % r[8] if r[8] else "")
        print("| %s | %s | %.3f | %.3f | %.2f | %dx | %s | %s | %s | %.1f |"
              % (r[0], r[1], r[2], r[3], r[4], r[5], r[6], peer, r[9], r[10]))
    met = sum(1 for r in rows if r[4] >= r[5])
    print()
    print("%d of %d targets met. Per side and case: %d rounds, lctx and torch "
          "alternating, each the median of %d runs (%s); the median round "
          "counts. 1 thread (lctx-run "
          "--threads 1; torch %s, OPENBLAS_CORETYPE=%s); ratio = torch / lctx. "
          "Load average (1 min) %.1f at start, %.1f at end, on %d cores."
          % (met, len(rows), max(1, args.rounds), args.repeat, ", ".join(
              "%s at most %d" % kv for kv in MAX_REPEAT.items()), torch.__version__,
             os.environ["OPENBLAS_CORETYPE"], load0[0], load1[0],
             os.cpu_count()))


if __name__ == "__main__":
    main()
