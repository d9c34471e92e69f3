//===- Builders.cpp - Shared helpers of the lctx-to-linalg lowering -------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>
#include <functional>
#include <numeric>

using namespace mlir;
using namespace mlir::lctx;

bool lowering::hasStaticTensorShapes(Operation *op) {
  auto isStatic = [](Type t) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    return tensor && tensor.hasStaticShape();
  };
  return llvm::all_of(op->getOperandTypes(), isStatic) &&
         llvm::all_of(op->getResultTypes(), isStatic);
}

Type lowering::computeType(Type elementType) {
  auto ft = dyn_cast<FloatType>(elementType);
  if (ft && ft.getWidth() < 32)
    return Float32Type::get(elementType.getContext());
  return elementType;
}

Value lowering::toCompute(OpBuilder &b, Location loc, Value v, Type computeTy) {
  if (v.getType() == computeTy)
    return v;
  return b.create<arith::ExtFOp>(loc, computeTy, v);
}

Value lowering::fromCompute(OpBuilder &b, Location loc, Value v,
                          Type elementType) {
  if (v.getType() == elementType)
    return v;
  return b.create<arith::TruncFOp>(loc, elementType, v);
}

Value lowering::floatConst(OpBuilder &b, Location loc, Type type, double value) {
  return b.create<arith::ConstantOp>(loc, b.getFloatAttr(type, value));
}

Value lowering::indexConst(OpBuilder &b, Location loc, int64_t value) {
  return b.create<arith::ConstantIndexOp>(loc, value);
}

Value lowering::i32Const(OpBuilder &b, Location loc, int64_t value) {
  return b.create<arith::ConstantOp>(loc, b.getI32IntegerAttr(value));
}

Value lowering::i64Const(OpBuilder &b, Location loc, int64_t value) {
  return b.create<arith::ConstantOp>(loc, b.getI64IntegerAttr(value));
}

std::pair<Value, Value> lowering::clampIndex(OpBuilder &b, Location l,
                                             Value idx, int64_t bound) {
  Type t = idx.getType();
  auto cst = [&](int64_t v) {
    return b.create<arith::ConstantOp>(l, b.getIntegerAttr(t, v)).getResult();
  };
  Value valid = b.create<arith::AndIOp>(
      l, b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, idx, cst(0)),
      b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, idx, cst(bound)));
  Value safe = b.create<arith::SelectOp>(l, valid, idx, cst(0));
  return {b.create<arith::IndexCastOp>(l, b.getIndexType(), safe), valid};
}

Value lowering::lookupRowOrZero(OpBuilder &b, Location l, Value table,
                                Value idx, Value col) {
  auto type = cast<RankedTensorType>(table.getType());
  auto [row, valid] = clampIndex(b, l, idx, type.getShape()[0]);
  Value v = b.create<tensor::ExtractOp>(l, table, ValueRange{row, col});
  return b.create<arith::SelectOp>(l, valid, v,
                                   floatConst(b, l, type.getElementType(), 0));
}

Value lowering::emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                          Type elementType) {
  return b.create<tensor::EmptyOp>(loc, shape, elementType);
}

Value lowering::filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                           Type elementType, double value) {
  Value init = emptyTensor(b, loc, shape, elementType);
  Value cst = floatConst(b, loc, elementType, value);
  return b.create<linalg::FillOp>(loc, ValueRange{cst}, ValueRange{init})
      .getResult(0);
}

Value lowering::buildGeneric(OpBuilder &b, Location loc, Value init,
                           ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                           AffineMap outMap,
                           ArrayRef<utils::IteratorType> iterators,
                           GenericBody body) {
  SmallVector<AffineMap> maps(inputMaps.begin(), inputMaps.end());
  maps.push_back(outMap);
  auto op = b.create<linalg::GenericOp>(
      loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        nb.create<linalg::YieldOp>(nl, body(nb, nl, args));
      });
  return op.getResult(0);
}

Value lowering::buildIndexGeneric(
    OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elementType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  unsigned rank = shape.size();
  Value init = emptyTensor(b, loc, shape, elementType);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return buildGeneric(
      b, loc, init, {}, {}, b.getMultiDimIdentityMap(rank), iters,
      [&](OpBuilder &nb, Location nl, ValueRange) {
        SmallVector<Value> idx;
        for (unsigned i = 0; i < rank; ++i)
          idx.push_back(nb.create<linalg::IndexOp>(nl, i));
        return body(nb, nl, idx);
      });
}

