//===- ShapeChecks.cpp - Verifier helpers for lctx ops --------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "ShapeChecks.h"

#include "lctx/Dialect/LCtx/IR/ShapeUtils.h"

#include <cmath>

using namespace mlir;
using namespace mlir::lctx;

int64_t lctx::detail::dimOf(Type type, int64_t i) {
  auto shaped = dyn_cast<RankedTensorType>(type);
  if (!shaped)
    return ShapedType::kDynamic;
  int64_t rank = shaped.getRank();
  if (i < 0)
    i += rank;
  if (i < 0 || i >= rank)
    return ShapedType::kDynamic;
  return shaped.getDimSize(i);
}

static int64_t rankOf(Value v) {
  if (auto t = dyn_cast<RankedTensorType>(v.getType()))
    return t.getRank();
  return -1;
}

static int64_t normalize(Value v, int64_t i) {
  return i < 0 ? i + rankOf(v) : i;
}

/// Prints a dim, with '?' for dynamic.
static std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

LogicalResult lctx::detail::ShapeChecker::rank(Value v, StringRef name, int64_t r,
                                         StringRef layout) {
  if (rankOf(v) == r)
    return success();
  return op->emitOpError() << "expects " << name << " of rank " << r << " "
                           << layout << ", got " << v.getType();
}

LogicalResult lctx::detail::ShapeChecker::rankAtLeast(Value v, StringRef name,
                                                int64_t r) {
  if (rankOf(v) >= r)
    return success();
  return op->emitOpError() << "expects " << name << " of rank >= " << r
                           << ", got " << v.getType();
}

LogicalResult lctx::detail::ShapeChecker::sameDim(StringRef what, Value a,
                                            StringRef aName, int64_t i,
                                            Value b, StringRef bName,
                                            int64_t j) {
  int64_t da = dimOf(a, i), db = dimOf(b, j);
  if (dimsCompatible(da, db))
    return success();
  return op->emitOpError() << what << " mismatch: " << aName << " dim "
                           << normalize(a, i) << " is " << dimStr(da)
                           << " but " << bName << " dim " << normalize(b, j)
                           << " is " << dimStr(db);
}

LogicalResult lctx::detail::ShapeChecker::dimEquals(StringRef what, Value a,
                                              StringRef aName, int64_t i,
                                              int64_t expected,
                                              StringRef expectedDesc) {
  int64_t da = dimOf(a, i);
  if (dimsCompatible(da, expected))
    return success();
  return op->emitOpError() << what << " mismatch: " << aName << " dim "
                           << normalize(a, i) << " is " << dimStr(da)
                           << " but " << expectedDesc << " is "
                           << dimStr(expected);
}

LogicalResult lctx::detail::ShapeChecker::sameElementType(Value a, StringRef aName,
                                                    Value b, StringRef bName) {
  Type ea = getElementTypeOrSelf(a.getType());
  Type eb = getElementTypeOrSelf(b.getType());
  if (ea == eb)
    return success();
  return op->emitOpError() << "expects " << bName << " to have the element type "
                           << ea << " of " << aName << ", got " << eb;
}

LogicalResult lctx::detail::ShapeChecker::sameShape(Value a, StringRef aName,
                                              Value b, StringRef bName) {
  auto ta = cast<RankedTensorType>(a.getType());
  auto tb = cast<RankedTensorType>(b.getType());
  if (ta.getRank() == tb.getRank()) {
    bool ok = true;
    for (int64_t i = 0; i < ta.getRank(); ++i)
      ok &= dimsCompatible(ta.getDimSize(i), tb.getDimSize(i));
    if (ok)
      return success();
  }
  return op->emitOpError() << "expects " << aName << " and " << bName
                           << " to have the same shape, got " << ta << " and "
                           << tb;
}

LogicalResult lctx::detail::ShapeChecker::positive(StringRef attrName,
                                             int64_t value) {
  if (value > 0)
    return success();
  return op->emitOpError() << "expects " << attrName << " > 0, got " << value;
}

LogicalResult lctx::detail::ShapeChecker::positive(StringRef attrName, double value,
                                             bool allowZero) {
  if (std::isfinite(value) && (value > 0 || (allowZero && value == 0)))
    return success();
  return op->emitOpError() << "expects " << attrName
                           << (allowZero ? " to be finite and >= 0"
                                         : " to be finite and > 0")
                           << ", got " << value;
}

LogicalResult lctx::detail::ShapeChecker::memoryState(
    Value memory, Value norm, Value ref, StringRef refName,
    std::optional<int64_t> valueDim) {
  if (failed(rank(memory, "memory", 4, "[B, H, Dk, Dv]")) ||
      failed(rank(norm, "norm", 3, "[B, H, Dk]")) ||
      failed(sameDim("batch", memory, "memory", 0, ref, refName, 0)) ||
      failed(sameDim("head count", memory, "memory", 1, ref, refName, 1)) ||
      failed(sameDim("key dim", memory, "memory", 2, ref, refName, 3)) ||
      failed(sameDim("batch", norm, "norm", 0, ref, refName, 0)) ||
      failed(sameDim("head count", norm, "norm", 1, ref, refName, 1)) ||
      failed(sameDim("key dim", norm, "norm", 2, ref, refName, 3)))
    return failure();
  if (valueDim &&
      failed(dimEquals("value dim", memory, "memory", 3, *valueDim,
                       "the value head dim")))
    return failure();
  return success();
}
