# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Robustness sweep of lctx-derive-decode: every function of the dialect's
op tests, transform tests and shipped models asks for a decode entry
(lctx.decode), once as written and once with every unattributed tensor
argument made a token input. Each must derive or be rejected with a
diagnostic (exit 1); a crash, an abort or the pass's own "a bug in
lctx-derive-decode" fails the sweep.

Usage: derive_decode_sweep.py LCTX_OPT SOURCE_ROOT WORK_DIR
"""
import glob
import os
import re
import subprocess
import sys

opt, root, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
files = sorted(
    glob.glob(os.path.join(root, "test/Dialect/LCtx/ops/*.mlir"))
    + glob.glob(os.path.join(root, "test/Dialect/LCtx/Transforms/*.mlir"))
    + glob.glob(os.path.join(root, "models/**/*.mlir"), recursive=True))
SIGNATURE_END = re.compile(r"\)(\s*->\s*[^{]*?)?\s*\{\s*$", re.M)
ARG = re.compile(r"(%[\w]+): (tensor<[^>]*>)(?!\s*\{)")


def mark(chunk, inputs):
    """chunk with `attributes {lctx.decode = ...}` on every function."""
    chunk = re.sub(r"attributes \{lctx\.decode = \"\w*\"\}", "", chunk)
    out, last = [], 0
    for k, m in enumerate(re.finditer(r"func\.func @", chunk)):
        if m.start() < last:
            continue
        end = SIGNATURE_END.search(chunk, m.start())
        if not end or "attributes" in chunk[m.start():end.end()]:
            continue
        sig = chunk[last:end.end() - 1]
        if inputs:
            head, tail = sig[:m.start() - last], sig[m.start() - last:]
            tail = ARG.sub(lambda a: f'{a.group(1)}: {a.group(2)} '
                           f'{{lctx.input = "{a.group(1)[1:]}"}}', tail)
            sig = head + tail
        out.append(sig + f' attributes {{lctx.decode = "derived_{k}"}} ')
        last = end.end() - 1
    out.append(chunk[last:])
    return "".join(out)


counts = {"derived": 0, "rejected": 0}
failures = []
n = 0
for path in files:
    for chunk in open(path).read().split("// -----"):
        if "func.func" not in chunk:
            continue
        for inputs in (False, True):
            n += 1
            src = os.path.join(work, f"case{n}.mlir")
            with open(src, "w") as f:
                f.write(mark(chunk, inputs))
            r = subprocess.run([opt, src, "--lctx-derive-decode",
                                "-o", os.devnull],
                               capture_output=True, text=True, timeout=60)
            bug = "a bug in lctx-derive-decode" in r.stderr
            if r.returncode not in (0, 1) or bug:
                failures.append((path, src, r.returncode, r.stderr[-1500:]))
            else:
                counts["derived" if r.returncode == 0 else "rejected"] += 1
print(f"derive-decode sweep: {n} cases, {counts['derived']} derived, "
      f"{counts['rejected']} rejected, {len(failures)} failures")
for path, src, code, err in failures[:5]:
    print(f"FAILURE {path} ({src}): exit {code}\n{err}")
sys.exit(1 if failures or counts["derived"] == 0 else 0)
