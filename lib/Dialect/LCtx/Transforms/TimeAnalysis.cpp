//===- TimeAnalysis.cpp - Token dimensions of a prefill -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "TimeAnalysis.h"

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "lctx/Dialect/LCtx/IR/LCtxOps.h"

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::derive;

template <typename OpT>
static FailureOr<OpT> uniqueOp(func::FuncOp func) {
  SmallVector<OpT> ops(func.getBody().front().getOps<OpT>());
  if (ops.size() != 1)
    return func.emitOpError()
           << "a two-rate decode needs exactly one '"
           << OpT::getOperationName() << "', found " << ops.size();
  return ops.front();
}

LogicalResult TimeAnalysis::seedPatches() {
  FailureOr<PatchEmbedOp> embed = uniqueOp<PatchEmbedOp>(func);
  FailureOr<PatchToLocalOp> toLocal = uniqueOp<PatchToLocalOp>(func);
  if (failed(embed) || failed(toLocal))
    return failure();
  if (embed->getPos())
    return embed->emitOpError()
           << "has no one-patch form with a positional table yet";
  auto global = cast<RankedTensorType>(embed->getType());
  auto localType = cast<RankedTensorType>(toLocal->getType());
  batch = global.getDimSize(0);
  if (rate == Rate::Global) {
    tokens = global.getDimSize(1);
    dims[embed->getResult()] = 1;
    return success();
  }
  tokens = localType.getDimSize(1);
  localBatch = localType.getDimSize(0);
  dims[toLocal->getResult()] = 1;
  local.insert(toLocal->getResult());
  return success();
}

/// Marks the timed results of an op reading local values local, and checks
/// that they keep the patch batch in dimension 0.
LogicalResult TimeAnalysis::propagateLocal(Operation *op) {
  if (!llvm::any_of(op->getOperands(),
                    [&](Value v) { return local.contains(v); }) ||
      isa<PatchMergeOp>(op))
    return success();
  SmallVector<Value> produced(op->getResults());
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    for (Value init : linalgOp.getDpsInits())
      produced.push_back(init);
  for (Value v : produced) {
    if (of(v) == kNoTime)
      continue;
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getDimSize(0) != localBatch)
      return unsupported(op)
             << ": the local model must keep its patches (" << localBatch
             << ") in dimension 0";
    local.insert(v);
  }
  return success();
}

LogicalResult TimeAnalysis::run() {
  if (rate != Rate::Token) {
    if (failed(seedPatches()))
      return failure();
    for (Operation &op : func.getBody().front())
      if (failed(visit(&op)) || failed(propagateLocal(&op)))
        return failure();
    return success();
  }
  for (BlockArgument arg : func.getArguments()) {
    if (!func.getArgAttr(arg.getArgNumber(), LCtxDialect::getInputAttrName()))
      continue;
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getRank() < 2)
      continue;
    if (type.isDynamicDim(1))
      return func.emitOpError() << "input " << arg.getArgNumber()
                                << " has a dynamic token dimension";
    if (tokens && type.getDimSize(1) != tokens)
      return func.emitOpError()
             << "inputs disagree on the number of tokens (" << tokens
             << " vs " << type.getDimSize(1) << " in input "
             << arg.getArgNumber() << ")";
    tokens = type.getDimSize(1);
    dims[arg] = 1;
  }
  if (!tokens)
    return func.emitOpError()
           << "has no token input to derive a decode step from (an "
              "lctx.input argument of rank >= 2 whose dimension 1 is time)";
  for (Operation &op : func.getBody().front())
    if (failed(visit(&op)))
      return failure();
  return success();
}

