/*===- fake_cublas.c - A host-memory stand-in for cuBLAS, for tests ------===*
 *
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * The cuBLAS entry points the runtime's GEMM binds (cuda_blas.cc), computed
 * on the host over host pointers with cuBLAS's column-major conventions, so
 * that the runtime's mapping of strided row-major GEMMs onto cuBLAS is
 * tested on machines without a GPU (LCTXRT_LIBCUBLAS points at this
 * library). Counts calls in fake_cublas_calls.
 *===----------------------------------------------------------------------===*/

#include <stddef.h>

int fake_cublas_calls = 0;

int cublasCreate_v2(void **handle) {
  static int dummy;
  *handle = &dummy;
  return 0;
}
int cublasDestroy_v2(void *handle) { (void)handle; return 0; }
int cublasSetStream_v2(void *handle, void *stream) {
  (void)handle; (void)stream;
  return 0;
}
int cublasSetMathMode(void *handle, int mode) {
  (void)handle;
  return mode == 0 ? 0 : 7; /* only full fp32 is expected */
}
const char *cublasGetStatusName(int status) {
  return status ? "CUBLAS_STATUS_INVALID_VALUE" : "CUBLAS_STATUS_SUCCESS";
}

/* op(X)[r, c] of a column-major X with leading dimension ld. */
static float at(const float *x, int op, int ld, int r, int c) {
  return op == 0 ? x[r + (long)c * ld] : x[c + (long)r * ld];
}

int cublasSgemmStridedBatched(void *handle, int opa, int opb, int m, int n,
                              int k, const float *alpha, const float *a,
                              int lda, long long sa, const float *b, int ldb,
                              long long sb, const float *beta, float *c,
                              int ldc, long long sc, int batch) {
  (void)handle;
  ++fake_cublas_calls;
  if (m < 0 || n < 0 || k < 0 || lda < (opa ? k : m) || ldb < (opb ? n : k) ||
      ldc < m)
    return 7;
  for (int p = 0; p < batch; ++p)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        double acc = 0;
        for (int l = 0; l < k; ++l)
          acc += (double)at(a + p * sa, opa, lda, i, l) *
                 at(b + p * sb, opb, ldb, l, j);
        float *out = c + p * sc + i + (long)j * ldc;
        *out = (float)(*alpha * acc + (*beta == 0 ? 0.0 : *beta * *out));
      }
  return 0;
}

int cublasSgemm_v2(void *handle, int opa, int opb, int m, int n, int k,
                   const float *alpha, const float *a, int lda, const float *b,
                   int ldb, const float *beta, float *c, int ldc) {
  return cublasSgemmStridedBatched(handle, opa, opb, m, n, k, alpha, a, lda, 0,
                                   b, ldb, 0, beta, c, ldc, 0, 1);
}
