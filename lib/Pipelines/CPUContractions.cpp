//===- CPUContractions.cpp - Register-tiled contractions for the CPU ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Rewrites f32 linalg contractions on tensors into explicit loops:
//
//   for the loop dims that are neither M, N nor K (batch, extra dims):
//     for n_c (Nc), k_c (Kc), m_c (Mc):          cache blocks
//       for j in n_c block step Nr, i in m_c block step Mr:
//         acc[r] = C[i + r, j : j + Nr]           r < Mr, vector<Nr>
//         for k in k_c block:
//           b = B[k, j : j + Nr]
//           acc[r] = fma(broadcast(A[i + r, k]), b, acc[r])
//         C[i + r, j : j + Nr] = acc[r]
//
// N is the loop dim of the result's last dimension and B the input indexed
// by it; M is the result dim just before it that only A indexes, K a
// reduction dim both inputs index. The accumulators are loop-carried
// vectors, so they stay in registers across K without a hoisting step.
// Register tiles never straddle the edges: the M x N space is split into
// the full-tile part and static remainder strips (Mr x (N mod Nr), ...), so
// every vector has a static length and odd shapes need no masks. When B's
// last dimension is not N, B is first transposed into a fresh tensor.
//
// When C's init is a linalg.fill and K is the only reduction dim, the
// accumulators start from the fill value in the first K block and the fill
// (and C's first read) disappear.
//
// The summation order per result element is the naive one (k ascending,
// starting from the init value), with fused multiply-adds. Only f32 ops
// with static shapes and a plain mul-add body are rewritten.
//
//===----------------------------------------------------------------------===//

#include "CPUCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

