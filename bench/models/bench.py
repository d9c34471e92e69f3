#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Whole-model benchmark: lctx vs the PyTorch eager reference, same thread
count, same run.

For each config (bench/models/configs/*.json by default): generate the
definition with lctx-gen, compile it, write seeded random weights, then
time
  - prefill: lctx's `prefill` entry vs the PyTorch reference forward
    (test/reference/torch, float32, torch.no_grad) over the same ids;
  - decode: lctx's decode entry points, one token (byte) per step, state in
    the runtime, vs the reference's decode as its implementations do it
    (a full re-forward of the growing prefix for every new token).
Both sides run with --threads (default 1; OMP_NUM_THREADS and
torch.set_num_threads) and OPENBLAS_CORETYPE=SkylakeX. Prints a markdown
table of tokens/s and the ratios (> 1: lctx is faster).

usage: bench/models/bench.py [--build-dir DIR] [--threads N] [--steps N]
                             [--config FILE ...]
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

THREADS = "1"
for i, a in enumerate(sys.argv):
    if a == "--threads" and i + 1 < len(sys.argv):
        THREADS = sys.argv[i + 1]
os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
os.environ["OMP_NUM_THREADS"] = THREADS
os.environ["OPENBLAS_NUM_THREADS"] = THREADS

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "test", "reference", "torch"))
sys.path.insert(0, os.path.join(ROOT, "test", "Models"))

import lctxrt  # noqa: E402
import model_test  # noqa: E402  (safetensors reader, decode drivers)
import infini  # noqa: E402
import megabyte  # noqa: E402
import megalodon  # noqa: E402
import mod  # noqa: E402
import switch  # noqa: E402

REFS = {"megabyte": megabyte, "infini": infini, "megalodon": megalodon,
        "mod": mod, "switch": switch}


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def lctx_decode(c, session, ids, steps):
    if c["arch"] == "megabyte":
        return model_test.megabyte_decode(session, ids, steps, c["patch"])
    return np.stack([session.run("decode", id=ids[:, i:i + 1])["logits"][:, 0]
                     for i in range(steps)], 1)


def torch_naive_decode(ref, w, ids, c, steps, start):
    """The reference's decode: re-run the forward over the prefix for each
    new token (MEGABYTE: over the prefix padded to whole patches)."""
    for t in range(start, start + steps):
        n = t + 1
        if c["arch"] == "megabyte":
            n = -(-n // c["patch"]) * c["patch"]
        cc = dict(c, context=n)
        if c["arch"] == "infini":
            cc["segment"] = c["segment"]
        ref.forward(w, ids[:, :n], cc, dtype=torch.float32)


def bench(path, build_dir, steps, repeat, work):
    c = json.load(open(path))
    name = os.path.splitext(os.path.basename(path))[0]
    mlir, art_path = (os.path.join(work, name + ext) for ext in
                      (".mlir", ".lctx"))
    wpath = os.path.join(work, name + ".safetensors")
    subprocess.run([os.path.join(ROOT, "tools", "lctx-gen", "lctx-gen"), path,
                    "-o", mlir], check=True)
    subprocess.run([os.path.join(build_dir, "bin", "lctx-compile"), "--quiet",
                    mlir, "-o", art_path], check=True)
    subprocess.run(["/usr/bin/python3",
                    os.path.join(ROOT, "scripts", "random-weights.py"),
                    art_path, wpath, "--seed", "5", "--scale", "0.05"],
                   check=True, stdout=subprocess.DEVNULL)
    art = lctxrt.Artifact(art_path)
    session = art.session(lctxrt.Weights(wpath))
    wdict = {k: torch.as_tensor(v) for k, v in
             model_test.read_safetensors(wpath).items()}
    b, t = c.get("batch", 1), c["context"]
    ids = np.random.default_rng(3).integers(0, 256, (b, t)).astype(np.int32)
    ref = REFS[c["arch"]]
    torch.set_num_threads(int(THREADS))

    def lctx_prefill():
        session.reset_state()
        session.run("prefill", ids=ids)

    def torch_prefill():
        with torch.no_grad():
            ref.forward(wdict, ids, c, dtype=torch.float32)

    lctx_prefill()
    lp = median_time(lctx_prefill, repeat)
    torch_prefill()
    tp = median_time(torch_prefill, repeat)

    # Decode `steps` tokens after a prefix of t - steps (the last steps of
    # the context, where the naive re-forward is most expensive).
    start = t - steps
    session.reset_state()
    lctx_decode(c, session, ids, start)
    t0 = time.perf_counter()
    if c["arch"] == "megabyte":
        # Continue the two-rate schedule from position `start`.
        for pos in range(start, t):
            p = c["patch"]
            if pos % p == 0:
                session.run("decode_global", patch_ids=ids[:, pos - p:pos])
            prev = ids[:, pos - 1:pos] if pos % p else np.zeros((b, 1), np.int32)
            session.run("decode_local", prev_id=prev)
    else:
        for pos in range(start, t):
            session.run("decode", id=ids[:, pos:pos + 1])
    ld = (time.perf_counter() - t0) / steps
    with torch.no_grad():
        t0 = time.perf_counter()
        torch_naive_decode(ref, wdict, ids, c, min(steps, 8), start)
        td = (time.perf_counter() - t0) / min(steps, 8)
    return (name, c["arch"], b * t, b * t / lp, b * t / tp, b / ld, b / td)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", default="1")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--config", action="append")
    args = ap.parse_args()
    os.environ.setdefault("LCTXRT_LIBRARY", os.path.join(
        args.build_dir, "lib", "liblctxrt.so"))
    configs = args.config or sorted(glob.glob(os.path.join(
        HERE, "configs", "*.json")))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for path in configs:
            rows.append(bench(path, args.build_dir, args.steps, args.repeat,
                              work))
            r = rows[-1]
            print(f"bench: {r[0]}: prefill lctx {r[3]:.0f} tok/s, torch "
                  f"{r[4]:.0f} tok/s; decode lctx {r[5]:.1f} tok/s, torch "
                  f"naive {r[6]:.2f} tok/s", file=sys.stderr)
    print(f"| model | arch | prefill tokens | lctx prefill tok/s | torch "
          f"prefill tok/s | ratio | lctx decode tok/s | torch re-forward "
          f"decode tok/s | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, arch, n, lp, tp, ld, td in rows:
        print(f"| {name} | {arch} | {n} | {lp:.0f} | {tp:.0f} | "
              f"{lp / tp:.2f} | {ld:.1f} | {td:.2f} | {ld / td:.1f} |")
    print(f"({args.threads} thread(s); decode: {args.steps} steps at the end "
          "of the context, lctx through the Python module (ctypes), torch "
          "re-forwarding the prefix per token as the reference "
          "implementations' generate() do)")


if __name__ == "__main__":
    main()