LogicalResult TimeAnalysis::visit(Operation *op) {
  auto timed = [&](Value v) { return of(v) != kNoTime; };
  bool anyTimed = llvm::any_of(op->getOperands(), timed);

  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return visitLinalg(linalgOp);
  if (isa<tensor::EmptyOp>(op))
    return success(); // typed by the structured op that fills it
  if (!anyTimed)
    return success();

  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
    return visitReshape(op, expand.getSrc(), expand.getResult(),
                        expand.getReassociationIndices(), /*expand=*/true);
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op))
    return visitReshape(op, collapse.getSrc(), collapse.getResult(),
                        collapse.getReassociationIndices(), /*expand=*/false);
  if (isa<func::ReturnOp, tensor::DimOp>(op))
    return success();
  // The global step ends where the local model begins; the local step ends
  // with the merge of its output back to bytes.
  if (isa<PatchToLocalOp>(op) && rate == Rate::Global)
    return success();
  if (isa<PatchMergeOp>(op) && rate == Rate::Local) {
    set(op->getResult(0), 1);
    return success();
  }

  // Ops whose first result is per token, like their first operand.
  auto likeFirst = [&]() {
    set(op->getResult(0), of(op->getOperand(0)));
    return success();
  };
  if (isa<EmbeddingOp>(op)) {
    set(op->getResult(0), of(op->getOperand(1)));
    return success();
  }
  if (isa<RmsNormOp, LayerNormOp, LinearOp, FfnOp, MemoryGateOp,
          MemoryRetrieveOp, RopeOp, CemaScanOp, CemaTimestepNormOp,
          RouteMoeOp>(op)) {
    // Only the activations may carry time; weights and carried state not.
    for (OpOperand &operand : op->getOpOperands()) {
      bool activation = operand.getOperandNumber() == 0 ||
                        (isa<MemoryGateOp>(op) &&
                         operand.getOperandNumber() == 1) ||
                        (isa<RopeOp>(op) && operand.getOperandNumber() == 1);
      if (timed(operand.get()) && !activation)
        return unsupported(op) << ": operand " << operand.getOperandNumber()
                               << " depends on the tokens";
    }
    if (!timed(op->getOperand(0)))
      return unsupported(op) << ": its input does not carry the tokens";
    return likeFirst();
  }
  // Mixture-of-Depths: the routed tokens, in order, are a sequence of
  // their own whose one-token form is the token itself (or nothing).
  if (isa<RouteDepthOp>(op)) {
    if (of(op->getOperand(0)) != 1 || timed(op->getOperand(1)))
      return unsupported(op) << ": it must route the tokens of dimension 1";
    set(op->getResult(0), 1);
    set(op->getResult(1), 1);
    return success();
  }
  if (isa<RouteGatherOp, RouteScatterAddOp>(op)) {
    if (of(op->getOperand(0)) != 1)
      return unsupported(op) << ": its input must carry the tokens in "
                                "dimension 1";
    set(op->getResult(0), 1);
    return success();
  }
  if (auto attention = dyn_cast<AttentionOp>(op)) {
    if (attention.getQPositions() &&
        (attention.getQPositions() != attention.getKPositions() ||
         of(attention.getQPositions()) != 1 || attention.getChunkSize()))
      return unsupported(op)
             << ": explicit positions have a cached form only when queries "
                "and keys share them (the tokens a router selected) and the "
                "attention is not chunked";
    if (!attention.getCausal())
      return unsupported(op) << ": non-causal attention sees later tokens";
    for (Value v : {attention.getQuery(), attention.getKey(),
                    attention.getValue()})
      if (of(v) != 2)
        return unsupported(op)
               << ": query, key and value must carry the tokens in "
                  "dimension 2";
    return likeFirst();
  }
  if (auto memory = dyn_cast<MemoryAttentionOp>(op)) {
    for (Value v : {memory.getQuery(), memory.getKey(), memory.getValue()})
      if (of(v) != 2)
        return unsupported(op)
               << ": query, key and value must carry the tokens in "
                  "dimension 2";
    for (Value v : {memory.getMemory(), memory.getNorm(), memory.getBeta()})
      if (timed(v))
        return unsupported(op) << ": the memory depends on the tokens";
    return likeFirst();
  }
  if (op->hasTrait<OpTrait::Elementwise>() && op->getNumResults() == 1) {
    int64_t d = kNoTime;
    for (Value v : op->getOperands()) {
      if (!timed(v))
        continue;
      if (d != kNoTime && of(v) != d)
        return unsupported(op) << ": operands carry the tokens in different "
                                  "dimensions";
      d = of(v);
    }
    // Broadcasting a token-free operand against a timed one is not
    // elementwise in MLIR's sense, so all operands have the same shape.
    set(op->getResult(0), d);
    return success();
  }
  return unsupported(op) << ": it reads a value that depends on the tokens";
}