namespace {

/// Register and cache tile sizes and the native vector length, in
/// elements.
struct Tiles {
  int64_t mr = 6, nr = 64, mc = 120, nc = 128, kc = 256, vl = 16;
};

/// Tiles for the host. AVX-512 (32 registers): 6 x 64, i.e. 24 accumulator
/// registers, 4 for B and one broadcast (measured best on Zen 5 among 8x32,
/// 8x48, 12x32, 6x64). AVX2 (16 registers): 6 x 16, 12 accumulators.
Tiles hostTiles() {
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

/// How a contraction maps onto the kernel.
struct Plan {
  linalg::LinalgOp op;
  unsigned aIdx = 0, bIdx = 1;
  AffineMap aMap, bMap, cMap;
  std::optional<unsigned> mDim;
  unsigned nDim = 0, kDim = 0;
  /// Every other loop dim, outermost first.
  SmallVector<unsigned> outerDims;
  SmallVector<int64_t> extents;
  /// Permutation for linalg.transpose of B when its last dim is not N.
  SmallVector<int64_t> bPerm;
  /// The scalar C starts as, when the init is a linalg.fill: the
  /// accumulators then start from it and the fill is skipped.
  Value fillValue;
};

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

FailureOr<Plan> analyze(linalg::LinalgOp op) {
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
  if (nPos != bRank - 1) {
    for (unsigned i = 0; i < bRank; ++i)
      if (i != nPos)
        p.bPerm.push_back(i);
    p.bPerm.push_back(nPos);
  }
  return p;
}

/// Emits the loops of one contraction.
class Emitter {
public:
  Emitter(const Plan &p, const Tiles &t, Location loc, Value a, Value b,
          AffineMap bMap)
      : p(p), t(t), loc(loc), a(a), b(b), bMap(bMap), dims(p.extents.size()) {}

  Value emit(OpBuilder &builder, Value c) { return emitOuter(builder, c, 0); }

private:
  using Body = function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)>;

  Value cst(OpBuilder &builder, int64_t v) {
    return builder.create<arith::ConstantIndexOp>(loc, v);
  }

  Value add(OpBuilder &builder, Value x, int64_t v) {
    if (std::optional<int64_t> c = getConstantIntValue(x))
      return cst(builder, *c + v);
    if (v == 0)
      return x;
    return builder.create<arith::AddIOp>(loc, x, cst(builder, v));
  }

  /// min(x + v, bound).
  Value clampedEnd(OpBuilder &builder, Value x, int64_t v, int64_t bound) {
    if (std::optional<int64_t> c = getConstantIntValue(x))
      return cst(builder, std::min(*c + v, bound));
    return builder.create<arith::MinSIOp>(loc, add(builder, x, v),
                                          cst(builder, bound));
  }

  /// A loop over [lo, hi) with `step` carrying `args`; a range known to
  /// hold at most one step is emitted without a loop.
  SmallVector<Value> loop(OpBuilder &builder, Value lo, Value hi, int64_t step,
                          ValueRange args, Body body) {
    std::optional<int64_t> l = getConstantIntValue(lo),
                           h = getConstantIntValue(hi);
    if (l && h && *h - *l <= step) {
      if (*h <= *l)
        return SmallVector<Value>(args);
      return body(builder, lo, args);
    }
    auto forOp = builder.create<scf::ForOp>(
        loc, lo, hi, cst(builder, step), args,
        [&](OpBuilder &nested, Location, Value iv, ValueRange iterArgs) {
          nested.create<scf::YieldOp>(loc, body(nested, iv, iterArgs));
        });
    return SmallVector<Value>(forOp.getResults());
  }

  SmallVector<Value> indices(AffineMap map) {
    SmallVector<Value> idx;
    for (unsigned i = 0, e = map.getNumResults(); i < e; ++i)
      idx.push_back(dims[map.getDimPosition(i)]);
    return idx;
  }

  Value emitOuter(OpBuilder &builder, Value c, unsigned level) {
    if (level == p.outerDims.size())
      return emitRegions(builder, c);
    unsigned d = p.outerDims[level];
    return loop(builder, cst(builder, 0), cst(builder, p.extents[d]), 1, c,
                [&](OpBuilder &nested, Value iv, ValueRange args) {
                  dims[d] = iv;
                  return SmallVector<Value>{
                      emitOuter(nested, args[0], level + 1)};
                })[0];
  }

  /// The full-tile part and the remainder strips of the M x N space.
  Value emitRegions(OpBuilder &builder, Value c) {
    int64_t m = p.mDim ? p.extents[*p.mDim] : 1, n = p.extents[p.nDim];
    int64_t mMain = m / t.mr * t.mr, nMain = n / t.nr * t.nr;
    if (mMain > 0 && nMain > 0)
      c = emitRegion(builder, c, 0, mMain, t.mr, 0, nMain, t.nr);
    if (mMain > 0 && nMain < n)
      c = emitRegion(builder, c, 0, mMain, t.mr, nMain, n, n - nMain);
    if (mMain < m && nMain > 0)
      c = emitRegion(builder, c, mMain, m, m - mMain, 0, nMain, t.nr);
    if (mMain < m && nMain < n)
      c = emitRegion(builder, c, mMain, m, m - mMain, nMain, n, n - nMain);
    return c;
  }

  /// Rows [r0, r1) in tiles of `th`, columns [c0, c1) in tiles of `tw`.
  Value emitRegion(OpBuilder &builder, Value c, int64_t r0, int64_t r1,
                   int64_t th, int64_t c0, int64_t c1, int64_t tw) {
    int64_t mc = llvm::divideCeil(t.mc, th) * th;
    int64_t nc = llvm::divideCeil(t.nc, tw) * tw;
    int64_t kc = t.kc, k = p.extents[p.kDim];
    return loop(
        builder, cst(builder, c0), cst(builder, c1), nc, c,
        [&](OpBuilder &b1, Value jc, ValueRange a1) {
          Value jEnd = clampedEnd(b1, jc, nc, c1);
          return loop(
              b1, cst(b1, 0), cst(b1, k), kc, a1,
              [&](OpBuilder &b2, Value kc0, ValueRange a2) {
                Value kEnd = clampedEnd(b2, kc0, kc, k);
                return loop(
                    b2, cst(b2, r0), cst(b2, r1), mc, a2,
                    [&](OpBuilder &b3, Value ic, ValueRange a3) {
                      Value iEnd = clampedEnd(b3, ic, mc, r1);
                      return loop(
                          b3, jc, jEnd, tw, a3,
                          [&](OpBuilder &b4, Value j, ValueRange a4) {
                            return loop(
                                b4, ic, iEnd, th, a4,
                                [&](OpBuilder &b5, Value i, ValueRange a5) {
                                  return SmallVector<Value>{microKernel(
                                      b5, a5[0], i, j, kc0, kEnd, th, tw)};
                                });
                          });
                    });
              });
        })[0];
  }

  /// C[i : i + th, j : j + tw] += A[i : i + th, k0 : k1] B[k0 : k1, j : j + tw]
  Value microKernel(OpBuilder &builder, Value c, Value i, Value j, Value k0,
                    Value k1, int64_t th, int64_t tw) {
    static constexpr bool inBounds[] = {true};
    // A row of the tile is a few vectors of power-of-two lengths up to the
    // native one (24 = 16 + 8), which LLVM maps onto whole registers.
    SmallVector<int64_t> offsets, widths;
    for (int64_t off = 0; off < tw;) {
      int64_t w =
          std::min<int64_t>(t.vl, static_cast<int64_t>(llvm::bit_floor(
                                      static_cast<uint64_t>(tw - off))));
      offsets.push_back(off);
      widths.push_back(w);
      off += w;
    }
    size_t nv = widths.size();
    Type f32 = builder.getF32Type();
    SmallVector<Value> rows, cols;
    for (int64_t r = 0; r < th; ++r)
      rows.push_back(add(builder, i, r));
    for (int64_t off : offsets)
      cols.push_back(add(builder, j, off));
    // Accumulators, row-major: acc[r * nv + v]. They start from C, or from
    // the fill value in the first K block when C's init was a fill.
    auto readC = [&](OpBuilder &rb) {
      SmallVector<Value> accs;
      for (int64_t r = 0; r < th; ++r) {
        if (p.mDim)
          dims[*p.mDim] = rows[r];
        for (size_t v = 0; v < nv; ++v) {
          dims[p.nDim] = cols[v];
          accs.push_back(rb.create<vector::TransferReadOp>(
              loc, VectorType::get({widths[v]}, f32), c, indices(p.cMap),
              ArrayRef<bool>(inBounds)));
        }
      }
      return accs;
    };
    auto splatFill = [&](OpBuilder &rb) {
      SmallVector<Value> accs;
      for (int64_t r = 0; r < th; ++r)
        for (size_t v = 0; v < nv; ++v)
          accs.push_back(rb.create<vector::BroadcastOp>(
              loc, VectorType::get({widths[v]}, f32), p.fillValue));
      return accs;
    };
    SmallVector<Value> accs;
    std::optional<int64_t> kStart = getConstantIntValue(k0);
    if (!p.fillValue || (kStart && *kStart != 0)) {
      accs = readC(builder);
    } else if (kStart) {
      accs = splatFill(builder);
    } else {
      Value first = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                                  k0, cst(builder, 0));
      // Result types come from the yields.
      auto ifOp = builder.create<scf::IfOp>(
          loc, first,
          [&](OpBuilder &tb, Location) {
            tb.create<scf::YieldOp>(loc, splatFill(tb));
          },
          [&](OpBuilder &eb, Location) {
            eb.create<scf::YieldOp>(loc, readC(eb));
          });
      accs = SmallVector<Value>(ifOp.getResults());
    }
    SmallVector<Value> sums = loop(
        builder, k0, k1, 1, accs, [&](OpBuilder &kb, Value kv, ValueRange acc) {
          dims[p.kDim] = kv;
          SmallVector<Value> bVecs;
          for (size_t v = 0; v < nv; ++v) {
            dims[p.nDim] = cols[v];
            bVecs.push_back(kb.create<vector::TransferReadOp>(
                loc, VectorType::get({widths[v]}, f32), b, indices(bMap),
                ArrayRef<bool>(inBounds)));
          }
          SmallVector<Value> next;
          for (int64_t r = 0; r < th; ++r) {
            if (p.mDim)
              dims[*p.mDim] = rows[r];
            Value aVal = kb.create<tensor::ExtractOp>(loc, a, indices(p.aMap));
            for (size_t v = 0; v < nv; ++v) {
              Value aVec = kb.create<vector::BroadcastOp>(
                  loc, VectorType::get({widths[v]}, f32), aVal);
              next.push_back(kb.create<vector::FMAOp>(loc, aVec, bVecs[v],
                                                      acc[r * nv + v]));
            }
          }
          return next;
        });
    for (int64_t r = 0; r < th; ++r) {
      if (p.mDim)
        dims[*p.mDim] = rows[r];
      for (size_t v = 0; v < nv; ++v) {
        dims[p.nDim] = cols[v];
        c = builder
                .create<vector::TransferWriteOp>(loc, sums[r * nv + v], c,
                                                 indices(p.cMap),
                                                 ArrayRef<bool>(inBounds))
                .getResult();
      }
    }
    return c;
  }

