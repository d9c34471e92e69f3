#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Single-thread op benchmark: lctx CPU codegen vs PyTorch (OpenBLAS).

Builds lctx-compile and lctx-run (ninja in the build dir), compiles the
functions in bench/ops/*.mlir (all arguments plain inputs, so no weights
file), runs each with `lctx-run --random-inputs 1 --repeat N`, and times
PyTorch doing the same op in this process with OPENBLAS_CORETYPE=SkylakeX
(Debian's OpenBLAS otherwise picks SSE3 "Prescott" kernels on this VM),
OPENBLAS_NUM_THREADS=1 and torch.set_num_threads(1). Prints median times,
GFLOP/s and the lctx/torch throughput ratio (> 1: lctx is faster).

usage: bench/ops/bench.py [--build-dir DIR] [--repeat N] [--markdown]
                          [--lctx-env NAME=VALUE ...]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

# Before torch (and OpenBLAS) load.
os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# name, MLIR file, nominal FLOPs, torch builder, description
B, H, T, DH = 1, 8, 1024, 64
OPS = [
    ("sgemm", "sgemm.mlir", 2 * 1024 ** 3,
     "lctx.linear [1024x1024] x [1024x1024], f32"),
    ("ffn_swiglu", "ffn.mlir", 3 * 2 * 2048 * 512 * 1408,
     "lctx.ffn swiglu, 2048 tokens, 512 -> 1408 -> 512"),
    ("attention_causal", "attention.mlir", 4 * B * H * T * T * DH,
     "lctx.attention [1, 8, 1024, 64], causal (FLOPs counted dense)"),
    ("cema", "cema.mlir", 8 * 1 * 4096 * 1024 * 16,
     "lctx.cema.scan B=1, T=4096, D=1024, N=16 (FLOPs of the recurrence)"),
    ("mod_routing", "mod_routing.mlir", 2 * 2 * 4096 * 1024 + 2 * 2 * 512 * 1024,
     "lctx.route.depth topk (k=512) + gather + scaled scatter_add, "
     "[2, 4096, 1024]"),
]

CEMA_B, CEMA_T, CEMA_D, CEMA_N = 1, 4096, 1024, 16
MOD_B, MOD_S, MOD_D, MOD_K = 2, 4096, 1024, 512


def cema_torch(torch, rand):
    """CEMA in eager PyTorch from the math (docs/LCtxOps.md), two forms: the
    per-step recurrence, and the FFT convolution with the kernel
    K[d, l] = Re(sum_n p gamma~ q^l) plus the initial-state term. Returns
    both; the bench times each and keeps the faster."""
    B, T, D, N = CEMA_B, CEMA_T, CEMA_D, CEMA_N
    x = rand(B, T, D)
    alpha, delta, theta, omega = rand(D, N), rand(D, N), rand(D), rand(D)
    gamma = torch.complex(rand(D, N), rand(D, N))
    h0 = torch.complex(rand(B, D, N), rand(B, D, N))

    def coefficients():
        p = torch.sigmoid(alpha)
        mag = 1 - p * torch.sigmoid(delta)
        ang = torch.sigmoid(theta)[:, None] * (2 * torch.pi / N) * torch.arange(
            1, N + 1, dtype=torch.float32)
        q = torch.polar(mag, ang)
        return p, q, gamma / N ** 0.5

    def recurrence():
        p, q, g = coefficients()
        h = h0
        y = torch.empty(B, T, D)
        for t in range(T):
            xt = x[:, t, :]
            h = p * xt[..., None] + q * h
            y[:, t, :] = (g * h).real.sum(-1) + omega * xt
        return y, h

    steps = torch.arange(T, dtype=torch.float32)

    def fft_conv():
        p, q, g = coefficients()
        # q^l = |q|^l e^(i l angle(q)) for l in [0, T): [D, N, T].
        logmag, ang = torch.log(q.abs()), torch.angle(q)
        pw = torch.polar(torch.exp(logmag[..., None] * steps),
                         ang[..., None] * steps)
        kern = ((p * g)[..., None] * pw).real.sum(1)             # [D, T]
        nfft = 2 * T
        xf = torch.fft.rfft(x.transpose(1, 2), n=nfft)           # [B, D, F]
        kf = torch.fft.rfft(kern, n=nfft)                        # [D, F]
        y = torch.fft.irfft(xf * kf, n=nfft)[..., :T]            # [B, D, T]
        # Initial state: Re(sum_n g q^(t+1) h0) = Re(sum_n g q h0 q^t).
        bias = torch.einsum("bdn,dnt->bdt", (g * q) * h0, pw).real
        y = (y + bias).transpose(1, 2) + omega * x
        # Final state: q^T h0 + p sum_j q^(T-1-j) x_j.
        qT = q ** T
        hT = qT * h0 + p * torch.einsum("bdt,dnt->bdn",
                                        x.transpose(1, 2).to(pw.dtype),
                                        pw.flip(-1))
        return y, hT

    return recurrence, fft_conv


def mod_torch(torch, rand):
    """Mixture-of-Depths routing in eager PyTorch: router logits, top-k per
    row, indices sorted ascending, gather, scaled scatter_add."""
    B, S, D, K = MOD_B, MOD_S, MOD_D, MOD_K
    x, w = rand(B, S, D), rand(D)

    def route():
        r = torch.matmul(x, w)                                   # [B, S]
        idx = torch.topk(r, K, dim=1).indices.sort(dim=1).values
        weight = r.gather(1, idx)
        at = idx[..., None].expand(B, K, D)
        sel = x.gather(1, at)
        return x.scatter_add(1, at, weight[..., None] * sel)
    return route


def torch_fns(torch):
    g = torch.Generator().manual_seed(1)
    def rand(*shape):
        return torch.rand(*shape, generator=g) * 2 - 1
    fns = {}
    x, w = rand(1024, 1024), rand(1024, 1024)
    fns["sgemm"] = lambda: torch.matmul(x, w)
    xf, w1, w2, wg = rand(2048, 512), rand(512, 1408), rand(1408, 512), rand(512, 1408)
    fns["ffn_swiglu"] = lambda: torch.matmul(
        torch.nn.functional.silu(torch.matmul(xf, wg)) * torch.matmul(xf, w1), w2)
    q, k, v = rand(B, H, T, DH), rand(B, H, T, DH), rand(B, H, T, DH)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)  # built once, like a cached mask
    scale = DH ** -0.5
    def attention():
        s = torch.matmul(q, k.transpose(-1, -2)) * scale
        s = s.masked_fill(mask, float("-inf"))
        return torch.matmul(torch.softmax(s, dim=-1), v)
    fns["attention_causal"] = attention
    recurrence, fft_conv = cema_torch(torch, rand)
    fns["cema"] = [("per-step recurrence", recurrence), ("FFT conv", fft_conv)]
    fns["mod_routing"] = mod_torch(torch, rand)
    return fns


def time_torch(fn, repeat):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def build(build_dir):
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["cmake", "-G", "Ninja", "-S", ROOT, "-B", build_dir,
                        "-DCMAKE_BUILD_TYPE=Release",
                        "-DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir"], check=True)
    subprocess.run(["ninja", "-C", build_dir, "lctx-compile", "lctx-run"],
                   check=True, stdout=subprocess.DEVNULL)


def time_lctx(build_dir, mlir, workdir, repeat, env=None):
    art = os.path.join(workdir, os.path.basename(mlir) + ".lctx")
    subprocess.run([os.path.join(build_dir, "bin", "lctx-compile"), "--quiet",
                    mlir, "-o", art], check=True)
    out = subprocess.run([os.path.join(build_dir, "bin", "lctx-run"), art,
                          "--random-inputs", "1", "--repeat", str(repeat)],
                         check=True, capture_output=True, text=True,
                         env=env).stdout
    m = re.search(r"median ([0-9.]+) ms", out)
    if not m:
        sys.exit("bench: no median in lctx-run output:\n" + out)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--markdown", action="store_true",
                    help="print the table as Markdown")
    ap.add_argument("--lctx-env", action="append", default=[],
                    metavar="NAME=VALUE",
                    help="extra environment for lctx-run only, e.g. "
                    "GLIBC_TUNABLES=glibc.malloc.trim_threshold=2000000000")
    args = ap.parse_args()
    lctx_env = dict(os.environ)
    for item in args.lctx_env:
        name, _, value = item.partition("=")
        lctx_env[name] = value
    build(args.build_dir)

    import torch
    torch.set_num_threads(1)
    fns = torch_fns(torch)

    rows = []
    with tempfile.TemporaryDirectory(prefix="lctx-bench-") as workdir:
        for name, mlir, flops, desc in OPS:
            lctx_ms = time_lctx(args.build_dir, os.path.join(HERE, mlir),
                                workdir, args.repeat, lctx_env)
            peers = fns[name]
            if callable(peers):
                torch_ms = time_torch(peers, args.repeat)
            else:
                # Several eager forms of the same op: the fastest one counts.
                times = {form: time_torch(fn, min(args.repeat, 5))
                         for form, fn in peers}
                form = min(times, key=times.get)
                torch_ms = times[form]
                desc += "; torch: " + form + " (" + ", ".join(
                    "%s %.1f ms" % kv for kv in times.items()) + ")"
            rows.append((name, desc, lctx_ms, flops / lctx_ms / 1e6,
                         torch_ms, flops / torch_ms / 1e6, torch_ms / lctx_ms))

    if args.markdown:
        print("| op | shape | lctx ms | lctx GFLOP/s | torch ms | torch GFLOP/s | lctx/torch |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for r in rows:
            print("| %s | %s | %.2f | %.1f | %.2f | %.1f | %.2f |" % r)
    else:
        print("%-17s %10s %12s %10s %13s %11s" % (
            "op", "lctx ms", "lctx GFLOP/s", "torch ms", "torch GFLOP/s",
            "lctx/torch"))
        for r in rows:
            print("%-17s %10.2f %12.1f %10.2f %13.1f %11.2f" % (
                r[0], r[2], r[3], r[4], r[5], r[6]))
    print("(median of %d runs each, 1 thread; torch %s, OPENBLAS_CORETYPE=%s%s)"
          % (args.repeat, torch.__version__, os.environ["OPENBLAS_CORETYPE"],
             "".join("; lctx-run with " + e for e in args.lctx_env)))


if __name__ == "__main__":
    main()
