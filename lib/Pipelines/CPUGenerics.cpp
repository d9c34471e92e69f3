//===- CPUGenerics.cpp - Vectorized elementwise and reduction generics ----===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Rewrites linalg.generic ops on tensors whose body is arith/math scalar code
// into loops whose innermost dimension (the last loop dim) is processed in
// vectors of the native length, with static power-of-two tail chunks:
//
//  * last loop dim parallel: every operand either indexes it as its last
//    (contiguous) dimension, read as a vector, or not at all, read as a
//    scalar and broadcast; the body is cloned on vectors and the result
//    written back as a vector. Outer dims (reductions included) stay scalar
//    loops in their original order, so the semantics are exactly those of
//    the loop nest.
//  * last loop dim a reduction whose body is
//      out' = combine(out, x)   or   out' = select(c, combine(out, x), out)
//    with combine in {addf, maximumf, minimumf, maxnumf, minnumf}: x (and c)
//    are computed on vectors, masked lanes take combine's identity, lanes
//    are combined into one vector accumulator and reduced at the end. Sums
//    are reassociated (lane-wise partial sums); min/max are exact.
//
// An elementwise generic whose init is a mere shape first takes a dead
// input of the same type as its init, so that it can run in place.
//
// Threads: when the generic does at least `parallel-work` scalar operations
// (iteration points times body ops) and its leading dims are parallel and
// index the result, those dims run as an scf.forall (which the CPU pipeline
// runs on the OpenMP thread pool): each iteration owns one index of the
// dims before a split dim and a chunk of rows of the split dim, and writes
// that slice of the result with tensor.parallel_insert_slice. Reductions
// never cross iterations, so results are bit-identical for any thread
// count. A generic inside another scf.forall stays sequential.
//
// Anything else (tensor.extract in the body, transposed operand access,
// several results, dynamic shapes) is left to the loop lowering. math.exp
// math.erf, math.sin and math.cos on new f32 vectors use MLIR's
// polynomial approximations.
// Vector math ops that are exact single instructions (fma, floor, sqrt,
// ...) become LLVM intrinsics here, since the pipeline's math-to-libm would
// scalarize them into libm calls; the other vector math ops (tanh, ...)
// are.
//
//===----------------------------------------------------------------------===//

#include "CPUCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

using namespace mlir;