AffineMap lowering::selectDims(MLIRContext *ctx, unsigned rank,
                             ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

Value lowering::collapseToMatrix(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  int64_t d = type.getShape().back();
  if (rank == 2)
    return x;
  auto matType = RankedTensorType::get(
      {type.getNumElements() / std::max<int64_t>(d, 1), d},
      type.getElementType());
  if (rank == 1)
    return b.create<tensor::ExpandShapeOp>(
        loc, matType, x, SmallVector<ReassociationIndices>{{0, 1}});
  ReassociationIndices lead;
  for (int64_t i = 0; i < rank - 1; ++i)
    lead.push_back(i);
  return b.create<tensor::CollapseShapeOp>(
      loc, matType, x,
      SmallVector<ReassociationIndices>{lead, {rank - 1}});
}

Value lowering::expandFromMatrix(OpBuilder &b, Location loc, Value m,
                               ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(m.getType());
  auto outType = RankedTensorType::get(shape, type.getElementType());
  int64_t rank = shape.size();
  if (rank == 2)
    return m;
  if (rank == 1)
    return b.create<tensor::CollapseShapeOp>(
        loc, outType, m, SmallVector<ReassociationIndices>{{0, 1}});
  ReassociationIndices lead;
  for (int64_t i = 0; i < rank - 1; ++i)
    lead.push_back(i);
  return b.create<tensor::ExpandShapeOp>(
      loc, outType, m, SmallVector<ReassociationIndices>{lead, {rank - 1}});
}

Value lowering::buildMatmul(OpBuilder &b, Location loc, Value a, Value bMat,
                          bool transposeB, Type accType) {
  auto at = cast<RankedTensorType>(a.getType());
  auto bt = cast<RankedTensorType>(bMat.getType());
  Type elt = accType ? accType : at.getElementType();
  if (at.getRank() == 3) {
    int64_t n = bt.getShape()[transposeB ? 1 : 2];
    Value init = filledTensor(
        b, loc, {at.getShape()[0], at.getShape()[1], n}, elt, 0.0);
    return b
        .create<linalg::BatchMatmulOp>(loc, ValueRange{a, bMat},
                                       ValueRange{init})
        .getResult(0);
  }
  int64_t n = bt.getShape()[transposeB ? 0 : 1];
  Value init = filledTensor(b, loc, {at.getShape()[0], n}, elt, 0.0);
  if (transposeB)
    return b
        .create<linalg::MatmulTransposeBOp>(loc, ValueRange{a, bMat},
                                            ValueRange{init})
        .getResult(0);
  return b.create<linalg::MatmulOp>(loc, ValueRange{a, bMat}, ValueRange{init})
      .getResult(0);
}

Value lowering::convertElements(OpBuilder &b, Location loc, Value t,
                                Type elementType) {
  auto type = cast<RankedTensorType>(t.getType());
  Type from = type.getElementType();
  if (from == elementType)
    return t;
  AffineMap id = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iters(type.getRank(), kParallel);
  return buildGeneric(
      b, loc, emptyTensor(b, loc, type.getShape(), elementType), {t}, {id}, id,
      iters, [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        if (cast<FloatType>(from).getWidth() <
            cast<FloatType>(elementType).getWidth())
          return nb.create<arith::ExtFOp>(nl, elementType, a[0]);
        return nb.create<arith::TruncFOp>(nl, elementType, a[0]);
      });
}

/// The rotation of each (position, frequency) is computed once: cos/sin
/// tables of shape positions x Dh/2 in f64 (T * Dh/2 transcendental pairs
/// instead of B * H * T * Dh), then one rotation pass over x that reads
/// them.
Value lowering::buildRope(OpBuilder &b, Location loc, Value x, Value pos,
                          double theta, std::optional<int64_t> chunk) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  Type elt = type.getElementType();
  int64_t dh = type.getShape()[3];
  auto posType = cast<RankedTensorType>(pos.getType());
  bool batchedPos = posType.getRank() == 2;
  Type f64 = b.getF64Type();

  // inv_freq[i] = theta^(-2 i / Dh) = exp(i * (-2 ln(theta) / Dh)), in f64
  // for long positions.
  Value invFreq = buildIndexGeneric(
      b, loc, {dh / 2}, f64,
      [&](OpBuilder &nb, Location nl, ValueRange idx) -> Value {
        Value halfF = nb.create<arith::SIToFPOp>(
            nl, f64,
            nb.create<arith::IndexCastOp>(nl, nb.getI64Type(), idx[0]));
        Value expo = nb.create<arith::MulFOp>(
            nl, halfF, floatConst(nb, nl, f64, -2.0 * std::log(theta) / dh));
        return nb.create<math::ExpOp>(nl, expo);
      });
  // cos / sin of p * inv_freq over positions x Dh/2; with a chunk, p is the
  // position modulo the chunk (floor modulo, so negative positions wrap like
  // the chunk mask's floor division).
  SmallVector<int64_t> tableShape(posType.getShape());
  tableShape.push_back(dh / 2);
  unsigned tRank = tableShape.size();
  SmallVector<unsigned> posDims;
  for (unsigned i = 0; i + 1 < tRank; ++i)
    posDims.push_back(i);
  AffineMap tableId = b.getMultiDimIdentityMap(tRank);
  SmallVector<utils::IteratorType> tableIters(tRank, kParallel);
  auto table = [&](bool isCos) {
    return buildGeneric(
        b, loc, emptyTensor(b, loc, tableShape, f64), {pos, invFreq},
        {selectDims(ctx, tRank, posDims), selectDims(ctx, tRank, {tRank - 1})},
        tableId, tableIters, [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value p = a[0];
          if (!p.getType().isInteger(64))
            p = nb.create<arith::ExtSIOp>(nl, nb.getI64Type(), p);
          if (chunk) {
            Value c = i64Const(nb, nl, *chunk);
            p = nb.create<arith::RemSIOp>(
                nl,
                nb.create<arith::AddIOp>(
                    nl, nb.create<arith::RemSIOp>(nl, p, c), c),
                c);
          }
          Value angle = nb.create<arith::MulFOp>(
              nl, nb.create<arith::SIToFPOp>(nl, f64, p), a[1]);
          return isCos ? nb.create<math::CosOp>(nl, angle).getResult()
                       : nb.create<math::SinOp>(nl, angle).getResult();
        });
  };
  // f32 (attention always rotates in f32), where the vector dialect is
  // loaded (always in the CPU pipeline): f32 tables from an exact f64 range
  // reduction (angle - 2 pi round(angle / 2 pi), then f32 sin/cos, which
  // the CPU pipeline computes as vector polynomials), and one vector loop
  // over the rows: x * cos + swap_pairs(x) * (-+sin), shuffles and an FMA
  // per vector. The f64 tables (libm sin/cos per entry) and the scalar
  // rotation below (element-wise tensor.extract of the partner lane, f64
  // math) took 6.6 ms for [1, 8, 4096, 128].
  if (elt.isF32() && ctx->getLoadedDialect<vector::VectorDialect>()) {
    Type f32 = b.getF32Type();
    auto table32 = [&](bool isCos) {
      return buildGeneric(
          b, loc, emptyTensor(b, loc, tableShape, f32), {pos, invFreq},
          {selectDims(ctx, tRank, posDims),
           selectDims(ctx, tRank, {tRank - 1})},
          tableId, tableIters, [&](OpBuilder &nb, Location nl, ValueRange a) {
            Value p = a[0];
            if (!p.getType().isInteger(64))
              p = nb.create<arith::ExtSIOp>(nl, nb.getI64Type(), p);
            if (chunk) {
              Value c = i64Const(nb, nl, *chunk);
              p = nb.create<arith::RemSIOp>(
                  nl,
                  nb.create<arith::AddIOp>(
                      nl, nb.create<arith::RemSIOp>(nl, p, c), c),
                  c);
            }
            Value angle = nb.create<arith::MulFOp>(
                nl, nb.create<arith::SIToFPOp>(nl, f64, p), a[1]);
            Value turns = nb.create<math::RoundEvenOp>(
                nl, nb.create<arith::MulFOp>(
                        nl, angle, floatConst(nb, nl, f64, 0.5 / M_PI)));
            // 2 pi = hi + lo, both f64: the reduced angle is exact to f64
            // rounding for any position an i64 holds in practice.
            Value r = nb.create<arith::SubFOp>(
                nl, angle,
                nb.create<arith::MulFOp>(
                    nl, turns, floatConst(nb, nl, f64, 6.283185307179586)));
            r = nb.create<arith::SubFOp>(
                nl, r,
                nb.create<arith::MulFOp>(
                    nl, turns,
                    floatConst(nb, nl, f64, 2.4492935982947064e-16)));
            Value rf = nb.create<arith::TruncFOp>(nl, f32, r);
            return isCos ? nb.create<math::CosOp>(nl, rf).getResult()
                         : nb.create<math::SinOp>(nl, rf).getResult();
          });
    };
    Value cosH = table32(true), sinH = table32(false);
    int64_t w = std::gcd<int64_t>(dh, 16);
    auto vt = VectorType::get({w}, f32);
    auto ht = VectorType::get({w / 2}, f32);
    // Lane i reads pair i / 2 of the tables; the partner of an even lane is
    // -x[i + 1] (from the negated copy), of an odd lane x[i - 1].
    SmallVector<int64_t> spread, partner;
    for (int64_t i = 0; i < w; ++i) {
      spread.push_back(i / 2);
      partner.push_back(i % 2 ? i - 1 : w + i + 1);
    }
    static constexpr bool inBounds[] = {true};
    ArrayRef<int64_t> shape = type.getShape();
    SmallVector<Value> ivs;
    std::function<Value(OpBuilder &, Location, unsigned, Value)> nest =
        [&](OpBuilder &nb, Location nl, unsigned dim, Value acc) -> Value {
      int64_t step = dim == 3 ? w : 1;
      auto loop = nb.create<scf::ForOp>(
          nl, indexConst(nb, nl, 0), indexConst(nb, nl, shape[dim]),
          indexConst(nb, nl, step), ValueRange{acc},
          [&](OpBuilder &lb, Location ll, Value iv, ValueRange args) {
            ivs.push_back(iv);
            Value next;
            if (dim < 3) {
              next = nest(lb, ll, dim + 1, args[0]);
            } else {
              Value xv = lb.create<vector::TransferReadOp>(
                  ll, vt, x, ivs, ArrayRef<bool>(inBounds));
              Value pairs = lb.create<vector::ShuffleOp>(
                  ll, xv, lb.create<arith::NegFOp>(ll, xv), partner);
              Value half = lb.create<arith::DivUIOp>(ll, ivs[3],
                                                     indexConst(lb, ll, 2));
              SmallVector<Value> at =
                  batchedPos ? SmallVector<Value>{ivs[0], ivs[2], half}
                             : SmallVector<Value>{ivs[2], half};
              auto lanes = [&](Value table) -> Value {
                Value h = lb.create<vector::TransferReadOp>(
                    ll, ht, table, at, ArrayRef<bool>(inBounds));
                return lb.create<vector::ShuffleOp>(ll, h, h, spread);
              };
              Value r = lb.create<vector::FMAOp>(
                  ll, pairs, lanes(sinH),
                  lb.create<arith::MulFOp>(ll, xv, lanes(cosH)));
              next = lb.create<vector::TransferWriteOp>(
                             ll, r, args[0], ivs, ArrayRef<bool>(inBounds))
                         .getResult();
            }
            ivs.pop_back();
            lb.create<scf::YieldOp>(ll, next);
          });
      return loop.getResult(0);
    };
    return nest(b, loc, 0, emptyTensor(b, loc, shape, elt));
  }

  Value cosT = table(true), sinT = table(false);
  return buildIndexGeneric(
      b, loc, type.getShape(), elt,
      [&](OpBuilder &nb, Location nl, ValueRange idx) -> Value {
        Value bIdx = idx[0], h = idx[1], t = idx[2], j = idx[3];
        Value one = indexConst(nb, nl, 1), two = indexConst(nb, nl, 2);
        Value half = nb.create<arith::DivUIOp>(nl, j, two);
        Value isOdd = nb.create<arith::CmpIOp>(
            nl, arith::CmpIPredicate::ne,
            nb.create<arith::RemUIOp>(nl, j, two), indexConst(nb, nl, 0));
        SmallVector<Value> at = batchedPos ? SmallVector<Value>{bIdx, t, half}
                                           : SmallVector<Value>{t, half};
        Value c = nb.create<tensor::ExtractOp>(nl, cosT, at);
        Value s = nb.create<tensor::ExtractOp>(nl, sinT, at);
        Value self = nb.create<tensor::ExtractOp>(nl, x, idx);
        Value partnerJ = nb.create<arith::SelectOp>(
            nl, isOdd, nb.create<arith::SubIOp>(nl, j, one),
            nb.create<arith::AddIOp>(nl, j, one));
        Value partner = nb.create<tensor::ExtractOp>(
            nl, x, ValueRange{bIdx, h, t, partnerJ});
        Value xs = self, xp = partner;
        if (!elt.isF64()) {
          xs = nb.create<arith::ExtFOp>(nl, f64, self);
          xp = nb.create<arith::ExtFOp>(nl, f64, partner);
        }
        // even: x c - x' s;  odd: x' s + x c.
        Value xc = nb.create<arith::MulFOp>(nl, xs, c);
        Value ps = nb.create<arith::MulFOp>(nl, xp, s);
        Value y = nb.create<arith::SelectOp>(
            nl, isOdd, nb.create<arith::AddFOp>(nl, ps, xc),
            nb.create<arith::SubFOp>(nl, xc, ps));
        if (elt.isF64())
          return y;
        // Through f32: a direct f64 -> bf16/f16 truncation needs a
        // compiler-rt helper the artifact does not link.
        Value f = nb.create<arith::TruncFOp>(nl, nb.getF32Type(), y);
        return elt.isF32() ? f : nb.create<arith::TruncFOp>(nl, elt, f);
      });
}

