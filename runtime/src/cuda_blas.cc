//===- cuda_blas.cc - The runtime's GEMM on the GPU (cuBLAS) ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "cuda_blas.h"

#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <utility>

namespace {

// The few cuBLAS declarations used (cublas_api.h), so that the runtime
// builds without the CUDA toolkit.
using cublasStatus = int;
using cublasHandle = void *;
constexpr int kOpN = 0, kOpT = 1;
constexpr int kDefaultMath = 0; // CUBLAS_DEFAULT_MATH: fp32, no TF32

struct CublasAPI {
  cublasStatus (*create)(cublasHandle *) = nullptr;
  cublasStatus (*destroy)(cublasHandle) = nullptr;
  cublasStatus (*setStream)(cublasHandle, void *) = nullptr;
  cublasStatus (*setMathMode)(cublasHandle, int) = nullptr;
  cublasStatus (*sgemm)(cublasHandle, int, int, int, int, int, const float *,
                        const float *, int, const float *, int, const float *,
                        float *, int) = nullptr;
  cublasStatus (*sgemmStridedBatched)(cublasHandle, int, int, int, int, int,
                                      const float *, const float *, int,
                                      long long, const float *, int, long long,
                                      const float *, float *, int, long long,
                                      int) = nullptr;
  const char *(*statusName)(cublasStatus) = nullptr;
  std::string error;
};

const CublasAPI &api() {
  static CublasAPI table;
  static std::once_flag once;
  std::call_once(once, [] {
    void *lib = nullptr;
    std::string tried;
    std::string names[] = {"libcublas.so.13", "libcublas.so.12",
                           "libcublas.so"};
    if (const char *env = std::getenv("LCTXRT_LIBCUBLAS"))
      names[0] = env, names[1] = names[2] = "";
    for (const std::string &name : names) {
      if (name.empty())
        continue;
      if ((lib = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)))
        break;
      const char *why = ::dlerror();
      tried += (tried.empty() ? "" : "; ") + (why ? std::string(why) : name);
    }
    if (!lib) {
      table.error = "no cuBLAS (the artifact's GEMMs call it; or compile "
                    "with lctx-compile --gpu-gemm=generated): " + tried;
      return;
    }
    auto bind = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
          ::dlsym(lib, name));
      if (!fn && table.error.empty())
        table.error = std::string("cuBLAS lacks ") + name;
    };
    bind(table.create, "cublasCreate_v2");
    bind(table.destroy, "cublasDestroy_v2");
    bind(table.setStream, "cublasSetStream_v2");
    bind(table.setMathMode, "cublasSetMathMode");
    bind(table.sgemm, "cublasSgemm_v2");
    bind(table.sgemmStridedBatched, "cublasSgemmStridedBatched");
    bind(table.statusName, "cublasGetStatusName");
  });
  return table;
}

std::string statusText(cublasStatus status) {
  const char *name = api().statusName ? api().statusName(status) : nullptr;
  return name ? name : "cuBLAS status " + std::to_string(status);
}

/// One column-major operand of cublasSgemm: op(X) is rows x cols.
struct Operand {
  const float *data;
  int op;
  int64_t ld;
};

/// The operand whose element (r, c) of a rows x cols matrix is at
/// data + r * sr + c * sc, as a column-major op(X); false when neither
/// stride is 1. Strides of extent-1 dimensions are free: normalized first.
bool columnMajor(const float *data, int64_t rows, int64_t cols, int64_t sr,
                 int64_t sc, Operand &out) {
  if (rows == 1 && sc == 1)
    sr = cols;
  else if (rows == 1)
    sr = 1;
  if (cols == 1 && sr == 1)
    sc = rows;
  else if (cols == 1)
    sc = 1;
  if (sr == 1 && sc >= std::max<int64_t>(rows, 1)) {
    out = {data, kOpN, sc}; // X = op(X): rows x cols, ld = sc
    return true;
  }
  if (sc == 1 && sr >= std::max<int64_t>(cols, 1)) {
    out = {data, kOpT, sr}; // X stored cols x rows, ld = sr
    return true;
  }
  return false;
}

} // namespace

