#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Numerics of the CPU pipeline's vectorized elementwise and reduction
generics: broadcasts, linalg.index, masks, i64 operands, innermost min/max
and sum reductions, outer reductions, tails of every length, and shapes the
vectorizer leaves alone (transposed access). Each case is compiled with
lctx-compile, run with lctx-run and compared with a float64 reference;
prints `ok NAME` per case and exits 1 on a mismatch.

usage: generic_numerics.py LCTX_COMPILE LCTX_RUN WORKDIR
"""
import math
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contraction_numerics import read_safetensors  # noqa: E402


def write_inputs(path, tensors):
    import json
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, values) in tensors.items():
        fmt = {"F32": "f", "I64": "q"}[dtype]
        blob = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def rand(rng, n, lo=-1.0, hi=1.0):
    return [f32(rng.uniform(lo, hi)) for _ in range(n)]


M2 = "affine_map<(i, j) -> (i, j)>"
ROW = "affine_map<(i, j) -> (j)>"
COL = "affine_map<(i, j) -> (i)>"
TRANS = "affine_map<(i, j) -> (j, i)>"


def elementwise_broadcast(rng):
    m, n = 5, 37
    a, b, c = rand(rng, m * n, -3, 3), rand(rng, n), rand(rng, m)
    ir = f"""func.func @f(%a: tensor<{m}x{n}xf32>, %b: tensor<{n}xf32>, %c: tensor<{m}xf32>) -> tensor<{m}x{n}xf32> {{
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %r = linalg.generic {{indexing_maps = [{M2}, {ROW}, {COL}, {M2}], iterator_types = ["parallel", "parallel"]}}
      ins(%a, %b, %c : tensor<{m}x{n}xf32>, tensor<{n}xf32>, tensor<{m}xf32>) outs(%e : tensor<{m}x{n}xf32>) {{
  ^bb0(%x: f32, %y: f32, %z: f32, %o: f32):
    %0 = math.exp %x : f32
    %1 = arith.mulf %0, %y : f32
    %2 = arith.addf %1, %z : f32
    linalg.yield %2 : f32
  }} -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}
"""
    want = [math.exp(a[i * n + j]) * b[j] + c[i] for i in range(m) for j in range(n)]
    return ir, {"input0": ("F32", [m, n], a), "input1": ("F32", [n], b),
                "input2": ("F32", [m], c)}, want, 2e-6


def index_and_i64_mask(rng):
    # out[i, j] = (pos[j] <= i) ? float(100 i + j) : -1, with i64 positions.
    m, n = 3, 21
    pos = [rng.randrange(0, 4) for _ in range(n)]
    ir = f"""func.func @f(%p: tensor<{n}xi64>) -> tensor<{m}x{n}xf32> {{
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %r = linalg.generic {{indexing_maps = [{ROW}, {M2}], iterator_types = ["parallel", "parallel"]}}
      ins(%p : tensor<{n}xi64>) outs(%e : tensor<{m}x{n}xf32>) {{
  ^bb0(%q: i64, %o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %c100 = arith.constant 100 : index
    %0 = arith.muli %i, %c100 : index
    %1 = arith.addi %0, %j : index
    %2 = arith.index_cast %1 : index to i64
    %3 = arith.sitofp %2 : i64 to f32
    %ii = arith.index_cast %i : index to i64
    %ok = arith.cmpi sle, %q, %ii : i64
    %neg = arith.constant -1.0 : f32
    %4 = arith.select %ok, %3, %neg : f32
    linalg.yield %4 : f32
  }} -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}
"""
    want = [float(100 * i + j) if pos[j] <= i else -1.0
            for i in range(m) for j in range(n)]
    return ir, {"input0": ("I64", [n], pos)}, want, 0.0


def masked_max(rng):
    # Causal row max of scaled scores, from a -inf fill: rows see j <= i.
    m, n = 7, 45
    a = rand(rng, m * n, -5, 5)
    ir = f"""func.func @f(%a: tensor<{m}x{n}xf32>) -> tensor<{m}xf32> {{
  %ninf = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<{m}xf32>
  %init = linalg.fill ins(%ninf : f32) outs(%e : tensor<{m}xf32>) -> tensor<{m}xf32>
  %r = linalg.generic {{indexing_maps = [{M2}, {COL}], iterator_types = ["parallel", "reduction"]}}
      ins(%a : tensor<{m}x{n}xf32>) outs(%init : tensor<{m}xf32>) {{
  ^bb0(%x: f32, %o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %s = arith.constant 0.125 : f32
    %0 = arith.mulf %x, %s : f32
    %ok = arith.cmpi sle, %j, %i : index
    %1 = arith.maximumf %o, %0 : f32
    %2 = arith.select %ok, %1, %o : f32
    linalg.yield %2 : f32
  }} -> tensor<{m}xf32>
  return %r : tensor<{m}xf32>
}}
"""
    want = [max(a[i * n + j] * 0.125 for j in range(n) if j <= i) for i in range(m)]
    return ir, {"input0": ("F32", [m, n], a)}, want, 0.0


def min_reduction(rng):
    m, n = 4, 33
    a = rand(rng, m * n)
    b = rand(rng, m)
    ir = f"""func.func @f(%a: tensor<{m}x{n}xf32>, %b: tensor<{m}xf32>) -> tensor<{m}xf32> {{
  %r = linalg.generic {{indexing_maps = [{M2}, {COL}], iterator_types = ["parallel", "reduction"]}}
      ins(%a : tensor<{m}x{n}xf32>) outs(%b : tensor<{m}xf32>) {{
  ^bb0(%x: f32, %o: f32):
    %0 = arith.minnumf %x, %o : f32
    linalg.yield %0 : f32
  }} -> tensor<{m}xf32>
  return %r : tensor<{m}xf32>
}}
"""
    want = [min([b[i]] + [a[i * n + j] for j in range(n)]) for i in range(m)]
    return ir, {"input0": ("F32", [m, n], a), "input1": ("F32", [m], b)}, want, 0.0


def sum_of_squares(rng):
    m, n = 3, 100
    a = rand(rng, m * n)
    b = rand(rng, m)
    ir = f"""func.func @f(%a: tensor<{m}x{n}xf32>, %b: tensor<{m}xf32>) -> tensor<{m}xf32> {{
  %r = linalg.generic {{indexing_maps = [{M2}, {COL}], iterator_types = ["parallel", "reduction"]}}
      ins(%a : tensor<{m}x{n}xf32>) outs(%b : tensor<{m}xf32>) {{
  ^bb0(%x: f32, %o: f32):
    %0 = arith.mulf %x, %x : f32
    %1 = arith.addf %o, %0 : f32
    linalg.yield %1 : f32
  }} -> tensor<{m}xf32>
  return %r : tensor<{m}xf32>
}}
"""
    want = [b[i] + sum(a[i * n + j] ** 2 for j in range(n)) for i in range(m)]
    return ir, {"input0": ("F32", [m, n], a), "input1": ("F32", [m], b)}, want, 1e-5


def column_sum(rng):
    # Reduction over the outer dim; the innermost (vector) dim is parallel.
    m, n = 50, 19
    a = rand(rng, m * n)
    ir = f"""func.func @f(%a: tensor<{m}x{n}xf32>) -> tensor<{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{n}xf32>
  %init = linalg.fill ins(%z : f32) outs(%e : tensor<{n}xf32>) -> tensor<{n}xf32>
  %r = linalg.generic {{indexing_maps = [{M2}, {ROW}], iterator_types = ["reduction", "parallel"]}}
      ins(%a : tensor<{m}x{n}xf32>) outs(%init : tensor<{n}xf32>) {{
  ^bb0(%x: f32, %o: f32):
    %0 = arith.addf %o, %x : f32
    linalg.yield %0 : f32
  }} -> tensor<{n}xf32>
  return %r : tensor<{n}xf32>
}}
"""
    want = [sum(a[i * n + j] for i in range(m)) for j in range(n)]
    return ir, {"input0": ("F32", [m, n], a)}, want, 1e-5


def transposed_input(rng):
    # Not contiguous along the innermost dim: left to the loop lowering.
    m, n = 6, 17
    a = rand(rng, n * m)
    ir = f"""func.func @f(%a: tensor<{n}x{m}xf32>) -> tensor<{m}x{n}xf32> {{
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %r = linalg.generic {{indexing_maps = [{TRANS}, {M2}], iterator_types = ["parallel", "parallel"]}}
      ins(%a : tensor<{n}x{m}xf32>) outs(%e : tensor<{m}x{n}xf32>) {{
  ^bb0(%x: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %0 = arith.addf %x, %one : f32
    linalg.yield %0 : f32
  }} -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}
"""
    want = [a[j * m + i] + 1.0 for i in range(m) for j in range(n)]
    return ir, {"input0": ("F32", [n, m], a)}, want, 2.5e-7


def update_in_place(rng):
    # The init is read (out = out * x + 1); a 1-D tail-only shape.
    n = 7
    a, b = rand(rng, n), rand(rng, n)
    ir = f"""func.func @f(%a: tensor<{n}xf32>, %b: tensor<{n}xf32>) -> tensor<{n}xf32> {{
  %r = linalg.generic {{indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}}
      ins(%a : tensor<{n}xf32>) outs(%b : tensor<{n}xf32>) {{
  ^bb0(%x: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %0 = arith.mulf %o, %x : f32
    %1 = arith.addf %0, %one : f32
    linalg.yield %1 : f32
  }} -> tensor<{n}xf32>
  return %r : tensor<{n}xf32>
}}
"""
    want = [b[i] * a[i] + 1.0 for i in range(n)]
    return ir, {"input0": ("F32", [n], a), "input1": ("F32", [n], b)}, want, 2.5e-7


CASES = [elementwise_broadcast, index_and_i64_mask, masked_max, min_reduction,
         sum_of_squares, column_sum, transposed_input, update_in_place]


def main():
    compile_tool, run_tool, workdir = sys.argv[1:4]
    rng = random.Random(11)
    failed = False
    for case in CASES:
        name = case.__name__
        ir, inputs, want, tol = case(rng)
        base = os.path.join(workdir, name)
        with open(base + ".mlir", "w") as f:
            f.write(ir)
        subprocess.run([compile_tool, "--quiet", base + ".mlir", "-o",
                        base + ".lctx"], check=True)
        write_inputs(base + ".in.safetensors", inputs)
        subprocess.run([run_tool, base + ".lctx", "--inputs",
                        base + ".in.safetensors", "--output",
                        base + ".out.safetensors"], check=True,
                       stdout=subprocess.DEVNULL)
        _, got = read_safetensors(base + ".out.safetensors")["result0"]
        scale = max(1.0, max(abs(w) for w in want))
        worst = max(abs(g - w) for g, w in zip(got, want)) / scale
        ok = len(got) == len(want) and worst <= tol
        failed |= not ok
        print("%s %s (max error %.3g, tolerance %.3g)"
              % ("ok" if ok else "MISMATCH", name, worst, tol))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
