#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Feeds truncated and mutated lctx IR to lctx-opt and fails on any crash.

For each seed file, every truncation point on a grid plus N seeded random
token mutations (delete, duplicate, swap, replace a number or a type) are
written to a temp file and run through `lctx-opt --verify-diagnostics`-free
parsing + verification + the frontend pipeline. A run passes when lctx-opt
exits 0 (the mutant happened to be valid) or 1 with an `error:` diagnostic
that carries a `file:line:col` location. A signal, a timeout, any other exit
code, or an error without a location is a failure; the offending input is
kept for a regression test.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

LOCATED_ERROR = re.compile(r"^[^\s:]+:\d+:\d+: error: ", re.M)
TOKEN = re.compile(r"%[\w.#]+|\d+(\.\d+)?(e[+-]?\d+)?|tensor<[^>]*>|[A-Za-z_.]+|\S")
REPLACEMENTS = ["0", "-1", "3", "1.0e+30", "tensor<?x?xf32>", "tensor<1x2xi32>",
                "tensor<2x2xcomplex<f32>>", "f16", "i64", "}", "{", ",", ":",
                "(", ")", "<", ">", "%unknown", "lctx.attention", "\"", "->"]


def run(opt, text, keep_dir, tag, timeout):
    with tempfile.NamedTemporaryFile("w", suffix=".mlir", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        proc = subprocess.run([opt, path, "--lctx-frontend-pipeline",
                               "-o", os.devnull],
                              capture_output=True, text=True, timeout=timeout)
        ok = proc.returncode == 0 or (
            proc.returncode == 1 and LOCATED_ERROR.search(proc.stderr))
        why = "" if ok else f"exit {proc.returncode}: {proc.stderr[-400:]}"
    except subprocess.TimeoutExpired:
        ok, why = False, f"timeout after {timeout}s"
    if not ok:
        kept = os.path.join(keep_dir, f"crash-{tag}.mlir")
        os.replace(path, kept)
        print(f"FAIL {tag}: {why}\n  input kept at {kept}", file=sys.stderr)
    else:
        os.unlink(path)
    return ok


def mutate(text, rng):
    tokens = [m.group(0) for m in TOKEN.finditer(text)]
    spans = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    i = rng.randrange(len(spans))
    start, end = spans[i]
    kind = rng.randrange(4)
    if kind == 0:  # delete a token
        return text[:start] + text[end:]
    if kind == 1:  # duplicate a token
        return text[:end] + " " + tokens[i] + text[end:]
    if kind == 2:  # swap with another token
        j = rng.randrange(len(spans))
        a, b = sorted([i, j])
        if a == b:
            return text
        (s1, e1), (s2, e2) = spans[a], spans[b]
        return text[:s1] + tokens[b] + text[e1:s2] + tokens[a] + text[e2:]
    return text[:start] + rng.choice(REPLACEMENTS) + text[end:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--opt", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mutants", type=int, default=40)
    ap.add_argument("--truncations", type=int, default=12)
    ap.add_argument("--keep-dir", default=tempfile.gettempdir())
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    runs = failures = 0
    for path in args.files:
        text = open(path).read()
        base = os.path.basename(path)
        cuts = sorted({int(len(text) * k / args.truncations)
                       for k in range(1, args.truncations)})
        for cut in cuts:
            runs += 1
            failures += not run(args.opt, text[:cut], args.keep_dir,
                                f"{base}-cut{cut}", args.timeout)
        for k in range(args.mutants):
            runs += 1
            failures += not run(args.opt, mutate(text, rng), args.keep_dir,
                                f"{base}-mut{args.seed}-{k}", args.timeout)
    print(f"mutate_ir: {runs} runs, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
