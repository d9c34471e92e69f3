//===- CommonOps.cpp - Attention, RoPE, norms, embedding, linear, FFN -----===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Shape inference is lenient (unknown or inconsistent dims become dynamic);
// the verifiers state every shape relation with a clear message.
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"

#include "ShapeChecks.h"
#include "lctx/Dialect/LCtx/IR/ShapeUtils.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::lctx;
using mlir::lctx::detail::dimOf;
using mlir::lctx::detail::ShapeChecker;

/// The shape of `t` with its last dim replaced by `last` (for rank >= 1).
static SmallVector<int64_t> withLastDim(Type t, int64_t last) {
  SmallVector<int64_t> shape;
  if (auto ranked = dyn_cast<RankedTensorType>(t))
    shape.assign(ranked.getShape().begin(), ranked.getShape().end());
  if (shape.empty())
    shape.push_back(last);
  else
    shape.back() = last;
  return shape;
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Type q = adaptor.getQuery().getType();
  inferred.push_back(RankedTensorType::get(
      {dimOf(q, 0), dimOf(q, 1), dimOf(q, 2), dimOf(adaptor.getValue(), 3)},
      getElementTypeOrSelf(q)));
  return success();
}

LogicalResult AttentionOp::verify() {
  ShapeChecker c(*this);
  Value q = getQuery(), k = getKey(), v = getValue();
  if (failed(c.rank(q, "query", 4, "[B, H, Tq, Dh]")) ||
      failed(c.rank(k, "key", 4, "[B, Hkv, Tk, Dh]")) ||
      failed(c.rank(v, "value", 4, "[B, Hkv, Tk, Dv]")) ||
      failed(c.sameElementType(q, "query", k, "key")) ||
      failed(c.sameElementType(q, "query", v, "value")) ||
      failed(c.sameDim("batch", k, "key", 0, q, "query", 0)) ||
      failed(c.sameDim("batch", v, "value", 0, q, "query", 0)) ||
      failed(c.sameDim("head dim", k, "key", 3, q, "query", 3)) ||
      failed(c.sameDim("key/value head count", v, "value", 1, k, "key", 1)) ||
      failed(c.sameDim("key/value length", v, "value", 2, k, "key", 2)))
    return failure();

  int64_t heads = dimOf(q, 1), kvHeads = dimOf(k, 1);
  if (!ShapedType::isDynamic(heads) && !ShapedType::isDynamic(kvHeads) &&
      (kvHeads == 0 || heads % kvHeads != 0))
    return emitOpError() << "expects the query head count (" << heads
                         << ") to be a multiple of the key/value head count ("
                         << kvHeads << ")";

  Value qPos = getQPositions(), kPos = getKPositions();
  if (static_cast<bool>(qPos) != static_cast<bool>(kPos))
    return emitOpError(
        "expects q_positions and k_positions to be given together");
  if (qPos) {
    if (failed(c.rank(qPos, "q_positions", 2, "[B, Tq]")) ||
        failed(c.rank(kPos, "k_positions", 2, "[B, Tk]")) ||
        failed(c.sameDim("batch", qPos, "q_positions", 0, q, "query", 0)) ||
        failed(c.sameDim("query length", qPos, "q_positions", 1, q, "query",
                         2)) ||
        failed(c.sameDim("batch", kPos, "k_positions", 0, k, "key", 0)) ||
        failed(c.sameDim("key length", kPos, "k_positions", 1, k, "key", 2)))
      return failure();
  } else if (getCausal()) {
    int64_t tq = dimOf(q, 2), tk = dimOf(k, 2);
    if (!ShapedType::isDynamic(tq) && !ShapedType::isDynamic(tk) && tq > tk)
      return emitOpError() << "expects a causal query block no longer than "
                              "the keys without explicit positions, got Tq = "
                           << tq << " > Tk = " << tk;
  }

  if (auto chunk = getChunkSize(); chunk && failed(c.positive("chunk_size",
                                                             static_cast<int64_t>(*chunk))))
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

std::optional<double> AttentionOp::getEffectiveScale() {
  if (auto scale = getScaleAttr())
    return scale.getValueAsDouble();
  int64_t dh = dimOf(getQuery(), 3);
  if (ShapedType::isDynamic(dh) || dh <= 0)
    return std::nullopt;
  return 1.0 / std::sqrt(static_cast<double>(dh));
}

namespace {
/// A chunk at least as long as the keys is a single chunk: with implicit
/// positions and Tq <= Tk every query and key sits in [0, Tk), so drop
/// `chunk_size`.
struct DropTrivialChunk : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<uint64_t> chunk = op.getChunkSize();
    if (!chunk)
      return rewriter.notifyMatchFailure(op, "no chunk_size");
    if (op.getQPositions())
      return rewriter.notifyMatchFailure(op, "explicit positions");
    int64_t tk = dimOf(op.getKey(), 2), tq = dimOf(op.getQuery(), 2);
    if (ShapedType::isDynamic(tk) || tk > static_cast<int64_t>(*chunk))
      return rewriter.notifyMatchFailure(op, "keys may span several chunks");
    // With Tq > Tk (non-causal) the first queries sit at negative positions,
    // in another chunk than every key.
    if (ShapedType::isDynamic(tq) || tq > tk)
      return rewriter.notifyMatchFailure(op, "queries before position 0");
    rewriter.modifyOpInPlace(op, [&] { op.removeChunkSizeAttr(); });
    return success();
  }
};
} // namespace

void AttentionOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<DropTrivialChunk>(context);
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                       ValueRange operands, DictionaryAttr,
                                       OpaqueProperties, RegionRange,
                                       SmallVectorImpl<Type> &inferred) {
  inferred.push_back(operands[0].getType());
  return success();
}

LogicalResult RopeOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), pos = getPositions();
  if (failed(c.rank(x, "input", 4, "[B, H, T, Dh]")))
    return failure();
  auto posType = cast<RankedTensorType>(pos.getType());
  if (posType.getRank() == 2) {
    if (failed(c.sameDim("batch", pos, "positions", 0, x, "input", 0)) ||
        failed(c.sameDim("sequence length", pos, "positions", 1, x, "input",
                         2)))
      return failure();
  } else if (posType.getRank() == 1) {
    if (failed(c.sameDim("sequence length", pos, "positions", 0, x, "input",
                         2)))
      return failure();
  } else {
    return emitOpError() << "expects positions of rank 1 [T] or 2 [B, T], got "
                         << posType;
  }
  int64_t dh = dimOf(x, 3);
  if (!ShapedType::isDynamic(dh) && dh % 2 != 0)
    return emitOpError() << "expects an even head dim, got " << dh;
  return c.positive("theta", getTheta().convertToDouble());
}

//===----------------------------------------------------------------------===//
// RmsNormOp / LayerNormOp
//===----------------------------------------------------------------------===//

LogicalResult RmsNormOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location>,
                                          ValueRange operands, DictionaryAttr,
                                          OpaqueProperties, RegionRange,
                                          SmallVectorImpl<Type> &inferred) {
  inferred.push_back(operands[0].getType());
  return success();
}

/// A norm's optional per-feature parameter must be [D] of x's element type.
static LogicalResult verifyNormParam(ShapeChecker &c, Value x, Value param,
                                     StringRef name) {
  if (!param)
    return success();
  return failure(failed(c.rank(param, name, 1, "[D]")) ||
                 failed(c.sameElementType(x, "input", param, name)) ||
                 failed(c.sameDim("feature", param, name, 0, x, "input", -1)));
}

LogicalResult RmsNormOp::verify() {
  ShapeChecker c(*this);
  if (failed(c.rankAtLeast(getInput(), "input", 1)) ||
      failed(verifyNormParam(c, getInput(), getWeight(), "weight")))
    return failure();
  return c.positive("epsilon", getEpsilon().convertToDouble());
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location>,
                                            ValueRange operands, DictionaryAttr,
                                            OpaqueProperties, RegionRange,
                                            SmallVectorImpl<Type> &inferred) {
  inferred.push_back(operands[0].getType());
  return success();
}

LogicalResult LayerNormOp::verify() {
  ShapeChecker c(*this);
  if (failed(c.rankAtLeast(getInput(), "input", 1)) ||
      failed(verifyNormParam(c, getInput(), getWeight(), "weight")) ||
      failed(verifyNormParam(c, getInput(), getBias(), "bias")))
    return failure();
  return c.positive("epsilon", getEpsilon().convertToDouble());
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  auto ids = cast<RankedTensorType>(adaptor.getIds().getType());
  SmallVector<int64_t> shape(ids.getShape());
  shape.push_back(dimOf(adaptor.getTable(), 1));
  inferred.push_back(RankedTensorType::get(
      shape, getElementTypeOrSelf(adaptor.getTable().getType())));
  return success();
}

