//===- DeriveCaches.cpp - Cached forms of ops that look back --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Part of lctx-derive-decode (Deriver.h): the ops whose step reads earlier
// tokens become their cached forms over runtime-owned state (attention and
// memory attention over KV caches, Mixture-of-Depths routing with a cache
// of routed tokens), and MEGABYTE's patch embedding and global-to-local
// hand-over become one patch or one byte of input.
//
//===----------------------------------------------------------------------===//

#include "Deriver.h"

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::derive;

std::pair<Value, Value> Deriver::stepPositions(Location loc, int64_t batch,
                                               int64_t capacity, Value slot) {
  Type i64 = b.getI64Type();
  Value qEmpty = b.create<tensor::EmptyOp>(
      loc, ArrayRef<int64_t>{batch, steps}, i64);
  AffineMap id = b.getMultiDimIdentityMap(2);
  SmallVector<utils::IteratorType> parallel2(2,
                                             utils::IteratorType::parallel);
  Value qp;
  if (steps == 1) {
    qp = b.create<linalg::FillOp>(loc, slot, qEmpty).getResult(0);
  } else {
    qp = b.create<linalg::GenericOp>(
              loc, qEmpty.getType(), ValueRange{}, ValueRange{qEmpty},
              ArrayRef<AffineMap>{id}, parallel2,
              [&](OpBuilder &nb, Location nl, ValueRange) {
                Value i = nb.create<arith::IndexCastOp>(
                    nl, i64, nb.create<linalg::IndexOp>(nl, 1));
                nb.create<linalg::YieldOp>(
                    nl, ValueRange{nb.create<arith::AddIOp>(nl, slot, i)});
              })
             .getResult(0);
  }
  // The last key this call writes.
  Value lastSlot = slot;
  if (steps > 1)
    lastSlot = b.create<arith::AddIOp>(
        loc, slot, b.create<arith::ConstantIntOp>(loc, steps - 1, 64));
  Value kEmpty = b.create<tensor::EmptyOp>(
      loc, ArrayRef<int64_t>{batch, capacity}, i64);
  Value kp =
      b.create<linalg::GenericOp>(
           loc, kEmpty.getType(), ValueRange{}, ValueRange{kEmpty},
           ArrayRef<AffineMap>{id}, parallel2,
           [&](OpBuilder &nb, Location nl, ValueRange) {
             Value j = nb.create<linalg::IndexOp>(nl, 1);
             Value j64 = nb.create<arith::IndexCastOp>(nl, i64, j);
             Value seen = nb.create<arith::CmpIOp>(
                 nl, arith::CmpIPredicate::sle, j64, lastSlot);
             Value none = nb.create<arith::ConstantIntOp>(nl, -1, 64);
             Value kpos = nb.create<arith::SelectOp>(nl, seen, j64, none);
             nb.create<linalg::YieldOp>(nl, kpos);
           })
          .getResult(0);
  return {qp, kp};
}

Value Deriver::insertAtSlot(Location loc, Value cache, Value token,
                            Value slotIdx) {
  auto type = cast<RankedTensorType>(token.getType());
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  SmallVector<OpFoldResult> offsets = {zero, zero, slotIdx, zero};
  SmallVector<OpFoldResult> sizes;
  for (int64_t s : type.getShape())
    sizes.push_back(b.getIndexAttr(s));
  SmallVector<OpFoldResult> strides(4, one);
  return b.create<tensor::InsertSliceOp>(loc, token, cache, offsets, sizes,
                                         strides);
}

Value Deriver::mapI64(Location loc, Value in,
                      function_ref<Value(OpBuilder &, Location, Value)> fn) {
  auto type = cast<RankedTensorType>(in.getType());
  auto outType = RankedTensorType::get(type.getShape(), b.getI64Type());
  Value empty = b.create<tensor::EmptyOp>(loc, outType.getShape(),
                                          outType.getElementType());
  AffineMap id = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iters(type.getRank(),
                                         utils::IteratorType::parallel);
  return b
      .create<linalg::GenericOp>(
          loc, outType, ValueRange{in}, ValueRange{empty},
          ArrayRef<AffineMap>{id, id}, iters,
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value v = args[0];
            if (v.getType() != nb.getI64Type())
              v = nb.create<arith::ExtSIOp>(nl, nb.getI64Type(), v);
            nb.create<linalg::YieldOp>(nl, fn(nb, nl, v));
          })
      .getResult(0);
}