namespace {

/// ceil(a / b) for a >= 0, b > 0.
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The reduction form of a generic's body.
struct Reduction {
  Operation *combine = nullptr;
  vector::CombiningKind kind;
  /// The value combined into `out`, and the optional lane mask.
  Value x, mask;
};

std::optional<vector::CombiningKind> combiningKind(Operation *op) {
  if (isa<arith::AddFOp>(op))
    return vector::CombiningKind::ADD;
  if (isa<arith::MaximumFOp>(op))
    return vector::CombiningKind::MAXIMUMF;
  if (isa<arith::MinimumFOp>(op))
    return vector::CombiningKind::MINIMUMF;
  if (isa<arith::MaxNumFOp>(op))
    return vector::CombiningKind::MAXNUMF;
  if (isa<arith::MinNumFOp>(op))
    return vector::CombiningKind::MINNUMF;
  return std::nullopt;
}

/// The value that leaves the accumulator unchanged.
TypedAttr identity(vector::CombiningKind kind, FloatType type) {
  const llvm::fltSemantics &sem = type.getFloatSemantics();
  switch (kind) {
  case vector::CombiningKind::ADD:
    return FloatAttr::get(type, APFloat::getZero(sem, /*Negative=*/true));
  case vector::CombiningKind::MAXIMUMF:
  case vector::CombiningKind::MAXNUMF:
    return FloatAttr::get(type, APFloat::getInf(sem, /*Negative=*/true));
  default:
    return FloatAttr::get(type, APFloat::getInf(sem, /*Negative=*/false));
  }
}

/// Matches `yield(combine(out, x))` or `yield(select(c, combine(out, x),
/// out))` where nothing else uses `out`.
std::optional<Reduction> matchReduction(Block &body, Value out) {
  Value y = body.getTerminator()->getOperand(0);
  Reduction r;
  Operation *def = y.getDefiningOp();
  if (auto select = dyn_cast_or_null<arith::SelectOp>(def)) {
    if (select.getFalseValue() != out || !select->hasOneUse())
      return std::nullopt;
    r.mask = select.getCondition();
    def = select.getTrueValue().getDefiningOp();
  }
  if (!def || def->getNumOperands() != 2)
    return std::nullopt;
  std::optional<vector::CombiningKind> kind = combiningKind(def);
  if (!kind)
    return std::nullopt;
  r.kind = *kind;
  r.combine = def;
  if (def->getOperand(0) == out)
    r.x = def->getOperand(1);
  else if (def->getOperand(1) == out)
    r.x = def->getOperand(0);
  else
    return std::nullopt;
  // `out` feeds only the combine and the select.
  for (OpOperand &use : out.getUses())
    if (use.getOwner() != def && use.getOwner() != y.getDefiningOp())
      return std::nullopt;
  if (r.x == out || r.mask == out || !r.combine->getResult(0).hasOneUse())
    return std::nullopt;
  return r;
}

bool isScalar(Type t) { return t.isIntOrFloat(); }

/// Math ops whose vector form the rest of the pipeline lowers: to LLVM
/// intrinsics here or in math-to-llvm, or per lane to libm.
bool isSupportedVectorMathOp(Operation &op) {
  return isa<math::AbsFOp, math::AtanOp, math::Atan2Op, math::CeilOp,
             math::CopySignOp, math::CosOp, math::ErfOp, math::ExpOp,
             math::Exp2Op, math::ExpM1Op, math::FloorOp, math::FmaOp,
             math::LogOp, math::Log10Op, math::Log1pOp, math::Log2Op,
             math::PowFOp, math::RoundEvenOp, math::RoundOp, math::SinOp,
             math::SqrtOp, math::TanOp, math::TanhOp, math::TruncOp>(op);
}

/// Body ops that can be cloned on vectors.
bool isVectorizableBodyOp(Operation &op) {
  if (isa<linalg::YieldOp, linalg::IndexOp, arith::ConstantOp>(op))
    return true;
  if (!isa<arith::ArithDialect, math::MathDialect>(op.getDialect()) ||
      op.getNumRegions() != 0 || op.getNumResults() != 1 ||
      !op.hasTrait<OpTrait::Elementwise>())
    return false;
  if (isa<math::MathDialect>(op.getDialect()) && !isSupportedVectorMathOp(op))
    return false;
  return llvm::all_of(op.getOperandTypes(),
                      [](Type t) { return isScalar(t) || t.isIndex(); }) &&
         (isScalar(op.getResult(0).getType()) ||
          op.getResult(0).getType().isIndex());
}

struct Plan {
  linalg::GenericOp op;
  unsigned vDim = 0;
  int64_t vExtent = 0;
  SmallVector<int64_t> extents;
  std::optional<Reduction> reduction;
  /// The forall, when there is one: iteration = (index of dims
  /// [0, splitDim)) x (chunk of `rows` indices of splitDim).
  bool parallel = false;
  unsigned splitDim = 0;
  int64_t chunks = 1, rows = 0;
};

/// Forall iterations a parallel generic aims at.
constexpr int64_t kParallelChunks = 64;

/// Decides whether `p` runs as a forall (see the file comment) and how it
/// is split.
void planThreads(Plan &p, int64_t minWork) {
  linalg::GenericOp op = p.op;
  if (minWork <= 0 || op->getParentOfType<scf::ForallOp>())
    return;
  int64_t bodyOps = std::max<int64_t>(
      1, static_cast<int64_t>(op.getBlock()->getOperations().size()) - 1);
  int64_t work = bodyOps;
  for (int64_t e : p.extents)
    work *= e;
  if (work < minWork)
    return;
  // Leading dims that are parallel and index the result.
  AffineMap initMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  unsigned lead = 0;
  while (lead < p.vDim && iters[lead] == utils::IteratorType::parallel &&
         initMap.getResultPosition(getAffineDimExpr(lead, op.getContext())))
    ++lead;
  if (lead == 0)
    return;
  // The first leading dim by which there are enough iterations is split.
  unsigned split = 0;
  int64_t before = 1;
  while (split + 1 < lead && before * p.extents[split] < kParallelChunks)
    before *= p.extents[split++];
  int64_t extent = p.extents[split];
  int64_t chunks =
      std::min(extent, std::max<int64_t>(1, ceilDiv(
                                                kParallelChunks, before)));
  p.rows = ceilDiv(extent, chunks);
  p.chunks = ceilDiv(extent, p.rows);
  p.splitDim = split;
  p.parallel = before * p.chunks >= 2;
}

FailureOr<Plan> analyze(linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
      op->getNumResults() != 1 || op.getNumLoops() == 0)
    return failure();
  Plan p;
  p.op = op;
  p.extents = op.getStaticLoopRanges();
  if (llvm::any_of(p.extents,
                   [](int64_t e) { return ShapedType::isDynamic(e) || e < 1; }))
    return failure();
  p.vDim = op.getNumLoops() - 1;
  p.vExtent = p.extents[p.vDim];
  if (p.vExtent < 2)
    return failure();
  for (OpOperand &operand : op->getOpOperands()) {
    // Whole bytes only: a vector<16xi1> in memory is bit-packed, an i1
    // buffer is not.
    auto type = dyn_cast<RankedTensorType>(operand.get().getType());
    if (!type || !isScalar(type.getElementType()) ||
        type.getElementTypeBitWidth() % 8 != 0)
      return failure();
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/false))
      return failure();
    // The vector dim, if indexed, must be the contiguous (last) one.
    for (unsigned i = 0, e = map.getNumResults(); i < e; ++i)
      if (map.getDimPosition(i) == p.vDim && i + 1 != e)
        return failure();
  }
  Block &body = *op.getBlock();
  for (Operation &bodyOp : body)
    if (!isVectorizableBodyOp(bodyOp))
      return failure();
  if (body.getTerminator()->getNumOperands() != 1)
    return failure();

  AffineMap initMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  bool initHasV = llvm::any_of(initMap.getResults(), [&](AffineExpr e) {
    return cast<AffineDimExpr>(e).getPosition() == p.vDim;
  });
  if (op.getIteratorTypesArray()[p.vDim] == utils::IteratorType::parallel) {
    if (!initHasV)
      return failure();
    return p;
  }
  if (initHasV)
    return failure();
  Value out = body.getArgument(op.getNumDpsInputs());
  p.reduction = matchReduction(body, out);
  if (!p.reduction ||
      !isa<FloatType>(p.reduction->combine->getResult(0).getType()))
    return failure();
  return p;
}

