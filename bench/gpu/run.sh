#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# Runs the GPU benchmark ON THE GPU MACHINE, from the repository root, on
# what bench/gpu/prepare.sh wrote (CARRYDIR, default .gpu-bench):
#
#   bash bench/gpu/run.sh [CARRYDIR] [bench.py options...]
#
# Builds the runtime (no MLIR needed) into $LCTXRT_BUILD (default
# /tmp/lctxrt), then runs bench/gpu/bench.py with python3 (PyTorch with
# CUDA, numpy). The report goes to $OUT/gpu-results.md ($OUT set) or
# /tmp/gpu-results.md; the full log to $OUT/gpu-bench.log as well.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CARRY="${1:-.gpu-bench}"
shift || true
CARRY="$(cd "$CARRY" && pwd)" || { echo "run: no $CARRY (run bench/gpu/prepare.sh and carry it)" >&2; exit 1; }
BUILD="${LCTXRT_BUILD:-/tmp/lctxrt}"
LOG="${OUT:-/tmp}/gpu-bench.log"
mkdir -p "$(dirname "$LOG")"

{
  echo "run: $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
  echo "run: prepared: $(tr '\n' ';' < "$CARRY/PREPARED" 2>/dev/null)"
  t0=$(date +%s)
  cmake -G Ninja -S runtime -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DLCTXRT_BUILD_TESTS=OFF >/dev/null && ninja -C "$BUILD" >/dev/null \
    || { echo "run: runtime build failed" >&2; exit 1; }
  echo "run: runtime built in $(( $(date +%s) - t0 )) s"
  # The artifacts' CPU code links libomp.so.5 (carried).
  export LD_LIBRARY_PATH="$CARRY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The runtime dlopens libcuda.so.1 and (library GEMM) libcublas.so.13/.12:
  # let the loader also find the toolkit's and PyTorch's cuBLAS.
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
      $(python3 -c 'import os, nvidia.cublas as c; print(os.path.join(list(c.__path__)[0], "lib"))' 2>/dev/null); do
    [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
  done
  export LD_LIBRARY_PATH
  echo "run: LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  "$BUILD/bin/lctx-run" --help | grep -q -- "--device" \
    || echo "run: warning: this lctx-run has no --device option" >&2
  python3 bench/gpu/bench.py --carry "$CARRY" --lctx-run "$BUILD/bin/lctx-run" "$@"
} 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
