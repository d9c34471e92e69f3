#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""End-to-end model tests: lctx-gen -> lctx-compile -> lctxrt (Python) vs
the PyTorch float64 reference of the architecture.

For each config: generate the definition, compile it, write seeded random
weights, then check (fp32, normalized max error <= 1e-4 against the largest
reference logit):
  - prefill logits vs the PyTorch reference (test/reference/torch);
  - decode: one step per position over the whole context through the
    compiled decode entry points (state owned by the runtime), every step's
    logits vs the prefill logits at that position;
  - a prefix of awkward length (not a multiple of the patch) decoded step
    by step matches the prefill logits of those positions;
  - prefill of a prefix then decode equals the prefill: the block prefills
    (`prefill_segment`, `prefill_chunk`) and the derived `extend` entries
    (S tokens at once over the decode caches; MEGABYTE's `extend_global`,
    whole patches), at aligned and unaligned positions;
  - a decode past the window its caches hold is refused (OUT_OF_RANGE)
    with the state unchanged;
  - the runtime's state size is the same after any number of steps (it is
    fixed in the manifest) and matches the architecture's formula;
  - the Python module's errors (unknown entry, wrong input) name the
    problem.

usage: model_test.py --build-dir DIR [--config FILE ...] [--keep DIR]

On a GPU (the same checks, the compiled code running on the device):
  here:    model_test.py --build-dir DIR --target cuda --gpu-arch sm_90 \
               --prepare OUTDIR        (generate, compile, weights; no checks)
  there:   model_test.py --build-dir RUNTIME_BUILD --prebuilt OUTDIR \
               --device cuda           (no compiler needed)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import FAILURES, check, read_safetensors, rel_error  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "test", "reference", "torch"))

import lctxrt  # noqa: E402
import infini as infini_ref  # noqa: E402
import megabyte as megabyte_ref  # noqa: E402
import megalodon as megalodon_ref  # noqa: E402
import mod as mod_ref  # noqa: E402
import switch as switch_ref  # noqa: E402

TOL = 1e-4
# The device sessions run on (--device).
DEVICE = "cpu"
# The architectures the cuda target compiles (all five).
CUDA_ARCHS = ("infini", "megabyte", "megalodon", "switch", "mod")


def megabyte_decode(session, ids, steps, patch):
    """Logits of positions 0..steps-1 by two-rate decode: decode_global
    before each patch, decode_local for every byte."""
    b = ids.shape[0]
    out = []
    for t in range(steps):
        if t % patch == 0:
            prev_patch = (ids[:, t - patch:t] if t else
                          np.zeros((b, patch), np.int32))
            session.run("decode_global", patch_ids=prev_patch)
        prev = (ids[:, t - 1:t] if t % patch else np.zeros((b, 1), np.int32))
        out.append(session.run("decode_local", prev_id=prev)["logits"][:, 0])
    return np.stack(out, 1)


def megabyte_state_bytes(c):
    g, l, p, b = c["global"], c["local"], c["patch"], c.get("batch", 1)
    k = c["context"] // p
    dg = g["dim_per_byte"] * p
    return (8 + 8 + 4 * b * p * g["dim_per_byte"]
            + g["layers"] * 2 * 4 * b * k * dg
            + l["layers"] * 2 * 4 * b * p * l["dim"])


