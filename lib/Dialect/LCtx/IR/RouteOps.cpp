//===- RouteOps.cpp - Switch experts and Mixture-of-Depths ----------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"

#include "ShapeChecks.h"
#include "lctx/Dialect/LCtx/IR/ShapeUtils.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::lctx;
using mlir::lctx::detail::dimOf;
using mlir::lctx::detail::ShapeChecker;

/// Per-token routing tensors ([B, S]) must match the tokens of `x` [B, S, D].
static LogicalResult verifyTokenMap(ShapeChecker &c, Value map, StringRef name,
                                    Value x, StringRef xName) {
  return failure(failed(c.rank(map, name, 2, "[B, S]")) ||
                 failed(c.sameDim("batch", map, name, 0, x, xName, 0)) ||
                 failed(c.sameDim("token count", map, name, 1, x, xName, 1)));
}

/// Expert buffers [E, B*C, D]: the middle dim must be a multiple of B.
static LogicalResult verifyExpertBuffer(Operation *op, ShapeChecker &c,
                                        Value buf, StringRef name,
                                        int64_t batch) {
  if (failed(c.rank(buf, name, 3, "[E, B*C, D]")))
    return failure();
  if (dimOf(buf, 0) == 0)
    return op->emitOpError() << "expects at least one expert (" << name
                             << " dim 0 is 0)";
  int64_t slots = dimOf(buf, 1);
  if (!ShapedType::isDynamic(slots) && !ShapedType::isDynamic(batch) &&
      batch > 0 && slots % batch != 0)
    return op->emitOpError() << "expects " << name << " dim 1 (" << slots
                             << ") to be batch (" << batch
                             << ") x capacity";
  return success();
}

/// The Switch router [D, E] and its attributes.
static LogicalResult verifyRouter(Operation *op, ShapeChecker &c, Value x,
                                  Value router, double capacityFactor,
                                  double auxCoef) {
  if (failed(c.rank(x, "input", 3, "[B, S, D]")) ||
      failed(c.rank(router, "router", 2, "[D, E]")) ||
      failed(c.sameDim("model width", router, "router", 0, x, "input", 2)) ||
      failed(c.positive("capacity_factor", capacityFactor)) ||
      failed(c.positive("aux_loss_coef", auxCoef, /*allowZero=*/true)))
    return failure();
  if (dimOf(router, 1) == 0)
    return op->emitOpError("expects at least one expert (router dim 1 is 0)");
  return success();
}

//===----------------------------------------------------------------------===//
// RouteExpertsOp
//===----------------------------------------------------------------------===//

LogicalResult RouteExpertsOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Value x = adaptor.getInput();
  SmallVector<int64_t> tokens = {dimOf(x, 0), dimOf(x, 1)};
  Type i32 = IntegerType::get(context, 32);
  Type f32 = Float32Type::get(context);
  inferred.push_back(RankedTensorType::get(tokens, i32));
  inferred.push_back(RankedTensorType::get(tokens, f32));
  inferred.push_back(RankedTensorType::get(tokens, i32));
  inferred.push_back(RankedTensorType::get({}, f32));
  return success();
}

LogicalResult RouteExpertsOp::verify() {
  ShapeChecker c(*this);
  return verifyRouter(*this, c, getInput(), getRouter(),
                      getCapacityFactor().convertToDouble(),
                      getAuxLossCoef().convertToDouble());
}

int64_t RouteExpertsOp::getNumExperts() { return dimOf(getRouter(), 1); }

int64_t RouteExpertsOp::getCapacity(int64_t groupSize) {
  return switchCapacity(groupSize, getNumExperts(),
                        getCapacityFactor().convertToDouble(), getDropless());
}

//===----------------------------------------------------------------------===//
// RouteDispatchOp / RouteCombineOp
//===----------------------------------------------------------------------===//

