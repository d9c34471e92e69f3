//===- MemoryOps.cpp - Infini-attention compressive memory ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"

#include "ShapeChecks.h"
#include "lctx/Dialect/LCtx/IR/ShapeUtils.h"

using namespace mlir;
using namespace mlir::lctx;
using mlir::lctx::detail::dimOf;
using mlir::lctx::detail::ShapeChecker;

/// beta : [H] must match the head count and element type of `ref`
/// [B, H, ...].
static LogicalResult verifyBeta(ShapeChecker &c, Value beta, Value ref,
                                StringRef refName) {
  return failure(failed(c.rank(beta, "beta", 1, "[H]")) ||
                 failed(c.sameElementType(ref, refName, beta, "beta")) ||
                 failed(c.sameDim("head count", beta, "beta", 0, ref, refName,
                                  1)));
}

//===----------------------------------------------------------------------===//
// MemoryRetrieveOp
//===----------------------------------------------------------------------===//

LogicalResult MemoryRetrieveOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Type q = adaptor.getQuery().getType();
  inferred.push_back(RankedTensorType::get(
      {dimOf(q, 0), dimOf(q, 1), dimOf(q, 2), dimOf(adaptor.getMemory(), 3)},
      getElementTypeOrSelf(q)));
  return success();
}

LogicalResult MemoryRetrieveOp::verify() {
  ShapeChecker c(*this);
  if (failed(c.rank(getQuery(), "query", 4, "[B, H, N, Dk]")))
    return failure();
  return c.memoryState(getMemory(), getNorm(), getQuery(), "query",
                       std::nullopt);
}

//===----------------------------------------------------------------------===//
// MemoryUpdateOp
//===----------------------------------------------------------------------===//

LogicalResult MemoryUpdateOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  inferred.push_back(adaptor.getMemory().getType());
  inferred.push_back(adaptor.getNorm().getType());
  return success();
}

LogicalResult MemoryUpdateOp::verify() {
  ShapeChecker c(*this);
  Value k = getKey(), v = getValue();
  if (failed(c.rank(k, "key", 4, "[B, H, N, Dk]")) ||
      failed(c.rank(v, "value", 4, "[B, H, N, Dv]")) ||
      failed(c.sameElementType(k, "key", v, "value")) ||
      failed(c.sameDim("batch", v, "value", 0, k, "key", 0)) ||
      failed(c.sameDim("head count", v, "value", 1, k, "key", 1)) ||
      failed(c.sameDim("segment length", v, "value", 2, k, "key", 2)))
    return failure();
  return c.memoryState(getMemory(), getNorm(), k, "key", dimOf(v, 3));
}

//===----------------------------------------------------------------------===//
// MemoryGateOp
//===----------------------------------------------------------------------===//

LogicalResult MemoryGateOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  inferred.push_back(adaptor.getLocalOut().getType());
  return success();
}

LogicalResult MemoryGateOp::verify() {
  ShapeChecker c(*this);
  Value mem = getMemoryOut(), local = getLocalOut();
  if (failed(c.rank(local, "local_out", 4, "[B, H, N, Dv]")) ||
      failed(c.sameElementType(local, "local_out", mem, "memory_out")) ||
      failed(c.sameShape(mem, "memory_out", local, "local_out")))
    return failure();
  return verifyBeta(c, getBeta(), local, "local_out");
}

//===----------------------------------------------------------------------===//
// MemoryAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult MemoryAttentionOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Type q = adaptor.getQuery().getType();
  inferred.push_back(RankedTensorType::get(
      {dimOf(q, 0), dimOf(q, 1), dimOf(q, 2), dimOf(adaptor.getValue(), 3)},
      getElementTypeOrSelf(q)));
  inferred.push_back(adaptor.getMemory().getType());
  inferred.push_back(adaptor.getNorm().getType());
  return success();
}

LogicalResult MemoryAttentionOp::verify() {
  ShapeChecker c(*this);
  Value q = getQuery(), k = getKey(), v = getValue();
  if (failed(c.positive("segment_size", getSegmentSizeAttr().getInt())) ||
      failed(c.rank(q, "query", 4, "[B, H, T, Dk]")) ||
      failed(c.rank(k, "key", 4, "[B, H, T, Dk]")) ||
      failed(c.rank(v, "value", 4, "[B, H, T, Dv]")) ||
      failed(c.sameElementType(q, "query", k, "key")) ||
      failed(c.sameElementType(q, "query", v, "value")))
    return failure();
  for (auto [x, name] : {std::pair{k, "key"}, std::pair{v, "value"}})
    if (failed(c.sameDim("batch", x, name, 0, q, "query", 0)) ||
        failed(c.sameDim("head count", x, name, 1, q, "query", 1)) ||
        failed(c.sameDim("sequence length", x, name, 2, q, "query", 2)))
      return failure();
  if (failed(c.sameDim("head dim", k, "key", 3, q, "query", 3)) ||
      failed(c.memoryState(getMemory(), getNorm(), q, "query", dimOf(v, 3))) ||
      failed(verifyBeta(c, getBeta(), q, "query")))
    return failure();
  if (auto scale = getScaleAttr();
      scale && failed(c.positive("scale", scale.getValueAsDouble())))
    return failure();
  if (auto theta = getRopeThetaAttr()) {
    if (failed(c.positive("rope_theta", theta.getValueAsDouble())))
      return failure();
    int64_t dh = dimOf(q, 3);
    if (!ShapedType::isDynamic(dh) && dh % 2 != 0)
      return emitOpError() << "expects an even head dim for RoPE, got " << dh;
  }
  return success();
}
