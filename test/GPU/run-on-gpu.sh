#!/bin/bash
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# lctx's GPU end-to-end checks, run on a machine with an NVIDIA GPU, CUDA,
# CMake, ninja and python3 with numpy and torch, but no MLIR: the artifacts
# are compiled beforehand where lctx-compile is (test/GPU/prepare.sh DIR),
# then, on the GPU machine, from the repository root:
#
#   test/GPU/run-on-gpu.sh DIR
#
# 1. builds the runtime (no MLIR) with its tests and runs them: the CUDA
#    session tests must run, not skip;
# 2. runs the model tests on the GPU (--device cuda): prefill vs the
#    PyTorch float64 references, decode at every position, block prefill
#    then decode, state sizes (test/Models/model_test.py);
# 3. generates and scores with the shipped default model on the GPU and on
#    the CPU: the same bytes and bits per byte within 1e-4.
# DIR also holds libomp.so.5 for the artifacts' CPU code.
set -uo pipefail
dir=$(cd "${1:?usage: run-on-gpu.sh DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${LCTX_GPU_BUILD:-/tmp/lctxrt-gpu}
export LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}:/usr/local/cuda/lib64"
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader
fail=0
step() { echo; echo "=== $*"; }

step "runtime build and tests"
cmake -G Ninja -S "$root/runtime" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  ninja -C "$build" >/dev/null || { echo "error: runtime build failed"; exit 1; }
(cd "$build" && ctest -j8 --output-on-failure > /tmp/ctest.log 2>&1); rc=$?
tail -n 12 /tmp/ctest.log
[ $rc = 0 ] || fail=1
if grep -q "CudaDevice.*Skipped" /tmp/ctest.log; then
  echo "error: the CUDA device tests skipped on a GPU machine"; fail=1
fi

step "model tests on the GPU"
LCTXRT_LIBRARY="$build/lib/liblctxrt.so" python3 "$root/test/Models/model_test.py" \
  --build-dir "$build" --prebuilt "$dir/models" --device cuda || fail=1

step "ops: every entry of test/Target/CUDA/Inputs/ops.mlir on cuda and on cpu"
run="$build/bin/lctx-run"
entries=$("$run" --info "$dir/ops.lctx" | sed -n 's/^  \([a-z_]*\) (symbol .*/\1/p')
for e in $entries; do
  for device in cpu cuda; do
    "$run" "$dir/ops.lctx" --entry "$e" --device $device --random-inputs 7 \
      --output "/tmp/op.$e.$device.safetensors" > /tmp/op.log 2>&1 || { cat /tmp/op.log; fail=1; }
  done
done
python3 - $entries <<'PY' || fail=1
import sys, numpy as np
from safetensors.numpy import load_file
bad = 0
for e in sys.argv[1:]:
    a, b = load_file(f"/tmp/op.{e}.cpu.safetensors"), load_file(f"/tmp/op.{e}.cuda.safetensors")
    for k in a:
        x, y = a[k].astype(np.complex128), b[k].astype(np.complex128)
        err = float(np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-30)) if x.size else 0.0
        ok = err <= 1e-5
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {e}.{k}: cuda vs cpu max error {err:.2e} (of max |cpu|; tolerance 1e-5)")
sys.exit(1 if bad else 0)
PY

step "default model: generate and score on both devices"
run="$build/bin/lctx-run"
for device in cpu cuda; do
  "$run" "$dir/default.lctx" --weights "$dir/default.safetensors" --device $device \
    --generate 200 --prompt "The compiler" --seed 1 > "/tmp/gen.$device" 2>"/tmp/gen.$device.err" ||
    { cat "/tmp/gen.$device.err"; fail=1; }
  "$run" "$dir/default.lctx" --weights "$dir/default.safetensors" --device $device \
    --score "$root/README.md" > "/tmp/score.$device" 2>&1 || { cat "/tmp/score.$device"; fail=1; }
  echo "$device: $(grep -io '[0-9.]* bits per byte' /tmp/score.$device | tail -1)"
done
if cmp -s /tmp/gen.cpu /tmp/gen.cuda; then echo "generate: the same bytes on cpu and cuda"
else echo "error: generate differs between cpu and cuda"; fail=1; fi
head -c 300 /tmp/gen.cuda; echo
python3 - <<'PY' || fail=1
import re
v = [float(re.findall(r"([0-9.]+) bits per byte", open(f"/tmp/score.{d}").read(), re.I)[-1])
     for d in ("cpu", "cuda")]
print(f"bits per byte: cpu {v[0]:.6f} cuda {v[1]:.6f}")
assert abs(v[0] - v[1]) <= 1e-4, "bits per byte differ by more than 1e-4"
PY
echo
[ $fail = 0 ] && echo "run-on-gpu: all passed" || { echo "run-on-gpu: FAILED"; exit 1; }