  const Plan &p;
  const Tiles &t;
  Location loc;
  Value a, b;
  AffineMap bMap;
  /// The current index of every loop dim while emitting.
  SmallVector<Value> dims;
};

void rewrite(RewriterBase &rewriter, const Plan &p, const Tiles &t) {
  linalg::LinalgOp op = p.op;
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value a = op.getDpsInputs()[p.aIdx], b = op.getDpsInputs()[p.bIdx];
  AffineMap bMap = p.bMap;
  if (!p.bPerm.empty()) {
    auto bType = cast<RankedTensorType>(b.getType());
    SmallVector<int64_t> shape;
    SmallVector<AffineExpr> exprs;
    for (int64_t i : p.bPerm) {
      shape.push_back(bType.getDimSize(i));
      exprs.push_back(bMap.getResult(i));
    }
    Value init =
        rewriter.create<tensor::EmptyOp>(loc, shape, bType.getElementType());
    b = rewriter.create<linalg::TransposeOp>(loc, b, init, p.bPerm)
            ->getResult(0);
    bMap = AffineMap::get(bMap.getNumDims(), 0, exprs, op.getContext());
  }
  // With a fill folded into the accumulators, C starts from a fresh
  // tensor (its contents are never read), not from the fill's result.
  Value c = op.getDpsInits()[0];
  if (p.fillValue) {
    auto cType = cast<RankedTensorType>(c.getType());
    c = rewriter.create<tensor::EmptyOp>(loc, cType.getShape(),
                                         cType.getElementType());
  }
  Emitter emitter(p, t, loc, a, b, bMap);
  Value result = emitter.emit(rewriter, c);
  rewriter.replaceOp(op, result);
}

