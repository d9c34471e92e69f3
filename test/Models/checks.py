# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Helpers shared by the whole-model tests (model_test.py, stream_test.py):
named checks collected in FAILURES, the relative error, and a safetensors
reader independent of the runtime."""

import json

import numpy as np

FAILURES = []


def check(cond, message):
    print(("ok   " if cond else "FAIL ") + message, flush=True)
    if not cond:
        FAILURES.append(message)


def rel_error(got, want):
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def read_safetensors(path):
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "C64": np.complex64,
                 "I64": np.int64, "I32": np.int32}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b],
                                  dtype).reshape(t["shape"]).copy()
    return out
