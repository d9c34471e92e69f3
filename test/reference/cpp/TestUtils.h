//===- TestUtils.h - Helpers for the reference op tests ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Seeded random tensors and tolerance comparisons shared by the tests.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_TEST_REFERENCE_CPP_TESTUTILS_H
#define LCTX_TEST_REFERENCE_CPP_TESTUTILS_H

#include "LCtxReference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace lctx::reference::test {

/// A tensor of `shape` with entries uniform in [lo, hi).
inline Tensor randomTensor(std::mt19937 &rng, Shape shape, double lo = -1.0,
                           double hi = 1.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  Tensor t(std::move(shape));
  for (double &v : t.data)
    v = dist(rng);
  return t;
}

/// A complex tensor with real and imaginary parts uniform in [lo, hi).
inline ComplexTensor randomComplex(std::mt19937 &rng, Shape shape,
                                   double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  ComplexTensor t(std::move(shape));
  for (std::complex<double> &v : t.data) {
    double re = dist(rng);
    v = {re, dist(rng)};
  }
  return t;
}

/// Integers uniform in [lo, hi].
inline IntTensor randomInts(std::mt19937 &rng, Shape shape, int64_t lo,
                            int64_t hi) {
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  IntTensor t(std::move(shape));
  for (int64_t &v : t.data)
    v = dist(rng);
  return t;
}

/// Every |a - b| <= atol + rtol |b|, with equal shapes.
template <typename T>
::testing::AssertionResult allClose(const BasicTensor<T> &a,
                                    const BasicTensor<T> &b, double rtol,
                                    double atol = 0.0) {
  if (a.shape != b.shape)
    return ::testing::AssertionFailure() << "shape " << shapeToString(a.shape)
                                         << " vs " << shapeToString(b.shape);
  for (int64_t i = 0; i < a.numel(); ++i) {
    double err = std::abs(a.data[i] - b.data[i]);
    if (!(err <= atol + rtol * std::abs(b.data[i])))
      return ::testing::AssertionFailure()
             << "element " << i << ": " << a.data[i] << " vs " << b.data[i]
             << " (|diff| " << err << ", rtol " << rtol << ", atol " << atol
             << ")";
  }
  return ::testing::AssertionSuccess();
}

/// Equal shapes and every element exactly equal.
template <typename T>
::testing::AssertionResult allEqual(const BasicTensor<T> &a,
                                    const BasicTensor<T> &b) {
  return allClose(a, b, 0.0, 0.0);
}

/// Slice [lo, hi) of dim `axis`.
template <typename T>
BasicTensor<T> sliceDim(const BasicTensor<T> &x, int64_t axis, int64_t lo,
                        int64_t hi) {
  Shape shape = x.shape;
  shape[axis] = hi - lo;
  BasicTensor<T> out(shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= x.shape[d];
  for (int64_t d = axis + 1; d < x.rank(); ++d)
    inner *= x.shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = lo; i < hi; ++i)
      for (int64_t n = 0; n < inner; ++n)
        out.data[(o * (hi - lo) + (i - lo)) * inner + n] =
            x.data[(o * x.shape[axis] + i) * inner + n];
  return out;
}

/// Concatenation of `parts` along dim `axis`.
template <typename T>
BasicTensor<T> concatDim(const std::vector<BasicTensor<T>> &parts,
                         int64_t axis) {
  Shape shape = parts.at(0).shape;
  shape[axis] = 0;
  for (const auto &p : parts)
    shape[axis] += p.shape[axis];
  BasicTensor<T> out(shape);
  int64_t offset = 0;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (int64_t d = axis + 1; d < static_cast<int64_t>(shape.size()); ++d)
    inner *= shape[d];
  for (const auto &p : parts) {
    const int64_t len = p.shape[axis];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < len; ++i)
        for (int64_t n = 0; n < inner; ++n)
          out.data[(o * shape[axis] + offset + i) * inner + n] =
              p.data[(o * len + i) * inner + n];
    offset += len;
  }
  return out;
}

} // namespace lctx::reference::test

#endif // LCTX_TEST_REFERENCE_CPP_TESTUTILS_H