/// An elementwise generic whose init is only a shape (its block argument is
/// unused) writes into an input instead when that input has the result's
/// type and indexing map and no other use, and is the result of a
/// destination-style op or a loop (not an argument or a view): bufferization
/// can then update the
/// input's buffer in place instead of allocating one more. Returns the new
/// op, or the old one when nothing applies.
linalg::GenericOp reuseDeadInput(RewriterBase &rewriter, linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
      op->getNumResults() != 1 || op.getNumReductionLoops() != 0)
    return op;
  Block &body = *op.getBlock();
  OpOperand *init = op.getDpsInitOperand(0);
  if (!body.getArgument(init->getOperandNumber()).use_empty())
    return op;
  AffineMap initMap = op.getMatchingIndexingMap(init);
  OpOperand *reuse = nullptr;
  for (OpOperand *in : op.getDpsInputOperands()) {
    Value v = in->get();
    // Results of destination-style ops and loops are whole tensors of
    // their own (not views such as slices of an argument).
    Operation *def = v.getDefiningOp();
    if (v.getType() == init->get().getType() && def &&
        isa<DestinationStyleOpInterface, scf::ForOp>(def) && v.hasOneUse() &&
        op.getMatchingIndexingMap(in) == initMap) {
      reuse = in;
      break;
    }
  }
  if (!reuse)
    return op;
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  for (OpOperand *in : op.getDpsInputOperands())
    if (in != reuse) {
      inputs.push_back(in->get());
      maps.push_back(op.getMatchingIndexingMap(in));
    }
  maps.push_back(initMap);
  rewriter.setInsertionPoint(op);
  auto newOp = rewriter.create<linalg::GenericOp>(
      op.getLoc(), op->getResultTypes(), inputs, ValueRange{reuse->get()}, maps,
      op.getIteratorTypesArray());
  // Same body; the reused input's argument becomes the init's.
  SmallVector<Type> argTypes;
  SmallVector<Location> argLocs;
  for (Value v : inputs) {
    argTypes.push_back(getElementTypeOrSelf(v.getType()));
    argLocs.push_back(op.getLoc());
  }
  argTypes.push_back(getElementTypeOrSelf(reuse->get().getType()));
  argLocs.push_back(op.getLoc());
  Block *block =
      rewriter.createBlock(&newOp.getRegion(), {}, argTypes, argLocs);
  IRMapping map;
  unsigned next = 0;
  for (OpOperand *in : op.getDpsInputOperands())
    map.map(body.getArgument(in->getOperandNumber()),
            in == reuse ? block->getArgument(inputs.size())
                        : block->getArgument(next++));
  rewriter.setInsertionPointToStart(block);
  for (Operation &bodyOp : body)
    rewriter.clone(bodyOp, map);
  rewriter.replaceOp(op, newOp->getResults());
  return newOp;
}