std::pair<Value, Value> Deriver::routedPositions(Location loc, Value routed,
                                                 int64_t batch,
                                                 int64_t capacity,
                                                 Value slotIdx,
                                                 StringRef prefix) {
  Value p = pos64;
  bool several = steps > 1;
  auto select = [p, several](OpBuilder &nb, Location nl, Value v, int64_t add,
                             int64_t none) -> Value {
    Value zero = nb.create<arith::ConstantIntOp>(nl, 0, 64);
    Value isRouted =
        nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::sge, v, zero);
    // A routed token's own row (0 in a one-token step).
    Value base = several ? nb.create<arith::AddIOp>(nl, p, v) : p;
    Value at = nb.create<arith::AddIOp>(
        nl, base, nb.create<arith::ConstantIntOp>(nl, add, 64));
    return nb.create<arith::SelectOp>(
        nl, isRouted, at, nb.create<arith::ConstantIntOp>(nl, none, 64));
  };
  Value qp = mapI64(loc, routed, [&](OpBuilder &nb, Location nl, Value v) {
    return select(nb, nl, v, 0, -1);
  });
  Value entry = mapI64(loc, routed, [&](OpBuilder &nb, Location nl, Value v) {
    return select(nb, nl, v, 1, 0);
  });
  auto kposType = RankedTensorType::get({batch, capacity}, b.getI64Type());
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  Value kpos = b.create<tensor::InsertSliceOp>(
      loc, entry, addState(kposType, (prefix + ".kpos").str()),
      ArrayRef<OpFoldResult>{zero, slotIdx},
      ArrayRef<OpFoldResult>{b.getIndexAttr(batch), b.getIndexAttr(steps)},
      ArrayRef<OpFoldResult>{one, one});
  addStateResult(kpos);
  Value kp = mapI64(loc, kpos, [&](OpBuilder &nb, Location nl, Value v) {
    return nb.create<arith::SubIOp>(
        nl, v, nb.create<arith::ConstantIntOp>(nl, 1, 64));
  });
  return {qp, kp};
}

Value Deriver::rope(Location loc, Value x, Value positions, FloatAttr theta) {
  return b.create<RopeOp>(loc, x, positions, theta);
}

LogicalResult Deriver::emitAttention(AttentionOp op, unsigned index) {
  Location loc = op.getLoc();
  Value q = retyped(op.getQuery()), k = retyped(op.getKey()),
        v = retyped(op.getValue());
  auto kType = cast<RankedTensorType>(k.getType());
  auto vType = cast<RankedTensorType>(v.getType());
  int64_t batch = kType.getDimSize(0);
  std::optional<int64_t> chunk = op.getChunkSize();
  int64_t capacity = chunk ? *chunk : time.length();
  if (chunk && steps > 1)
    return op.emitOpError()
           << "has no " << steps
           << "-token cached form: a chunked attention's cache restarts "
              "inside the block (an entry over whole chunks is a prefill of "
              "its own)";
  if (steps > capacity)
    return op.emitOpError() << "caches " << capacity << " positions, fewer "
                            << "than the " << steps << " of @" << name;
  if (!chunk)
    windowed = true;

  // The token's slot: its position in the chunk, or in the context.
  Value slot = pos64;
  if (chunk) {
    Value c = b.create<arith::ConstantIntOp>(loc, capacity, 64);
    slot = b.create<arith::RemSIOp>(loc, pos64, c);
  }
  Value slotIdx = b.create<arith::IndexCastOp>(loc, b.getIndexType(), slot);
  auto [qp, kp] = stepPositions(loc, batch, capacity, slot);
  if (FloatAttr theta = op.getRopeThetaAttr()) {
    q = rope(loc, q, qp, theta);
    k = rope(loc, k, qp, theta);
  }
  std::string prefix = statePrefix() + "attention." + std::to_string(index);
  if (Value routed = op.getQPositions()) {
    // Only routed tokens are keys: `attention.<i>.kpos` holds position + 1
    // of a routed token's slot and 0 otherwise (a zeroed state is empty).
    auto [q2, kp2] = routedPositions(loc, retyped(routed), batch, capacity,
                                     slotIdx, prefix);
    qp = q2;
    kp = kp2;
  }
  auto cacheType = [&](RankedTensorType t) {
    return RankedTensorType::get(
        {t.getDimSize(0), t.getDimSize(1), capacity, t.getDimSize(3)},
        t.getElementType());
  };
  Value kc = insertAtSlot(loc, addState(cacheType(kType), prefix + ".k"), k,
                          slotIdx);
  Value vc = insertAtSlot(loc, addState(cacheType(vType), prefix + ".v"), v,
                          slotIdx);
  addStateResult(kc);
  addStateResult(vc);
  Value out = b.create<AttentionOp>(loc, q, kc, vc, qp, kp,
                                    b.getBoolAttr(true), IntegerAttr(),
                                    op.getScaleAttr(), FloatAttr());
  map.map(op.getResult(), out);
  return success();
}

