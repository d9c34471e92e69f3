#!/usr/bin/env python3
# ===- torch_check.py - Cross-check the C++ reference against PyTorch ------===#
#
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Usage: torch_check.py PATH/TO/lctx-reference-check
#
# For seeded float64 inputs, computes attention (+RoPE, chunk, GQA,
# positions), rope, rms_norm, layer_norm, linear, ffn (relu, gelu, swiglu,
# grouped), embedding and the CEMA scan (complex128 sequential) with torch,
# runs the C++ reference on the same inputs through lctx-reference-check
# (file format in lctx-reference-check.cpp) and requires
# max|cpp - torch| <= 1e-10 * max(max|torch|, 1e-300) per result.
# Exits 77 (ctest SKIP_RETURN_CODE) when torch cannot be imported.
#
# ===-----------------------------------------------------------------------===#

import math
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # pragma: no cover - depends on the host
    print(f"SKIP: cannot import torch ({e})")
    sys.exit(77)

MAGIC = b"LCTXREF1"
RTOL = 1e-10

# ===-----------------------------------------------------------------------===#
# File format
# ===-----------------------------------------------------------------------===#


def write_record(path, tensors):
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<Q", len(tensors)))
        for name, t in tensors.items():
            t = t.detach().contiguous()
            if t.is_complex():
                dtype, flat = 2, torch.view_as_real(t.to(torch.complex128))
                fmt = "d"
            elif t.is_floating_point():
                dtype, flat, fmt = 0, t.to(torch.float64), "d"
            else:
                dtype, flat, fmt = 1, t.to(torch.int64), "q"
            values = flat.reshape(-1).tolist()
            name_bytes = name.encode()
            f.write(struct.pack("<Q", len(name_bytes)))
            f.write(name_bytes)
            f.write(struct.pack("<BQ", dtype, t.dim()))
            f.write(struct.pack(f"<{t.dim()}q", *t.shape))
            f.write(struct.pack(f"<{len(values)}{fmt}", *values))


