#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Compiles what test/GPU/run-on-gpu.sh runs on a GPU machine (which has no
# MLIR) into DIR: the model-test artifacts and weights for the cuda target,
# the default model, and the OpenMP runtime the artifacts' CPU code needs.
#   test/GPU/prepare.sh [BUILD_DIR] DIR [sm_90]
set -euo pipefail
build=$(cd "${1:?usage: prepare.sh BUILD_DIR DIR [ARCH]}" && pwd)
mkdir -p "${2:?usage: prepare.sh BUILD_DIR DIR [ARCH]}"
dir=$(cd "$2" && pwd)
arch=${3:-sm_90}
root=$(cd "$(dirname "$0")/../.." && pwd)
LCTXRT_LIBRARY="$build/lib/liblctxrt.so" /usr/bin/python3 "$root/test/Models/model_test.py" \
  --build-dir "$build" --target cuda --gpu-arch "$arch" --prepare "$dir/models"
"$build/bin/lctx-compile" --quiet --target=cuda --gpu-arch="$arch" --cpu=x86-64-v3 \
  "$root/models/megabyte/default.mlir" -o "$dir/default.lctx"
cp "$root/models/megabyte/default.safetensors" "$dir/"
cp "$(/usr/bin/clang-19 -print-file-name=libomp.so.5 2>/dev/null || echo /usr/lib/llvm-19/lib/libomp.so.5)" "$dir/" 2>/dev/null ||
  cp /usr/lib/llvm-19/lib/libomp.so.5 "$dir/"
du -sh "$dir"
"$build/bin/lctx-compile" --quiet --target=cuda --gpu-arch="$arch" --cpu=x86-64-v3 \
  "$root/test/Target/CUDA/Inputs/ops.mlir" -o "$dir/ops.lctx"
