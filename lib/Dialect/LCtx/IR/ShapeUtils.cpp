//===- ShapeUtils.cpp - Shape arithmetic shared by lctx ops ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/ShapeUtils.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>

using namespace mlir;

bool lctx::dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

int64_t lctx::mulDims(int64_t a, int64_t b) {
  if (ShapedType::isDynamic(a) || ShapedType::isDynamic(b))
    return ShapedType::kDynamic;
  int64_t result;
  if (llvm::MulOverflow(a, b, result))
    return ShapedType::kDynamic;
  return result;
}

int64_t lctx::divDims(int64_t a, int64_t b) {
  if (ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || b <= 0)
    return ShapedType::kDynamic;
  return a / b;
}

/// floor(x * f) with a small tolerance, so that 0.125 * 64 or 1.25 * 8 give
/// the exact integer rather than one less after binary rounding.
static int64_t floorProduct(int64_t x, double f) {
  double product = static_cast<double>(x) * f;
  // Shape inference runs before the verifier rejects a NaN, infinite or
  // negative factor; never convert such a value to an integer (UB).
  if (!std::isfinite(product) || product <= 0)
    return 0;
  product = std::min(product, 9.0e18);
  return static_cast<int64_t>(std::floor(product + 1e-9 * std::max(1.0, product)));
}

int64_t lctx::switchCapacity(int64_t groupSize, int64_t numExperts,
                             double capacityFactor, bool dropless) {
  if (ShapedType::isDynamic(groupSize))
    return ShapedType::kDynamic;
  if (dropless)
    return groupSize;
  if (ShapedType::isDynamic(numExperts) || numExperts <= 0)
    return ShapedType::kDynamic;
  double perExpert = static_cast<double>(groupSize) * capacityFactor /
                     static_cast<double>(numExperts);
  if (!std::isfinite(perExpert) || perExpert <= 0)
    return 1; // An invalid factor is the verifier's to report.
  perExpert = std::min(perExpert, 9.0e18);
  int64_t capacity = static_cast<int64_t>(
      std::floor(perExpert + 1e-9 * std::max(1.0, perExpert)));
  return std::max<int64_t>(1, capacity);
}

int64_t lctx::depthTopK(int64_t seqLen, double capacity) {
  if (ShapedType::isDynamic(seqLen))
    return ShapedType::kDynamic;
  return std::clamp<int64_t>(floorProduct(seqLen, capacity), 0, seqLen);
}

int64_t lctx::numSegments(int64_t length, int64_t segmentSize) {
  if (ShapedType::isDynamic(length) || segmentSize <= 0)
    return ShapedType::kDynamic;
  return (length + segmentSize - 1) / segmentSize;
}
