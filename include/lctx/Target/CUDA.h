//===- CUDA.h - NVIDIA GPU code generation ----------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The cuda target of lctx-compile: lctx ops -> linalg -> buffers ->
/// parallel loops mapped to the GPU grid -> one gpu.module of kernels ->
/// NVVM -> PTX (LLVM's NVPTX backend, no CUDA needed) or cubin (ptxas from
/// the CUDA toolkit). This is the bring-up path: every kernel is a plain
/// mapping of a linalg op's parallel loops (no shared-memory tiling or
/// tensor cores yet), and ops whose lowering leaves work on the host are
/// rejected at their location.
///
//===----------------------------------------------------------------------===//

#ifndef LCTX_TARGET_CUDA_H
#define LCTX_TARGET_CUDA_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir::lctx {

struct CUDAOptions {
  /// sm_80, sm_90, ...
  std::string chip = "sm_90";
  /// Assemble to cubin with ptxas (else PTX only).
  bool cubin = false;
  /// The CUDA toolkit (for ptxas); empty: findCUDAToolkit().
  std::string toolkit;
  /// Also build the host side: every function `f` becomes `cuda_f`, whose
  /// launches, buffers and copies go through the GPU runtime on one stream
  /// (docs/runtime-cuda.md).
  bool hostCode = false;
  /// With hostCode: lower the host side to the LLVM dialect (`mgpu*`
  /// calls), ready for translation beside the CPU code.
  bool hostToLLVM = false;
  /// Dense f32 contractions call the runtime's GEMM (cuBLAS) instead of
  /// generated kernels (docs/runtime-cuda.md).
  bool libraryGemm = true;
};

/// The prefix of the host functions of the cuda target's entry points.
inline constexpr const char kCUDAEntryPrefix[] = "cuda_";

/// The dialects, interfaces and translations the cuda target needs.
void registerCUDATarget(DialectRegistry &registry);

/// Appends the cuda pipeline (from lctx ops to a gpu.binary) to `pm`.
/// Fails if an option is invalid (an unknown chip).
LogicalResult buildCUDAPipeline(OpPassManager &pm, const CUDAOptions &options,
                                std::string &error);

/// The CUDA toolkit directory: $CUDA_HOME, $CUDA_PATH, /usr/local/cuda, or
/// the parent of the directory of `ptxas` on $PATH; empty if none has
/// bin/ptxas.
std::string findCUDAToolkit();

/// The objects (PTX text or cubin bytes) of the module's gpu.binary ops.
SmallVector<std::string> collectGPUObjects(ModuleOp module);

} // namespace mlir::lctx

#endif // LCTX_TARGET_CUDA_H
