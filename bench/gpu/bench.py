#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""GPU benchmark: lctx's cuda target vs PyTorch on the same GPU.

Runs on the GPU machine from the repository root (bench/gpu/run.sh builds
the runtime and calls this), on the artifacts and weights that
bench/gpu/prepare.sh wrote on a machine with lctx-compile (CARRY, default
.gpu-bench). Measures:

  1. the device: name, achievable HBM bandwidth (a 1 GiB device-to-device
     copy, bytes read + written / time) and matmul rates (8192^3 fp32 with
     TF32 off, TF32, bf16), CUDA events, warm-up, median;
  2. every op of bench/gpu/ops.mlir: lctx (`lctx-run --device cuda
     --repeat N`, the `device time:` line when the runtime prints it, else
     `time:`), its numerics against a float64 PyTorch reference on the same
     inputs (max |lctx - ref| <= 1e-4 * max |ref| per output), PyTorch
     eager fp32 (TF32 off), torch.compile of the same eager function (time
     budget), and for attention scaled_dot_product_attention fp32 and bf16
     (flash backend); bytes moved and FLOPs by formula, lctx's GB/s and
     TFLOP/s as fractions of the measured bandwidth and fp32 matmul rate;
  3. the Infini-Transformer and MEGABYTE models (bench/models/configs):
     prefill and decode tokens/s of lctx (wall `time:`) vs the PyTorch
     reference (test/reference/torch, float32 eager) and the cached eager
     decode step (bench/models/cached.py), batch 1; prefill logits checked
     against the float64 reference (1e-4 relative).

Op inputs and weights are generated here (numpy, seeded) into a temporary
folder: they are too large to carry. A failing op or model prints FAIL with
the error and the run goes on. Writes a markdown report to
$OUT/gpu-results.md ($OUT set) or /tmp/gpu-results.md.

`--device cpu` runs the same lctx artifacts with the CPU code of the
artifact (lctx-run --device cpu) and checks them against the same float64
references on the CPU: how the references were validated against lctx's
semantics on a machine without a GPU (timings are then CPU timings).

usage: bench/gpu/bench.py [--carry DIR] [--lctx-run PATH] [--device cuda|cpu]
                          [--repeat N] [--ops A,B] [--no-models]
                          [--no-compile] [--compile-budget S] [--out FILE]
