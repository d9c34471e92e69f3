# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
"""Lists lctx ops (from docs/LCtxOps.md) that lack ops/ or invalid/ tests."""
import os
import re
import sys

doc, test_root = sys.argv[1], sys.argv[2]
ops = sorted(set(re.findall(r"^### `lctx\.([a-z_.]+)`", open(doc).read(), re.M)))
missing = []
for op in ops:
    for kind in ("ops", "invalid"):
        if not os.path.exists(os.path.join(test_root, kind, op + ".mlir")):
            missing.append(f"{kind}/{op}.mlir")
for m in missing:
    print("missing:", m)
print(f"ops covered: {len(ops) - len({m.split('/')[1] for m in missing})}, missing: {len(missing)}")