class Emitter {
public:
  Emitter(const Plan &p, int64_t vl, Location loc,
          SmallVectorImpl<Operation *> &expOps)
      : p(p), op(p.op), vl(vl), loc(loc), dims(p.extents.size()),
        base(p.extents.size()), lo(p.extents.size()), hi(p.extents.size()),
        fixed(p.extents.size(), false), expOps(expOps) {}

  Value emit(OpBuilder &b) {
    if (p.parallel)
      return emitForall(b, op.getDpsInits()[0]);
    return emitOuter(b, op.getDpsInits()[0], 0);
  }

private:
  Value cst(OpBuilder &b, int64_t v) {
    return b.create<arith::ConstantIndexOp>(loc, v);
  }

  SmallVector<Value> indices(AffineMap map) {
    SmallVector<Value> idx;
    for (unsigned i = 0, e = map.getNumResults(); i < e; ++i)
      idx.push_back(dims[map.getDimPosition(i)]);
    return idx;
  }

  /// Indices into the result, relative to the slice a forall iteration
  /// owns.
  SmallVector<Value> initIndices(OpBuilder &b) {
    AffineMap map = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
    SmallVector<Value> idx;
    for (unsigned i = 0, e = map.getNumResults(); i < e; ++i) {
      unsigned d = map.getDimPosition(i);
      if (!base[d])
        idx.push_back(dims[d]);
      else if (base[d] == dims[d])
        idx.push_back(cst(b, 0));
      else
        idx.push_back(b.create<arith::SubIOp>(loc, dims[d], base[d]));
    }
    return idx;
  }