LogicalResult RouteDispatchOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), out = getResult();
  if (failed(c.rank(x, "input", 3, "[B, S, D]")) ||
      failed(verifyTokenMap(c, getExpert(), "expert", x, "input")) ||
      failed(verifyTokenMap(c, getSlot(), "slot", x, "input")) ||
      failed(verifyExpertBuffer(*this, c, out, "result", dimOf(x, 0))) ||
      failed(c.sameElementType(x, "input", out, "result")) ||
      failed(c.sameDim("model width", out, "result", 2, x, "input", 2)))
    return failure();
  return success();
}

LogicalResult RouteCombineOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Type buf = adaptor.getExpertOut().getType();
  inferred.push_back(RankedTensorType::get(
      {dimOf(adaptor.getExpert(), 0), dimOf(adaptor.getExpert(), 1),
       dimOf(buf, 2)},
      getElementTypeOrSelf(buf)));
  return success();
}

LogicalResult RouteCombineOp::verify() {
  ShapeChecker c(*this);
  Value expert = getExpert();
  if (failed(c.rank(expert, "expert", 2, "[B, S]")) ||
      failed(verifyExpertBuffer(*this, c, getExpertOut(), "expert_out",
                                dimOf(expert, 0))))
    return failure();
  for (auto [v, name] : {std::pair{getSlot(), "slot"},
                         std::pair{getGate(), "gate"}})
    if (failed(c.rank(v, name, 2, "[B, S]")) ||
        failed(c.sameShape(expert, "expert", v, name)))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// RouteMoeOp
//===----------------------------------------------------------------------===//

LogicalResult RouteMoeOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  inferred.push_back(adaptor.getInput().getType());
  inferred.push_back(RankedTensorType::get({}, Float32Type::get(context)));
  return success();
}

LogicalResult RouteMoeOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), router = getRouter();
  Value wIn = getWIn(), wOut = getWOut(), wGate = getWGate();
  if (failed(verifyRouter(*this, c, x, router,
                          getCapacityFactor().convertToDouble(),
                          getAuxLossCoef().convertToDouble())))
    return failure();
  bool isSwiglu = getActivation() == Activation::swiglu;
  if (isSwiglu && !wGate)
    return emitOpError("expects a w_gate operand with swiglu");
  if (!isSwiglu && wGate)
    return emitOpError() << "expects no w_gate operand with "
                         << stringifyActivation(getActivation());
  if (failed(c.rank(wIn, "w_in", 3, "[E, D, F]")) ||
      failed(c.rank(wOut, "w_out", 3, "[E, F, D]")) ||
      failed(c.sameElementType(x, "input", wIn, "w_in")) ||
      failed(c.sameElementType(x, "input", wOut, "w_out")) ||
      failed(c.sameDim("expert count", wIn, "w_in", 0, router, "router", 1)) ||
      failed(c.sameDim("expert count", wOut, "w_out", 0, router, "router",
                       1)) ||
      failed(c.sameDim("model width", wIn, "w_in", 1, x, "input", 2)) ||
      failed(c.sameDim("hidden feature", wOut, "w_out", 1, wIn, "w_in", 2)) ||
      failed(c.sameDim("model width", wOut, "w_out", 2, x, "input", 2)))
    return failure();
  if (wGate && (failed(c.sameElementType(x, "input", wGate, "w_gate")) ||
                failed(c.sameShape(wIn, "w_in", wGate, "w_gate"))))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// RouteDepthOp
//===----------------------------------------------------------------------===//

/// k for a row of `seqLen` tokens under `mode` and `capacity`.
static int64_t depthSelected(DepthRouting mode, double capacity,
                             int64_t seqLen) {
  return mode == DepthRouting::topk ? depthTopK(seqLen, capacity) : seqLen;
}