def test_megabyte(c, art, weights, wdict, name):
    b, t, p = c.get("batch", 1), c["context"], c["patch"]
    rng = np.random.default_rng(17)
    ids = rng.integers(0, c.get("vocab", 256), (b, t)).astype(np.int32)
    session = art.session(weights, device=DEVICE)
    full = session.run("prefill", ids=ids)["logits"]
    ref = megabyte_ref.forward(wdict, ids, c).numpy()
    err = rel_error(full, ref)
    check(err <= TOL, f"{name}: prefill vs PyTorch reference: {err:.2e}")

    session.reset_state()  # (prefill of the hybrid advances the stream)
    dec = megabyte_decode(session, ids, t, p)
    err = rel_error(dec, full)
    check(err <= TOL, f"{name}: decode of all {t} positions vs prefill: "
          f"{err:.2e}")
    pos = (session.state("global.pos")[0], session.state("local.pos")[0])
    check(pos == (t // p, p), f"{name}: positions after decode {pos}")

    session.reset_state()
    odd = t - p // 2 - 1 if t > p else t
    dec = megabyte_decode(session, ids, odd, p)
    err = rel_error(dec, full[:, :odd])
    check(err <= TOL, f"{name}: decode of an awkward prefix ({odd} steps) "
          f"vs prefill: {err:.2e}")

    if c["global"].get("attention") == "infini":
        return  # (state formula below is for plain global attention)

    # A prefix of whole patches through `extend_global` (G patches per
    # call: global steps k..k+G-1 take patches k-1..k+G-2, the pad first),
    # then two-rate decode.
    g = input_shape(art, "extend_global", "patch_ids")[1] // p
    session.reset_state()
    prev = np.concatenate([np.zeros((b, p), np.int32),
                           ids[:, :(g - 1) * p]], 1)
    session.run("extend_global", patch_ids=prev)
    check(int(session.state("global.pos")[0]) == g,
          f"{name}: extend_global advances global.pos by {g}")
    out = []
    for step in range(g * p, t):
        if step % p == 0:
            session.run("decode_global", patch_ids=ids[:, step - p:step])
        out.append(session.run("decode_local",
                               prev_id=ids[:, step - 1:step])["logits"][:, 0])
    if out:
        err = rel_error(np.stack(out, 1), full[:, g * p:])
        check(err <= TOL, f"{name}: extend_global ({g} patches) then decode "
              f"vs prefill: {err:.2e}")
    # The local cache holds one patch: a byte past it without the next
    # global step is refused, and so is a global step past the context.
    session.reset_state()
    megabyte_decode(session, ids, p, p)
    check_window(session, art, "decode_local", name,
                 lambda: session.run("decode_local", prev_id=ids[:, :1]))
    session.reset_state()
    megabyte_decode(session, ids, t, p)
    check_window(session, art, "decode_global", name,
                 lambda: session.run("decode_global",
                                     patch_ids=ids[:, :p]))
    info = lctx_run_info(art.path)
    want = megabyte_state_bytes(c)
    check(f"{want} bytes per session" in info,
          f"{name}: state is {want} bytes per session whatever the number "
          "of steps")


def input_shape(art, entry, name):
    return next(a["shape"] for a in art.entries[entry] if a["name"] == name)


def check_window(session, art, entry, name, feed):
    """At a full window the next call of `entry` is refused with
    OUT_OF_RANGE and leaves the state as it was; `feed` runs it."""
    pos_state = ("global.pos" if entry.endswith("_global") else
                 "local.pos" if entry.endswith("_local") else "pos")
    before = session.state(pos_state).copy()
    try:
        feed()
        check(False, f"{name}: {entry} past the window is refused")
    except lctxrt.Error as e:
        check(e.code == "OUT_OF_RANGE" and "positions its caches hold"
              in str(e), f"{name}: {entry} past the window raises "
              f"OUT_OF_RANGE ({e})")
    check(np.array_equal(session.state(pos_state), before),
          f"{name}: a refused call leaves '{pos_state}' unchanged")


def check_extend(session, art, ids, full, name):
    """The derived `extend` entry (S tokens at once) then decode equals the
    prefill: from the stream's start, and from an unaligned position after
    a few decoded tokens; then the window is full and refused."""
    if "extend" not in art.entries:
        check(False, f"{name}: the artifact has an extend entry")
        return
    t = ids.shape[1]
    s = input_shape(art, "extend", "ids")[1]
    session.reset_state()
    first = session.run("extend", ids=ids[:, :s])["logits"]
    got = np.concatenate([first, token_decode(session, ids, s, t)], 1)
    err = rel_error(got, full)
    check(err <= TOL, f"{name}: extend ({s} tokens) then decode vs prefill: "
          f"{err:.2e}")
    session.reset_state()
    at = min(3, t - s)
    head = token_decode(session, ids, 0, at)
    block = session.run("extend", ids=ids[:, at:at + s])["logits"]
    got = np.concatenate([head, block, token_decode(session, ids, at + s, t)],
                         1)
    err = rel_error(got, full)
    check(err <= TOL, f"{name}: {at} decode steps, extend at {at}, decode "
          f"vs prefill: {err:.2e}")
    check(int(session.state("pos")[0]) == t, f"{name}: pos after the stream")
    # The Python module's feed: a prefix of any length (blocks through
    # extend, the rest through decode), then decode.
    session.reset_state()
    k = min(t - 1, s + s // 2 + 1)
    got = np.concatenate([session.feed(ids[:, :k]),
                          token_decode(session, ids, k, t)], 1)
    err = rel_error(got, full)
    check(err <= TOL, f"{name}: feed of a {k}-token prefix, then decode, vs "
          f"prefill: {err:.2e}")
    try:
        session.feed(ids[:, :1])
        check(False, f"{name}: feed past the window is refused")
    except lctxrt.Error as e:
        check(e.code == "OUT_OF_RANGE", f"{name}: feed past the window "
              f"raises OUT_OF_RANGE ({e.code})")
    check_window(session, art, "decode", name,
                 lambda: session.run("decode", ids=ids[:, :1]))
    session.reset_state()
    token_decode(session, ids, 0, t - s + 1)
    check_window(session, art, "extend", name,
                 lambda: session.run("extend", ids=ids[:, :s]))


def infini_state_bytes(c):
    b, h, d, n = c.get("batch", 1), c["heads"], c["dim"], c["segment"]
    dh = d // h
    # memory, norm, and the segment's raw keys, rotated keys and values
    return 8 + c["layers"] * 4 * b * h * (dh * dh + dh + 3 * n * dh)


def token_decode(session, ids, start, stop):
    """Logits of positions start..stop-1, one `decode` call per token."""
    return np.stack([session.run("decode", ids=ids[:, i:i + 1])["logits"][:, 0]
                     for i in range(start, stop)], 1)


def check_prefill(c, art, weights, wdict, name, ref, seed):
    """Runs `prefill` on seeded ids and checks it against the reference.
    Returns (session, ids, logits)."""
    b, t = c.get("batch", 1), c["context"]
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, c.get("vocab", 256), (b, t)).astype(np.int32)
    session = art.session(weights, device=DEVICE)
    full = session.run("prefill", ids=ids)["logits"]
    err = rel_error(full, ref.forward(wdict, ids, c).numpy())
    check(err <= TOL, f"{name}: prefill vs PyTorch reference: {err:.2e}")
    return session, ids, full


def check_decode(session, ids, full, name, what="decode"):
    """Token-by-token decode of the whole context from a fresh stream must
    equal the prefill logits at every position."""
    session.reset_state()
    t = ids.shape[1]
    err = rel_error(token_decode(session, ids, 0, t), full)
    check(err <= TOL, f"{name}: {what} of all {t} positions vs prefill: "
          f"{err:.2e}")


def check_streams(session, ids, full, name, block_entry, block):
    """A block prefill (`block_entry`, whole segments or chunks) then
    decode, and a decode that stops mid-block, both equal the prefill."""
    t = ids.shape[1]
    session.reset_state()
    first = session.run(block_entry, ids=ids[:, :block])["logits"]
    got = np.concatenate([first, token_decode(session, ids, block, t)], 1)
    err = rel_error(got, full)
    check(err <= TOL, f"{name}: {block_entry} then decode vs prefill: "
          f"{err:.2e}")
    session.reset_state()
    odd = block + block // 2 + 1
    err = rel_error(token_decode(session, ids, 0, odd), full[:, :odd])
    check(err <= TOL, f"{name}: decode of an awkward prefix ({odd} tokens) "
          f"vs prefill: {err:.2e}")


def test_infini(c, art, weights, wdict, name):
    session, ids, full = check_prefill(c, art, weights, wdict, name,
                                       infini_ref, 23)
    t = c["context"]
    check(int(session.state("pos")[0]) == t, f"{name}: prefill advances pos")
    m_prefill = session.state("layers.0.memory")
    # Token by token from a fresh stream: the memory is updated only when a
    # segment fills.
    check_decode(session, ids, full, name)
    err = rel_error(session.state("layers.0.memory"), m_prefill)
    check(err <= TOL, f"{name}: the memory after decode equals the memory "
          f"after prefill: {err:.2e}")
    check_streams(session, ids, full, name, "prefill_segment", c["segment"])
    want = infini_state_bytes(c)
    check(f"{want} bytes per session" in lctx_run_info(art.path),
          f"{name}: state is {want} bytes per session whatever the number "
          "of tokens")


def test_switch(c, art, weights, wdict, name):
    session, ids, full = check_prefill(c, art, weights, wdict, name,
                                       switch_ref, 29)
    if not c.get("dropless", False):
        # Capacity dropping depends on the whole sequence, so there is no
        # decode to compare; check the config really drops tokens.
        capped = switch_ref.forward(wdict, ids, c).numpy()
        kept = switch_ref.forward(wdict, ids, dict(c, dropless=True)).numpy()
        check(rel_error(capped, kept) > 1e-3,
              f"{name}: the capacity drops tokens (the dropless result "
              f"differs by {rel_error(capped, kept):.2e})")
        return
    check_decode(session, ids, full, name, "decode (dropless)")
    check(int(session.state("pos")[0]) == c["context"],
          f"{name}: decode advances pos")
    check_extend(session, art, ids, full, name)


def test_mod(c, art, weights, wdict, name):
    session, ids, full = check_prefill(c, art, weights, wdict, name,
                                       mod_ref, 31)
    if c.get("routing", "causal") != "causal":
        return  # top-k routing is non-causal: no decode to compare
    check_decode(session, ids, full, name,
                 "decode (causal routing, KV cache of routed tokens only)")
    # Routing really splits the tokens: some, not all, hold a cache slot.
    kpos = session.state("attention.1.kpos")
    check(0 < (kpos > 0).sum() < kpos.size,
          f"{name}: the routed layer's cache holds {(kpos > 0).sum()} of "
          f"{kpos.size} slots (routed tokens only)")
    check_extend(session, art, ids, full, name)


def test_megalodon(c, art, weights, wdict, name):
    session, ids, full = check_prefill(c, art, weights, wdict, name,
                                       megalodon_ref, 37)
    h_prefill = session.state("layers.0.cema.h")
    check_decode(session, ids, full, name)
    err = rel_error(session.state("layers.0.cema.h"), h_prefill)
    check(err <= TOL, f"{name}: CEMA state after decode vs after prefill: "
          f"{err:.2e}")
    count = session.state("layers.0.tsn.count")
    check(list(count) == [c["context"]] * c.get("batch", 1),
          f"{name}: TimestepNorm counted {count}")
    check_streams(session, ids, full, name, "prefill_chunk", c["chunk"])


def lctx_run_info(path):
    return subprocess.run([ARGS.lctx_run, "--info", path], check=True,
                          capture_output=True, text=True).stdout


def test_module_errors(art, weights):
    session = art.session(weights, device=DEVICE)
    try:
        session.run("nope")
        check(False, "module: unknown entry raises")
    except lctxrt.Error as e:
        check(e.code == "NOT_FOUND" and "nope" in str(e),
              f"module: unknown entry raises NOT_FOUND ({e})")
    try:
        session.run("prefill", ids=np.zeros((1, 3), np.int32))
        check(False, "module: wrong input shape raises")
    except lctxrt.Error as e:
        check(e.code == "INVALID_ARGUMENT" and "shape [1, 3]" in str(e),
              f"module: wrong input shape raises ({e})")
    try:
        art.session(None)
        check(False, "module: missing weights raise")
    except lctxrt.Error as e:
        check("weights" in str(e), f"module: missing weights raise ({e})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--config", action="append")
    ap.add_argument("--keep")
    ap.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--gpu-arch", default="sm_90")
    ap.add_argument("--prepare", metavar="DIR",
                    help="only generate, compile and write weights into DIR")
    ap.add_argument("--prebuilt", metavar="DIR",
                    help="run the checks on the artifacts of --prepare")
    ap.add_argument("--device", default="cpu")
    global ARGS, DEVICE
    ARGS = ap.parse_args()
    DEVICE = ARGS.device
    bindir = os.path.join(ARGS.build_dir, "bin")
    ARGS.lctx_run = os.path.join(bindir, "lctx-run")
    os.environ.setdefault("LCTXRT_LIBRARY",
                          os.path.join(ARGS.build_dir, "lib", "liblctxrt.so"))
    configs = ARGS.config or [
        os.path.join(ROOT, "models", "megabyte", "tiny.json"),
        os.path.join(HERE, "Inputs", "megabyte-wide.json"),
        os.path.join(HERE, "Inputs", "infini-tiny.json"),
        os.path.join(HERE, "Inputs", "infini-delta.json"),
        os.path.join(HERE, "Inputs", "infini-long.json"),
        os.path.join(HERE, "Inputs", "switch-tiny.json"),
        os.path.join(HERE, "Inputs", "switch-capacity.json"),
        os.path.join(HERE, "Inputs", "switch-long.json"),
        os.path.join(HERE, "Inputs", "mod-causal.json"),
        os.path.join(HERE, "Inputs", "mod-topk.json"),
        os.path.join(HERE, "Inputs", "mod-long.json"),
        os.path.join(HERE, "Inputs", "megalodon-tiny.json"),
        os.path.join(HERE, "Inputs", "megalodon-long.json"),
        os.path.join(HERE, "Inputs", "mod-switch.json"),
        os.path.join(HERE, "Inputs", "megabyte-infini.json")]
    work = (ARGS.prepare or ARGS.prebuilt or ARGS.keep or
            tempfile.mkdtemp(prefix="lctx-model-test-"))
    os.makedirs(work, exist_ok=True)
    cuda = ARGS.target == "cuda" or DEVICE.startswith("cuda")
    for path in configs:
        c = json.load(open(path))
        if cuda and c["arch"] not in CUDA_ARCHS:
            continue
        name = os.path.splitext(os.path.basename(path))[0]
        mlir = os.path.join(work, name + ".mlir")
        lctx = os.path.join(work, name + ".lctx")
        wpath = os.path.join(work, name + ".safetensors")
        if not ARGS.prebuilt:
            target = (["--target=cuda", "--gpu-arch=" + ARGS.gpu_arch,
                       # The GPU machine's CPU, not this one's.
                       "--cpu=x86-64-v3"] if ARGS.target == "cuda" else [])
            subprocess.run([os.path.join(ROOT, "tools", "lctx-gen",
                                         "lctx-gen"), path, "-o", mlir],
                           check=True)
            subprocess.run([os.path.join(bindir, "lctx-compile"), "--quiet",
                            mlir, "-o", lctx] + target, check=True)
            subprocess.run(["/usr/bin/python3",
                            os.path.join(ROOT, "scripts", "random-weights.py"),
                            lctx, wpath, "--seed", "5"], check=True,
                           stdout=subprocess.DEVNULL)
        if ARGS.prepare:
            print(f"model_test: prepared {lctx}")
            continue
        art = lctxrt.Artifact(lctx)
        weights = lctxrt.Weights(wpath)
        if c["arch"] == "megabyte":
            test_megabyte(c, art, weights, read_safetensors(wpath), name)
        elif c["arch"] == "infini":
            test_infini(c, art, weights, read_safetensors(wpath), name)
        elif c["arch"] == "switch":
            test_switch(c, art, weights, read_safetensors(wpath), name)
        elif c["arch"] == "mod":
            test_mod(c, art, weights, read_safetensors(wpath), name)
        elif c["arch"] == "megalodon":
            test_megalodon(c, art, weights, read_safetensors(wpath), name)
        test_module_errors(art, weights)
    if FAILURES:
        sys.exit(f"model_test: {len(FAILURES)} failure(s)")
    if not ARGS.prepare:
        print(f"model_test: all checks passed (device {DEVICE})")


if __name__ == "__main__":
    main()
