//===- TransferWriteGuard.cpp - Keep partial transfer writes correct ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// One-shot bufferization decides whether `vector.transfer_write` reads its
// destination tensor (i.e. whether an out-of-place write must first copy
// the old contents into the new buffer). MLIR 19 answers "no read" when all
// indices are constant zeros and it zips the destination shape with the
// vector shape from the front: a vector<16xf32> written at [0, 0] of a
// tensor<2x16xf32> compares 2 with 16 and is taken to overwrite the whole
// tensor, so an out-of-place write leaves row 1 of the new buffer
// uninitialized. Our vector code writes register tiles exactly like that
// (the first tile of a matmul result).
//
// `lctx-guard-partial-transfer-writes` (before bufferization) gives such a
// write a full-rank vector with leading unit dims (vector.shape_cast), for
// which the dims zip correctly; `lctx-fold-unit-transfer-writes` (after
// bufferization) turns it back into the original minor-identity write on
// the buffer, so the LLVM lowering sees the 1-D transfer it handles best.
//
//===----------------------------------------------------------------------===//

#include "CPUCodegen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;

namespace {

/// Whether the write is a plain (unmasked, minor-identity) write of a
/// vector of lower rank than its destination.
bool isLowRankMinorIdentityWrite(vector::TransferWriteOp op) {
  auto dest = dyn_cast<ShapedType>(op.getSource().getType());
  VectorType vec = op.getVectorType();
  return dest && !op.getMask() && vec.getRank() < dest.getRank() &&
         op.getPermutationMap().isMinorIdentity() && !vec.isScalable();
}

/// Whether the write covers every element of its (static) destination: the
/// leading dims the vector does not span are 1, the trailing ones match.
bool coversDestination(vector::TransferWriteOp op) {
  auto dest = cast<ShapedType>(op.getSource().getType());
  if (!dest.hasStaticShape())
    return false;
  for (Value idx : op.getIndices())
    if (getConstantIntValue(idx) != 0)
      return false;
  ArrayRef<int64_t> shape = dest.getShape();
  ArrayRef<int64_t> vshape = op.getVectorType().getShape();
  size_t lead = shape.size() - vshape.size();
  for (size_t i = 0; i < lead; ++i)
    if (shape[i] != 1)
      return false;
  for (size_t i = 0; i < vshape.size(); ++i)
    if (shape[lead + i] > vshape[i])
      return false;
  return true;
}

/// Whether MLIR 19 takes the write to overwrite its whole destination
/// (constant zero indices, static shape, no mask, and the front-zipped
/// shape check passes).
bool judgedFullOverwrite(vector::TransferWriteOp op) {
  auto dest = cast<ShapedType>(op.getSource().getType());
  if (!dest.hasStaticShape() || op.getMask())
    return false;
  for (Value idx : op.getIndices())
    if (getConstantIntValue(idx) != 0)
      return false;
  for (auto [d, v] :
       llvm::zip(dest.getShape(), op.getVectorType().getShape()))
    if (d > v)
      return false;
  return true;
}

struct GuardPartialTransferWritesPass
    : PassWrapper<GuardPartialTransferWritesPass,
                  OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(GuardPartialTransferWritesPass)
  StringRef getArgument() const final {
    return "lctx-guard-partial-transfer-writes";
  }
  StringRef getDescription() const final {
    return "Give partial vector.transfer_write ops on tensors a full-rank "
           "vector so that bufferization keeps the unwritten elements";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<vector::VectorDialect>();
  }
  void runOnOperation() override {
    SmallVector<vector::TransferWriteOp> writes;
    getOperation().walk([&](vector::TransferWriteOp op) {
      if (isa<RankedTensorType>(op.getSource().getType()) &&
          isLowRankMinorIdentityWrite(op) && judgedFullOverwrite(op) &&
          !coversDestination(op))
        writes.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (vector::TransferWriteOp op : writes) {
      auto dest = cast<RankedTensorType>(op.getSource().getType());
      VectorType vec = op.getVectorType();
      int64_t lead = dest.getRank() - vec.getRank();
      SmallVector<int64_t> shape(lead, 1);
      llvm::append_range(shape, vec.getShape());
      auto wide = VectorType::get(shape, vec.getElementType());
      SmallVector<bool> inBounds(lead, true);
      for (int64_t i = 0; i < vec.getRank(); ++i)
        inBounds.push_back(op.isDimInBounds(i));
      rewriter.setInsertionPoint(op);
      Value cast = rewriter.create<vector::ShapeCastOp>(op.getLoc(), wide,
                                                        op.getVector());
      rewriter.replaceOpWithNewOp<vector::TransferWriteOp>(
          op, cast, op.getSource(), op.getIndices(),
          AffineMapAttr::get(
              AffineMap::getMultiDimIdentityMap(dest.getRank(), &getContext())),
          rewriter.getBoolArrayAttr(inBounds));
    }
  }
};

/// transfer_write(shape_cast(v : vector<W...>) : vector<1x..x1xW...>) on a
/// memref with an identity map -> transfer_write(v) with a minor-identity
/// map.
LogicalResult foldUnitTransferWrite(vector::TransferWriteOp op,
                                    RewriterBase &rewriter) {
  {
    auto dest = dyn_cast<MemRefType>(op.getSource().getType());
    auto cast = op.getVector().getDefiningOp<vector::ShapeCastOp>();
    if (!dest || !cast || op.getMask() ||
        !op.getPermutationMap().isIdentity())
      return failure();
    VectorType wide = op.getVectorType(), narrow = cast.getSourceVectorType();
    int64_t lead = wide.getRank() - narrow.getRank();
    if (lead <= 0 || narrow.getRank() == 0 ||
        wide.getShape().drop_front(lead) != narrow.getShape() ||
        llvm::any_of(wide.getShape().take_front(lead),
                     [](int64_t d) { return d != 1; }))
      return failure();
    SmallVector<bool> inBounds;
    for (int64_t i = lead; i < wide.getRank(); ++i)
      inBounds.push_back(op.isDimInBounds(i));
    AffineMap map = AffineMap::getMinorIdentityMap(
        dest.getRank(), narrow.getRank(), rewriter.getContext());
    rewriter.replaceOpWithNewOp<vector::TransferWriteOp>(
        op, cast.getSource(), op.getSource(), op.getIndices(),
        AffineMapAttr::get(map), rewriter.getBoolArrayAttr(inBounds));
    return success();
  }
}

struct FoldUnitTransferWritesPass
    : PassWrapper<FoldUnitTransferWritesPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FoldUnitTransferWritesPass)
  StringRef getArgument() const final {
    return "lctx-fold-unit-transfer-writes";
  }
  StringRef getDescription() const final {
    return "Turn transfer writes of unit-dim-padded vectors on buffers back "
           "into minor-identity writes of the original vectors";
  }
  void runOnOperation() override {
    SmallVector<vector::TransferWriteOp> writes;
    getOperation().walk(
        [&](vector::TransferWriteOp op) { writes.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (vector::TransferWriteOp op : writes) {
      rewriter.setInsertionPoint(op);
      Value vec = op.getVector();
      if (succeeded(foldUnitTransferWrite(op, rewriter)))
        if (Operation *def = vec.getDefiningOp(); def && def->use_empty())
          rewriter.eraseOp(def);
    }
  }
};

} // namespace

std::unique_ptr<Pass> mlir::lctx::createGuardPartialTransferWritesPass() {
  return std::make_unique<GuardPartialTransferWritesPass>();
}

std::unique_ptr<Pass> mlir::lctx::createFoldUnitTransferWritesPass() {
  return std::make_unique<FoldUnitTransferWritesPass>();
}

void mlir::lctx::registerTransferWriteGuardPasses() {
  PassRegistration<GuardPartialTransferWritesPass>();
  PassRegistration<FoldUnitTransferWritesPass>();
}