LogicalResult EmbeddingOp::verify() {
  ShapeChecker c(*this);
  if (failed(c.rank(getTable(), "table", 2, "[V, D]")))
    return failure();
  if (dimOf(getTable(), 0) == 0)
    return emitOpError("expects a non-empty table");
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Type x = adaptor.getInput().getType();
  bool transposed = static_cast<bool>(detail::inferenceAttr(
      adaptor.getTransposeWeightAttr(), attributes, "transpose_weight"));
  int64_t out = dimOf(adaptor.getWeight(), transposed ? 0 : 1);
  inferred.push_back(
      RankedTensorType::get(withLastDim(x, out), getElementTypeOrSelf(x)));
  return success();
}

LogicalResult LinearOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), w = getWeight();
  bool t = getTransposeWeight();
  if (failed(c.rankAtLeast(x, "input", 1)) ||
      failed(c.rank(w, "weight", 2, t ? "[O, I]" : "[I, O]")) ||
      failed(c.sameElementType(x, "input", w, "weight")) ||
      failed(c.sameDim("input feature", w, "weight", t ? 1 : 0, x, "input",
                       -1)))
    return failure();
  if (Value b = getBias())
    return failure(failed(c.rank(b, "bias", 1, "[O]")) ||
                   failed(c.sameElementType(x, "input", b, "bias")) ||
                   failed(c.sameDim("output feature", b, "bias", 0, w,
                                    "weight", t ? 0 : 1)));
  return success();
}

//===----------------------------------------------------------------------===//
// FfnOp
//===----------------------------------------------------------------------===//

LogicalResult FfnOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                      ValueRange operands,
                                      DictionaryAttr attributes,
                                      OpaqueProperties properties,
                                      RegionRange regions,
                                      SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  Type x = adaptor.getInput().getType();
  inferred.push_back(RankedTensorType::get(
      withLastDim(x, dimOf(adaptor.getWOut(), -1)), getElementTypeOrSelf(x)));
  return success();
}

LogicalResult FfnOp::verify() {
  ShapeChecker c(*this);
  Value x = getInput(), wIn = getWIn(), wOut = getWOut(), wGate = getWGate();
  bool isSwiglu = getActivation() == Activation::swiglu;
  if (isSwiglu && !wGate)
    return emitOpError("expects a w_gate operand with swiglu");
  if (!isSwiglu && wGate)
    return emitOpError() << "expects no w_gate operand with "
                         << stringifyActivation(getActivation());

  int64_t rank = cast<RankedTensorType>(wIn.getType()).getRank();
  if (rank != 2 && rank != 3)
    return emitOpError() << "expects w_in of rank 2 [D, F] or 3 [E, D, F] "
                            "(grouped), got "
                         << wIn.getType();
  bool grouped = rank == 3;
  int64_t o = grouped ? 1 : 0; // offset of the D/F dims in a weight
  if (failed(c.rank(wOut, "w_out", rank, grouped ? "[E, F, Do]" : "[F, Do]")) ||
      failed(c.sameElementType(x, "input", wIn, "w_in")) ||
      failed(c.sameElementType(x, "input", wOut, "w_out")) ||
      failed(c.sameDim("input feature", wIn, "w_in", o, x, "input", -1)) ||
      failed(c.sameDim("hidden feature", wOut, "w_out", o, wIn, "w_in",
                       o + 1)))
    return failure();
  if (grouped &&
      (failed(c.rank(x, "input", 3, "[E, N, D] (grouped)")) ||
       failed(c.sameDim("expert count", wIn, "w_in", 0, x, "input", 0)) ||
       failed(c.sameDim("expert count", wOut, "w_out", 0, x, "input", 0))))
    return failure();
  if (!grouped && failed(c.rankAtLeast(x, "input", 1)))
    return failure();
  if (wGate &&
      (failed(c.sameElementType(x, "input", wGate, "w_gate")) ||
       failed(c.sameShape(wIn, "w_in", wGate, "w_gate"))))
    return failure();
  return success();
}