  /// The forall over the leading dims (Plan::splitDim); each iteration
  /// runs the loops of its slice of the result.
  Value emitForall(OpBuilder &b, Value init) {
    unsigned s = p.splitDim;
    int64_t iterations = p.chunks;
    for (unsigned d = 0; d < s; ++d)
      iterations *= p.extents[d];
    auto forall = b.create<scf::ForallOp>(
        loc, ArrayRef<OpFoldResult>{b.getIndexAttr(iterations)},
        ValueRange{init}, std::nullopt,
        [&](OpBuilder &fb, Location, ValueRange regionArgs) {
          Value rest = regionArgs[0], shared = regionArgs[1];
          // iv = (index of dims [0, s)) * chunks + chunk.
          auto next = [&](int64_t extent) -> Value {
            if (extent == 1)
              return cst(fb, 0);
            Value e = cst(fb, extent);
            Value idx = fb.create<arith::RemUIOp>(loc, rest, e);
            rest = fb.create<arith::DivUIOp>(loc, rest, e);
            return idx;
          };
          Value chunk = next(p.chunks);
          for (unsigned d = s; d-- > 0;) {
            dims[d] = next(p.extents[d]);
            fixed[d] = true;
          }
          int64_t extent = p.extents[s];
          OpFoldResult size;
          Value begin;
          if (p.rows == 1) {
            dims[s] = chunk;
            fixed[s] = true;
            begin = chunk;
            size = fb.getIndexAttr(1);
          } else {
            begin = fb.create<arith::MulIOp>(loc, chunk, cst(fb, p.rows));
            lo[s] = begin;
            if (extent % p.rows == 0) {
              hi[s] = fb.create<arith::AddIOp>(loc, begin, cst(fb, p.rows));
              size = fb.getIndexAttr(p.rows);
            } else {
              hi[s] = fb.create<arith::MinSIOp>(
                  loc,
                  fb.create<arith::AddIOp>(loc, begin, cst(fb, p.rows)),
                  cst(fb, extent));
              size = fb.create<arith::SubIOp>(loc, hi[s], begin).getResult();
            }
          }
          AffineMap map = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
          SmallVector<OpFoldResult> offsets, sizes;
          for (unsigned i = 0, e = map.getNumResults(); i < e; ++i) {
            unsigned d = map.getDimPosition(i);
            if (d < s) {
              offsets.push_back(dims[d]);
              sizes.push_back(fb.getIndexAttr(1));
              base[d] = dims[d];
            } else if (d == s) {
              offsets.push_back(begin);
              sizes.push_back(size);
              base[d] = begin;
            } else {
              offsets.push_back(fb.getIndexAttr(0));
              sizes.push_back(fb.getIndexAttr(p.extents[d]));
            }
          }
          SmallVector<OpFoldResult> strides(offsets.size(),
                                            fb.getIndexAttr(1));
          Value slice = fb.create<tensor::ExtractSliceOp>(loc, shared, offsets,
                                                          sizes, strides);
          slice = emitOuter(fb, slice, 0);
          for (unsigned d = 0; d <= s; ++d) {
            base[d] = lo[d] = hi[d] = Value();
            fixed[d] = false;
          }
          // With a body builder, the terminator is ours to create.
          auto terminator = fb.create<scf::InParallelOp>(loc);
          OpBuilder::InsertionGuard guard(fb);
          fb.setInsertionPointToStart(terminator.getBody());
          fb.create<tensor::ParallelInsertSliceOp>(loc, slice, shared, offsets,
                                                   sizes, strides);
        });
    return forall.getResult(0);
  }

  bool indexesV(AffineMap map) {
    return map.getNumResults() > 0 &&
           map.getDimPosition(map.getNumResults() - 1) == p.vDim;
  }

  /// Loops over every dim but the last, in order, carrying the result.
  Value emitOuter(OpBuilder &b, Value c, unsigned d) {
    if (d == p.vDim)
      return p.reduction ? emitReduction(b, c) : emitParallel(b, c);
    if (fixed[d])
      return emitOuter(b, c, d + 1);
    if (!lo[d] && p.extents[d] == 1) {
      dims[d] = cst(b, 0);
      return emitOuter(b, c, d + 1);
    }
    auto forOp = b.create<scf::ForOp>(
        loc, lo[d] ? lo[d] : cst(b, 0), hi[d] ? hi[d] : cst(b, p.extents[d]),
        cst(b, 1), ValueRange{c},
        [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
          dims[d] = iv;
          nb.create<scf::YieldOp>(loc, emitOuter(nb, args[0], d + 1));
        });
    return forOp.getResult(0);
  }

  /// Chunks of the vector dim: (offset, width) of the static tails after
  /// the main loop over [0, main) in steps of vl.
  SmallVector<std::pair<int64_t, int64_t>> tails(int64_t &main) {
    main = p.vExtent / vl * vl;
    SmallVector<std::pair<int64_t, int64_t>> out;
    for (int64_t off = main; off < p.vExtent;) {
      int64_t w = static_cast<int64_t>(
          llvm::bit_floor(static_cast<uint64_t>(p.vExtent - off)));
      out.push_back({off, w});
      off += w;
    }
    return out;
  }

  VectorType vecOf(Type t, int64_t w) { return VectorType::get({w}, t); }

