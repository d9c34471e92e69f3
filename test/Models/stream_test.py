#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Streaming tests of token-decoded models through lctx-run's generate and
score paths (runtime/tools/model_driver.cpp), against the PyTorch float64
references (test/reference/torch). The runtime runs in its own processes
(lctx-run, lctx-stream-probe: the score path with an observer), so these
tests also run under the sanitizers; Python only computes references.

  build                 lctx-gen + lctx-compile + seeded random weights for
                        test/Models/Inputs/stream-*.json and the shipped
                        MEGABYTE (the ctest fixture of the others)
  score                 --score of a short file (several segments / chunks /
                        windows; blocks through prefill_segment/_chunk) vs
                        the reference bits per byte and logits (decode and
                        block paths), lengths around block boundaries;
                        --generate: greedy bytes are the reference argmax
                        (window slides included), seeded sampling
                        reproducible
  state                 20,000 decode steps of Infini and Megalodon (and
                        20,000 two-rate steps of MEGABYTE): the session's
                        state bytes are the manifest's (and the
                        architecture's formula) at every sample, state and
                        logits finite, MEGABYTE's local cache bounded by the
                        patch
  rss                   the same streams: the process RSS does not grow
                        after the first 2,000 steps
  million --arch A      1,048,576 tokens through the decode of A (infini,
                        infini-delta, megalodon): no NaN/Inf, bits per byte
                        of every 64K-token window and sampled logits vs a
                        float64 streaming reference (stream_infini.py,
                        stream_megalodon.py) within the stated tolerances;
                        prints the measured drift

usage: stream_test.py MODE --build-dir DIR --models DIR [--arch A] [--tokens N]
           [--piece N] [--lctx-run FILE] [--probe FILE] [--work DIR]
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import FAILURES, check, read_safetensors, rel_error  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "reference", "torch"))

import torch  # noqa: E402

import infini as infini_ref  # noqa: E402
import megalodon as megalodon_ref  # noqa: E402
import switch as switch_ref  # noqa: E402
import stream_infini  # noqa: E402
import stream_megalodon  # noqa: E402

MODELS = ["stream-infini", "stream-infini-delta", "stream-megalodon",
          "stream-switch-window"]
REFS = {"infini": infini_ref, "megalodon": megalodon_ref,
        "switch": switch_ref}

# Tolerances (f32 runtime vs float64 reference).
# Short files: bits per byte within 1e-4 (the printed value has 6
# decimals); logits: max |error| / max |reference logit| <= 1e-4, the
# model tests' decode-vs-prefill tolerance.
SHORT_BPB_TOL = 1e-4
SHORT_LOGITS_TOL = 1e-4
# A million tokens: every 64K window's bits per byte within 1e-3 and the
# logits at every sampled position within 2e-3 (relative as above). fp32
# rounding accumulates in the recurrent state (Infini's M and z are sums
# over the whole stream; Megalodon's TimestepNorm averages over all tokens
# so far), so the error grows with the position. Measured on 2026-11-25 at
# 1M tokens (max over the stream): Infini linear 5.5e-5 bits per byte and
# 3.7e-4 logits, delta 6.6e-5 and 5.4e-4; Megalodon 5.8e-5 and 4.6e-4 since
# its TimestepNorm statistics are merged in f64 (in f32 they drifted to
# 4.9e-3 bits per byte, layer 0's variance 3.4e-3 off after 1M tokens; now
# 4.3e-4). The measured drift is printed.
LONG_BPB_TOL = 1e-3
LONG_LOGITS_TOL = 2e-3


def read_manifest(path):
    data = open(path, "rb").read()
    count = int.from_bytes(data[12:16], "little")
    for i in range(count):
        entry = data[24 + 40 * i:64 + 40 * i]
        kind = int.from_bytes(entry[:4], "little")
        off = int.from_bytes(entry[8:16], "little")
        size = int.from_bytes(entry[16:24], "little")
        if kind == 1:
            return json.loads(data[off:off + size])
    sys.exit(f"stream_test: {path}: no manifest")


