//===- CPUContractionPlan.cpp - How a contraction maps onto tiles ---------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "CPUContractionPlan.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace mlir::lctx::cpu;

Tiles mlir::lctx::cpu::hostTiles() {
  Tiles t;
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  if (features.lookup("avx512f")) {
    t.mr = 6;
    t.nr = 64;
    t.vl = 16;
  } else if (features.lookup("avx")) {
    t.mr = 6;
    t.nr = 16;
    t.vl = 8;
  } else {
    t.mr = 4;
    t.nr = 8;
    t.vl = 4;
  }
  return t;
}

namespace {

bool isF32Tensor(Type t) {
  auto rt = dyn_cast<RankedTensorType>(t);
  return rt && rt.hasStaticShape() && rt.getElementType().isF32();
}

/// The body is exactly `yield(addf(out, mulf(in0, in1)))`, operands of each
/// in either order.
bool isMulAddBody(Block &body) {
  if (body.getNumArguments() != 3 || body.getOperations().size() != 3)
    return false;
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!yield || yield.getNumOperands() != 1)
    return false;
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value a0 = body.getArgument(0), a1 = body.getArgument(1),
        out = body.getArgument(2);
  auto mul = add.getLhs().getDefiningOp<arith::MulFOp>();
  Value acc = add.getRhs();
  if (!mul) {
    mul = add.getRhs().getDefiningOp<arith::MulFOp>();
    acc = add.getLhs();
  }
  if (!mul || acc != out)
    return false;
  return (mul.getLhs() == a0 && mul.getRhs() == a1) ||
         (mul.getLhs() == a1 && mul.getRhs() == a0);
}

std::optional<unsigned> resultPos(AffineMap map, unsigned dim) {
  for (unsigned i = 0, e = map.getNumResults(); i < e; ++i)
    if (map.getDimPosition(i) == dim)
      return i;
  return std::nullopt;
}

/// Rows of A up to which a contraction whose B has K contiguous is left to
/// the generic vectorizer (dot products) instead of transposing B.
constexpr int64_t kFewRows = 4;

} // namespace

FailureOr<Plan> mlir::lctx::cpu::analyze(linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      op->getNumRegions() != 1)
    return failure();
  for (Value v : op->getOperands())
    if (!isF32Tensor(v.getType()))
      return failure();
  if (!isF32Tensor(op->getResult(0).getType()) || !isMulAddBody(*op.getBlock()))
    return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap m : maps)
    if (!m.isProjectedPermutation(/*allowZeroInResults=*/false))
      return failure();
  Plan p;
  p.op = op;
  p.extents = op.getStaticLoopRanges();
  if (llvm::any_of(p.extents,
                   [](int64_t e) { return ShapedType::isDynamic(e) || e < 1; }))
    return failure();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  p.cMap = maps[2];
  if (p.cMap.getNumResults() == 0)
    return failure();
  for (unsigned i = 0, e = p.cMap.getNumResults(); i < e; ++i)
    if (iters[p.cMap.getDimPosition(i)] != utils::IteratorType::parallel)
      return failure();
  p.nDim = p.cMap.getDimPosition(p.cMap.getNumResults() - 1);
  bool in0 = resultPos(maps[0], p.nDim).has_value();
  bool in1 = resultPos(maps[1], p.nDim).has_value();
  if (in0 == in1)
    return failure();
  p.bIdx = in0 ? 0 : 1;
  p.aIdx = 1 - p.bIdx;
  p.aMap = maps[p.aIdx];
  p.bMap = maps[p.bIdx];

  // K: the reduction dim both inputs index that is innermost in A.
  std::optional<unsigned> k;
  for (unsigned i = 0, e = p.aMap.getNumResults(); i < e; ++i) {
    unsigned d = p.aMap.getDimPosition(i);
    if (iters[d] == utils::IteratorType::reduction && resultPos(p.bMap, d))
      k = d;
  }
  if (!k)
    return failure();
  p.kDim = *k;

  // M: the innermost result dim (other than N) that only A indexes.
  for (unsigned i = 0, e = p.cMap.getNumResults(); i + 1 < e; ++i) {
    unsigned d = p.cMap.getDimPosition(i);
    if (resultPos(p.aMap, d) && !resultPos(p.bMap, d))
      p.mDim = d;
  }
  for (unsigned d = 0, e = p.extents.size(); d < e; ++d)
    if (d != p.nDim && d != p.kDim && d != p.mDim)
      p.outerDims.push_back(d);
  p.parallelizable = llvm::all_of(p.outerDims, [&](unsigned d) {
    return iters[d] == utils::IteratorType::parallel &&
           resultPos(p.cMap, d).has_value();
  });

  // A fill folds into the first K block only when K is the one reduction
  // dim: with another (outer) one, every outer iteration starts a K loop.
  bool oneReduction = llvm::none_of(p.outerDims, [&](unsigned d) {
    return iters[d] == utils::IteratorType::reduction;
  });
  if (auto fill = op.getDpsInits()[0].getDefiningOp<linalg::FillOp>())
    if (oneReduction && fill.hasPureTensorSemantics() &&
        fill.getDpsInputs()[0].getType().isF32())
      p.fillValue = fill.getDpsInputs()[0];

  // Transpose B so that N is its last (contiguous) dimension.
  unsigned bRank = p.bMap.getNumResults();
  unsigned nPos = *resultPos(p.bMap, p.nDim);
  // A few rows of A against a B whose contiguous dimension is K (attention
  // scores of a decode step over a KV cache, q . k[j]): the transpose would
  // copy all of B for a handful of rows. Left to the generic vectorizer,
  // every output is a dot product along K, read in place.
  int64_t rows = p.mDim ? p.extents[*p.mDim] : 1;
  if (nPos != bRank - 1 && rows <= kFewRows &&
      p.bMap.getDimPosition(bRank - 1) == p.kDim)
    return failure();
  if (nPos != bRank - 1) {
    for (unsigned i = 0; i < bRank; ++i)
      if (i != nPos)
        p.bPerm.push_back(i);
    p.bPerm.push_back(nPos);
  }
  return p;
}
