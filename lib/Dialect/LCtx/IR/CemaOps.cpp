//===- CemaOps.cpp - Megalodon CEMA and TimestepNorm ----------------------===//
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

//===----------------------------------------------------------------------===//
// CemaScanOp
//===----------------------------------------------------------------------===//

LogicalResult CemaScanOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  inferred.push_back(adaptor.getInput().getType());
  inferred.push_back(adaptor.getInitState().getType());
  return success();
}

LogicalResult CemaScanOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), alpha = getAlpha(), h0 = getInitState();
  if (failed(c.rank(x, "input", 3, "[B, L, D]")) ||
      failed(c.rank(alpha, "alpha", 2, "[D, N]")) ||
      failed(c.sameDim("channel", alpha, "alpha", 0, x, "input", 2)))
    return failure();
  // Every [D, N] parameter matches alpha; every [D] parameter matches D.
  for (auto [v, name] : {std::pair{getDelta(), "delta"},
                         std::pair{getGamma(), "gamma"}})
    if (failed(c.rank(v, name, 2, "[D, N]")) ||
        failed(c.sameDim("channel", v, name, 0, x, "input", 2)) ||
        failed(c.sameDim("state order", v, name, 1, alpha, "alpha", 1)))
      return failure();
  for (auto [v, name] : {std::pair{getTheta(), "theta"},
                         std::pair{getOmega(), "omega"}})
    if (failed(c.rank(v, name, 1, "[D]")) ||
        failed(c.sameDim("channel", v, name, 0, x, "input", 2)))
      return failure();
  if (failed(c.rank(h0, "init_state", 3, "[B, D, N]")) ||
      failed(c.sameDim("batch", h0, "init_state", 0, x, "input", 0)) ||
      failed(c.sameDim("channel", h0, "init_state", 1, x, "input", 2)) ||
      failed(c.sameDim("state order", h0, "init_state", 2, alpha, "alpha", 1)))
    return failure();
  if (dimOf(alpha, 1) == 0)
    return emitOpError("expects a state order N > 0 (alpha dim 1 is 0)");
  return success();
}

//===----------------------------------------------------------------------===//
// CemaTimestepNormOp
//===----------------------------------------------------------------------===//

LogicalResult CemaTimestepNormOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  inferred.push_back(adaptor.getInput().getType());
  inferred.push_back(adaptor.getCount().getType());
  inferred.push_back(adaptor.getMean().getType());
  inferred.push_back(adaptor.getVar().getType());
  return success();
}

LogicalResult CemaTimestepNormOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), count = getCount(), mean = getMean(), var = getVar();
  int64_t groups = getNumGroupsAttr().getInt();
  if (failed(c.positive("num_groups", groups)) ||
      failed(c.rank(x, "input", 3, "[B, L, D]")))
    return failure();
  for (auto [v, name] : {std::pair{getWeight(), "weight"},
                         std::pair{getBias(), "bias"}})
    if (failed(c.rank(v, name, 1, "[D]")) ||
        failed(c.sameElementType(x, "input", v, name)) ||
        failed(c.sameDim("feature", v, name, 0, x, "input", 2)))
      return failure();
  int64_t d = dimOf(x, 2);
  if (!ShapedType::isDynamic(d) && d % groups != 0)
    return emitOpError() << "expects num_groups (" << groups
                         << ") to divide the feature dim (" << d << ")";
  if (failed(c.rank(count, "count", 1, "[B]")) ||
      failed(c.sameDim("batch", count, "count", 0, x, "input", 0)))
    return failure();
  for (auto [v, name] : {std::pair{mean, "mean"}, std::pair{var, "var"}})
    if (failed(c.rank(v, name, 2, "[B, G]")) ||
        failed(c.sameDim("batch", v, name, 0, x, "input", 0)) ||
        failed(c.dimEquals("group count", v, name, 1, groups, "num_groups")))
      return failure();
  return c.positive("epsilon", getEpsilon().convertToDouble());
}