  /// Clones the body, except `skip`, for the chunk of width `w` at `j` into
  /// `map`: operands indexed by the vector dim are read as vectors, the
  /// others as scalars (the init from `c`, and only when `readOut`); an op
  /// with a vector operand is rebuilt on vectors, others are cloned.
  void cloneBody(OpBuilder &b, Value c, Value j, int64_t w, bool readOut,
                 IRMapping &map, ArrayRef<Operation *> skip) {
    static constexpr bool inBounds[] = {true};
    dims[p.vDim] = j;
    Block &body = *op.getBlock();
    for (OpOperand &operand : p.op->getOpOperands()) {
      BlockArgument arg = body.getArgument(operand.getOperandNumber());
      bool isInit = op.isDpsInit(&operand);
      if (isInit && (!readOut || arg.use_empty()))
        continue;
      if (!isInit && arg.use_empty())
        continue;
      Value src = isInit ? c : operand.get();
      AffineMap m = op.getMatchingIndexingMap(&operand);
      SmallVector<Value> idx = isInit ? initIndices(b) : indices(m);
      if (indexesV(m))
        map.map(arg, b.create<vector::TransferReadOp>(
                         loc, vecOf(arg.getType(), w), src, idx,
                         ArrayRef<bool>(inBounds)));
      else
        map.map(arg, b.create<tensor::ExtractOp>(loc, src, idx));
    }
    for (Operation &bodyOp : body.without_terminator()) {
      if (llvm::is_contained(skip, &bodyOp))
        continue;
      if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
        unsigned d = index.getDim();
        if (d != p.vDim) {
          map.map(index.getResult(), dims[d]);
          continue;
        }
        SmallVector<int64_t> iota;
        for (int64_t l = 0; l < w; ++l)
          iota.push_back(l);
        auto type = VectorType::get({w}, b.getIndexType());
        Value base = b.create<vector::BroadcastOp>(loc, type, j);
        Value steps = b.create<arith::ConstantOp>(
            loc, type, DenseElementsAttr::get(type, ArrayRef<int64_t>(iota)));
        map.map(index.getResult(),
                b.create<arith::AddIOp>(loc, base, steps).getResult());
        continue;
      }
      SmallVector<Value> operands;
      bool anyVector = false;
      for (Value v : bodyOp.getOperands()) {
        Value m = map.lookupOrDefault(v);
        anyVector |= isa<VectorType>(m.getType());
        operands.push_back(m);
      }
      if (!anyVector) {
        b.clone(bodyOp, map);
        continue;
      }
      for (Value &v : operands)
        if (!isa<VectorType>(v.getType()))
          v = b.create<vector::BroadcastOp>(loc, vecOf(v.getType(), w), v);
      OperationState state(loc, bodyOp.getName());
      state.addOperands(operands);
      state.addTypes(vecOf(bodyOp.getResult(0).getType(), w));
      state.addAttributes(bodyOp.getAttrs());
      Operation *vecOp = b.create(state);
      if (isa<math::ExpOp, math::ErfOp, math::SinOp, math::CosOp>(vecOp) &&
          cast<VectorType>(vecOp->getResult(0).getType())
              .getElementType()
              .isF32())
        expOps.push_back(vecOp);
      map.map(bodyOp.getResult(0), vecOp->getResult(0));
    }
  }

  Value asVector(OpBuilder &b, Value v, int64_t w) {
    if (isa<VectorType>(v.getType()))
      return v;
    return b.create<vector::BroadcastOp>(loc, vecOf(v.getType(), w), v);
  }

  Value emitParallel(OpBuilder &b, Value c) {
    static constexpr bool inBounds[] = {true};
    Value yielded = op.getBlock()->getTerminator()->getOperand(0);
    auto chunk = [&](OpBuilder &cb, Value cur, Value j, int64_t w) -> Value {
      IRMapping map;
      cloneBody(cb, cur, j, w, /*readOut=*/true, map, {});
      Value result = asVector(cb, map.lookupOrDefault(yielded), w);
      dims[p.vDim] = j;
      return cb
          .create<vector::TransferWriteOp>(loc, result, cur, initIndices(cb),
                                           ArrayRef<bool>(inBounds))
          .getResult();
    };
    int64_t main;
    auto rest = tails(main);
    if (main == vl) {
      c = chunk(b, c, cst(b, 0), vl);
    } else if (main > 0) {
      auto forOp = b.create<scf::ForOp>(
          loc, cst(b, 0), cst(b, main), cst(b, vl), ValueRange{c},
          [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
            nb.create<scf::YieldOp>(loc, chunk(nb, args[0], iv, vl));
          });
      c = forOp.getResult(0);
    }
    for (auto [off, w] : rest)
      c = chunk(b, c, cst(b, off), w);
    return c;
  }

  Value emitReduction(OpBuilder &b, Value c) {
    const Reduction &r = *p.reduction;
    Operation *combine = r.combine;
    Operation *select =
        r.mask ? op.getBlock()->getTerminator()->getOperand(0).getDefiningOp()
               : nullptr;
    SmallVector<Operation *> skip = {combine};
    if (select)
      skip.push_back(select);
    auto fType = cast<FloatType>(combine->getResult(0).getType());
    TypedAttr id = identity(r.kind, fType);

    // The masked lanes of `x` take the identity.
    auto lanes = [&](OpBuilder &cb, Value cur, Value j, int64_t w) -> Value {
      IRMapping map;
      cloneBody(cb, cur, j, w, /*readOut=*/false, map, skip);
      Value x = asVector(cb, map.lookupOrDefault(r.x), w);
      if (r.mask) {
        Value mask = asVector(cb, map.lookupOrDefault(r.mask), w);
        Value idv = cb.create<arith::ConstantOp>(
            loc, DenseElementsAttr::get(VectorType::get({w}, fType), id));
        x = cb.create<arith::SelectOp>(loc, mask, x, idv);
      }
      return x;
    };
    auto combineValues = [&](OpBuilder &cb, Value a, Value x) -> Value {
      OperationState state(loc, combine->getName());
      state.addOperands({a, x});
      state.addTypes(a.getType());
      state.addAttributes(combine->getAttrs());
      return cb.create(state)->getResult(0);
    };
    auto reduce = [&](OpBuilder &cb, Value v) -> Value {
      return cb.create<vector::ReductionOp>(loc, r.kind, v,
                                            arith::FastMathFlags::reassoc);
    };

    Value result = b.create<tensor::ExtractOp>(loc, c, initIndices(b));
    int64_t main;
    auto rest = tails(main);
    if (main > 0) {
      Value acc = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(VectorType::get({vl}, fType), id));
      if (main == vl) {
        acc = combineValues(b, acc, lanes(b, c, cst(b, 0), vl));
      } else {
        auto forOp = b.create<scf::ForOp>(
            loc, cst(b, 0), cst(b, main), cst(b, vl), ValueRange{acc},
            [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
              nb.create<scf::YieldOp>(
                  loc, combineValues(nb, args[0], lanes(nb, c, iv, vl)));
            });
        acc = forOp.getResult(0);
      }
      result = combineValues(b, result, reduce(b, acc));
    }
    for (auto [off, w] : rest) {
      Value x = lanes(b, c, cst(b, off), w);
      result = combineValues(
          b, result,
          w == 1 ? b.create<vector::ExtractOp>(loc, x, ArrayRef<int64_t>{0})
                 : reduce(b, x));
    }
    return b.create<tensor::InsertOp>(loc, result, c, initIndices(b));
  }

  const Plan &p;
  linalg::GenericOp op;
  int64_t vl;
  Location loc;
  SmallVector<Value> dims;
  /// Inside a forall iteration: where its slice of the result starts (per
  /// loop dim; null when the slice spans the dim), the bounds of the split
  /// dim's loop, and the dims the iteration fixes.
  SmallVector<Value> base, lo, hi;
  SmallVector<bool> fixed;
  SmallVectorImpl<Operation *> &expOps;
};