"""
import argparse
import datetime
import json
import math
import os
import re
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "reference", "torch"))
sys.path.insert(0, os.path.join(ROOT, "bench", "models"))

import infini  # noqa: E402  (test/reference/torch: retrieve, update, forward)

TOL = 1e-4          # max |lctx - ref| / max |ref|, fp32
F32_EPS_1E6 = struct.unpack("f", struct.pack("f", 1e-6))[0]  # RMSNorm eps

# ---------------------------------------------------------------------------
# safetensors (numpy only: the CPU python here has no safetensors package)

_DT = {"F32": np.float32, "F64": np.float64, "I32": np.int32,
       "I64": np.int64, "C64": np.complex64}
_DT_NAME = {np.dtype(v): k for k, v in _DT.items()}


def st_read(path):
    data = open(path, "rb").read()
    n = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b],
                                  _DT[h["dtype"]]).reshape(h["shape"]).copy()
    return out


def st_write(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        raw = arr.tobytes()
        header[name] = {"dtype": _DT_NAME[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)

# ---------------------------------------------------------------------------
# Op data: the shapes of bench/gpu/ops.mlir

B, H, T, DH = 1, 8, 2048, 64          # attention and Infini memory
CHUNK = 512
NT, D, DO, FH = 4096, 512, 2048, 1376  # rms_norm / linear / ffn
CL, CD, CN = 8192, 512, 16             # CEMA


def op_data(seed=1):
    """Inputs per entry and the weights of all entries (float32)."""
    rng = np.random.default_rng(seed)

    def randn(*s, scale=1.0):
        return (rng.standard_normal(s) * scale).astype(np.float32)

    def sigma(x):
        return np.where(x > 0, x + 1, np.exp(np.minimum(x, 0)))

    q, k, v, adot = (randn(B, H, T, DH) for _ in range(4))
    x = randn(1, NT, D)
    cx = randn(1, CL, CD)
    # A memory that has absorbed one earlier 2048-token segment of random
    # keys and values (so sigma(Q) z is far from 0, as in a real stream).
    k0 = rng.standard_normal((B, H, T, DH))
    v0 = rng.standard_normal((B, H, T, DH))
    m0 = (np.swapaxes(sigma(k0), -1, -2) @ v0).astype(np.float32)
    z0 = sigma(k0).sum(-2).astype(np.float32)
    w = {
        "rms_norm.w": 1 + randn(D, scale=0.1),
        "linear.w": randn(D, DO, scale=D ** -0.5),
        "ffn_swiglu.w_in": randn(D, FH, scale=D ** -0.5),
        "ffn_swiglu.w_out": randn(FH, D, scale=FH ** -0.5),
        "ffn_swiglu.w_gate": randn(D, FH, scale=D ** -0.5),
        "cema.alpha": randn(CD, CN),
        "cema.delta": randn(CD, CN),
        "cema.theta": randn(CD),
        "cema.gamma": (randn(CD, CN) + 1j * randn(CD, CN)).astype(np.complex64),
        "cema.omega": randn(CD),
        "cema.h0": (randn(1, CD, CN, scale=0.5)
                    + 1j * randn(1, CD, CN, scale=0.5)).astype(np.complex64),
        "memory_retrieve_gate.m": m0, "memory_retrieve_gate.z": z0,
        "memory_retrieve_gate.beta": randn(H),
        "memory_update_linear.m": m0, "memory_update_linear.z": z0,
        "memory_update_delta.m": m0, "memory_update_delta.z": z0,
    }
    inputs = {
        "attention_causal": {"q": q, "k": k, "v": v},
        "attention_chunked": {"q": q, "k": k, "v": v},
        "rms_norm": {"x": x}, "linear": {"x": x}, "ffn_swiglu": {"x": x},
        "cema": {"x": cx},
        "memory_retrieve_gate": {"q": q, "adot": adot},
        "memory_update_linear": {"k": k, "v": v},
        "memory_update_delta": {"k": k, "v": v},
    }
    return inputs, w

# ---------------------------------------------------------------------------
# PyTorch implementations (any dtype, any device). From docs/LCtxOps.md and
# docs/conventions.md: scale 1/sqrt(Dh); causal j <= i with queries aligned
# to the end of the keys (Tq = Tk here); chunk_size c: same chunk
# (i // c == j // c) AND causal; RMSNorm eps = f32(1e-6); swiglu =
# (silu(x w_gate) * (x w_in)) w_out; CEMA as Megalodon's official code
# (p = sigmoid(alpha), q = (1 - p sigmoid(delta)) e^{i theta'}, theta' =
# sigmoid(theta) 2 pi / N (n + 1), y = Re(sum gamma / sqrt(N) h) + omega x);
# Infini sigma = ELU + 1, A_mem = 0 where sigma(Q) z = 0 (test/reference/
# torch/infini.py's retrieve and update are reused).


def t_attention(q, k, v, chunk=None):
    t = q.shape[-2]
    i = torch.arange(t, device=q.device)[:, None]
    j = torch.arange(t, device=q.device)[None, :]
    mask = j <= i
    if chunk:
        mask = mask & (i // chunk == j // chunk)
    s = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, -1) @ v


def t_rms_norm(x, w):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + F32_EPS_1E6) * w


def t_ffn_swiglu(x, w_in, w_out, w_gate):
    return (torch.nn.functional.silu(x @ w_gate) * (x @ w_in)) @ w_out


def _cema_coeffs(alpha, delta, theta, gamma):
    n = alpha.shape[-1]
    p = torch.sigmoid(alpha)
    mag = 1 - p * torch.sigmoid(delta)
    ang = torch.sigmoid(theta)[:, None] * (2 * math.pi / n) * torch.arange(
        1, n + 1, dtype=alpha.dtype, device=alpha.device)
    return p, torch.polar(mag, ang), gamma / math.sqrt(n)


def t_cema_recurrence(x, alpha, delta, theta, gamma, omega, h0):
    """The scan step by step (the float64 reference)."""
    p, q, g = _cema_coeffs(alpha, delta, theta, gamma)
    h = h0
    ys = torch.empty_like(x)
    for t in range(x.shape[1]):
        xt = x[:, t, :]
        h = p * xt[..., None] + q * h
        ys[:, t, :] = (g * h).real.sum(-1) + omega * xt
    return ys, h


def t_cema_fft(x, alpha, delta, theta, gamma, omega, h0):
    """The same scan as an FFT convolution with K[d, l] = Re(sum_n g p q^l)
    plus the initial-state term (the eager peer: the recurrence is a
    sequential loop of L kernel launches)."""
    p, q, g = _cema_coeffs(alpha, delta, theta, gamma)
    L = x.shape[1]
    steps = torch.arange(L, dtype=x.dtype, device=x.device)
    pw = torch.polar(torch.exp(torch.log(q.abs())[..., None] * steps),
                     q.angle()[..., None] * steps)             # [D, N, L]
    kern = ((p * g)[..., None] * pw).real.sum(1)               # [D, L]
    nfft = 2 * L
    xf = torch.fft.rfft(x.transpose(1, 2), n=nfft)             # [B, D, F]
    kf = torch.fft.rfft(kern, n=nfft)
    y = torch.fft.irfft(xf * kf, n=nfft)[..., :L]              # [B, D, L]
    bias = torch.einsum("bdn,dnt->bdt", (g * q) * h0, pw).real
    y = (y + bias).transpose(1, 2) + omega * x
    hL = (q ** L) * h0 + p * torch.einsum(
        "bdt,dnt->bdn", x.transpose(1, 2).to(pw.dtype), pw.flip(-1))
    return y, hL


def t_retrieve_gate(q, adot, m, z, beta):
    g = torch.sigmoid(beta)[None, :, None, None]
    return g * infini.retrieve(q, m, z) + (1 - g) * adot


def t_update(rule):
    def f(k, v, m, z):
        return infini.update(rule, k, v, m, z)
    return f


def gb(*shapes, itemsize=4):
    return sum(math.prod(s) for s in shapes) * itemsize


BHTD = (B, H, T, DH)
# entry: (shape text, torch fn, input names, weight names, bytes, flops)
OPS = {
    "attention_causal": (
        "[1,8,2048,64] causal", lambda q, k, v: t_attention(q, k, v),
        ["q", "k", "v"], [], gb(*[BHTD] * 4),
        4 * B * H * DH * T * (T + 1) / 2),
    "attention_chunked": (
        "[1,8,2048,64] chunk 512", lambda q, k, v: t_attention(q, k, v, CHUNK),
        ["q", "k", "v"], [], gb(*[BHTD] * 4),
        4 * B * H * DH * (T // CHUNK) * CHUNK * (CHUNK + 1) / 2),
    "rms_norm": (
        "[1,4096,512]", t_rms_norm, ["x"], ["w"],
        gb((NT, D), (NT, D), (D,)), 4 * NT * D),
    "linear": (
        "[1,4096,512]x[512,2048]", lambda x, w: x @ w, ["x"], ["w"],
        gb((NT, D), (D, DO), (NT, DO)), 2 * NT * D * DO),
    "ffn_swiglu": (
        "T=4096 512-1376-512", t_ffn_swiglu, ["x"],
        ["w_in", "w_out", "w_gate"],
        gb((NT, D), (D, FH), (FH, D), (D, FH), (NT, D)), 6 * NT * D * FH),
    "cema": (
        "L=8192 D=512 N=16", t_cema_fft, ["x"],
        ["alpha", "delta", "theta", "gamma", "omega", "h0"],
        gb((CL, CD), (CL, CD), (CD, CN), (CD, CN), (CD, CN), (CD, CN)),
        8 * CL * CD * CN),
    "memory_retrieve_gate": (
        "[1,8,2048,64] M 64x64", t_retrieve_gate, ["q", "adot"],
        ["m", "z", "beta"], gb(*[BHTD] * 3, (B, H, DH, DH)),
        2 * B * H * T * DH * (DH + 1) + 6 * B * H * T * DH),
    "memory_update_linear": (
        "[1,8,2048,64] linear", t_update("linear"), ["k", "v"], ["m", "z"],
        gb(*[BHTD] * 2, (B, H, DH, DH), (B, H, DH, DH)),
        2 * B * H * T * DH * DH),
    "memory_update_delta": (
        "[1,8,2048,64] delta", t_update("delta"), ["k", "v"], ["m", "z"],
        gb(*[BHTD] * 2, (B, H, DH, DH), (B, H, DH, DH)),
        4 * B * H * T * DH * DH + 2 * B * H * T * DH),
}
REF_OVERRIDE = {"cema": t_cema_recurrence}
OUTPUTS = {"cema": ["y", "h"], "memory_update_linear": ["m_next", "z_next"],
           "memory_update_delta": ["m_next", "z_next"]}

# ---------------------------------------------------------------------------
# Timing


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def time_torch(fn, dev, repeat, warmup=3):
    """Median milliseconds of fn() (CUDA events on the GPU)."""
    for _ in range(warmup):
        fn()
    sync(dev)
    times = []
    for _ in range(repeat):
        if dev == "cuda":
            a = torch.cuda.Event(enable_timing=True)
            b = torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def device_info(dev, repeat):
    info = {"device": "cpu", "bw": None, "fp32": None, "tf32": None,
            "bf16": None}
    if dev != "cuda":
        return info
    info["device"] = torch.cuda.get_device_name()
    n = 1 << 28                                   # 1 GiB of fp32
    src = torch.empty(n, device="cuda")
    dst = torch.empty_like(src)
    ms = time_torch(lambda: dst.copy_(src), dev, repeat)
    info["bw"] = 2 * n * 4 / (ms * 1e-3) / 1e9    # GB/s
    del src, dst
    m = 8192
    for key, dt, tf32 in (("fp32", torch.float32, False),
                          ("tf32", torch.float32, True),
                          ("bf16", torch.bfloat16, False)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.randn(m, m, device="cuda", dtype=dt)
        b = torch.randn(m, m, device="cuda", dtype=dt)
        ms = time_torch(lambda: a @ b, dev, max(3, repeat // 4))
        info[key] = 2 * m ** 3 / (ms * 1e-3) / 1e12  # TFLOP/s
    torch.backends.cuda.matmul.allow_tf32 = False
    return info

# ---------------------------------------------------------------------------
# lctx-run


def run_lctx(args, art, entry, weights, inputs, output, repeat, extra=()):
    cmd = [args.lctx_run, art, "--entry", entry, "--device", args.device,
           "--repeat", str(repeat), "--print", "1"]
    if weights:
        cmd += ["--weights", weights]
    if inputs:
        cmd += ["--inputs", inputs]
    if output:
        cmd += ["--output", output]
    cmd += list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.lctx_timeout)
    if r.returncode != 0:
        raise RuntimeError("lctx-run failed (%d): %s\n%s" % (
            r.returncode, " ".join(map(shlex.quote, cmd)),
            (r.stderr + r.stdout)[-2000:]))
    out = {"wall": None, "device": None}
    m = re.search(r"^time: median ([0-9.]+) ms", r.stdout, re.M)
    if m:
        out["wall"] = float(m.group(1))
    m = re.search(r"^device time: median ([0-9.]+) ms", r.stdout, re.M)
    if m:
        out["device"] = float(m.group(1))
    if out["wall"] is None:
        raise RuntimeError("no 'time:' line in lctx-run's output:\n" +
                           r.stdout[-1000:])
    return out


def rel_err(got, want):
    # from_numpy: always on the CPU, whatever the default device.
    got = torch.from_numpy(np.ascontiguousarray(got)).to(
        torch.complex128 if want.is_complex() else torch.float64)
    want = want.detach().cpu()
    return float((got - want).abs().max() / want.abs().max())

# ---------------------------------------------------------------------------
# Ops


def bench_ops(args, info, work, report):
    art = os.path.join(args.carry, "ops.lctx")
    inputs, weights = op_data()
    wfile = os.path.join(work, "ops.weights.safetensors")
    st_write(wfile, weights)
    dev = args.device
    rows = []
    compile_left = args.compile_budget if args.compile and dev == "cuda" \
        else 0.0
    for entry, (shape, fn, in_names, w_names, nbytes, flops) in OPS.items():
        if args.ops and entry not in args.ops:
            continue
        row = {"op": entry, "shape": shape, "bytes": nbytes, "flops": flops}
        rows.append(row)
        print("== %s %s" % (entry, shape), flush=True)
        try:
            ifile = os.path.join(work, entry + ".in.safetensors")
            ofile = os.path.join(work, entry + ".out.safetensors")
            st_write(ifile, inputs[entry])
            t = run_lctx(args, art, entry, wfile, ifile, ofile, args.repeat)
            row["lctx_wall"] = t["wall"]
            row["lctx_dev"] = t["device"]
            row["lctx"] = t["device"] if t["device"] is not None else t["wall"]
            got = st_read(ofile)

            def operands(dtype):
                ts = []
                for n in in_names:
                    ts.append(torch.as_tensor(inputs[entry][n]).to(dev))
                for n in w_names:
                    ts.append(torch.as_tensor(weights[entry + "." + n]).to(
                        dev))
                cdt = torch.complex128 if dtype == torch.float64 else \
                    torch.complex64
                return [a.to(cdt) if a.is_complex() else a.to(dtype)
                        for a in ts]

            # Numerics: float64 reference on the same inputs.
            ref = REF_OVERRIDE.get(entry, fn)
            with torch.no_grad():
                want = ref(*operands(torch.float64))
            want = want if isinstance(want, tuple) else (want,)
            names = OUTPUTS.get(entry, ["out"])
            errs = [rel_err(got[n], w) for n, w in zip(names, want)]
            row["err"] = max(errs)
            if entry in REF_OVERRIDE:
                # The eager peer (another formulation) must agree too.
                with torch.no_grad():
                    alt = fn(*operands(torch.float64))
                row["peer_err"] = max(rel_err(a.cpu().numpy(), w)
                                      for a, w in zip(alt, want))
            gen = os.path.join(args.carry, "ops-generated.lctx")
            if os.path.exists(gen):
                # lctx's generated GEMM kernels instead of the runtime's
                # library GEMM: same entry, same checks.
                try:
                    tg = run_lctx(args, gen, entry, wfile, ifile, ofile,
                                  args.repeat)
                    row["gen"] = tg["device"] if tg["device"] is not None \
                        else tg["wall"]
                    got = st_read(ofile)
                    row["gen_err"] = max(rel_err(got[n], w)
                                         for n, w in zip(names, want))
                    print("   lctx generated-GEMM %.4f ms, max rel err %.2e"
                          % (row["gen"], row["gen_err"]), flush=True)
                except Exception as e:  # noqa: BLE001
                    row["gen_fail"] = str(e).splitlines()[0][:80]
                    print("   lctx generated-GEMM FAIL: %s" % e, flush=True)
            del want
            row["status"] = "ok" if row["err"] <= TOL and \
                row.get("gen_err", 0) <= TOL else "NUMERICS"
            print("   lctx %.4f ms (wall %.4f ms, device %s), max rel err "
                  "%.2e %s" % (row["lctx"], t["wall"], t["device"],
                               row["err"], row["status"]), flush=True)
            if args.no_torch_timing:
                continue
            ops32 = operands(torch.float32)
            with torch.no_grad():
                row["eager"] = time_torch(lambda: fn(*ops32), dev,
                                          args.repeat)
            print("   torch eager fp32 %.4f ms" % row["eager"], flush=True)
            if compile_left > 0 and time.perf_counter() - args.t_start < \
                    args.compile_deadline:
                t0 = time.perf_counter()
                try:
                    cfn = torch.compile(fn)
                    with torch.no_grad():
                        cfn(*ops32)
                        row["compiled"] = time_torch(lambda: cfn(*ops32), dev,
                                                     args.repeat)
                    print("   torch.compile %.4f ms" % row["compiled"],
                          flush=True)
                except Exception as e:  # noqa: BLE001
                    print("   torch.compile FAIL: %s" %
                          str(e).splitlines()[0][:200], flush=True)
                compile_left -= time.perf_counter() - t0
            if entry.startswith("attention") and dev == "cuda":
                sdpa(row, entry, ops32, dev, args.repeat)
        except Exception as e:  # noqa: BLE001
            row["status"] = "FAIL"
            row["error"] = str(e)
            print("   FAIL: %s" % e, flush=True)
            traceback.print_exc()
        finally:
            for f in (ifile, ofile):
                if os.path.exists(f):
                    os.remove(f)
            if dev == "cuda":
                torch.cuda.empty_cache()
    report.append(ops_table(rows, info, args))
    return rows


def sdpa(row, entry, ops32, dev, repeat):
    """scaled_dot_product_attention fp32 (backend of PyTorch's choice) and
    bf16 (flash). The chunked form runs as causal attention over the
    chunks folded into the batch (exactly the chunk mask)."""
    F = torch.nn.functional
    q, k, v = ops32

    def fold(x):
        if entry == "attention_chunked":
            return x.reshape(B, H * (T // CHUNK), CHUNK, DH)
        return x
    q, k, v = fold(q), fold(k), fold(v)
    with torch.no_grad():
        try:
            row["sdpa32"] = time_torch(
                lambda: F.scaled_dot_product_attention(q, k, v,
                                                       is_causal=True),
                dev, repeat)
            print("   sdpa fp32 %.4f ms" % row["sdpa32"], flush=True)
        except Exception as e:  # noqa: BLE001
            print("   sdpa fp32 FAIL: %s" % e, flush=True)
        try:
            qb, kb, vb = (x.to(torch.bfloat16) for x in (q, k, v))
            try:
                from torch.nn.attention import SDPBackend, sdpa_kernel
                ctx = sdpa_kernel([SDPBackend.FLASH_ATTENTION])
            except ImportError:
                ctx = torch.backends.cuda.sdp_kernel(
                    enable_flash=True, enable_math=False,
                    enable_mem_efficient=False)
            with ctx:
                row["sdpa16"] = time_torch(
                    lambda: F.scaled_dot_product_attention(qb, kb, vb,
                                                           is_causal=True),
                    dev, repeat)
            print("   sdpa bf16 flash %.4f ms" % row["sdpa16"], flush=True)
        except Exception as e:  # noqa: BLE001
            print("   sdpa bf16 FAIL: %s" % e, flush=True)


def fmt(x, spec="%.3f"):
    return "-" if x is None else spec % x


def ops_table(rows, info, args):
    dev_col = "lctx ms (device)" if any(r.get("lctx_dev") is not None
                                        for r in rows) else "lctx ms (wall)"
    lines = [
        "| op | shape | %s | lctx wall ms | lctx gen-GEMM ms | torch eager ms | torch.compile "
        "ms | SDPA fp32 ms | SDPA bf16 flash ms | eager/lctx | best fp32 "
        "torch/lctx | MB moved | GFLOP | lctx GB/s (%% of %s) | lctx TFLOP/s "
        "(%% of fp32 %s) | max rel err | status |" % (
            dev_col, fmt(info["bw"], "%.0f"), fmt(info["fp32"], "%.1f")),
        "|" + "---|" * 17]
    for r in rows:
        lt = r.get("lctx")
        best = [r.get(k) for k in ("eager", "compiled", "sdpa32")
                if r.get(k) is not None]
        gbs = tfs = None
        if lt:
            gbs = r["bytes"] / (lt * 1e-3) / 1e9
            tfs = r["flops"] / (lt * 1e-3) / 1e12
        gbs_s = "-" if gbs is None else (
            "%.0f" % gbs + (" (%.0f%%)" % (100 * gbs / info["bw"])
                            if info["bw"] else ""))
        tfs_s = "-" if tfs is None else (
            "%.3f" % tfs + (" (%.1f%%)" % (100 * tfs / info["fp32"])
                            if info["fp32"] else ""))
        status = r.get("status", "?")
        if status == "FAIL":
            status = "FAIL: " + r.get("error", "").splitlines()[0][:80] \
                .replace("|", "/")
        err = fmt(r.get("err"), "%.1e")
        if r.get("peer_err") is not None:
            err += " (peer %.1e)" % r["peer_err"]
        gen = fmt(r.get("gen"), "%.4f")
        if r.get("gen_err") is not None:
            gen += " (err %.0e)" % r["gen_err"]
        elif r.get("gen_fail"):
            gen = "FAIL"
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | "
                     "%.1f | %.2f | %s | %s | %s | %s |" % (
                         r["op"], r["shape"], fmt(lt, "%.4f"),
                         fmt(r.get("lctx_wall"), "%.4f"), gen,
                         fmt(r.get("eager"), "%.4f"),
                         fmt(r.get("compiled"), "%.4f"),
                         fmt(r.get("sdpa32"), "%.4f"),
                         fmt(r.get("sdpa16"), "%.4f"),
                         fmt(r["eager"] / lt if lt and r.get("eager")
                             else None, "%.2f"),
                         fmt(min(best) / lt if lt and best else None, "%.2f"),
                         r["bytes"] / 1e6, r["flops"] / 1e9, gbs_s, tfs_s,
                         err, status))
    return "\n".join(lines)

# ---------------------------------------------------------------------------
# Models


def bench_models(args, info, work, report):
    rows = []
    dev = args.device
    for name in ("infini", "megabyte"):
        cfg_path = os.path.join(args.carry, name + ".json")
        art = os.path.join(args.carry, name + ".lctx")
        if not os.path.exists(art):
            print("== model %s: FAIL: %s missing (prepare.sh could not "
                  "compile it)" % (name, art))
            rows.append({"model": name, "status": "FAIL: not prepared"})
            continue
        row = {"model": name}
        rows.append(row)
        try:
            bench_model(args, name, cfg_path, art, work, row)
        except Exception as e:  # noqa: BLE001
            row["status"] = "FAIL: " + str(e).splitlines()[0][:100]
            print("   FAIL: %s" % e, flush=True)
            traceback.print_exc()
        if dev == "cuda":
            torch.cuda.empty_cache()
    lines = [
        "| model | config | tokens | lctx prefill tok/s | torch fp32 prefill "
        "tok/s | ratio | lctx decode tok/s | torch cached decode tok/s | "
        "ratio | logits rel err | status |", "|" + "---|" * 11]
    for r in rows:
        def tps(k):
            return fmt(r.get(k), "%.0f")

        def ratio(a, b):
            return fmt(r[a] / r[b] if r.get(a) and r.get(b) else None, "%.2f")
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                     % (r["model"], r.get("config", "-"), r.get("tokens", "-"),
                        tps("lp"), tps("tp"), ratio("lp", "tp"), tps("ld"),
                        tps("td"), ratio("ld", "td"),
                        fmt(r.get("err"), "%.1e"), r.get("status", "?")))
    report.append("\n".join(lines))
    return rows


def bench_model(args, name, cfg_path, art, work, row):
    import cached
    ref = infini if name == "infini" else __import__(name)
    dev = args.device
    c = json.load(open(cfg_path))
    t = c["context"]
    row["config"] = c.get("name", name)
    row["tokens"] = t
    print("== model %s (%s, %d tokens)" % (name, row["config"], t),
          flush=True)
    wfile = os.path.join(args.carry, name + ".weights.safetensors")
    if not os.path.exists(wfile):
        # prepare.sh with LCTX_GPU_BENCH_WEIGHTS=0: the same seeded weights
        # (scripts/random-weights.py is deterministic, standard library).
        wfile = os.path.join(work, name + ".weights.safetensors")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts",
                                                     "random-weights.py"),
                        art, wfile, "--seed", "5", "--scale", "0.05"],
                       check=True, stdout=subprocess.DEVNULL)
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 256, (1, t)).astype(np.int32)
    ifile = os.path.join(work, name + ".ids.safetensors")
    ofile = os.path.join(work, name + ".logits.safetensors")
    st_write(ifile, {"ids": ids})
    tm = run_lctx(args, art, "prefill", wfile, ifile, ofile, args.model_repeat)
    row["lp"] = t / (tm["wall"] * 1e-3)
    row["lp_dev"] = None if tm["device"] is None else t / (tm["device"] * 1e-3)
    got = st_read(ofile)["logits"]
    w = {k: torch.as_tensor(v).to(dev) for k, v in st_read(wfile).items()}
    tids = torch.as_tensor(ids).long().to(dev)
    with torch.no_grad():
        want = ref.forward(w, tids, c, dtype=torch.float64)
    row["err"] = rel_err(got, want)
    del want
    row["status"] = "ok" if row["err"] <= TOL else "NUMERICS"
    print("   lctx prefill %.3f ms (device %s): %.0f tok/s; logits rel err "
          "%.2e %s" % (tm["wall"], tm["device"], row["lp"], row["err"],
                       row["status"]), flush=True)

    # lctx decode: one step from the zero state (every repeat starts from
    # the same state), wall time.
    if name == "megabyte":
        p = c["patch"]
        gfile = os.path.join(work, "patch_ids.safetensors")
        lfile = os.path.join(work, "prev_id.safetensors")
        st_write(gfile, {"patch_ids": ids[:, :p]})
        st_write(lfile, {"prev_id": ids[:, :1]})
        tg = run_lctx(args, art, "decode_global", wfile, gfile, None,
                      args.decode_repeat)
        tl = run_lctx(args, art, "decode_local", wfile, lfile, None,
                      args.decode_repeat)
        step = tl["wall"] + tg["wall"] / p
        print("   lctx decode_global %.4f ms, decode_local %.4f ms (device "
              "%s / %s)" % (tg["wall"], tl["wall"], tg["device"],
                            tl["device"]), flush=True)
    else:
        dfile = os.path.join(work, "decode_ids.safetensors")
        st_write(dfile, {"ids": ids[:, :1]})
        td = run_lctx(args, art, "decode", wfile, dfile, None,
                      args.decode_repeat)
        step = td["wall"]
        print("   lctx decode %.4f ms (device %s)" % (td["wall"],
                                                      td["device"]),
              flush=True)
    row["ld"] = 1e3 / step
    if args.no_torch_timing:
        return
    w32 = {k: (v.to(torch.complex64) if v.is_complex()
               else v.to(torch.float32)) for k, v in w.items()}
    with torch.no_grad():
        ms = time_torch(lambda: ref.forward(w32, tids, c,
                                            dtype=torch.float32),
                        dev, args.model_repeat, warmup=2)
    row["tp"] = t / (ms * 1e-3)
    print("   torch fp32 prefill %.3f ms: %.0f tok/s" % (ms, row["tp"]),
          flush=True)
    # torch cached decode (bench/models/cached.py), the first `steps`
    # positions, per-token average (MEGABYTE: global step every P bytes).
    steps = min(64, t)
    peer = cached.make(c, w32, torch.float32)
    with torch.inference_mode():
        peer.reset()                     # warm-up pass
        for pos in range(steps):
            peer.logits_at(tids, pos)
        peer.reset()
        sync(dev)
        t0 = time.perf_counter()
        for pos in range(steps):
            peer.logits_at(tids, pos)
        sync(dev)
        row["td"] = steps / (time.perf_counter() - t0)
    print("   lctx decode %.0f tok/s, torch cached decode %.0f tok/s" % (
        row["ld"], row["td"]), flush=True)

# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--carry", default=os.path.join(ROOT, ".gpu-bench"))
    ap.add_argument("--lctx-run", default="/tmp/lctxrt/bin/lctx-run")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--model-repeat", type=int, default=10)
    ap.add_argument("--decode-repeat", type=int, default=50)
    ap.add_argument("--ops", default="", help="comma-separated entries")
    ap.add_argument("--no-ops", action="store_true")
    ap.add_argument("--no-models", action="store_true")
    ap.add_argument("--no-compile", dest="compile", action="store_false")
    ap.add_argument("--compile-budget", type=float, default=120.0,
                    help="seconds of torch.compile attempts in all")
    ap.add_argument("--compile-deadline", type=float, default=200.0,
                    help="no torch.compile attempt starts after this many "
                    "seconds of the run")
    ap.add_argument("--no-torch-timing", action="store_true",
                    help="numerics only (the CPU validation)")
    ap.add_argument("--lctx-timeout", type=float, default=90.0,
                    help="seconds per lctx-run call")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.ops = [o for o in args.ops.split(",") if o]
    args.carry = os.path.abspath(args.carry)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("bench: no CUDA device visible to PyTorch")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        # The references create their masks, positions and states with the
        # default device.
        torch.set_default_device("cuda")
    t_start = args.t_start = time.perf_counter()
    cmd = " ".join(map(shlex.quote, sys.argv))
    info = device_info(args.device, args.repeat)
    head = ["# lctx GPU benchmark", "",
            "- date: %s" % datetime.datetime.now().isoformat(
                timespec="seconds"),
            "- device: %s (lctx-run --device %s)" % (info["device"],
                                                     args.device),
            "- command: `%s`" % cmd,
            "- torch %s%s" % (torch.__version__,
                              ", CUDA %s" % torch.version.cuda
                              if args.device == "cuda" else ""),
            "- prepared: %s" % open(os.path.join(args.carry, "PREPARED"))
            .read().strip().replace("\n", "; ")
            if os.path.exists(os.path.join(args.carry, "PREPARED")) else
            "- prepared: ?"]
    if info["bw"]:
        head.append("- measured: HBM copy %.0f GB/s; matmul 8192^3 fp32 %.1f "
                    "TFLOP/s, TF32 %.1f, bf16 %.1f" % (
                        info["bw"], info["fp32"], info["tf32"], info["bf16"]))
    head.append("- numerics: max |lctx - ref| <= %g * max |ref| per output, "
                "ref = PyTorch float64 on the same inputs" % TOL)
    print("\n".join(head), flush=True)
    report = ["\n".join(head)]
    with tempfile.TemporaryDirectory(prefix="lctx-gpu-bench-") as work:
        if not args.no_ops:
            report.append("\n## Ops\n")
            bench_ops(args, info, work, report)
        if not args.no_models:
            report.append("\n## Models (batch 1)\n")
            bench_models(args, info, work, report)
    report.append("\ntotal bench time %.0f s" % (time.perf_counter()
                                                  - t_start))
    text = "\n".join(report) + "\n"
    print("\n" + text)
    out = args.out or os.path.join(os.environ.get("OUT") or "/tmp",
                                   "gpu-results.md")
    with open(out, "w") as f:
        f.write(text)
    print("bench: wrote " + out)


if __name__ == "__main__":
    main()
