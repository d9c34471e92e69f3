//===- ShapeUtils.h - Shape arithmetic shared by lctx ops -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Plain functions of dims (ShapedType::kDynamic for unknown) that the op
// verifiers, shape inference, the decompose pass and the runtime conventions
// all rely on. Kept free of op classes so they are unit-testable.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_IR_SHAPEUTILS_H
#define LCTX_DIALECT_LCTX_IR_SHAPEUTILS_H

#include <cstdint>

namespace mlir::lctx {

/// True when two dims may be equal: equal, or either is dynamic.
bool dimsCompatible(int64_t a, int64_t b);

/// a * b, dynamic if either is dynamic or the product overflows int64.
int64_t mulDims(int64_t a, int64_t b);

/// a / b for a divisible by b; dynamic if either is dynamic or b <= 0.
int64_t divDims(int64_t a, int64_t b);

/// Switch capacity per group of `groupSize` tokens over `numExperts`
/// experts: groupSize when dropless, else max(1, floor(groupSize * cf / E)).
/// Dynamic when an input it needs is dynamic.
int64_t switchCapacity(int64_t groupSize, int64_t numExperts,
                       double capacityFactor, bool dropless);

/// Mixture-of-Depths top-k count: floor(capacity * seqLen), computed so that
/// exact products (0.5 * 64) are not lost to rounding. Dynamic if seqLen is.
int64_t depthTopK(int64_t seqLen, double capacity);

/// Number of segments of `segmentSize` covering `length` (the last may be
/// short): ceil(length / segmentSize). Dynamic if length is.
int64_t numSegments(int64_t length, int64_t segmentSize);

} // namespace mlir::lctx

#endif // LCTX_DIALECT_LCTX_IR_SHAPEUTILS_H
