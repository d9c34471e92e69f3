#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Numerics of the CPU pipeline's register-tiled contractions.

Each case is one function with a matmul-class op whose shape is not a
multiple of the register or cache tiles (remainder rows and columns, one
row, K = 1, no M dimension, transposed operands, batch dims). It is
compiled with lctx-compile, run with lctx-run on seeded inputs, and compared
with a float64 reference. Prints `ok NAME` per case; exits 1 on a mismatch.

usage: contraction_numerics.py LCTX_COMPILE LCTX_RUN WORKDIR
"""
import itertools
import json
import os
import random
import struct
import subprocess
import sys


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        s, e = info["data_offsets"]
        blob = data[8 + n + s:8 + n + e]
        out[name] = (info["shape"], struct.unpack("<%df" % (len(blob) // 4), blob))
    return out


def size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def strides(shape):
    s, acc = [], 1
    for d in reversed(shape):
        s.append(acc)
        acc *= d
    return list(reversed(s))


def ttype(shape):
    return "tensor<%sxf32>" % "x".join(map(str, shape))


def contraction(dims, a_dims, b_dims, c_dims, a, b, init):
    """C[c_dims] = init + sum over the other dims of A[a_dims] * B[b_dims];
    returns (C, sum |A||B|) as flat lists."""
    names = list(dims)
    c_shape = [dims[d] for d in c_dims]
    a_st = strides([dims[d] for d in a_dims])
    b_st = strides([dims[d] for d in b_dims])
    c_st = strides(c_shape)
    c = [float(init)] * size(c_shape)
    mag = [abs(float(init))] * size(c_shape)
    for idx in itertools.product(*[range(dims[d]) for d in names]):
        v = dict(zip(names, idx))
        ai = sum(v[d] * s for d, s in zip(a_dims, a_st))
        bi = sum(v[d] * s for d, s in zip(b_dims, b_st))
        ci = sum(v[d] * s for d, s in zip(c_dims, c_st))
        c[ci] += a[ai] * b[bi]
        mag[ci] += abs(a[ai] * b[bi])
    return c, mag


LETTERS = "ijklmnop"


def generic_case(name, dims, a_dims, b_dims, c_dims, fill=0.0):
    """A linalg.generic contraction over `dims` (ordered dict name -> extent);
    a loop dim is a reduction when the result does not index it."""
    names = list(dims)
    pos = {d: "d%d" % i for i, d in enumerate(names)}
    def amap(ds):
        return "affine_map<(%s) -> (%s)>" % (
            ", ".join(pos[d] for d in names), ", ".join(pos[d] for d in ds))
    iters = ", ".join('"parallel"' if d in c_dims else '"reduction"'
                      for d in names)
    ta = ttype([dims[d] for d in a_dims])
    tb = ttype([dims[d] for d in b_dims])
    tc = ttype([dims[d] for d in c_dims])
    ir = f"""func.func @f(%a: {ta}, %b: {tb}) -> {tc} {{
  %z = arith.constant {fill!r} : f32
  %e = tensor.empty() : {tc}
  %c = linalg.fill ins(%z : f32) outs(%e : {tc}) -> {tc}
  %r = linalg.generic {{indexing_maps = [{amap(a_dims)}, {amap(b_dims)}, {amap(c_dims)}],
                       iterator_types = [{iters}]}}
      ins(%a, %b : {ta}, {tb}) outs(%c : {tc}) {{
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }} -> {tc}
  return %r : {tc}
}}
"""
    return name, ir, dims, a_dims, b_dims, c_dims, fill


def linear_case(name, m, k, n, transpose=False):
    dims = {"m": m, "n": n, "k": k}
    w_shape = [n, k] if transpose else [k, n]
    attr = " {transpose_weight}" if transpose else ""
    ir = f"""func.func @f(%x: {ttype([m, k])}, %w: {ttype(w_shape)}) -> {ttype([m, n])} {{
  %r = lctx.linear %x, %w{attr} : {ttype([m, k])}, {ttype(w_shape)}
  return %r : {ttype([m, n])}
}}
"""
    return (name, ir, dims, ["m", "k"], ["n", "k"] if transpose else ["k", "n"],
            ["m", "n"], 0.0)


CASES = [
    linear_case("linear_6x40x24", 6, 40, 24),
    linear_case("linear_one_row_k16", 1, 16, 8),
    linear_case("linear_remainders_37x70x100", 37, 70, 100),
    linear_case("linear_k1", 9, 1, 33),
    linear_case("linear_transposed_13x33x50", 13, 33, 50, transpose=True),
    linear_case("linear_cache_blocks_130x300x150", 130, 300, 150),
    generic_case("batch_matmul_3x7x9x65", {"b": 3, "m": 7, "n": 65, "k": 9},
                 ["b", "m", "k"], ["b", "k", "n"], ["b", "m", "n"]),
    generic_case("vecmat_no_m_300x70", {"n": 70, "k": 300},
                 ["k"], ["k", "n"], ["n"]),
    generic_case("both_transposed_fill", {"m": 11, "n": 21, "k": 17},
                 ["k", "m"], ["n", "k"], ["m", "n"], fill=1.5),
    generic_case("attention_scores_1x2x19x23x16",
                 {"b": 1, "h": 2, "i": 19, "j": 23, "d": 16},
                 ["b", "h", "i", "d"], ["b", "h", "j", "d"],
                 ["b", "h", "i", "j"]),
    generic_case("two_reductions", {"m": 5, "n": 34, "k": 6, "l": 7},
                 ["m", "l", "k"], ["k", "l", "n"], ["m", "n"]),
]


def main():
    compile_tool, run_tool, workdir = sys.argv[1:4]
    rng = random.Random(7)
    failed = False
    for name, ir, dims, a_dims, b_dims, c_dims, fill in CASES:
        base = os.path.join(workdir, name)
        with open(base + ".mlir", "w") as f:
            f.write(ir)
        subprocess.run([compile_tool, "--quiet", base + ".mlir", "-o",
                        base + ".lctx"], check=True)
        a_shape = [dims[d] for d in a_dims]
        b_shape = [dims[d] for d in b_dims]
        a = [rng.uniform(-1, 1) for _ in range(size(a_shape))]
        b = [rng.uniform(-1, 1) for _ in range(size(b_shape))]
        # Round to f32 so the reference sees what the kernel sees.
        a = list(struct.unpack("<%df" % len(a), struct.pack("<%df" % len(a), *a)))
        b = list(struct.unpack("<%df" % len(b), struct.pack("<%df" % len(b), *b)))
        write_safetensors(base + ".in.safetensors",
                          {"input0": (a_shape, a), "input1": (b_shape, b)})
        subprocess.run([run_tool, base + ".lctx", "--inputs",
                        base + ".in.safetensors", "--output",
                        base + ".out.safetensors"], check=True,
                       stdout=subprocess.DEVNULL)
        shape, got = read_safetensors(base + ".out.safetensors")["result0"]
        want, mag = contraction(dims, a_dims, b_dims, c_dims, a, b, fill)
        k = size([dims[d] for d in dims if d not in c_dims])
        assert shape == [dims[d] for d in c_dims], (name, shape)
        worst = 0.0
        for g, w, m in zip(got, want, mag):
            err = abs(g - w) / (m * (k + 2) * 2.0 ** -24 + 1e-30)
            worst = max(worst, err)
        status = "ok" if worst <= 1.0 else "MISMATCH"
        failed |= worst > 1.0
        print("%s %s (worst error %.3g of the bound)" % (status, name, worst))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