namespace lctxrt::cuda {

Blas::~Blas() {
  if (handle && api().destroy)
    api().destroy(handle);
}

bool Blas::init(void *stream, std::string &error) {
  const CublasAPI &lib = api();
  if (!lib.error.empty()) {
    error = lib.error;
    return false;
  }
  cublasHandle h = nullptr;
  if (cublasStatus s = lib.create(&h)) {
    error = "cublasCreate failed: " + statusText(s);
    return false;
  }
  if (cublasStatus s = lib.setStream(h, stream)) {
    lib.destroy(h);
    error = "cublasSetStream failed: " + statusText(s);
    return false;
  }
  lib.setMathMode(h, kDefaultMath);
  handle = h;
  return true;
}

bool Blas::sgemm(const int64_t a[17], std::string &error) {
  int64_t batch = a[0], M = a[1], N = a[2], K = a[3];
  auto ptr = [](int64_t v) {
    return reinterpret_cast<float *>(static_cast<intptr_t>(v));
  };
  float *A = ptr(a[4]), *B = ptr(a[8]), *C = ptr(a[12]);
  int64_t sAb = a[5], sAm = a[6], sAk = a[7];
  int64_t sBb = a[9], sBk = a[10], sBn = a[11];
  int64_t sCb = a[13], sCm = a[14], sCn = a[15];
  float alpha = 1.0f, beta = a[16] ? 1.0f : 0.0f;
  if (batch <= 0 || M <= 0 || N <= 0)
    return true;
  auto fits = [](int64_t v) { return v >= 0 && v <= INT_MAX; };
  // Column-major C' = X Y, with C' = C^T = B^T A^T (row-major C) or
  // C' = C = A B (column-major C): whichever takes the strides.
  Operand c, x, y;
  int64_t rows = 0, cols = 0;
  bool xIsB = true;
  auto orient = [&](bool transposed) {
    xIsB = transposed;
    if (transposed) {
      rows = N, cols = M;
      return columnMajor(C, N, M, sCn, sCm, c) && c.op == kOpN &&
             columnMajor(B, N, K, sBn, sBk, x) &&
             columnMajor(A, K, M, sAk, sAm, y);
    }
    rows = M, cols = N;
    return columnMajor(C, M, N, sCm, sCn, c) && c.op == kOpN &&
           columnMajor(A, M, K, sAm, sAk, x) &&
           columnMajor(B, K, N, sBk, sBn, y);
  };
  bool ok = orient(true) || orient(false);
  if (!ok || !fits(rows) || !fits(cols) || !fits(K) || !fits(batch) ||
      !fits(c.ld) || !fits(x.ld) || !fits(y.ld)) {
    error = "the GEMM " + std::to_string(batch) + " x [" + std::to_string(M) +
            " x " + std::to_string(K) + "] x [" + std::to_string(K) + " x " +
            std::to_string(N) + "] has strides cuBLAS cannot take";
    return false;
  }
  // K = 0: cuBLAS scales C by beta.
  const CublasAPI &lib = api();
  cublasStatus s;
  int64_t sx = xIsB ? sBb : sAb, sy = xIsB ? sAb : sBb;
  if (batch == 1)
    s = lib.sgemm(handle, x.op, y.op, int(rows), int(cols), int(K), &alpha,
                  x.data, int(x.ld), y.data, int(y.ld), &beta, C, int(c.ld));
  else
    s = lib.sgemmStridedBatched(handle, x.op, y.op, int(rows), int(cols),
                                int(K), &alpha, x.data, int(x.ld), sx, y.data,
                                int(y.ld), sy, &beta, C, int(c.ld), sCb,
                                int(batch));
  if (s) {
    error = "cuBLAS sgemm failed: " + statusText(s);
    return false;
  }
  return true;
}

} // namespace lctxrt::cuda