struct CPUGenericVectorizePass
    : PassWrapper<CPUGenericVectorizePass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CPUGenericVectorizePass)

  CPUGenericVectorizePass() = default;
  CPUGenericVectorizePass(const CPUGenericVectorizePass &other)
      : PassWrapper(other) {}

  StringRef getArgument() const final { return "lctx-cpu-vectorize-generics"; }
  StringRef getDescription() const final {
    return "Vector loops for elementwise and innermost-reduction "
           "linalg.generic ops on tensors";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<arith::ArithDialect, LLVM::LLVMDialect, math::MathDialect,
                    scf::SCFDialect, tensor::TensorDialect,
                    vector::VectorDialect>();
    vector::registerBufferizableOpInterfaceExternalModels(registry);
  }

  void runOnOperation() override {
    int64_t lanes = vl > 0 ? vl : lctx::hostF32VectorLanes();
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
    std::vector<Plan> plans;
    for (linalg::GenericOp op : generics) {
      op = reuseDeadInput(rewriter, op);
      FailureOr<Plan> p = analyze(op);
      if (failed(p))
        continue;
      planThreads(*p, parallelWork);
      plans.push_back(*p);
    }
    SmallVector<Operation *> expOps;
    for (const Plan &p : plans) {
      linalg::GenericOp op = p.op;
      rewriter.setInsertionPoint(op);
      Emitter emitter(p, lanes, op.getLoc(), expOps);
      rewriter.replaceOp(op, emitter.emit(rewriter));
    }
    // Polynomial exp, erf, sin and cos on the new f32 vectors only (vector
    // erf went to libm lane by lane: 14% of an Infini prefill with GELU;
    // sin/cos: RoPE tables); scalar ones and f64 keep libm.
    if (!expOps.empty()) {
      RewritePatternSet patterns(&getContext());
      populateMathPolynomialApproximationPatterns(patterns);
      GreedyRewriteConfig config;
      config.strictMode = GreedyRewriteStrictness::ExistingOps;
      (void)applyOpPatternsAndFold(expOps, std::move(patterns), config);
    }
    lowerExactVectorMath(rewriter);
  }

  /// Vector math ops with an exact LLVM intrinsic become that intrinsic.
  void lowerExactVectorMath(RewriterBase &rewriter) {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<math::MathDialect>(op->getDialect()) &&
          op->getNumResults() == 1 &&
          isa<VectorType>(op->getResult(0).getType()))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      rewriter.setInsertionPoint(op);
      Type t = op->getResult(0).getType();
      Location loc = op->getLoc();
      ValueRange in = op->getOperands();
      Value r;
      if (isa<math::FmaOp>(op))
        r = rewriter.create<LLVM::FMAOp>(loc, t, in[0], in[1], in[2]);
      else if (isa<math::FloorOp>(op))
        r = rewriter.create<LLVM::FFloorOp>(loc, t, in[0]);
      else if (isa<math::CeilOp>(op))
        r = rewriter.create<LLVM::FCeilOp>(loc, t, in[0]);
      else if (isa<math::TruncOp>(op))
        r = rewriter.create<LLVM::FTruncOp>(loc, t, in[0]);
      else if (isa<math::RoundEvenOp>(op))
        r = rewriter.create<LLVM::RoundEvenOp>(loc, t, in[0]);
      else if (isa<math::AbsFOp>(op))
        r = rewriter.create<LLVM::FAbsOp>(loc, t, in[0]);
      else if (isa<math::SqrtOp>(op))
        r = rewriter.create<LLVM::SqrtOp>(loc, t, in[0]);
      else if (isa<math::CopySignOp>(op))
        r = rewriter.create<LLVM::CopySignOp>(loc, t, in[0], in[1]);
      if (r)
        rewriter.replaceOp(op, r);
    }
  }

  Option<int64_t> vl{*this, "vl",
                     llvm::cl::desc("Vector length (0: the host's f32 lanes)"),
                     llvm::cl::init(0)};
  Option<int64_t> parallelWork{
      *this, "parallel-work",
      llvm::cl::desc("Minimum scalar operations (iteration points x body "
                     "ops) of a generic for an scf.forall over its leading "
                     "parallel dims; 0 never"),
      llvm::cl::init(int64_t(1) << 18)};
};

} // namespace

std::unique_ptr<Pass> mlir::lctx::createCPUGenericVectorizePass() {
  return std::make_unique<CPUGenericVectorizePass>();
}

void mlir::lctx::registerCPUGenericVectorizePass() {
  PassRegistration<CPUGenericVectorizePass>();
}
