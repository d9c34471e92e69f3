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
]


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
            torch_ms = time_torch(fns[name], args.repeat)
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
