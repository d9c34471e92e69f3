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
    the runtime, vs
      * the eager *cached* decode step of bench/models/cached.py (float32,
        torch.inference_mode, preallocated caches: the fair peer), and
      * the reference's decode as its implementations do it (a full
        re-forward of the growing prefix for every new token).
Before timing, the cached peer is checked in float64 against the
reference's float64 forward at every position of the first --check tokens
(normalized max error <= 1e-9, or the benchmark stops).
Both sides run with --threads (default 1; OMP_NUM_THREADS and
torch.set_num_threads), OPENBLAS_CORETYPE=SkylakeX and glibc keeping large
freed blocks mapped (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_: torch
without page faults on every call; lctx keeps its own blocks warm). Every
measurement is
repeated in --rounds rounds in which lctx and torch alternate; the table
reports the median round. Prints a markdown table of tokens/s and the
ratios (> 1: lctx is faster).

usage: bench/models/bench.py [--build-dir DIR] [--threads N] [--steps N]
                             [--repeat N] [--rounds N] [--check N]
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
# Both sides at their best: glibc keeps large freed blocks mapped instead of
# returning them (torch's buffers come from malloc, and a fresh mapping
# faults its pages in on every call). glibc reads these at start-up, so the
# benchmark re-executes itself once with them set.
if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
    os.environ["MALLOC_MMAP_THRESHOLD_"] = str(1 << 32)
    os.environ["MALLOC_TRIM_THRESHOLD_"] = str(1 << 32)
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "test", "reference", "torch"))
sys.path.insert(0, os.path.join(ROOT, "test", "Models"))
sys.path.insert(0, HERE)

import lctxrt  # noqa: E402
import model_test  # noqa: E402  (safetensors reader, decode drivers)
import infini  # noqa: E402
import megabyte  # noqa: E402
import megalodon  # noqa: E402
import mod  # noqa: E402
import switch  # noqa: E402
import cached  # noqa: E402

REFS = {"megabyte": megabyte, "infini": infini, "megalodon": megalodon,
        "mod": mod, "switch": switch}


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def input_name(session, entry):
    """The name of the entry point's (only) runtime input."""
    return [a["name"] for a in session.artifact.entries[entry]
            if a["role"] == "input"][0]


def lctx_decode(c, session, ids, steps):
    if c["arch"] == "megabyte":
        return model_test.megabyte_decode(session, ids, steps, c["patch"])
    name = input_name(session, "decode")
    return np.stack([session.run("decode", **{name: ids[:, i:i + 1]})[
        "logits"][:, 0] for i in range(steps)], 1)


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


def bench(path, build_dir, steps, repeat, rounds, check_n, work):
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
    tids = torch.as_tensor(ids).long()
    ref = REFS[c["arch"]]
    torch.set_num_threads(int(THREADS))

    # The cached peer equals the reference (float64, every position).
    err = cached.check(c, wdict, min(check_n, t), ids=ids)
    if not err <= 1e-9:
        sys.exit(f"bench: {name}: the cached peer differs from the "
                 f"reference forward: normalized error {err:.3g}")
    peer = cached.make(c, wdict, torch.float32)

    def lctx_prefill():
        session.reset_state()
        session.run("prefill", ids=ids)

    def torch_prefill():
        with torch.no_grad():
            ref.forward(wdict, ids, c, dtype=torch.float32)

    # Decode `steps` tokens after a prefix of t - steps (the last steps of
    # the context: the longest caches, where the re-forward is most
    # expensive). The prefix is decoded first, untimed.
    start = t - steps

    def lctx_decode_steps():
        session.reset_state()
        lctx_decode(c, session, ids, start)
        t0 = time.perf_counter()
        if c["arch"] == "megabyte":
            # Continue the two-rate schedule from position `start`.
            p = c["patch"]
            for pos in range(start, t):
                if pos % p == 0:
                    session.run("decode_global",
                                patch_ids=ids[:, pos - p:pos])
                prev = ids[:, pos - 1:pos] if pos % p else \
                    np.zeros((b, 1), np.int32)
                session.run("decode_local", prev_id=prev)
        else:
            name = input_name(session, "decode")
            for pos in range(start, t):
                session.run("decode", **{name: ids[:, pos:pos + 1]})
        return (time.perf_counter() - t0) / steps

    def cached_decode_steps():
        with torch.inference_mode():
            peer.reset()
            for pos in range(start):
                peer.logits_at(tids, pos)
            t0 = time.perf_counter()
            for pos in range(start, t):
                peer.logits_at(tids, pos)
            return (time.perf_counter() - t0) / steps

    naive_steps = min(steps, 4)

    def naive_decode_steps():
        with torch.no_grad():
            t0 = time.perf_counter()
            torch_naive_decode(ref, wdict, ids, c, naive_steps, t - naive_steps)
            return (time.perf_counter() - t0) / naive_steps

    lctx_prefill()
    torch_prefill()
    res = {k: [] for k in ("lp", "tp", "ld", "cd", "nd")}
    for _ in range(rounds):
        res["lp"].append(median_time(lctx_prefill, repeat))
        res["tp"].append(median_time(torch_prefill, repeat))
        res["ld"].append(lctx_decode_steps())
        res["cd"].append(cached_decode_steps())
        res["nd"].append(naive_decode_steps())
    m = {k: statistics.median(v) for k, v in res.items()}
    return (name, c["arch"], b * t, b * t / m["lp"], b * t / m["tp"],
            b / m["ld"], b / m["cd"], b / m["nd"], err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", default="1")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--check", type=int, default=320)
    ap.add_argument("--config", action="append")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    os.environ.setdefault("LCTXRT_LIBRARY", os.path.join(
        args.build_dir, "lib", "liblctxrt.so"))
    configs = args.config or sorted(glob.glob(os.path.join(
        HERE, "configs", "*.json")))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for path in configs:
            rows.append(bench(path, args.build_dir, args.steps, args.repeat,
                              args.rounds, args.check, work))
            r = rows[-1]
            print(f"bench: {r[0]}: prefill lctx {r[3]:.0f} tok/s, torch "
                  f"{r[4]:.0f} tok/s; decode lctx {r[5]:.1f} tok/s, torch "
                  f"cached {r[6]:.1f} tok/s, re-forward {r[7]:.2f} tok/s",
                  file=sys.stderr)
    print("| model | arch | prefill tokens | lctx prefill tok/s | torch "
          "prefill tok/s | ratio | lctx decode tok/s | torch cached decode "
          "tok/s | ratio | torch re-forward tok/s | ratio | peer check |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, arch, n, lp, tp, ld, cd, nd, err in rows:
        print(f"| {name} | {arch} | {n} | {lp:.0f} | {tp:.0f} | "
              f"{lp / tp:.2f} | {ld:.1f} | {cd:.1f} | {ld / cd:.2f} | "
              f"{nd:.2f} | {ld / nd:.1f} | {err:.0e} |")
    print(f"({args.threads} thread(s); median of {args.rounds} rounds, lctx "
          f"and torch alternating; prefill: median of {args.repeat} calls "
          f"per round; decode: {args.steps} steps at the end of the context "
          f"(re-forward: {min(args.steps, 4)}), both sides driven from Python "
          "(lctx through the ctypes module); peer check: float64 cached step "
          f"vs reference forward over the first {args.check} positions; load "
          f"average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end, "
          f"{os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
