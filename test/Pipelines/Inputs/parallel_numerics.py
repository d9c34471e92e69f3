#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Numerics of the CPU pipeline's multi-threaded kernels.

Each case is big enough for the contraction codegen or the generic
vectorizer to emit an scf.forall (checked: the compiled module must hold an
OpenMP parallel region), is compiled with lctx-compile, run with lctx-run on
1 and on 2 threads (and on 2 under MALLOC_PERTURB_), and must give the same
bytes on all and match a float64 reference. Prints `ok NAME` per case; exits 1 on any failure.

usage: parallel_numerics.py LCTX_COMPILE LCTX_RUN WORKDIR
"""
import math
import operator
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contraction_numerics import (read_safetensors,  # noqa: E402
                                  write_safetensors)


def ttype(shape):
    return "tensor<%sxf32>" % "x".join(map(str, shape))


def rand(rng, n):
    v = [rng.uniform(-1, 1) for _ in range(n)]
    # Round to f32 so the reference sees what the kernel sees.
    return list(struct.unpack("<%df" % n, struct.pack("<%df" % n, *v)))


def matmul(a, b, m, k, n):
    """(C, sum |A||B|) for row-major A [m, k] and B [k, n]."""
    cols = [b[j::n] for j in range(n)]
    absa = [abs(x) for x in a]
    abscols = [[abs(x) for x in col] for col in cols]
    c, mag = [], []
    for i in range(m):
        row, arow = a[i * k:(i + 1) * k], absa[i * k:(i + 1) * k]
        for j in range(n):
            c.append(math.fsum(map(operator.mul, row, cols[j])))
            mag.append(sum(map(operator.mul, arow, abscols[j])))
    return c, mag


def linear(name, m, k, n):
    def build(rng):
        ir = f"""func.func @f(%x: {ttype([m, k])}, %w: {ttype([k, n])}) -> {ttype([m, n])} {{
  %r = lctx.linear %x, %w : {ttype([m, k])}, {ttype([k, n])}
  return %r : {ttype([m, n])}
}}
"""
        x, w = rand(rng, m * k), rand(rng, k * n)
        want, mag = matmul(x, w, m, k, n)
        bound = [g * (k + 2) * 2.0 ** -24 for g in mag]
        return ir, {"input0": ([m, k], x), "input1": ([k, n], w)}, want, bound
    return name, build


def batch_matmul(name, bsz, m, k, n):
    def build(rng):
        ta, tb, tc = ttype([bsz, m, k]), ttype([bsz, k, n]), ttype([bsz, m, n])
        ir = f"""func.func @f(%a: {ta}, %b: {tb}) -> {tc} {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : {tc}
  %c = linalg.fill ins(%z : f32) outs(%e : {tc}) -> {tc}
  %r = linalg.batch_matmul ins(%a, %b : {ta}, {tb}) outs(%c : {tc}) -> {tc}
  return %r : {tc}
}}
"""
        a, b = rand(rng, bsz * m * k), rand(rng, bsz * k * n)
        want, mag = [], []
        for i in range(bsz):
            c, g = matmul(a[i * m * k:(i + 1) * m * k],
                          b[i * k * n:(i + 1) * k * n], m, k, n)
            want += c
            mag += g
        bound = [g * (k + 2) * 2.0 ** -24 for g in mag]
        return ir, {"input0": ([bsz, m, k], a), "input1": ([bsz, k, n], b)}, \
            want, bound
    return name, build


def ffn_relu(name, t, d, f):
    def build(rng):
        ir = f"""func.func @f(%x: {ttype([t, d])}, %wi: {ttype([d, f])}, %wo: {ttype([f, d])}) -> {ttype([t, d])} {{
  %r = lctx.ffn relu %x, %wi, %wo : {ttype([t, d])}, {ttype([d, f])}, {ttype([f, d])}
  return %r : {ttype([t, d])}
}}
"""
        x, wi, wo = rand(rng, t * d), rand(rng, d * f), rand(rng, f * d)
        h, hmag = matmul(x, wi, t, d, f)
        eps = 2.0 ** -24
        # The kernel's hidden activations are off by at most herr (relu
        # does not increase that); the second matmul adds its own rounding.
        herr = [g * (d + 2) * eps for g in hmag]
        h = [max(v, 0.0) for v in h]
        want, _ = matmul(h, wo, t, f, d)
        bound, _ = matmul([e + (f + 2) * eps * abs(v) for e, v in zip(herr, h)],
                          [abs(v) for v in wo], t, f, d)
        bound = [b * 1.01 for b in bound]
        return ir, {"input0": ([t, d], x), "input1": ([d, f], wi),
                    "input2": ([f, d], wo)}, want, bound
    return name, build


def row_scale(name, m, n):
    """s[i] = sum_j x[i, j]^2 (a row reduction), y = x * s (elementwise)."""
    def build(rng):
        t2, t1 = ttype([m, n]), ttype([m])
        ir = f"""func.func @f(%x: {t2}) -> {t2} {{
  %z = arith.constant 0.0 : f32
  %e1 = tensor.empty() : {t1}
  %s0 = linalg.fill ins(%z : f32) outs(%e1 : {t1}) -> {t1}
  %s = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}}
      ins(%x : {t2}) outs(%s0 : {t1}) {{
  ^bb0(%v: f32, %acc: f32):
    %sq = arith.mulf %v, %v : f32
    %a = arith.addf %acc, %sq : f32
    linalg.yield %a : f32
  }} -> {t1}
  %e2 = tensor.empty() : {t2}
  %y = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}}
      ins(%x, %s : {t2}, {t1}) outs(%e2 : {t2}) {{
  ^bb0(%v: f32, %w: f32, %o: f32):
    %p = arith.mulf %v, %w : f32
    linalg.yield %p : f32
  }} -> {t2}
  return %y : {t2}
}}
"""
        x = rand(rng, m * n)
        want, bound = [], []
        for i in range(m):
            row = x[i * n:(i + 1) * n]
            s = math.fsum(v * v for v in row)
            for v in row:
                want.append(v * s)
                bound.append(abs(v) * s * (n + 4) * 2.0 ** -24)
        return ir, {"input0": ([m, n], x)}, want, bound
    return name, build


CASES = [
    # 150 rows: two M chunks (120 + 30), two N blocks, a 4-column strip.
    linear("linear_150x300x260", 150, 300, 260),
    # Decode-like: one row, N blocks only, a 40-column remainder strip.
    linear("linear_one_row_1x2048x4200", 1, 2048, 4200),
    batch_matmul("batch_matmul_8x70x200x100", 8, 70, 200, 100),
    ffn_relu("ffn_relu_512x64x512", 512, 64, 512),
    # 301 rows: chunks of 5 rows and a shorter last one.
    row_scale("row_reduction_301x1000", 301, 1000),
]


def run(run_tool, artifact, inputs, output, threads, env=None):
    subprocess.run([run_tool, artifact, "--inputs", inputs, "--output", output,
                    "--threads", str(threads)], check=True,
                   stdout=subprocess.DEVNULL,
                   env=dict(os.environ, **(env or {})))
    with open(output, "rb") as f:
        return f.read()


def main():
    compile_tool, run_tool, workdir = sys.argv[1:4]
    rng = random.Random(5)
    failed = False
    for name, build in CASES:
        ir, inputs, want, bound = build(rng)
        base = os.path.join(workdir, name)
        with open(base + ".mlir", "w") as f:
            f.write(ir)
        llvm_ir = subprocess.run(
            [compile_tool, "--quiet", base + ".mlir", "--emit=mlir", "-o", "-"],
            check=True, stdout=subprocess.PIPE, text=True).stdout
        subprocess.run([compile_tool, "--quiet", base + ".mlir", "-o",
                        base + ".lctx"], check=True)
        write_safetensors(base + ".in.safetensors", inputs)
        one = run(run_tool, base + ".lctx", base + ".in.safetensors",
                  base + ".one.safetensors", 1)
        two = run(run_tool, base + ".lctx", base + ".in.safetensors",
                  base + ".two.safetensors", 2)
        # glibc fills fresh allocations with a pattern: no output byte may
        # depend on memory that was never written.
        perturbed = run(run_tool, base + ".lctx", base + ".in.safetensors",
                        base + ".perturbed.safetensors", 2,
                        {"MALLOC_PERTURB_": "165"})
        _, got = read_safetensors(base + ".one.safetensors")["result0"]
        worst = max(abs(g - w) / (b + 1e-30)
                    for g, w, b in zip(got, want, bound))
        problems = []
        if "omp.parallel" not in llvm_ir:
            problems.append("no parallel region")
        if one != two:
            problems.append("1 and 2 threads differ")
        if perturbed != two:
            problems.append("output depends on uninitialized memory")
        if len(got) != len(want) or worst > 1.0:
            problems.append("wrong values")
        failed |= bool(problems)
        print("%s %s (worst error %.3g of the bound)%s"
              % ("FAIL" if problems else "ok", name, worst,
                 "".join("; " + p for p in problems)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
