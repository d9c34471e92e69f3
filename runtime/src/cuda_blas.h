//===- cuda_blas.h - The runtime's GEMM on the GPU (cuBLAS) -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `mgpuLctxSgemm`, the GEMM that the cuda target's host code calls for
/// dense f32 contractions (docs/runtime-cuda.md): C = A B + beta C over a
/// strided batch, every operand an address and strides in elements, with
/// row-major names (A [batch, M, K], B [batch, K, N], C [batch, M, N]).
/// cuBLAS is loaded with dlopen on first use (libcublas.so.13, .so.12, .so,
/// or $LCTXRT_LIBCUBLAS) and runs in full fp32 (no TF32), on the stream of
/// the session that makes the call.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_CUDA_BLAS_H
#define LCTXRT_CUDA_BLAS_H

#include <cstdint>
#include <string>

namespace lctxrt::cuda {

/// One cuBLAS handle, bound to a stream. Create and use it with the
/// session's context current.
class Blas {
public:
  Blas() = default;
  Blas(const Blas &) = delete;
  Blas &operator=(const Blas &) = delete;
  ~Blas();

  /// Loads cuBLAS (once per process) and creates the handle on `stream`.
  /// Returns false with `error` set when cuBLAS is unavailable.
  bool init(void *stream, std::string &error);
  bool ready() const { return handle != nullptr; }

  /// Enqueues C = A B + beta C (beta 0 or 1). The arguments are those of
  /// mgpuLctxSgemm: batch, M, N, K, A, sAb, sAm, sAk, B, sBb, sBk, sBn,
  /// C, sCb, sCm, sCn, beta. Returns false with `error` set when the shape
  /// cannot be expressed in cuBLAS or the call fails.
  bool sgemm(const int64_t args[17], std::string &error);

private:
  void *handle = nullptr;
};

} // namespace lctxrt::cuda

#endif // LCTXRT_CUDA_BLAS_H
