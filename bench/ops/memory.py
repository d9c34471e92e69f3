#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Peak memory of causal attention vs context length: lctx vs PyTorch eager.

For each T, compiles `lctx.attention` over [1, H, T, 64] (causal, f32), runs
it once with `lctx-run --random-inputs` and reads its peak RSS; then runs the
PyTorch eager peer (scores = q k^T, mask, softmax, @ v: what torch 1.13
offers) in a fresh process and reads its peak RSS. Both sides run 1 thread
(OMP_NUM_THREADS=1, OPENBLAS_CORETYPE=SkylakeX). Prints a table: the bytes
of q, k, v and the output (the floor any implementation needs), each
side's peak RSS, and the growth over the previous T. lctx's flash-style
kernel never materializes the T x T scores, so its peak grows like T; the
peer's grows like T^2 and is skipped where the scores alone would exceed
--torch-limit-gib.

usage: bench/ops/memory.py [--build-dir DIR] [--lengths 1024,4096,16384,65536]
                           [--heads H] [--torch-limit-gib G] [--markdown]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DH = 64

TORCH_PEER = r"""
import resource, sys, torch
torch.set_num_threads(1)
h, t, dh = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
g = torch.Generator().manual_seed(1)
q, k, v = (torch.rand(1, h, t, dh, generator=g) * 2 - 1 for _ in range(3))
with torch.no_grad():
    s = torch.matmul(q, k.transpose(-1, -2)) * dh ** -0.5
    s.masked_fill_(torch.ones(t, t, dtype=torch.bool).triu_(1), float("-inf"))
    out = torch.matmul(torch.softmax(s, dim=-1), v)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
"""


def attention_mlir(heads, t):
    ty = "tensor<1x%dx%dx%dxf32>" % (heads, t, DH)
    return ("func.func @attention(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
            "  %%0 = lctx.attention %%q, %%k, %%v {causal = true} : %s, %s, %s\n"
            "  return %%0 : %s\n}\n" % ((ty,) * 8))


def lctx_peak_mib(build_dir, workdir, heads, t):
    mlir = os.path.join(workdir, "attention_%d.mlir" % t)
    art = os.path.join(workdir, "attention_%d.lctx" % t)
    with open(mlir, "w") as f:
        f.write(attention_mlir(heads, t))
    subprocess.run([os.path.join(build_dir, "bin", "lctx-compile"), "--quiet",
                    mlir, "-o", art], check=True)
    out = subprocess.run([os.path.join(build_dir, "bin", "lctx-run"), art,
                          "--random-inputs", "1", "--print", "0",
                          "--threads", "1"],
                         check=True, capture_output=True, text=True).stdout
    match = re.search(r"peak RSS: ([0-9.]+) MiB", out)
    if not match:
        sys.exit("memory: no peak RSS in lctx-run output:\n" + out)
    return float(match.group(1))


def torch_peak_mib(heads, t):
    out = subprocess.run(["/usr/bin/python3", "-c", TORCH_PEER, str(heads),
                          str(t), str(DH)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--lengths", default="1024,4096,16384,65536")
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument("--torch-limit-gib", type=float, default=4.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    subprocess.run(["ninja", "-C", args.build_dir, "lctx-compile", "lctx-run"],
                   check=True, stdout=subprocess.DEVNULL)
    lengths = [int(x) for x in args.lengths.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        prev = None
        for t in lengths:
            io_mib = 4 * args.heads * t * DH * 4 / 2 ** 20
            lctx = lctx_peak_mib(args.build_dir, workdir, args.heads, t)
            scores_gib = args.heads * t * t * 4 / 2 ** 30
            torch = (torch_peak_mib(args.heads, t)
                     if scores_gib <= args.torch_limit_gib else None)
            rows.append((t, io_mib, lctx, torch, scores_gib))
            print("memory: T=%d lctx %.1f MiB, torch %s" %
                  (t, lctx, "%.1f MiB" % torch if torch else "skipped"),
                  file=sys.stderr)
    print("| T | q,k,v,out MiB | lctx peak RSS MiB | torch peak RSS MiB | "
          "T x T scores alone |")
    print("|---:|---:|---:|---:|---:|")
    for t, io_mib, lctx, torch, scores_gib in rows:
        print("| %d | %.0f | %.1f | %s | %.2f GiB |" %
              (t, io_mib, lctx,
               "%.1f" % torch if torch is not None else
               "not run (> %.0f GiB)" % args.torch_limit_gib, scores_gib))
    print("(causal attention [1, %d, T, %d] f32, 1 thread; peak RSS of the "
          "whole process, including the runtime / interpreter)" %
          (args.heads, DH))


if __name__ == "__main__":
    main()