LogicalResult Deriver::emitMemoryAttention(MemoryAttentionOp op,
                                           unsigned index) {
  if (steps > 1)
    return op.emitOpError()
           << "has no " << steps
           << "-token cached form: the memory takes a segment when it fills, "
              "which may fall inside the block (an entry over whole segments "
              "is a prefill of its own)";
  Location loc = op.getLoc();
  Value q = retyped(op.getQuery()), k = retyped(op.getKey()),
        v = retyped(op.getValue());
  Value memory = retyped(op.getMemory()), norm = retyped(op.getNorm());
  auto kType = cast<RankedTensorType>(k.getType());
  auto vType = cast<RankedTensorType>(v.getType());
  int64_t batch = kType.getDimSize(0);
  int64_t segment = op.getSegmentSize();

  Value n = b.create<arith::ConstantIntOp>(loc, segment, 64);
  Value slot = b.create<arith::RemSIOp>(loc, pos64, n);
  Value slotIdx = b.create<arith::IndexCastOp>(loc, b.getIndexType(), slot);
  auto [qp, kp] = stepPositions(loc, batch, segment, slot);
  auto cacheType = [&](RankedTensorType t) {
    return RankedTensorType::get(
        {t.getDimSize(0), t.getDimSize(1), segment, t.getDimSize(3)},
        t.getElementType());
  };
  std::string prefix = statePrefix() + "attention." + std::to_string(index);
  // Raw keys for the memory update; rotated keys for the local attention.
  Value kc = insertAtSlot(loc, addState(cacheType(kType), prefix + ".k"), k,
                          slotIdx);
  addStateResult(kc);
  Value qLocal = q, kLocal = kc;
  if (FloatAttr theta = op.getRopeThetaAttr()) {
    qLocal = rope(loc, q, qp, theta);
    Value kRot = rope(loc, k, qp, theta);
    kLocal = insertAtSlot(
        loc, addState(cacheType(kType), prefix + ".k_rotated"), kRot,
        slotIdx);
    addStateResult(kLocal);
  }
  Value vc = insertAtSlot(loc, addState(cacheType(vType), prefix + ".v"), v,
                          slotIdx);
  addStateResult(vc);

  Value local = b.create<AttentionOp>(loc, qLocal, kLocal, vc, qp, kp,
                                      b.getBoolAttr(true), IntegerAttr(),
                                      op.getScaleAttr(), FloatAttr());
  Value retrieved = b.create<MemoryRetrieveOp>(loc, q, memory, norm);
  Value gated = b.create<MemoryGateOp>(loc, retrieved, local,
                                            retyped(op.getBeta()));

  // The memory takes the segment when it fills, never per token.
  Value last = b.create<arith::ConstantIntOp>(loc, segment - 1, 64);
  Value full =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, slot, last);
  auto ifOp = b.create<scf::IfOp>(
      loc, full,
      [&](OpBuilder &nb, Location nl) {
        auto update = nb.create<MemoryUpdateOp>(nl, op.getRuleAttr(), kc, vc,
                                                memory, norm);
        nb.create<scf::YieldOp>(nl, update.getResults());
      },
      [&](OpBuilder &nb, Location nl) {
        nb.create<scf::YieldOp>(nl, ValueRange{memory, norm});
      });
  map.map(op.getResult(), gated);
  map.map(op.getNewMemory(), ifOp.getResult(0));
  map.map(op.getNewNorm(), ifOp.getResult(1));
  return success();
}