LogicalResult TimeAnalysis::visitLinalg(linalg::LinalgOp op) {
  // The loop that walks the tokens, from any operand that carries them.
  std::optional<unsigned> loop;
  for (OpOperand &operand : op->getOpOperands()) {
    int64_t d = of(operand.get());
    if (d == kNoTime)
      continue;
    AffineExpr expr = op.getMatchingIndexingMap(&operand).getResult(d);
    auto dim = dyn_cast<AffineDimExpr>(expr);
    if (!dim)
      return unsupported(op) << ": operand " << operand.getOperandNumber()
                             << " is indexed along the tokens by an "
                                "expression, not by a loop";
    if (loop && *loop != dim.getPosition())
      return unsupported(op) << ": operands walk the tokens with different "
                                "loops";
    loop = dim.getPosition();
  }
  if (!loop)
    return success();
  if (op.getIteratorTypesArray()[*loop] != utils::IteratorType::parallel)
    return unsupported(op) << ": it reduces over the tokens";
  // Every operand indexed by that loop carries the tokens (a token-free
  // operand indexed by it would be a table over positions).
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    std::optional<unsigned> pos =
        map.getResultPosition(getAffineDimExpr(*loop, op.getContext()));
    if (op.isDpsInput(&operand)) {
      if (pos && of(operand.get()) != int64_t(*pos))
        return unsupported(op) << ": operand " << operand.getOperandNumber()
                               << " is indexed by the token loop but does "
                                  "not depend on the tokens";
      continue;
    }
    if (!pos)
      return unsupported(op) << ": its result drops the token dimension";
    set(operand.get(), *pos);
    if (auto empty = operand.get().getDefiningOp<tensor::EmptyOp>())
      set(empty.getResult(), *pos);
    else if (of(operand.get()) != int64_t(*pos))
      return unsupported(op) << ": its init operand "
                             << operand.getOperandNumber()
                             << " is shared across tokens";
    set(op->getResult(operand.getOperandNumber() - op.getNumDpsInputs()),
        *pos);
  }
  return success();
}

LogicalResult TimeAnalysis::visitReshape(Operation *op, Value src,
                                         Value result,
                                         ArrayRef<ReassociationIndices> groups,
                                         bool expand) {
  int64_t d = of(src);
  auto srcType = cast<RankedTensorType>(src.getType());
  auto resType = cast<RankedTensorType>(result.getType());
  // Expand: source dim i <-> group i of result dims; collapse: the reverse.
  RankedTensorType wide = expand ? resType : srcType;
  for (auto [index, group] : llvm::enumerate(groups)) {
    bool holds = expand ? int64_t(index) == d : llvm::is_contained(group, d);
    if (!holds)
      continue;
    // The token dimension must stay whole: every other dim of the group 1.
    int64_t timeDim = kNoTime;
    for (int64_t w : group) {
      if (expand ? wide.getDimSize(w) == srcType.getDimSize(d) &&
                       timeDim == kNoTime
                 : w == d) {
        timeDim = w;
        continue;
      }
      if (wide.getDimSize(w) != 1)
        return unsupported(op) << ": it splits or merges the token dimension";
    }
    if (timeDim == kNoTime)
      return unsupported(op) << ": it splits the token dimension";
    set(result, expand ? timeDim : int64_t(index));
    return success();
  }
  return unsupported(op) << ": malformed reassociation";
}

/// Clones a prefill into its decode step.
