#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Memory and time vs context length: streams contexts of 1K .. 1M tokens
through `lctx-run --score` (the token decode, one stream, constant-size
state) for Infini-Transformer and Megalodon at a small-but-real config
(bench/stream/*.json: width 256, 4 layers), and the same contexts through
the PyTorch reference's streaming form (test/reference/torch/stream_*.py,
block-parallel over 4096-token blocks with the recurrent state carried,
float32 activations; Megalodon's CEMA in complex128 as the reference fixes
it), each in its own process with the same thread count. Reports time,
tokens/s, peak RSS and bits per byte per length, writes a PNG plot (time and
peak RSS vs context length, log-log) and a Markdown table.

A length is skipped (and the table says why) when its projected time
exceeds --max-seconds or its projected peak RSS --max-rss-gib, projected
from the two previous lengths.

usage: bench/stream/bench.py [--build-dir build] [--threads 1]
           [--arch infini,megalodon] [--lengths 1K,4K,16K,64K,256K,1M]
           [--max-seconds 900] [--max-rss-gib 6] [--no-peer] [--out DIR]

The plot needs python3-matplotlib (installed with apt-get when missing).
"""
import argparse
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def tokens(text):
    m = re.fullmatch(r"(\d+)([KM]?)", text)
    return int(m.group(1)) * {"": 1, "K": 1024, "M": 1 << 20}[m.group(2)]


def label(n):
    return f"{n >> 20}M" if n % (1 << 20) == 0 else f"{n >> 10}K"


def text_bytes(n):
    docs = b"".join(open(p, "rb").read() for p in
                    sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))))
    return (docs * (n // len(docs) + 1))[:n]


def peer_main(argv):
    """The PyTorch side, in its own process: stream the file, report JSON."""
    arch, config, weights, data, threads = argv
    import numpy as np
    import torch
    torch.set_num_threads(int(threads))
    sys.path.insert(0, os.path.join(ROOT, "test", "reference", "torch"))
    sys.path.insert(0, os.path.join(ROOT, "test", "Models"))
    from stream_test import read_safetensors
    mod = __import__("stream_" + arch)
    c = json.load(open(config))
    w = read_safetensors(weights)
    ids = np.fromfile(data, np.uint8).astype(np.int64)
    n = len(ids)
    tids = torch.as_tensor(ids)
    block = {"block_chunks" if arch == "megalodon" else "block_segments":
             4096 // c["chunk" if arch == "megalodon" else "segment"]}
    start = time.time()
    nll = 0.0
    with torch.no_grad():
        for s0, logits in mod.stream(w, ids, c, dtype=torch.float32,
                                     **block):
            lg = logits[0].double()
            t = lg.shape[0]
            stop = min(t, n - 1 - s0)
            if stop > 0:
                lp = torch.log_softmax(lg[:stop], -1)
                nll -= float(lp[torch.arange(stop),
                                tids[s0 + 1:s0 + 1 + stop]].sum())
    seconds = time.time() - start
    print(json.dumps({
        "seconds": seconds, "bpb": nll / (n - 1) / np.log(2),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_lctx(args, lctx, weights, data):
    r = subprocess.run([args.lctx_run, lctx, "--weights", weights, "--score",
                        data, "--threads", str(args.threads)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: lctx-run failed: {r.stderr}")
    m = re.search(r"([0-9.]+) bits per byte .*, ([0-9.]+) s, ([0-9.]+) "
                  r"bytes/s", r.stdout)
    rss = re.search(r"peak RSS ([0-9.]+) MiB", r.stdout)
    return {"seconds": float(m.group(2)), "bpb": float(m.group(1)),
            "rss_mib": float(rss.group(1))}


def run_peer(args, arch, config, weights, data):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))
    r = subprocess.run(["/usr/bin/python3", os.path.abspath(__file__),
                        "--peer-run", arch, config, weights, data,
                        str(args.threads)], capture_output=True, text=True,
                       env=env)
    if r.returncode != 0:
        sys.exit(f"bench: peer failed: {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def projected(results, n, key):
    """Linear projection of `key` at length n from the last two results."""
    done = [(m, r) for m, r in results if "skipped" not in r]
    if len(done) < 2:
        return None
    (n0, r0), (n1, r1) = done[-2], done[-1]
    slope = (r1[key] - r0[key]) / (n1 - n0)
    return r1[key] + slope * (n - n1)


def measure(args, arch, lengths, runner, what):
    results = []
    for n in lengths:
        t = projected(results, n, "seconds")
        rss = projected(results, n, "rss_mib")
        if t is not None and t > args.max_seconds:
            print(f"  {what} {label(n)}: skipped (projected {t:.0f} s)",
                  flush=True)
            results.append((n, {"skipped": f"projected {t:.0f} s"}))
            continue
        if rss is not None and rss > args.max_rss_gib * 1024:
            print(f"  {what} {label(n)}: skipped (projected peak RSS "
                  f"{rss / 1024:.1f} GiB)", flush=True)
            results.append((n, {"skipped":
                                f"projected peak RSS {rss / 1024:.1f} GiB"}))
            continue
        if results and "skipped" in results[-1][1]:
            results.append((n, {"skipped": "a shorter length was skipped"}))
            continue
        data = os.path.join(args.work, f"{label(n)}.bin")
        if not os.path.exists(data):
            open(data, "wb").write(text_bytes(n))
        r = runner(data)
        r["tok_s"] = n / r["seconds"] if r["seconds"] > 0 else 0
        print(f"  {what} {label(n)}: {r['seconds']:.2f} s, "
              f"{r['tok_s']:.0f} tok/s, peak RSS {r['rss_mib']:.0f} MiB, "
              f"{r['bpb']:.4f} bits per byte", flush=True)
        results.append((n, r))
    return [(n, r if "skipped" not in r else None, r.get("skipped"))
            for n, r in results]


def plot(args, table, path):
    try:
        import matplotlib
    except ImportError:
        subprocess.run(["apt-get", "install", "-y", "-q",
                        "--no-install-recommends", "python3-matplotlib"],
                       check=False, env=dict(os.environ,
                                             DEBIAN_FRONTEND="noninteractive"))
        try:
            import matplotlib
        except ImportError:
            print("bench: no matplotlib; no plot")
            return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"lctx": "-o", "torch": "--s"}
    for (arch, side), rows in table.items():
        xs = [n for n, r, _ in rows if r]
        if not xs:
            continue
        ax1.loglog(xs, [r["seconds"] for _, r, _ in rows if r],
                   styles[side], label=f"{arch} {side}")
        ax2.semilogx(xs, [r["rss_mib"] for _, r, _ in rows if r],
                     styles[side], label=f"{arch} {side}")
    ax1.set_xlabel("context (tokens)")
    ax1.set_ylabel("time (s)")
    ax1.set_title("time to stream the context")
    ax2.set_xlabel("context (tokens)")
    ax2.set_ylabel("peak RSS (MiB)")
    ax2.set_title("peak RSS")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"lctx-run --score vs the PyTorch streaming reference, "
                 f"{args.threads} thread(s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--peer-run":
        peer_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--arch", default="infini,megalodon")
    ap.add_argument("--lengths", default="1K,4K,16K,64K,256K,1M")
    ap.add_argument("--max-seconds", type=float, default=900)
    ap.add_argument("--max-rss-gib", type=float, default=6)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
    args.lctx_run = os.path.join(args.build_dir, "bin", "lctx-run")
    compile_ = os.path.join(args.build_dir, "bin", "lctx-compile")
    os.makedirs(args.out, exist_ok=True)
    args.work = os.path.join(args.out, "work")
    os.makedirs(args.work, exist_ok=True)
    lengths = [tokens(x) for x in args.lengths.split(",")]
    table = {}
    for arch in args.arch.split(","):
        config = os.path.join(HERE, arch + ".json")
        base = os.path.join(args.work, arch)
        old = open(base + ".mlir").read() \
            if os.path.exists(base + ".mlir") else None
        subprocess.run([os.path.join(ROOT, "tools", "lctx-gen", "lctx-gen"),
                        config, "-o", base + ".mlir"], check=True)
        if not os.path.exists(base + ".lctx") or \
                open(base + ".mlir").read() != old:
            subprocess.run([compile_, "--quiet", base + ".mlir", "-o",
                            base + ".lctx"], check=True)
        subprocess.run(["/usr/bin/python3",
                        os.path.join(ROOT, "scripts", "random-weights.py"),
                        base + ".lctx", base + ".safetensors", "--seed", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"{arch}: lctx-run --score, {args.threads} thread(s)",
              flush=True)
        table[(arch, "lctx")] = measure(
            args, arch, lengths,
            lambda d: run_lctx(args, base + ".lctx", base + ".safetensors",
                               d), "lctx")
        if not args.no_peer:
            print(f"{arch}: PyTorch streaming reference, {args.threads} "
                  "thread(s)", flush=True)
            table[(arch, "torch")] = measure(
                args, arch, lengths,
                lambda d: run_peer(args, arch, config, base + ".safetensors",
                                   d), "torch")
    png = os.path.join(args.out, "stream.png")
    have_plot = plot(args, table, png)
    lines = ["| arch | side | context | time (s) | tokens/s | peak RSS (MiB) "
             "| bits per byte |", "|---|---|---:|---:|---:|---:|---:|"]
    for (arch, side), rows in table.items():
        for n, r, why in rows:
            if r:
                lines.append(f"| {arch} | {side} | {label(n)} | "
                             f"{r['seconds']:.2f} | {r['tok_s']:.0f} | "
                             f"{r['rss_mib']:.0f} | {r['bpb']:.4f} |")
            else:
                lines.append(f"| {arch} | {side} | {label(n)} | not run: "
                             f"{why} | | | |")
    md = "\n".join(lines) + "\n"
    open(os.path.join(args.out, "table.md"), "w").write(md)
    json.dump({f"{a} {s}": [(n, r, w) for n, r, w in rows]
               for (a, s), rows in table.items()},
              open(os.path.join(args.out, "results.json"), "w"), indent=1)
    print(md)
    if have_plot:
        print(f"bench: wrote {png}")
    shutil.rmtree(args.work + "/data", ignore_errors=True)


if __name__ == "__main__":
    main()