LogicalResult RouteDepthOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Value x = adaptor.getInput();
  // Inference runs before the verifier: a missing mode leaves k dynamic.
  int64_t k = ShapedType::kDynamic;
  if (auto mode = detail::inferenceAttr(adaptor.getModeAttr(), attributes,
                                        "mode")) {
    FloatAttr capacity = detail::inferenceAttr(adaptor.getCapacityAttr(),
                                               attributes, "capacity");
    k = depthSelected(mode.getValue(),
                      capacity ? capacity.getValueAsDouble() : 0.125,
                      dimOf(x, 1));
  }
  SmallVector<int64_t> shape = {dimOf(x, 0), k};
  inferred.push_back(RankedTensorType::get(shape, IntegerType::get(context, 64)));
  inferred.push_back(RankedTensorType::get(shape, Float32Type::get(context)));
  return success();
}

LogicalResult RouteDepthOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput();
  if (failed(c.rank(x, "input", 3, "[B, S, D]")) ||
      failed(c.rank(getRouter(), "router", 1, "[D]")) ||
      failed(c.sameDim("model width", getRouter(), "router", 0, x, "input", 2)))
    return failure();
  double capacity = getCapacity().convertToDouble();
  if (!(capacity > 0.0 && capacity <= 1.0))
    return emitOpError() << "expects capacity in (0, 1], got " << capacity;
  return success();
}

int64_t RouteDepthOp::getNumSelected(int64_t seqLen) {
  return depthSelected(getMode(), getCapacity().convertToDouble(), seqLen);
}

//===----------------------------------------------------------------------===//
// RouteGatherOp / RouteScatterAddOp
//===----------------------------------------------------------------------===//

LogicalResult RouteGatherOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Type x = adaptor.getInput().getType();
  inferred.push_back(RankedTensorType::get(
      {dimOf(x, 0), dimOf(adaptor.getIndices(), 1), dimOf(x, 2)},
      getElementTypeOrSelf(x)));
  return success();
}

LogicalResult RouteGatherOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), idx = getIndices();
  return failure(failed(c.rank(x, "input", 3, "[B, S, D]")) ||
                 failed(c.rank(idx, "indices", 2, "[B, k]")) ||
                 failed(c.sameDim("batch", idx, "indices", 0, x, "input", 0)));
}

OpFoldResult RouteGatherOp::fold(FoldAdaptor) {
  // Top-k with k == S selects every token, and the indices are sorted: they
  // are 0..S-1 and the gather is the identity.
  auto depth = getIndices().getDefiningOp<RouteDepthOp>();
  if (!depth || depth.getMode() != DepthRouting::topk ||
      getInput().getType() != getType())
    return {};
  int64_t s = dimOf(depth.getInput(), 1);
  if (ShapedType::isDynamic(s) || s != dimOf(getInput(), 1) ||
      depth.getNumSelected(s) != s)
    return {};
  return getInput();
}

LogicalResult RouteScatterAddOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  inferred.push_back(adaptor.getInput().getType());
  return success();
}

LogicalResult RouteScatterAddOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), upd = getUpdates(), idx = getIndices();
  if (failed(c.rank(x, "input", 3, "[B, S, D]")) ||
      failed(c.rank(upd, "updates", 3, "[B, k, D]")) ||
      failed(c.rank(idx, "indices", 2, "[B, k]")) ||
      failed(c.sameElementType(x, "input", upd, "updates")) ||
      failed(c.sameDim("batch", upd, "updates", 0, x, "input", 0)) ||
      failed(c.sameDim("model width", upd, "updates", 2, x, "input", 2)) ||
      failed(c.sameDim("batch", idx, "indices", 0, upd, "updates", 0)) ||
      failed(c.sameDim("selected count", idx, "indices", 1, upd, "updates",
                       1)))
    return failure();
  if (Value w = getWeights())
    return failure(failed(c.rank(w, "weights", 2, "[B, k]")) ||
                   failed(c.sameShape(idx, "indices", w, "weights")));
  return success();
}

OpFoldResult RouteScatterAddOp::fold(FoldAdaptor) {
  // Nothing selected: nothing to add.
  if (dimOf(getUpdates(), 1) == 0)
    return getInput();
  return {};
}
