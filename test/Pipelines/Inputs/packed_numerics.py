#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Numerics of contractions whose B blocks are packed (at least 24 rows of
C per region): K = 1, transposed B, remainder columns, batch dims, a fill
start value, several K blocks. Same harness and error bound as
contraction_numerics.py.

usage: packed_numerics.py LCTX_COMPILE LCTX_RUN WORKDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contraction_numerics as cn  # noqa: E402

cn.CASES = [
    cn.linear_case("packed_k1_40x1x130", 40, 1, 130),
    cn.linear_case("packed_transposed_50x20x70", 50, 20, 70, transpose=True),
    cn.linear_case("packed_k_blocks_30x600x200", 30, 600, 200),
    cn.generic_case("packed_batch_2x30x5x65",
                    {"b": 2, "m": 30, "n": 65, "k": 5},
                    ["b", "m", "k"], ["b", "k", "n"], ["b", "m", "n"]),
    cn.generic_case("packed_fill_48x37x129", {"m": 48, "n": 129, "k": 37},
                    ["m", "k"], ["k", "n"], ["m", "n"], fill=-0.75),
]

if __name__ == "__main__":
    sys.exit(cn.main())