struct CPUContractionCodegenPass
    : PassWrapper<CPUContractionCodegenPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CPUContractionCodegenPass)

  CPUContractionCodegenPass() = default;
  CPUContractionCodegenPass(const CPUContractionCodegenPass &other)
      : PassWrapper(other) {}

  StringRef getArgument() const final { return "lctx-cpu-contraction-codegen"; }
  StringRef getDescription() const final {
    return "Cache-blocked, register-tiled vector loops for f32 linalg "
           "contractions on tensors";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<arith::ArithDialect, linalg::LinalgDialect, scf::SCFDialect,
                    tensor::TensorDialect, vector::VectorDialect>();
    vector::registerBufferizableOpInterfaceExternalModels(registry);
  }

  void runOnOperation() override {
    Tiles t = hostTiles();
    if (mr > 0)
      t.mr = mr;
    if (nr > 0)
      t.nr = nr;
    if (mc > 0)
      t.mc = mc;
    if (nc > 0)
      t.nc = nc;
    if (kc > 0)
      t.kc = kc;
    std::vector<Plan> plans;
    getOperation().walk([&](linalg::LinalgOp op) {
      FailureOr<Plan> p = analyze(op);
      if (succeeded(p))
        plans.push_back(*p);
    });
    IRRewriter rewriter(&getContext());
    for (const Plan &p : plans)
      rewrite(rewriter, p, t);
  }

  Option<int64_t> mr{*this, "mr",
                     llvm::cl::desc("Register tile rows (0: host default)"),
                     llvm::cl::init(0)};
  Option<int64_t> nr{
      *this, "nr",
      llvm::cl::desc("Register tile columns, the vector length (0: host "
                     "default)"),
      llvm::cl::init(0)};
  Option<int64_t> mc{*this, "mc", llvm::cl::desc("Cache block rows (0: 120)"),
                     llvm::cl::init(0)};
  Option<int64_t> nc{*this, "nc",
                     llvm::cl::desc("Cache block columns (0: 128)"),
                     llvm::cl::init(0)};
  Option<int64_t> kc{*this, "kc", llvm::cl::desc("Cache block depth (0: 256)"),
                     llvm::cl::init(0)};
};

} // namespace

std::unique_ptr<Pass> mlir::lctx::createCPUContractionCodegenPass() {
  return std::make_unique<CPUContractionCodegenPass>();
}

int64_t mlir::lctx::hostF32VectorLanes() { return hostTiles().vl; }

void mlir::lctx::registerCPUContractionCodegenPass() {
  PassRegistration<CPUContractionCodegenPass>();
}
