#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Checks the eager cached decode peers of bench/models/cached.py: for each
config, the float64 cached step's logits at every position of a short
sequence equal the PyTorch reference's float64 full forward
(test/reference/torch) to a normalized max error <= 1e-9. Weights are seeded
random tensors with the names and shapes lctx-gen declares (no compiler
needed). A negative control checks that a perturbed peer fails.

usage: cached_test.py [--config FILE ...]   (exit status 1 on any failure)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "reference", "torch"))

import cached  # noqa: E402

TOL = 1e-9
WEIGHT = re.compile(r'tensor<((?:\d+x)*)(f32|complex<f32>)> '
                    r'\{lctx\.weight = "([^"]+)"\}')


def random_weights(c, seed=1, scale=0.2):
    """name -> float64/complex128 tensor for every weight lctx-gen declares
    for config c (rank 1: 1 + N(0, 0.02), as scripts/random-weights.py)."""
    with tempfile.TemporaryDirectory() as work:
        cfg = os.path.join(work, "c.json")
        json.dump(c, open(cfg, "w"))
        text = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tools", "lctx-gen",
                                          "lctx-gen"), cfg, "-o", "-"],
            check=True, capture_output=True, text=True).stdout
    gen = torch.Generator().manual_seed(seed)
    w = {}
    for dims, elt, name in WEIGHT.findall(text):
        if name in w:
            continue
        shape = [int(s) for s in dims.split("x") if s]
        if elt != "f32":
            w[name] = torch.complex(
                torch.randn(shape, generator=gen, dtype=torch.float64),
                torch.randn(shape, generator=gen, dtype=torch.float64)) * scale
        elif len(shape) == 1:
            w[name] = 1 + 0.02 * torch.randn(shape, generator=gen,
                                             dtype=torch.float64)
        else:
            w[name] = scale * torch.randn(shape, generator=gen,
                                          dtype=torch.float64)
    if not w:
        sys.exit("cached_test: lctx-gen declared no weights")
    return w


def default_configs():
    inputs = os.path.join(ROOT, "test", "Models", "Inputs")
    paths = [os.path.join(ROOT, "models", "megabyte", "tiny.json")] + [
        os.path.join(inputs, n) for n in sorted(os.listdir(inputs))
        if n.endswith(".json")]
    out = []
    for p in paths:
        c = json.load(open(p))
        if c["arch"] == "megabyte" and \
                c["global"].get("attention") == "infini":
            continue  # the hybrid has no cached peer
        out.append((os.path.basename(p), c, c["context"]))
    # The benchmark configs at their widths, with short segments/chunks so
    # that a short sequence crosses several of them.
    for p in sorted(os.listdir(os.path.join(HERE, "configs"))):
        c = json.load(open(os.path.join(HERE, "configs", p)))
        n = 40  # not a multiple of the segment/chunk: ends mid-segment
        if "segment" in c:
            c["segment"] = 16
        if "chunk" in c:
            c["chunk"] = 16
        c["context"] = 48
        out.append(("bench:" + p, c, n))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", action="append")
    args = ap.parse_args()
    configs = ([(p, json.load(open(p)), json.load(open(p))["context"])
                for p in args.config] if args.config else default_configs())
    failures = 0
    for name, c, n in configs:
        w = random_weights(c)
        err = cached.check(c, w, n)
        ok = err <= TOL
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({c['arch']}): cached step "
              f"vs reference forward, {n} positions, error {err:.2e}")
    # Negative control: a peer with a perturbed weight must fail the check.
    name, c, n = configs[0]
    w = random_weights(c)
    key = sorted(k for k in w if w[k].dim() == 2)[0]
    bad = dict(w)
    bad[key] = w[key] * 1.001
    ref = __import__(c["arch"])
    ids = torch.randint(0, 256, (c.get("batch", 1), n),
                        generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = ref.forward(w, ids, dict(cached.reference_config(c),
                                        context=n))
        peer = cached.make(c, bad, torch.float64)
        got = torch.stack([peer.logits_at(ids, t) for t in range(n)], 1)
    err = float((got - want).abs().max() / want.abs().max())
    caught = err > TOL
    failures += not caught
    print(f"{'ok  ' if caught else 'FAIL'} negative control: {key} x 1.001 "
          f"gives error {err:.2e} (must exceed {TOL:g})")
    print(f"cached_test: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
