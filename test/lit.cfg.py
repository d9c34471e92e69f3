# -*- Python -*-
# lit configuration for lctx: IR tests run through lctx-opt and FileCheck.
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "LCTX"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Unit",
                   "op-test-coverage.test.py",
                   "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.lctx_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%lctx_src_root", config.lctx_src_root))
config.substitutions.append(("%python", config.python_executable))

llvm_config.use_default_substitutions()
llvm_config.with_system_environment(["HOME", "TMPDIR", "CUDA_HOME",
                                     "CUDA_ROOT", "CUDA_PATH"])
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.lctx_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["lctx-opt", "lctx-compile", "lctx-run", "lctx-weights", "llvm-readelf"], tool_dirs)

# Optional tools become features (`// REQUIRES: ptxas`).
ptxas = shutil.which("ptxas") or (
    "/usr/local/cuda/bin/ptxas"
    if os.path.exists("/usr/local/cuda/bin/ptxas") else None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