Value lowering::buildRowGather(
    OpBuilder &b, Location loc, Value table, Value dest, Value addend,
    int64_t numRows,
    function_ref<RowGatherRow(OpBuilder &, Location, Value)> rowFn) {
  auto destType = cast<RankedTensorType>(dest.getType());
  auto tableType = cast<RankedTensorType>(table.getType());
  int64_t d = tableType.getShape()[1], v = tableType.getShape()[0];
  int64_t rank = destType.getRank();
  Type elt = destType.getElementType();
  // The [D] row of `src` at `idx` (leading dims) and column `col`.
  auto row = [&](OpBuilder &nb, Location l, Value src, ArrayRef<Value> idx,
                 Value col) -> Value {
    auto srcType = cast<RankedTensorType>(src.getType());
    SmallVector<OpFoldResult> offsets, sizes, strides;
    for (Value i : idx) {
      offsets.push_back(i);
      sizes.push_back(nb.getIndexAttr(1));
      strides.push_back(nb.getIndexAttr(1));
    }
    offsets.push_back(col ? OpFoldResult(col) : nb.getIndexAttr(0));
    sizes.push_back(nb.getIndexAttr(d));
    strides.push_back(nb.getIndexAttr(1));
    return nb.create<tensor::ExtractSliceOp>(
        l, RankedTensorType::get({d}, srcType.getElementType()), src, offsets,
        sizes, strides);
  };
  auto loop = b.create<scf::ForOp>(
      loc, indexConst(b, loc, 0), indexConst(b, loc, numRows),
      indexConst(b, loc, 1), ValueRange{dest},
      [&](OpBuilder &nb, Location l, Value r, ValueRange iter) {
        RowGatherRow spec = rowFn(nb, l, r);
        assert(static_cast<int64_t>(spec.destIdx.size()) + 1 == rank);
        auto [src, valid] = clampIndex(nb, l, spec.id, v);
        SmallVector<Value> inputs = {row(nb, l, table, {src}, Value())};
        if (addend)
          inputs.push_back(row(nb, l, addend, {spec.addRow}, Value()));
        AffineMap id1 = nb.getMultiDimIdentityMap(1);
        SmallVector<AffineMap> maps(inputs.size(), id1);
        Value filled = buildGeneric(
            nb, l, row(nb, l, iter[0], spec.destIdx, spec.destCol), inputs,
            maps, id1, {utils::IteratorType::parallel},
            [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
              Value x = gb.create<arith::SelectOp>(
                  gl, valid, a[0], floatConst(gb, gl, elt, 0.0));
              if (addend)
                x = gb.create<arith::AddFOp>(gl, x, a[1]);
              return x;
            });
        SmallVector<OpFoldResult> offsets, sizes, strides;
        for (Value i : spec.destIdx) {
          offsets.push_back(i);
          sizes.push_back(nb.getIndexAttr(1));
          strides.push_back(nb.getIndexAttr(1));
        }
        offsets.push_back(spec.destCol ? OpFoldResult(spec.destCol)
                                       : nb.getIndexAttr(0));
        sizes.push_back(nb.getIndexAttr(d));
        strides.push_back(nb.getIndexAttr(1));
        Value ins = nb.create<tensor::InsertSliceOp>(l, filled, iter[0],
                                                     offsets, sizes, strides);
        nb.create<scf::YieldOp>(l, ins);
      });
  return loop.getResult(0);
}
