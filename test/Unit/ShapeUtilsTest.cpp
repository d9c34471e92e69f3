//===- ShapeUtilsTest.cpp - Tests of lctx shape arithmetic ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/ShapeUtils.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::lctx;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

TEST(ShapeUtils, DimsCompatible) {
  EXPECT_TRUE(dimsCompatible(4, 4));
  EXPECT_FALSE(dimsCompatible(4, 5));
  EXPECT_TRUE(dimsCompatible(kDyn, 5));
  EXPECT_TRUE(dimsCompatible(3, kDyn));
}

TEST(ShapeUtils, MulAndDivPropagateDynamicAndOverflow) {
  EXPECT_EQ(mulDims(8, 32), 256);
  EXPECT_EQ(mulDims(kDyn, 32), kDyn);
  EXPECT_EQ(mulDims(std::numeric_limits<int64_t>::max() / 2, 3), kDyn);
  EXPECT_EQ(divDims(64, 8), 8);
  EXPECT_EQ(divDims(64, 0), kDyn);
  EXPECT_EQ(divDims(64, -2), kDyn);
  EXPECT_EQ(divDims(kDyn, 8), kDyn);
}

// Switch capacity C = max(1, floor(S * cf / E)), or S when dropless; checked
// against an independent double-precision evaluation over a grid.
TEST(ShapeUtils, SwitchCapacityMatchesFormula) {
  EXPECT_EQ(switchCapacity(64, 8, 1.25, false), 10);
  EXPECT_EQ(switchCapacity(64, 8, 1.0, false), 8);
  EXPECT_EQ(switchCapacity(1, 8, 1.0, false), 1);  // decode: never 0
  EXPECT_EQ(switchCapacity(3, 64, 2.0, false), 1); // floor(0.09) -> 1
  EXPECT_EQ(switchCapacity(64, 8, 1.25, true), 64);
  EXPECT_EQ(switchCapacity(kDyn, 8, 1.0, false), kDyn);
  EXPECT_EQ(switchCapacity(64, kDyn, 1.0, false), kDyn);
  EXPECT_EQ(switchCapacity(64, kDyn, 1.0, true), 64);
  for (int64_t s : {1, 7, 64, 100, 1000, 4096})
    for (int64_t e : {1, 2, 3, 8, 64, 128})
      for (double cf : {0.5, 1.0, 1.25, 2.0}) {
        // The products here are exact in binary or far from an integer, so a
        // plain floor is the reference.
        long double exact = static_cast<long double>(s) * cf / e;
        int64_t want = std::max<int64_t>(1, static_cast<int64_t>(
                                                std::floor(exact + 1e-12L)));
        EXPECT_EQ(switchCapacity(s, e, cf, false), want)
            << "S=" << s << " E=" << e << " cf=" << cf;
      }
}

TEST(ShapeUtils, DepthTopK) {
  EXPECT_EQ(depthTopK(64, 0.125), 8);
  EXPECT_EQ(depthTopK(2048, 0.125), 256);
  EXPECT_EQ(depthTopK(7, 0.125), 0); // floor(0.875)
  EXPECT_EQ(depthTopK(10, 0.3), 3);  // 0.3 * 10 is 2.9999... in binary
  EXPECT_EQ(depthTopK(64, 1.0), 64);
  EXPECT_EQ(depthTopK(kDyn, 0.5), kDyn);
}

// Inference runs before the verifier: invalid factors must not reach a
// float-to-integer conversion (undefined behaviour; found by UBSan).
TEST(ShapeUtils, InvalidFactorsAreSafe) {
  EXPECT_EQ(depthTopK(64, std::nan("")), 0);
  EXPECT_EQ(depthTopK(64, -1.0), 0);
  EXPECT_EQ(depthTopK(64, INFINITY), 0);
  EXPECT_EQ(switchCapacity(64, 8, std::nan(""), false), 1);
  EXPECT_EQ(switchCapacity(64, 8, INFINITY, false), 1);
}

TEST(ShapeUtils, NumSegments) {
  EXPECT_EQ(numSegments(200, 64), 4);
  EXPECT_EQ(numSegments(192, 64), 3);
  EXPECT_EQ(numSegments(1, 64), 1);
  EXPECT_EQ(numSegments(0, 64), 0);
  EXPECT_EQ(numSegments(kDyn, 64), kDyn);
  EXPECT_EQ(numSegments(10, 0), kDyn);
}
} // namespace