void Deriver::emitDepthRoutingInPlace(RouteDepthOp clone, RouteDepthOp op) {
  // Causal routing lists the routed tokens first (ascending) then -1; the
  // cached attention writes every token at its own slot, so row s gets s
  // when token s is routed (-1 otherwise) and its weight (0 otherwise).
  // The block then runs on all S rows; rows of tokens not routed are
  // masked as queries and keys and never scattered back.
  Location loc = op.getLoc();
  auto idxType = cast<RankedTensorType>(clone.getIndices().getType());
  auto wType = cast<RankedTensorType>(clone.getWeights().getType());
  int64_t batch = idxType.getDimSize(0);
  AffineMap rows = AffineMap::get(3, 0, {b.getAffineDimExpr(0),
                                         b.getAffineDimExpr(1)},
                                  b.getContext());
  AffineMap listed = AffineMap::get(3, 0, {b.getAffineDimExpr(0),
                                           b.getAffineDimExpr(2)},
                                    b.getContext());
  SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                            utils::IteratorType::parallel,
                                            utils::IteratorType::reduction};
  Value minusOne = b.create<arith::ConstantIntOp>(loc, -1, 64);
  Value idxInit = b.create<linalg::FillOp>(
                       loc, minusOne,
                       b.create<tensor::EmptyOp>(
                           loc, ArrayRef<int64_t>{batch, steps},
                           b.getI64Type())
                           .getResult())
                      .getResult(0);
  Value zeroF = b.create<arith::ConstantOp>(
      loc, b.getFloatAttr(wType.getElementType(), 0.0));
  Value wInit = b.create<linalg::FillOp>(
                     loc, zeroF,
                     b.create<tensor::EmptyOp>(
                         loc, ArrayRef<int64_t>{batch, steps},
                         wType.getElementType())
                         .getResult())
                    .getResult(0);
  auto spread = b.create<linalg::GenericOp>(
      loc, TypeRange{idxInit.getType(), wInit.getType()},
      ValueRange{clone.getIndices(), clone.getWeights()},
      ValueRange{idxInit, wInit},
      ArrayRef<AffineMap>{listed, listed, rows, rows}, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value s = nb.create<arith::IndexCastOp>(
            nl, nb.getI64Type(), nb.create<linalg::IndexOp>(nl, 1));
        Value mine = nb.create<arith::CmpIOp>(nl, arith::CmpIPredicate::eq,
                                              args[0], s);
        nb.create<linalg::YieldOp>(
            nl, ValueRange{
                    nb.create<arith::SelectOp>(nl, mine, s, args[2]),
                    nb.create<arith::SelectOp>(nl, mine, args[1], args[3])});
      });
  map.map(op.getIndices(), spread.getResult(0));
  map.map(op.getWeights(), spread.getResult(1));
}