def text_bytes(n):
    """n bytes of lctx's own documentation, repeated as needed
    (deterministic)."""
    docs = b"".join(open(p, "rb").read() for p in
                    sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))))
    reps = n // len(docs) + 1
    return np.frombuffer((docs * reps)[:n], np.uint8).astype(np.int64)


class Model:
    def __init__(self, models_dir, name):
        self.name = name
        self.lctx = os.path.join(models_dir, name + ".lctx")
        self.weights = os.path.join(models_dir, name + ".safetensors")
        self.config = json.load(open(os.path.join(models_dir,
                                                  name + ".json")))
        self._w = None
        self.window = read_manifest(self.lctx).get("model", {}).get(
            "window")

    @property
    def w(self):
        if self._w is None:
            self._w = read_safetensors(self.weights)
        return self._w

    def ref_logits(self, ids):
        """float64 reference logits [T, V] of a 1-D sequence from fresh
        state."""
        ref = REFS[self.config["arch"]]
        return ref.forward(self.w, np.asarray(ids)[None], self.config)[0] \
            .numpy()


def run(cmd, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


def lctx_run(args, *extra):
    return run([args.lctx_run, *extra])


def probe(args, model, data, out, *opts):
    r = run([args.probe, model.lctx, model.weights, data, out, *opts])
    if r.returncode != 0:
        sys.exit(f"stream_test: lctx-stream-probe failed:\n{r.stderr}")
    return json.load(open(out))


# --------------------------------------------------------------------------
# build


def mode_build(args):
    os.makedirs(args.models, exist_ok=True)
    bindir = os.path.join(args.build_dir, "bin")
    for name in MODELS:
        src = os.path.join(HERE, "Inputs", name + ".json")
        base = os.path.join(args.models, name)
        shutil.copy(src, base + ".json")
        subprocess.run([os.path.join(ROOT, "tools", "lctx-gen", "lctx-gen"),
                        src, "-o", base + ".mlir"], check=True)
        subprocess.run([os.path.join(bindir, "lctx-compile"), "--quiet",
                        base + ".mlir", "-o", base + ".lctx"], check=True)
        subprocess.run(["/usr/bin/python3",
                        os.path.join(ROOT, "scripts", "random-weights.py"),
                        base + ".lctx", base + ".safetensors", "--seed", "5"],
                       check=True, stdout=subprocess.DEVNULL)
    base = os.path.join(args.models, "megabyte-tiny")
    shutil.copy(os.path.join(ROOT, "models", "megabyte", "tiny.json"),
                base + ".json")
    subprocess.run([os.path.join(bindir, "lctx-compile"), "--quiet",
                    os.path.join(ROOT, "models", "megabyte", "tiny.mlir"),
                    "-o", base + ".lctx"], check=True)
    subprocess.run(["/usr/bin/python3",
                    os.path.join(ROOT, "scripts", "random-weights.py"),
                    base + ".lctx", base + ".safetensors", "--seed", "3"],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"stream_test: built {len(MODELS) + 1} models in {args.models}")


# --------------------------------------------------------------------------
# score and generate


def score_reference(model, ids):
    """(bits per byte, logits [n-1, V] predicting ids[1:]) of the token
    schedule: one stream, or windows of `window` fed tokens from fresh
    state overlapping by one byte."""
    window = model.window
    n = len(ids)
    if window is None:
        logits = model.ref_logits(ids)[:-1]
    else:
        parts = []
        for s in range(0, n - 1, window):
            parts.append(model.ref_logits(ids[s:min(s + window, n - 1)]))
        logits = np.concatenate(parts, 0)
    t = torch.as_tensor(logits)
    nll = -torch.log_softmax(t, -1)[torch.arange(n - 1),
                                    torch.as_tensor(ids[1:])]
    return float(nll.sum() / (n - 1) / np.log(2)), logits


def parse_bpb(stdout):
    m = re.search(r"([0-9]+\.[0-9]+) bits per byte", stdout)
    return float(m.group(1)) if m else None


def check_score(args, model, n):
    ids = text_bytes(n)
    data = os.path.join(args.work, model.name + "-score.bin")
    ids.astype(np.uint8).tofile(data)
    r = lctx_run(args, model.lctx, "--weights", model.weights, "--score",
                 data, "--threads", "1")
    check(r.returncode == 0, f"{model.name}: --score exits 0 ({r.stderr[-200:]})")
    got = parse_bpb(r.stdout)
    want, ref_logits = score_reference(model, ids)
    check(got is not None and abs(got - want) <= SHORT_BPB_TOL,
          f"{model.name}: --score of {n} bytes: {got} bits per byte, "
          f"reference {want:.6f} (|diff| {abs((got or 0) - want):.1e} <= "
          f"{SHORT_BPB_TOL})")
    window = model.window
    how = f"windows of {window} bytes overlapping by one" if window \
        else "one stream"
    check(f"({n - 1} bytes predicted from the bytes before them, {how}"
          in r.stdout, f"{model.name}: --score says how it scored "
          f"({r.stdout.strip().splitlines()[0] if r.stdout else ''})")
    check(f"score: {n} / {n} bytes (100.0%)" in r.stderr,
          f"{model.name}: --score reports progress")
    if window is None:
        check("through prefill_" in r.stdout, f"{model.name}: --score feeds "
              "whole blocks through the model's block prefill")
    else:
        check("through extend" in r.stdout, f"{model.name}: --score feeds "
              "blocks through the derived extend entry")
    # The same path's logits at every position vs the reference: every
    # byte through decode, and blocks through the block prefill
    # (unbounded models) or extend (windowed models) with the rest through
    # decode, as --score does.
    for blocks in ("0", "1"):
        out = probe(args, model, data, os.path.join(args.work, "probe.json"),
                    "--logits-every", "1", "--block", str(n), "--blocks",
                    blocks)
        got_logits = np.array([l for _, l in out["logits"]])
        err = rel_error(got_logits, ref_logits)
        what = ("decode" if blocks == "0" else "blocks + decode"
                if window is None else "extend + decode")
        check(err <= SHORT_LOGITS_TOL, f"{model.name}: logits of all "
              f"{n - 1} scored positions ({what}) vs reference: {err:.2e}")
    # Lengths around the block boundaries.
    for m in ((64, 65, 128, 129) if window is None else
              (window - 1, window, window + 1, 2 * window + 3)):
        short = os.path.join(args.work, f"{model.name}-{m}.bin")
        ids[:m].astype(np.uint8).tofile(short)
        r = lctx_run(args, model.lctx, "--weights", model.weights,
                     "--score", short, "--threads", "1")
        got = parse_bpb(r.stdout)
        want, _ = score_reference(model, ids[:m])
        check(got is not None and abs(got - want) <= SHORT_BPB_TOL,
              f"{model.name}: --score of {m} bytes: {got} bits per byte, "
              f"reference {want:.6f}")


def run_bytes(cmd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, env=env)


def check_generate(args, model):
    window = model.window
    # A prompt longer than the window (the window slides during the prompt
    # and during generation).
    prompt = bytes(text_bytes(45).astype(np.uint8))
    count = 60
    r = run_bytes([args.lctx_run, model.lctx, "--weights", model.weights,
                   "--prompt", prompt, "--generate", str(count),
                   "--threads", "1"])
    check(r.returncode == 0, f"{model.name}: --generate exits 0")
    out = r.stdout
    check(len(out) == len(prompt) + count and out.startswith(prompt),
          f"{model.name}: --generate writes the prompt and {count} bytes")
    check(b"generate: prompt 45 bytes in" in r.stderr,
          f"{model.name}: --generate reports timing")
    seq = list(out)
    # Reference: the context of every prediction under the token schedule
    # (with a window: when the state is full, the last window/2 bytes are
    # replayed into fresh state before the next byte).
    checked = agree = 0
    if window is None:
        logits = model.ref_logits(np.array(seq[:-1]))
        preds = [(len(prompt) + i, logits[len(prompt) + i - 1])
                 for i in range(count)]
    else:
        ctx, preds = [], []
        for i, b in enumerate(seq[:-1]):
            if len(ctx) == window:
                ctx = ctx[-(window // 2):]
            ctx.append(b)
            if i + 1 >= len(prompt):
                preds.append((i + 1, model.ref_logits(np.array(ctx))[-1]))
    for pos, lg in preds:
        top = np.sort(lg)[-2:]
        if top[1] - top[0] < 1e-3:
            continue  # a near tie: f32 may pick either
        checked += 1
        agree += int(np.argmax(lg) == seq[pos])
    check(checked >= count // 2 and agree == checked,
          f"{model.name}: greedy --generate picks the reference argmax at "
          f"{agree} of {checked} clear positions"
          + (f" (window {window}, sliding)" if window else ""))
    a = run_bytes([args.lctx_run, model.lctx, "--weights", model.weights,
                   "--prompt", "lctx", "--generate", "40", "--temperature",
                   "0.8", "--top-p", "0.9", "--seed", "7", "--threads", "1"])
    b = run_bytes([args.lctx_run, model.lctx, "--weights", model.weights,
                   "--prompt", "lctx", "--generate", "40", "--temperature",
                   "0.8", "--top-p", "0.9", "--seed", "7", "--threads", "1"])
    c = run_bytes([args.lctx_run, model.lctx, "--weights", model.weights,
                   "--prompt", "lctx", "--generate", "40", "--temperature",
                   "0.8", "--top-p", "0.9", "--seed", "8", "--threads", "1"])
    check(a.stdout == b.stdout and a.stdout != c.stdout,
          f"{model.name}: sampling is reproducible with a seed and depends "
          "on it")


def mode_score(args):
    for name in MODELS:
        model = Model(args.models, name)
        n = 100 if model.window else 300
        check_score(args, model, n)
        check_generate(args, model)


# --------------------------------------------------------------------------
# state


def infini_state_bytes(c):
    h, d, n = c["heads"], c["dim"], c["segment"]
    dh = d // h
    return 8 + c["layers"] * 4 * h * (dh * dh + dh + 3 * n * dh)


def megalodon_state_bytes(c):
    d, g, n, h = c["dim"], c.get("groups", 4), c["cema_ndim"], c["heads"]
    per_layer = 8 + 2 * 4 * g + 8 * d * n + 4 * c["chunk"] * (
        c["z_dim"] + c["v_dim"])
    return 8 + c["layers"] * per_layer + 8 + 2 * 4 * g


def check_constant_state(args, model, steps, want_bytes, rss):
    data = os.path.join(args.work, model.name + "-state.bin")
    # A token model predicts every byte but the first, MEGABYTE every byte.
    first = 0 if model.config["arch"] == "megabyte" else 1
    text_bytes(steps + first).astype(np.uint8).tofile(data)
    out = probe(args, model, data, os.path.join(args.work, "state.json"),
                "--sample-every", "1000", "--block", str(steps))
    samples = out["samples"]
    check(out["scored"] == steps, f"{model.name}: {out['scored']} decode "
          "steps")
    sizes = {s[2] for s in samples}
    check(sizes == {want_bytes} and out["manifest_state_bytes"] == want_bytes,
          f"{model.name}: the session's state is {sorted(sizes)} bytes at "
          f"all {len(samples)} samples over {steps} steps (manifest "
          f"{out['manifest_state_bytes']}, formula {want_bytes})")
    check(out["nonfinite_state"] == 0 and out["nonfinite_logits"] == 0,
          f"{model.name}: state and logits stay finite")
    if not rss:
        return
    # RSS after the first 2000 steps (warm: every buffer allocated once) vs
    # at the end. A leak of one 64-byte block per step would be 1.1 MiB.
    base = [s[1] for s in samples if s[0] >= 2000][0]
    growth = samples[-1][1] - base
    check(growth <= 512 * 1024,
          f"{model.name}: process RSS grows by {growth / 1024:.0f} KiB over "
          f"steps 2000..{steps} ({growth / max(1, steps - 2000):.0f} "
          "bytes per step; allowed 512 KiB in all)")


def mode_state(args, rss=False):
    steps = args.tokens or 20000
    inf = Model(args.models, "stream-infini")
    check_constant_state(args, inf, steps, infini_state_bytes(inf.config),
                         rss)
    meg = Model(args.models, "stream-megalodon")
    check_constant_state(args, meg, steps,
                         megalodon_state_bytes(meg.config), rss)
    # MEGABYTE: the local KV cache holds P positions (the patch), whatever
    # the number of steps; the global one T/P patches.
    mb = Model(args.models, "megabyte-tiny")
    c = mb.config
    info = lctx_run(args, "--info", mb.lctx).stdout
    states = dict(re.findall(r"^  (\S+) \w+ \[([0-9, ]+)\] \(\d+ bytes\)$",
                             info[info.index("states"):], re.M))
    local = {k: v for k, v in states.items()
             if re.fullmatch(r"local\.(layers|attention)\.\d+\.[kv]", k)}
    check(len(local) == 2 * c["local"]["layers"] and all(
        int(v.split(", ")[2]) == c["patch"] for v in local.values()),
        f"megabyte-tiny: local KV caches hold the patch ({c['patch']} "
        f"positions): {sorted(local.items())}")
    glob_ = {k: v for k, v in states.items()
             if re.fullmatch(r"global\.(layers|attention)\.\d+\.[kv]", k)}
    check(all(int(v.split(", ")[2]) == c["context"] // c["patch"]
              for v in glob_.values()) and glob_,
          f"megabyte-tiny: global KV caches hold context/patch = "
          f"{c['context'] // c['patch']} patches")
    total = int(re.search(r"total: \d+ states, (\d+) bytes", info).group(1))
    check_constant_state(args, mb, steps, total, rss)


# --------------------------------------------------------------------------
# a million tokens


def reference_stream(model, ids, block, logits_every):
    """Block NLL sums (nats) over scored offsets 1.., in blocks of `block`,
    and logits at offsets that are multiples of `logits_every`, from the
    float64 streaming reference."""
    arch = model.config["arch"]
    mod = stream_megalodon if arch == "megalodon" else stream_infini
    n = len(ids)
    nblocks = (n - 1 + block - 1) // block
    sums = np.zeros(nblocks)
    sampled = {}
    tids = torch.as_tensor(ids)
    for s0, logits in mod.stream(model.w, ids, model.config):
        lg = logits[0]
        t = lg.shape[0]
        # position p = s0 + i predicts offset p + 1
        offs = torch.arange(s0 + 1, s0 + t + 1)
        keep = offs < n
        lp = torch.log_softmax(lg[keep], -1)
        nll = -lp[torch.arange(int(keep.sum())), tids[offs[keep]]]
        idx = ((offs[keep] - 1) // block).numpy()
        np.add.at(sums, idx, nll.numpy())
        for o in range((s0 + 1 + logits_every - 1) // logits_every
                       * logits_every, s0 + t + 1, logits_every):
            if 0 < o < n:
                sampled[o] = lg[o - 1 - s0].numpy()
    return sums, sampled


def mode_million(args):
    name = {"infini": "stream-infini", "infini-delta": "stream-infini-delta",
            "megalodon": "stream-megalodon"}[args.arch]
    model = Model(args.models, name)
    n = args.tokens or 1 << 20
    block, every = 65536, 32768
    torch.set_num_threads(1)
    ids = text_bytes(n)
    data = os.path.join(args.work, name + "-million.bin")
    ids.astype(np.uint8).tofile(data)

    # The streaming reference equals the whole-sequence reference.
    short = ids[:3 * 64 + 17]
    mod = stream_megalodon if args.arch == "megalodon" else stream_infini
    small = {"block_chunks" if args.arch == "megalodon" else
             "block_segments": 2}  # several blocks carrying the state
    streamed = torch.cat([lg[0] for _, lg in
                          mod.stream(model.w, short, model.config,
                                     **small)]).numpy()
    err = rel_error(streamed, model.ref_logits(short))
    check(err <= 1e-10, f"{name}: the streaming float64 reference equals "
          f"the whole-sequence reference on {len(short)} tokens: {err:.1e}")

    # lctx in one process (or, with --piece, in pieces of that many tokens,
    # one process each, carrying the states through files:
    # lctx-stream-probe --state-in/--state-out, the score path continuing
    # the stream), in a thread, while the reference runs here (one thread
    # each).
    piece = args.piece or n
    result = {"blocks": {}, "logits": [], "samples": [], "scored": 0,
              "nonfinite_logits": 0, "nonfinite_state": 0, "error": None,
              "pieces": 0}

    def run_lctx():
        state = None
        for s in range(0, n - 1, piece):
            e = min(s + piece, n - 1)  # the piece's last byte (scored)
            path = os.path.join(args.work, f"{name}-piece.bin")
            ids[s:e + 1].astype(np.uint8).tofile(path)
            out_json = os.path.join(args.work, f"{name}-piece.json")
            next_state = os.path.join(args.work,
                                      f"{name}-state{s // piece % 2}.st")
            cmd = [args.probe, model.lctx, model.weights, path, out_json,
                   "--block", str(block), "--logits-every", str(every),
                   "--sample-every", str(max(1, min(piece // 2, n // 16))),
                   "--offset", str(s),
                   "--state-out", next_state]
            if state:
                cmd += ["--state-in", state]
            r = subprocess.run(cmd, capture_output=True, text=True,
                               env=dict(os.environ, OMP_NUM_THREADS="1"))
            if r.returncode != 0:
                result["error"] = r.stderr
                return
            out = json.load(open(out_json))
            for start_, count, nll in out["blocks"]:
                c0, n0 = result["blocks"].get(start_, (0, 0.0))
                result["blocks"][start_] = (c0 + count, n0 + nll)
            result["logits"] += out["logits"]
            result["samples"] += out["samples"]
            for k in ("scored", "nonfinite_logits", "nonfinite_state"):
                result[k] += out[k]
            result["pieces"] += 1
            state = next_state
        result["state"] = state

    start = time.time()
    thread = threading.Thread(target=run_lctx)
    thread.start()
    ref_sums, ref_logits = reference_stream(model, ids, block, every)
    ref_seconds = time.time() - start
    thread.join()
    lctx_seconds = time.time() - start
    if result["error"]:
        sys.exit(f"stream_test: lctx-stream-probe failed:\n{result['error']}")
    out = result
    out["blocks"] = [(k, c, v) for k, (c, v) in
                     sorted(result["blocks"].items())]
    print(f"{name}: {n} tokens: float64 reference {ref_seconds:.1f} s, lctx "
          f"done after {lctx_seconds:.1f} s in {out['pieces']} processes of "
          f"{piece} tokens (one thread each, concurrently)")
    check(out["scored"] == n - 1, f"{name}: {out['scored']} bytes scored")
    check(out["nonfinite_logits"] == 0 and out["nonfinite_state"] == 0,
          f"{name}: no NaN/Inf in {out['scored']} x 256 logits nor in the "
          f"state at {len(out['samples'])} samples")
    rows = []
    for i, (start_, count, nll) in enumerate(out["blocks"]):
        got = nll / count / np.log(2)
        want = ref_sums[i] / count / np.log(2)
        rows.append((start_, count, got, want, abs(got - want)))
    print(f"{name}: bits per byte of each 64K window: lctx, reference, "
          "|diff|")
    for s, cnt, g, w_, d in rows:
        print(f"  offsets {s:>7}..{s + cnt - 1:>7}: {g:.6f} {w_:.6f} "
              f"{d:.1e}")
    worst = max(r[4] for r in rows)
    check(len(rows) == (n - 1 + block - 1) // block and worst <= LONG_BPB_TOL,
          f"{name}: bits per byte of all {len(rows)} 64K windows within "
          f"{LONG_BPB_TOL} of float64: max |diff| {worst:.1e} (first window "
          f"{rows[0][4]:.1e}, last {rows[-1][4]:.1e})")
    errs = []
    for off, lg in out["logits"]:
        errs.append((off, rel_error(np.array(lg), ref_logits[off])))
    worst = max(e for _, e in errs)
    check(len(errs) == len(ref_logits) and worst <= LONG_LOGITS_TOL,
          f"{name}: logits at {len(errs)} sampled positions (every {every}) "
          f"within {LONG_LOGITS_TOL} of float64: max {worst:.1e} (at "
          f"{errs[0][0]}: {errs[0][1]:.1e}, at {errs[-1][0]}: "
          f"{errs[-1][1]:.1e})")
    if args.arch == "megalodon":
        # Layer 0's TimestepNorm reads the embeddings, so its carried
        # statistics after the stream have an exact float64 value: where
        # the drift starts.
        st = read_safetensors(out["state"])
        c = model.config
        g = c.get("groups", 4)
        consumed = int(st["pos"][0]) if "pos" in st else n - 1
        x = model.w["embed"].astype(np.float64)[ids[:consumed]]
        xg = x.reshape(consumed, g, -1)
        mean = xg.mean(axis=(0, 2))
        var = (xg ** 2).mean(axis=(0, 2)) - mean ** 2
        em = rel_error(st["layers.0.tsn.mean"].reshape(-1), mean)
        ev = rel_error(st["layers.0.tsn.var"].reshape(-1), var)
        print(f"{name}: layer 0 TimestepNorm statistics after {consumed} "
              f"tokens vs float64: mean {em:.1e}, variance {ev:.1e} "
              "(relative)")
    print(f"{name}: drift summary: bpb |diff| by window "
          + " ".join(f"{r[4]:.0e}" for r in rows))
    print(f"{name}: logits error by sampled position "
          + " ".join(f"{e:.0e}" for _, e in errs))
    rss = [s[1] for s in out["samples"]]
    print(f"{name}: process RSS (MiB) at {len(rss)} samples: "
          + " ".join(f"{r / 2**20:.1f}" for r in rss))
    if out["pieces"] == 1:
        growth = rss[-1] - rss[1]
        check(growth <= 1 << 20, f"{name}: process RSS grows by "
              f"{growth / 1024:.0f} KiB from token {out['samples'][1][0]} "
              f"to {out['samples'][-1][0]} (allowed 1 MiB)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode",
                    choices=["build", "score", "state", "rss", "million"])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--arch", default="infini")
    ap.add_argument("--tokens", type=int)
    ap.add_argument("--piece", type=int)
    ap.add_argument("--work")
    ap.add_argument("--lctx-run")
    ap.add_argument("--probe")
    args = ap.parse_args()
    bindir = os.path.join(args.build_dir, "bin")
    args.lctx_run = args.lctx_run or os.path.join(bindir, "lctx-run")
    args.probe = args.probe or os.path.join(bindir, "lctx-stream-probe")
    if args.mode == "build":
        mode_build(args)
        return
    import tempfile
    args.work = args.work or tempfile.mkdtemp(prefix="lctx-stream-test-")
    {"score": mode_score, "state": mode_state,
     "rss": lambda a: mode_state(a, rss=True),
     "million": mode_million}[args.mode](args)
    if FAILURES:
        sys.exit(f"stream_test: {len(FAILURES)} failure(s)")
    shutil.rmtree(args.work, ignore_errors=True)
    print(f"stream_test {args.mode}: all checks passed")


if __name__ == "__main__":
    main()
