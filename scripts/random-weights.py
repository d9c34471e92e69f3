#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Writes seeded random weights for an lctx artifact as safetensors.

Reads the manifest of ARTIFACT (docs/artifact.md) and writes every weight it
lists: rank-1 tensors (norm scales, pads) as 1 + N(0, 0.02), the rest as
N(0, scale) (complex C64 tensors: real and imaginary parts each). Only the standard library is used.

  scripts/random-weights.py model.lctx weights.safetensors [--seed N] [--scale S]
"""
import argparse
import array
import json
import random
import struct
import sys

KINDS = {"F32": ("f", 4), "F64": ("d", 8), "I32": ("i", 4), "I64": ("q", 8),
         "C64": ("f", 8)}


def read_manifest(path):
    data = open(path, "rb").read()
    if len(data) < 24 or data[:8] != b"LCTXART\0":
        sys.exit(f"random-weights: {path}: not an lctx artifact (bad magic)")
    _, count, _ = struct.unpack_from("<IIQ", data, 8)
    for i in range(count):
        kind, _, offset, size = struct.unpack_from("<IIQQ", data, 24 + 40 * i)
        if kind == 1:
            return json.loads(data[offset:offset + size])
    sys.exit(f"random-weights: {path}: no manifest section")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact")
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=0.2)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    header, blobs, offset = {}, [], 0
    for w in read_manifest(args.artifact)["weights"]:
        if w["dtype"] not in KINDS:
            sys.exit(f"random-weights: weight '{w['name']}' has dtype "
                     f"{w['dtype']}, which this script cannot fill")
        code, size = KINDS[w["dtype"]]
        n = 1
        for d in w["shape"]:
            n *= d
        if w["dtype"] == "C64":
            # (real, imaginary) pairs.
            values = [rng.gauss(0.0, args.scale) for _ in range(2 * n)]
        elif len(w["shape"]) == 1:
            values = [1.0 + rng.gauss(0.0, 0.02) for _ in range(n)]
        else:
            values = [rng.gauss(0.0, args.scale) for _ in range(n)]
        if code in "iq":
            values = [int(v) for v in values]
        blob = array.array(code, values).tobytes()
        header[w["name"]] = {"dtype": w["dtype"], "shape": w["shape"],
                             "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(args.output, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    print(f"random-weights: wrote {len(header)} tensors ({offset} bytes) "
          f"to {args.output}")


if __name__ == "__main__":
    main()