void Deriver::emitPatchEmbedStep(PatchEmbedOp op) {
  Location loc = op.getLoc();
  auto idsType = cast<RankedTensorType>(op.getIds().getType());
  int64_t batch = time.stepBatch(), patch = op.getPatchSize();
  auto patchIdsType =
      RankedTensorType::get({batch, steps * patch}, idsType.getElementType());
  Block &entry = decode.getBody().front();
  Value patchIds = entry.addArgument(patchIdsType, loc);
  extraArgs.push_back({patchIds, b.getDictionaryAttr(b.getNamedAttr(
                                     LCtxDialect::getInputAttrName(),
                                     b.getStringAttr("patch_ids")))});
  auto stepTy = stepType(op.getResult()); // [B, 1, P*D_G]
  Value e = b.create<EmbeddingOp>(loc, retyped(op.getTable()), patchIds);
  Value flat = b.create<tensor::CollapseShapeOp>(
      loc, e, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  Value embedded = b.create<tensor::ExpandShapeOp>(
      loc, stepTy, flat, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  Value padFlat = b.create<tensor::CollapseShapeOp>(
      loc, retyped(op.getPad()), ArrayRef<ReassociationIndices>{{0, 1}});
  Value padInit = b.create<tensor::EmptyOp>(loc, stepTy.getShape(),
                                            stepTy.getElementType());
  Value pad = b.create<linalg::BroadcastOp>(loc, padFlat, padInit,
                                            ArrayRef<int64_t>{0, 1})
                  .getResult()[0];
  Value zero = b.create<arith::ConstantIntOp>(loc, 0, 64);
  if (steps == 1) {
    Value first =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, pos64, zero);
    map.map(op.getResult(),
            b.create<arith::SelectOp>(loc, first, pad, embedded));
    return;
  }
  // Step g is the stream's first patch (the pad) iff pos + g == 0.
  AffineMap id = b.getMultiDimIdentityMap(3);
  Value p = pos64;
  map.map(op.getResult(),
          b.create<linalg::GenericOp>(
               loc, stepTy, ValueRange{pad, embedded}, ValueRange{padInit},
               ArrayRef<AffineMap>{id, id, id},
               SmallVector<utils::IteratorType>(
                   3, utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 Value g = nb.create<arith::IndexCastOp>(
                     nl, nb.getI64Type(), nb.create<linalg::IndexOp>(nl, 1));
                 Value at = nb.create<arith::AddIOp>(nl, p, g);
                 Value first = nb.create<arith::CmpIOp>(
                     nl, arith::CmpIPredicate::eq, at,
                     nb.create<arith::ConstantIntOp>(nl, 0, 64));
                 nb.create<linalg::YieldOp>(
                     nl, ValueRange{nb.create<arith::SelectOp>(
                             nl, first, args[0], args[1])});
               })
              .getResult(0));
}

/// One byte of MEGABYTE's local input: slot p of the patch's global output
/// (`global.out`), projected, plus the previous byte's local embedding
/// (`prev_id` [B, 1]; the local pad at p = 0).
void Deriver::emitToLocalStep(PatchToLocalOp op) {
  Location loc = op.getLoc();
  auto idsType = cast<RankedTensorType>(op.getIds().getType());
  auto globalType = cast<RankedTensorType>(op.getGlobalOut().getType());
  int64_t batch = time.stepBatch(), patch = op.getPatchSize();
  int64_t width = globalType.getDimSize(2) / patch; // D_G
  Block &entry = decode.getBody().front();
  Value prev = entry.addArgument(
      RankedTensorType::get({batch, 1}, idsType.getElementType()), loc);
  extraArgs.push_back({prev, b.getDictionaryAttr(b.getNamedAttr(
                                 LCtxDialect::getInputAttrName(),
                                 b.getStringAttr("prev_id")))});
  auto outType = RankedTensorType::get({batch, patch * width},
                                       globalType.getElementType());
  globalOutArg = entry.addArgument(outType, loc);
  Value offset = b.create<arith::MulIOp>(
      loc, b.create<arith::IndexCastOp>(loc, b.getIndexType(), pos64),
      b.create<arith::ConstantIndexOp>(loc, width));
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  Value slot = b.create<tensor::ExtractSliceOp>(
      loc, RankedTensorType::get({batch, width}, outType.getElementType()),
      globalOutArg, ArrayRef<OpFoldResult>{zero, offset},
      ArrayRef<OpFoldResult>{b.getIndexAttr(batch), b.getIndexAttr(width)},
      ArrayRef<OpFoldResult>{one, one});
  Value slot3 = b.create<tensor::ExpandShapeOp>(
      loc, RankedTensorType::get({batch, 1, width}, outType.getElementType()),
      slot, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  Value proj = b.create<LinearOp>(loc, slot3, retyped(op.getWGl()), Value(),
                                  UnitAttr());
  auto stepTy = stepType(op.getResult()); // [B, 1, D_L]
  Value e = b.create<EmbeddingOp>(loc, retyped(op.getLocalTable()), prev);
  Value padInit = b.create<tensor::EmptyOp>(loc, stepTy.getShape(),
                                            stepTy.getElementType());
  Value pad = b.create<linalg::BroadcastOp>(loc, retyped(op.getLocalPad()),
                                            padInit, ArrayRef<int64_t>{0, 1})
                  .getResult()[0];
  Value zero64 = b.create<arith::ConstantIntOp>(loc, 0, 64);
  Value first =
      b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, pos64, zero64);
  Value prevEmb = b.create<arith::SelectOp>(loc, first, pad, e);
  map.map(op.getResult(), b.create<arith::AddFOp>(loc, proj, prevEmb));
}