def read_record(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == MAGIC, "bad magic"
    pos = 8
    (count,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    out = {}
    for _ in range(count):
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        name = data[pos:pos + n].decode()
        pos += n
        dtype, rank = struct.unpack_from("<BQ", data, pos)
        pos += 9
        shape = struct.unpack_from(f"<{rank}q", data, pos)
        pos += 8 * rank
        numel = math.prod(shape)
        if dtype == 2:
            vals = struct.unpack_from(f"<{2 * numel}d", data, pos)
            pos += 16 * numel
            t = torch.view_as_complex(
                torch.tensor(vals, dtype=torch.float64).reshape(*shape, 2))
        else:
            fmt = "d" if dtype == 0 else "q"
            vals = struct.unpack_from(f"<{numel}{fmt}", data, pos)
            pos += 8 * numel
            t = torch.tensor(vals, dtype=torch.float64 if dtype == 0
                             else torch.int64).reshape(shape)
        out[name] = t
    return out


# ===-----------------------------------------------------------------------===#
# Torch formulations (written from the op descriptions)
# ===-----------------------------------------------------------------------===#


def t_rope(x, pos, theta):
    """x [B, H, T, Dh], pos [B, T] or [T]: pairs as complex numbers."""
    dh = x.shape[-1]
    freq = theta ** (-torch.arange(0, dh, 2, dtype=torch.float64) / dh)
    if pos.dim() == 1:
        pos = pos.unsqueeze(0).expand(x.shape[0], -1)
    angle = pos.to(torch.float64).unsqueeze(-1) * freq  # [B, T, Dh/2]
    rot = torch.polar(torch.ones_like(angle), angle).unsqueeze(1)
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], dh // 2, 2))
    return torch.view_as_real(xc * rot).reshape(x.shape)


def t_attention(q, k, v, qpos=None, kpos=None, causal=True, chunk=None,
                scale=None, rope_theta=None):
    b, h, tq, dh = q.shape
    hkv, tk = k.shape[1], k.shape[2]
    if qpos is None:
        qpos = (torch.arange(tq) + (tk - tq)).unsqueeze(0).expand(b, -1)
        kpos = torch.arange(tk).unsqueeze(0).expand(b, -1)
    if rope_theta is not None:
        rq = qpos if chunk is None else torch.remainder(qpos, chunk)
        rk = kpos if chunk is None else torch.remainder(kpos, chunk)
        q, k = t_rope(q, rq, rope_theta), t_rope(k, rk, rope_theta)
    k = k.repeat_interleave(h // hkv, dim=1)
    v = v.repeat_interleave(h // hkv, dim=1)
    s = scale if scale is not None else 1.0 / math.sqrt(dh)
    logits = s * torch.einsum("bhid,bhjd->bhij", q, k)
    vis = (kpos >= 0).unsqueeze(1).expand(b, tq, tk)
    if causal:
        vis = vis & (kpos.unsqueeze(1) <= qpos.unsqueeze(2))
    if chunk is not None:
        qc = torch.div(qpos, chunk, rounding_mode="floor")
        kc = torch.div(kpos, chunk, rounding_mode="floor")
        vis = vis & (kc.unsqueeze(1) == qc.unsqueeze(2))
    vis = vis.unsqueeze(1)
    w = torch.softmax(logits.masked_fill(~vis, float("-inf")), dim=-1)
    w = torch.nan_to_num(w, nan=0.0).masked_fill(~vis, 0.0)
    return w @ v


def t_ffn(act, x, w_in, w_out, w_gate=None):
    if w_in.dim() == 3:
        hidden = torch.bmm(x, w_in)
        gate = torch.bmm(x, w_gate) if w_gate is not None else None
        mm = torch.bmm
    else:
        hidden = x @ w_in
        gate = x @ w_gate if w_gate is not None else None
        mm = torch.matmul
    if act == 0:
        hidden = F.relu(hidden)
    elif act == 1:
        hidden = F.gelu(hidden)  # exact erf form
    else:
        hidden = F.silu(gate) * hidden
    return mm(hidden, w_out)


def t_cema(x, alpha, delta, theta, gamma, omega, h0):
    b, l, d = x.shape
    n = alpha.shape[1]
    p = torch.sigmoid(alpha)
    ang = torch.sigmoid(theta).unsqueeze(1) * (2 * math.pi / n) * \
        torch.arange(1, n + 1, dtype=torch.float64)
    q = torch.polar(1 - torch.sigmoid(alpha) * torch.sigmoid(delta), ang)
    g = gamma / math.sqrt(n)
    h = h0.clone()
    ys = []
    for t in range(l):
        h = p * x[:, t, :].unsqueeze(-1) + q * h
        ys.append((g * h).sum(-1).real + omega * x[:, t, :])
    return torch.stack(ys, dim=1), h


# ===-----------------------------------------------------------------------===#
# Cases
# ===-----------------------------------------------------------------------===#


def cases(gen):
    def rnd(*shape, lo=-1.0, hi=1.0):
        return torch.rand(*shape, generator=gen, dtype=torch.float64) * \
            (hi - lo) + lo

    def i64(v):
        return torch.tensor(v, dtype=torch.int64)

    def f64(v):
        return torch.tensor(v, dtype=torch.float64)

    # attention
    for name, b, h, hkv, tq, tk, dh, dv, opts in [
        ("attn_causal", 2, 4, 4, 7, 7, 8, 8, {}),
        ("attn_noncausal", 1, 2, 2, 5, 9, 4, 6, {"causal": False}),
        ("attn_decode", 2, 4, 2, 3, 10, 8, 8, {}),
        ("attn_rope_chunk_gqa", 2, 6, 2, 13, 13, 8, 4,
         {"chunk": 4, "scale": 1.0, "rope_theta": 10000.0}),
        ("attn_noncausal_chunk", 1, 2, 1, 9, 9, 4, 4,
         {"causal": False, "chunk": 3, "rope_theta": 500.0}),
        ("attn_positions", 2, 2, 2, 5, 8, 4, 4,
         {"positions": True, "rope_theta": 100.0, "scale": 0.3}),
        ("attn_positions_chunk", 2, 4, 2, 6, 8, 6, 4,
         {"positions": True, "chunk": 5, "rope_theta": 1000.0}),
    ]:
        q, k, v = rnd(b, h, tq, dh), rnd(b, hkv, tk, dh), rnd(b, hkv, tk, dv)
        ins = {"query": q, "key": k, "value": v}
        qpos = kpos = None
        if opts.get("positions"):
            kpos = torch.randint(-2, 3 * tk, (b, tk), generator=gen)
            kpos, _ = kpos.sort(dim=1)
            qpos = torch.randint(0, 3 * tk, (b, tq), generator=gen)
            ins["q_positions"], ins["k_positions"] = qpos, kpos
        causal = opts.get("causal", True)
        if not causal:
            ins["attr.causal"] = i64(0)
        if "chunk" in opts:
            ins["attr.chunk_size"] = i64(opts["chunk"])
        if "scale" in opts:
            ins["attr.scale"] = f64(opts["scale"])
        if "rope_theta" in opts:
            ins["attr.rope_theta"] = f64(opts["rope_theta"])
        want = t_attention(q, k, v, qpos, kpos, causal, opts.get("chunk"),
                           opts.get("scale"), opts.get("rope_theta"))
        yield name, "attention", ins, {"result": want}

    # rope
    x = rnd(2, 3, 5, 8)
    pos = torch.randint(0, 4000, (5,), generator=gen)
    yield "rope_shared", "rope", {"input": x, "positions": pos}, \
        {"result": t_rope(x, pos, 10000.0)}
    pos2 = torch.randint(0, 4000, (2, 5), generator=gen)
    yield "rope_per_row", "rope", {"input": x, "positions": pos2,
                                   "attr.theta": f64(100000.0)}, \
        {"result": t_rope(x, pos2, 100000.0)}

    # norms
    x, w, bias = rnd(2, 5, 16, lo=-3, hi=3), rnd(16), rnd(16)
    rms = x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-6)
    yield "rms_norm", "rms_norm", {"input": x, "weight": w,
                                   "attr.epsilon": f64(1e-6)}, \
        {"result": rms * w}
    yield "rms_norm_noaffine", "rms_norm", {"input": x,
                                            "attr.epsilon": f64(1e-3)}, \
        {"result": x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-3)}
    yield "layer_norm", "layer_norm", {"input": x, "weight": w, "bias": bias,
                                       "attr.epsilon": f64(1e-5)}, \
        {"result": F.layer_norm(x, (16,), w, bias, 1e-5)}
    yield "layer_norm_plain", "layer_norm", {"input": x,
                                             "attr.epsilon": f64(1e-5)}, \
        {"result": F.layer_norm(x, (16,), None, None, 1e-5)}

    # linear
    x = rnd(2, 3, 6)
    w, wt, bias = rnd(6, 5), rnd(5, 6), rnd(5)
    yield "linear_bias", "linear", {"input": x, "weight": w, "bias": bias}, \
        {"result": x @ w + bias}
    yield "linear_transposed", "linear", {"input": x, "weight": wt,
                                          "attr.transpose_weight": i64(1)}, \
        {"result": F.linear(x, wt)}

    # ffn
    for act in range(3):
        x = rnd(2, 4, 6)
        w_in, w_out, w_gate = rnd(6, 10), rnd(10, 5), rnd(6, 10)
        ins = {"activation": i64([act]), "input": x, "w_in": w_in,
               "w_out": w_out}
        if act == 2:
            ins["w_gate"] = w_gate
        yield f"ffn_{act}", "ffn", ins, {
            "result": t_ffn(act, x, w_in, w_out, w_gate if act == 2 else None)}
        xg = rnd(3, 4, 6)
        gi, go, gg = rnd(3, 6, 8), rnd(3, 8, 6), rnd(3, 6, 8)
        ins = {"activation": i64([act]), "input": xg, "w_in": gi, "w_out": go}
        if act == 2:
            ins["w_gate"] = gg
        yield f"ffn_grouped_{act}", "ffn", ins, {
            "result": t_ffn(act, xg, gi, go, gg if act == 2 else None)}

    # embedding (out-of-range ids give zero rows)
    table = rnd(7, 5)
    ids = torch.randint(-2, 9, (3, 4), generator=gen)
    valid = (ids >= 0) & (ids < 7)
    emb = F.embedding(ids.clamp(0, 6), table) * valid.unsqueeze(-1)
    yield "embedding", "embedding", {"table": table, "ids": ids}, \
        {"result": emb}

    # CEMA scan
    for b, l, d, n in [(2, 17, 4, 3), (1, 64, 3, 16)]:
        x = rnd(b, l, d)
        alpha, delta = rnd(d, n, lo=-2, hi=2), rnd(d, n, lo=-2, hi=2)
        theta, omega = rnd(d, lo=-3, hi=3), rnd(d)
        gamma = torch.complex(rnd(d, n), rnd(d, n))
        h0 = torch.complex(rnd(b, d, n), rnd(b, d, n))
        y, h = t_cema(x, alpha, delta, theta, gamma, omega, h0)
        yield f"cema_{l}", "cema.scan", {
            "input": x, "alpha": alpha, "delta": delta, "theta": theta,
            "gamma": gamma, "omega": omega, "init_state": h0}, \
            {"result": y, "final_state": h}


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    gen = torch.Generator().manual_seed(20240601)
    failures, count = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, op, ins, wants in cases(gen):
            count += 1
            inp, out = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
            write_record(inp, ins)
            proc = subprocess.run([binary, op, inp, out], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                print(f"FAIL {name}: lctx-reference-check exited "
                      f"{proc.returncode}: {proc.stderr.strip()}")
                failures += 1
                continue
            got = read_record(out)
            for key, want in wants.items():
                have = got.get(key)
                if have is None or tuple(have.shape) != tuple(want.shape):
                    print(f"FAIL {name}.{key}: shape "
                          f"{None if have is None else tuple(have.shape)} vs "
                          f"{tuple(want.shape)}")
                    failures += 1
                    continue
                err = (have - want).abs().max().item() if want.numel() else 0
                ref = max(want.abs().max().item() if want.numel() else 0,
                          1e-300)
                status = "ok" if err <= RTOL * ref else "FAIL"
                failures += status == "FAIL"
                print(f"{status:4} {name}.{key}: max|diff| {err:.3e}, "
                      f"max|ref| {ref:.3e}")
    print(f"{count} cases, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
