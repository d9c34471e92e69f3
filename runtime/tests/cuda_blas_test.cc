//===- cuda_blas_test.cc - The runtime GEMM's mapping onto cuBLAS ---------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The cuda target's host code calls mgpuLctxSgemm with row-major strides;
// lctxrt maps each call onto a column-major cublasSgemm (transposing the
// whole product when C is row-major). These tests run that mapping against
// a host-memory stand-in for cuBLAS (fake_cublas.c, loaded through
// $LCTXRT_LIBCUBLAS) and check every result against a float64 GEMM, over
// seeded random shapes and every layout the compiler emits: A and B
// row-major or transposed, C row-major or column-major, batched with
// per-operand batch strides (0: shared), beta 0 and 1.
//
//===----------------------------------------------------------------------===//

#include "cuda_blas.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#ifndef LCTXRT_FAKE_CUBLAS
#error "LCTXRT_FAKE_CUBLAS must name the fake cuBLAS library"
#endif

namespace {

struct Layout {
  bool transposed; // matrix stored column-major (unit stride on rows)
  bool shared;     // batch stride 0
};

/// Strides (batch, row, col) of a rows x cols matrix in `layout`, and the
/// element count of its storage over `batch`.
void strides(int64_t rows, int64_t cols, int64_t batch, Layout layout,
             int64_t s[3], int64_t &size) {
  s[1] = layout.transposed ? 1 : cols;
  s[2] = layout.transposed ? rows : 1;
  s[0] = layout.shared ? 0 : rows * cols;
  size = (layout.shared ? 1 : batch) * rows * cols;
}

int64_t address(const float *p) {
  return static_cast<int64_t>(reinterpret_cast<intptr_t>(p));
}

class CudaBlasTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    ::setenv("LCTXRT_LIBCUBLAS", LCTXRT_FAKE_CUBLAS, 1);
  }
};

TEST_F(CudaBlasTest, StridedLayoutsMatchFloat64) {
  lctxrt::cuda::Blas blas;
  std::string error;
  ASSERT_TRUE(blas.init(nullptr, error)) << error;
  std::mt19937 rng(20261125);
  std::uniform_int_distribution<int> dim(1, 9);
  std::normal_distribution<float> normal;
  int cases = 0;
  for (int round = 0; round < 12; ++round)
    for (int mask = 0; mask < 32; ++mask) {
      int64_t batch = round % 3 == 0 ? 1 : 1 + round % 4;
      int64_t M = dim(rng), N = dim(rng), K = dim(rng);
      Layout la{bool(mask & 1), false}, lb{bool(mask & 2), bool(mask & 8)},
          lc{bool(mask & 4), false};
      int64_t beta = (mask >> 4) & 1;
      int64_t sa[3], sb[3], sc[3], na, nb, nc;
      strides(M, K, batch, la, sa, na);
      strides(K, N, batch, lb, sb, nb);
      strides(M, N, batch, lc, sc, nc);
      std::vector<float> A(na), B(nb), C(nc);
      for (float &v : A) v = normal(rng);
      for (float &v : B) v = normal(rng);
      for (float &v : C) v = normal(rng);
      std::vector<double> expected(nc);
      for (int64_t p = 0; p < batch; ++p)
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t l = 0; l < K; ++l)
              acc += double(A[p * sa[0] + i * sa[1] + l * sa[2]]) *
                     B[p * sb[0] + l * sb[1] + j * sb[2]];
            int64_t o = p * sc[0] + i * sc[1] + j * sc[2];
            expected[o] = acc + (beta ? C[o] : 0.0);
          }
      int64_t args[17] = {batch, M, N, K,
                          address(A.data()), sa[0], sa[1], sa[2],
                          address(B.data()), sb[0], sb[1], sb[2],
                          address(C.data()), sc[0], sc[1], sc[2], beta};
      ASSERT_TRUE(blas.sgemm(args, error))
          << error << " (mask " << mask << ", round " << round << ")";
      for (int64_t o = 0; o < nc; ++o)
        ASSERT_NEAR(C[o], expected[o], 1e-5 * (1 + std::fabs(expected[o])))
            << "element " << o << ", mask " << mask << ", round " << round
            << ", M N K " << M << " " << N << " " << K << ", batch " << batch;
      ++cases;
    }
  EXPECT_EQ(cases, 12 * 32);
}

TEST_F(CudaBlasTest, UnitStrideMissingIsAnError) {
  lctxrt::cuda::Blas blas;
  std::string error;
  ASSERT_TRUE(blas.init(nullptr, error)) << error;
  std::vector<float> A(64), B(64), C(64);
  // A's rows and columns both strided by 2.
  int64_t args[17] = {1, 3, 3, 3, address(A.data()), 0, 8, 2,
                      address(B.data()), 0, 3, 1, address(C.data()), 0, 3, 1,
                      0};
  EXPECT_FALSE(blas.sgemm(args, error));
  EXPECT_NE(error.find("strides cuBLAS cannot take"), std::string::npos)
      << error;
}

} // namespace
