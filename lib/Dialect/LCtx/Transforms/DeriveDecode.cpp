//===- DeriveDecode.cpp - One-token decode entry from a prefill -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The pass description (Passes.td) states the contract; docs/models.md says
// which generated models use it. Two steps: a time analysis that finds the
// token dimension of every value of the prefill (or rejects the op that has
// no one-token form), then a clone of the body into the decode function in
// which every time dimension is 1 and the ops that look back at earlier
// tokens read and write caches held as runtime-owned state.
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/Transforms/Passes.h"

#include "TimeAnalysis.h"

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::lctx {
#define GEN_PASS_DEF_LCTXDERIVEDECODEPASS
#include "lctx/Dialect/LCtx/Transforms/Passes.h.inc"
} // namespace mlir::lctx

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::derive;

namespace {

class Deriver {
public:
  /// Writes the entry `name` after `after`: one step of `rate`, or `steps`
  /// consecutive ones (an extend entry).
  Deriver(func::FuncOp prefill, const TimeAnalysis &time, StringRef name,
          Rate rate, int64_t steps, Operation *after)
      : prefill(prefill), time(time), name(name), rate(rate), steps(steps),
        after(after), b(prefill.getContext()) {}

  FailureOr<func::FuncOp> run();
  /// True when some cache spans the whole context (a decode window).
  bool windowed = false;
  /// The positions of the rate a windowed cache holds (0: no window).
  int64_t window() const { return windowed ? time.length() : 0; }

private:
  Value retyped(Value v) { return map.lookup(v); }
  /// The one-step type of a prefill value: its token dimension 1, and at
  /// the local rate its patch batch B*K -> B.
  RankedTensorType stepType(Value old) {
    auto type = withTime(old.getType(), time.of(old), steps);
    if (!time.isLocal(old))
      return type;
    SmallVector<int64_t> shape(type.getShape());
    shape[0] = time.stepBatch();
    return RankedTensorType::get(shape, type.getElementType(),
                                 type.getEncoding());
  }
  /// Names of the states this entry adds.
  std::string statePrefix() const {
    return rate == Rate::Global  ? "global."
           : rate == Rate::Local ? "local."
                                 : "";
  }
  StringRef posName() const {
    return rate == Rate::Global  ? "global.pos"
           : rate == Rate::Local ? "local.pos"
                                 : "pos";
  }
  /// The ops of the prefill this entry steps (all of them for a token
  /// model; the global or the local model's for a patch model).
  void selectOps();
  void emitPatchEmbedStep(PatchEmbedOp op);
  void emitToLocalStep(PatchToLocalOp op);
  Value addState(Type type, StringRef stateName) {
    Block &entry = decode.getBody().front();
    BlockArgument arg = entry.addArgument(type, prefill.getLoc());
    newStates.push_back({arg, stateName.str()});
    return arg;
  }
  void addStateResult(Value v) { newResults.push_back(v); }

  LogicalResult cloneOp(Operation *op);
  LogicalResult emitAttention(AttentionOp op, unsigned index);
  LogicalResult emitMemoryAttention(MemoryAttentionOp op, unsigned index);
  /// A route.depth of several steps: its compacted (causal) indices and
  /// weights spread back to the tokens' own rows.
  void emitDepthRoutingInPlace(RouteDepthOp clone, RouteDepthOp op);
  /// Query positions [B, S] = slot + i, key positions [B, C] = j if
  /// j < slot + S else -1.
  std::pair<Value, Value> stepPositions(Location loc, int64_t batch,
                                        int64_t capacity, Value slot);
  Value insertAtSlot(Location loc, Value cache, Value token, Value slotIdx);
  /// For tokens the router selected or not (`routed` [B, S]: row i holds
  /// i, or -1): query positions [B, S] (pos + i, or -1: sees nothing) and
  /// key positions [B, C] from the updated kpos cache.
  std::pair<Value, Value> routedPositions(Location loc, Value routed,
                                          int64_t batch, int64_t capacity,
                                          Value slotIdx, StringRef prefix);
  /// An elementwise i64 map of `in` [B, N] through `fn(builder, loc, v)`.
  Value mapI64(Location loc, Value in,
               function_ref<Value(OpBuilder &, Location, Value)> fn);
  Value rope(Location loc, Value x, Value positions, FloatAttr theta);

  func::FuncOp prefill;
  const TimeAnalysis &time;
  std::string name;
  Rate rate;
  int64_t steps;
  Operation *after;
  DenseSet<Operation *> selected;
  /// The global output one patch step hands to the local steps
  /// (`global.out` [B, P * D_G]).
  Value globalOutArg, globalOut;
  OpBuilder b;
  func::FuncOp decode;
  IRMapping map;
  Value pos, pos64;
  SmallVector<std::pair<BlockArgument, std::string>> newStates;
  /// Inputs a patch step adds (`patch_ids`, `prev_id`) with their attributes.
  SmallVector<std::pair<Value, DictionaryAttr>> extraArgs;
  SmallVector<Value> newResults;
  bool addedPos = false;
};

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

LogicalResult Deriver::cloneOp(Operation *op) {
  Location loc = op->getLoc();
  if (auto empty = dyn_cast<tensor::EmptyOp>(op)) {
    int64_t d = time.of(empty.getResult());
    if (d == kNoTime) {
      b.clone(*op, map);
      return success();
    }
    auto type = stepType(empty.getResult());
    map.map(empty.getResult(),
            b.create<tensor::EmptyOp>(loc, type.getShape(),
                                      type.getElementType()));
    return success();
  }
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op);
      expand && time.of(expand.getResult()) != kNoTime) {
    auto type = stepType(expand.getResult());
    map.map(expand.getResult(),
            b.create<tensor::ExpandShapeOp>(
                loc, type, retyped(expand.getSrc()),
                expand.getReassociationIndices()));
    return success();
  }
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op);
      collapse && time.of(collapse.getResult()) != kNoTime) {
    map.map(collapse.getResult(),
            b.create<tensor::CollapseShapeOp>(
                loc, retyped(collapse.getSrc()),
                collapse.getReassociationIndices()));
    return success();
  }
  Operation *clone = b.clone(*op, map);
  for (auto [old, result] :
       llvm::zip(op->getResults(), clone->getResults())) {
    if (time.of(old) != kNoTime)
      result.setType(stepType(old));
  }
  if (isa<RouteMoeOp>(clone))
    clone->setAttr("dropless", b.getUnitAttr());
  // Decode routes causally (sigmoid(r) > 0.5): top-k needs the future.
  if (auto depth = dyn_cast<RouteDepthOp>(clone)) {
    depth.setMode(DepthRouting::causal);
    if (steps > 1)
      emitDepthRoutingInPlace(depth, cast<RouteDepthOp>(op));
  }
  // One token of every timed value must still be a valid op; it is not when
  // a token input's dimension 1 is not its token dimension.
  if (failed(mlir::verify(clone)))
    return op->emitOpError()
           << "re-typed to one token does not verify (is dimension 1 of "
              "every lctx.input of @"
           << prefill.getSymName() << " its token dimension?)";
  return success();
}

void Deriver::selectOps() {
  Block &body = prefill.getBody().front();
  if (rate == Rate::Token) {
    for (Operation &op : body.without_terminator())
      selected.insert(&op);
    return;
  }
  // The backward slice of the step's results: the global output for the
  // global step, the outputs for the local step (which starts at
  // patch.to_local and reads nothing of the global model but its output).
  SmallVector<Value> roots;
  auto toLocal = *body.getOps<PatchToLocalOp>().begin();
  if (rate == Rate::Global) {
    roots.push_back(toLocal.getGlobalOut());
  } else {
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    for (auto [i, v] : llvm::enumerate(ret.getOperands()))
      if (prefill.getResultAttr(i, LCtxDialect::getOutputAttrName()))
        roots.push_back(v);
  }
  SmallVector<Operation *> work;
  auto push = [&](Value v) {
    if (Operation *def = v.getDefiningOp())
      if (def->getBlock() == &body && selected.insert(def).second)
        work.push_back(def);
  };
  for (Value v : roots)
    push(v);
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (rate == Rate::Local && op == toLocal.getOperation())
      continue; // its operands belong to the global step
    for (Value v : op->getOperands())
      push(v);
    op->walk([&](Operation *nested) {
      for (Value v : nested->getOperands())
        push(v);
    });
  }
}

/// One patch of MEGABYTE's global input: the concatenated embeddings of the
/// previous patch's bytes (`patch_ids` [B, P]), or the pad patch at k = 0.
/// G steps at once take the G patches before each step's ([B, G * P]).
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

FailureOr<func::FuncOp> Deriver::run() {
  MLIRContext *ctx = prefill.getContext();
  Location loc = prefill.getLoc();
  selectOps();
  // The local step computes the outputs from the global model's output.
  if (rate == Rate::Local &&
      !selected.contains(
          *prefill.getBody().front().getOps<PatchToLocalOp>().begin()))
    return prefill.emitOpError()
           << "a two-rate decode needs an lctx.output result computed by "
              "the local model (from lctx.patch.to_local)";

  // The signature so far: the prefill's arguments, one token each (a patch
  // model's byte input is replaced by its per-step inputs and erased).
  SmallVector<Type> argTypes;
  for (BlockArgument arg : prefill.getArguments())
    argTypes.push_back(time.of(arg) == kNoTime ? arg.getType()
                                               : Type(stepType(arg)));
  b.setInsertionPointAfter(after);
  decode = b.create<func::FuncOp>(loc, name,
                                  FunctionType::get(ctx, argTypes, {}));
  Block *entry = decode.addEntryBlock();
  for (auto [old, arg] : llvm::zip(prefill.getArguments(),
                                   entry->getArguments()))
    map.map(old, arg);
  b.setInsertionPointToStart(entry);

  // The position: the prefill's state of that name, or a new one.
  auto stateName = [&](ArrayRef<NamedAttribute> attrs) -> StringRef {
    for (NamedAttribute a : attrs)
      if (a.getName() == LCtxDialect::getStateAttrName())
        if (auto s = dyn_cast<StringAttr>(a.getValue()))
          return s.getValue();
    return {};
  };
  auto posType = RankedTensorType::get({1}, b.getI64Type());
  for (BlockArgument arg : prefill.getArguments())
    if (DictionaryAttr attrs = prefill.getArgAttrDict(arg.getArgNumber());
        attrs && stateName(attrs.getValue()) == posName()) {
      if (arg.getType() != posType)
        return prefill.emitOpError()
               << "state '" << posName()
               << "' must be tensor<1xi64> (tokens consumed), got "
               << arg.getType();
      pos = map.lookup(arg);
    }
  // Only the cached attentions and the patch steps need the position.
  bool positional = rate != Rate::Token ||
                    llvm::any_of(selected, [&](Operation *op) {
                      return isa<AttentionOp, MemoryAttentionOp>(op) &&
                             time.of(op->getResult(0)) != kNoTime;
                    });
  if (!pos && positional) {
    pos = entry->addArgument(posType, loc);
    addedPos = true;
  }
  if (pos) {
    Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
    pos64 = b.create<tensor::ExtractOp>(loc, pos, ValueRange{zero});
  }

  unsigned attentionIndex = 0;
  func::ReturnOp ret;
  for (Operation &op : prefill.getBody().front()) {
    if (auto r = dyn_cast<func::ReturnOp>(op)) {
      ret = r;
      continue;
    }
    if (!selected.contains(&op))
      continue;
    b.setInsertionPointToEnd(entry);
    if (auto embed = dyn_cast<PatchEmbedOp>(op); embed && rate == Rate::Global)
      emitPatchEmbedStep(embed);
    else if (auto toLocal = dyn_cast<PatchToLocalOp>(op);
             toLocal && rate == Rate::Local)
      emitToLocalStep(toLocal);
    else if (auto merge = dyn_cast<PatchMergeOp>(op);
             merge && rate == Rate::Local)
      map.map(merge.getResult(), retyped(merge.getInput()));
    else if (auto a = dyn_cast<AttentionOp>(op);
             a && time.of(a.getResult()) != kNoTime) {
      if (failed(emitAttention(a, attentionIndex++))) {
        decode.erase();
        return failure();
      }
    } else if (auto m = dyn_cast<MemoryAttentionOp>(op);
               m && time.of(m.getResult()) != kNoTime) {
      if (failed(emitMemoryAttention(m, attentionIndex++))) {
        decode.erase();
        return failure();
      }
    } else if (failed(cloneOp(&op))) {
      decode.erase();
      return failure();
    }
  }

  // The caches' names must not be the prefill's own states'.
  for (auto &[arg, state] : newStates)
    for (unsigned i = 0; i < prefill.getNumArguments(); ++i)
      if (DictionaryAttr attrs = prefill.getArgAttrDict(i);
          attrs && stateName(attrs.getValue()) == state) {
        decode.erase();
        return prefill.emitOpError()
               << "argument " << i << " is state '" << state
               << "', the name of a cache @" << name
               << " needs: rename that state (derived caches are "
                  "[global.|local.]attention.<i>.*)";
      }

  // Results: the prefill's that this step computes (one token each; the
  // position advanced by one), then the rate's hand-over states, then the
  // caches.
  b.setInsertionPointToEnd(entry);
  Value nextPos;
  if (pos) {
    Value one = b.create<arith::ConstantIntOp>(loc, steps, 64);
    Value next = b.create<arith::AddIOp>(loc, pos64, one);
    nextPos = b.create<tensor::FromElementsOp>(loc, posType, next);
  }
  auto stateAttr = [&](StringRef state) {
    return b.getDictionaryAttr(b.getNamedAttr(
        LCtxDialect::getStateAttrName(), b.getStringAttr(state)));
  };
  SmallVector<Value> results;
  SmallVector<DictionaryAttr> resultAttrs;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    DictionaryAttr attrs = prefill.getResultAttrDict(i);
    StringRef state = attrs ? stateName(attrs.getValue()) : StringRef();
    if (state == posName()) {
      results.push_back(nextPos);
    } else if (rate == Rate::Token) {
      results.push_back(map.lookup(v));
    } else {
      // A patch step returns what it computes: the global step its states,
      // the local step the outputs (and its states).
      Operation *def = v.getDefiningOp();
      if (!def || !selected.contains(def) ||
          (rate == Rate::Global && state.empty()))
        continue;
      results.push_back(map.lookup(v));
    }
    resultAttrs.push_back(attrs ? attrs : b.getDictionaryAttr({}));
  }
  SmallVector<std::pair<BlockArgument, DictionaryAttr>> pairs;
  if (addedPos) {
    pairs.push_back({cast<BlockArgument>(pos), stateAttr(posName())});
    results.push_back(nextPos);
    resultAttrs.push_back(stateAttr(posName()));
  }
  if (rate == Rate::Global && steps == 1) {
    // The patch's global output for the local steps, and the local
    // position restarted. (Several patches at once only fill the global
    // caches: the next one-patch step hands its output over.)
    Value out = retyped(
        (*prefill.getBody().front().getOps<PatchToLocalOp>().begin())
            .getGlobalOut());
    Value flat = b.create<tensor::CollapseShapeOp>(
        loc, out, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    BlockArgument outArg = entry->addArgument(flat.getType(), loc);
    pairs.push_back({outArg, stateAttr("global.out")});
    results.push_back(flat);
    resultAttrs.push_back(stateAttr("global.out"));
    BlockArgument localPos = entry->addArgument(posType, loc);
    pairs.push_back({localPos, stateAttr("local.pos")});
    Value zero = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(posType, b.getI64IntegerAttr(0)));
    results.push_back(zero);
    resultAttrs.push_back(stateAttr("local.pos"));
  }
  if (rate == Rate::Local) {
    pairs.push_back({cast<BlockArgument>(globalOutArg),
                     stateAttr("global.out")});
    results.push_back(globalOutArg);
    resultAttrs.push_back(stateAttr("global.out"));
  }
  for (auto [i, state] : llvm::enumerate(newStates)) {
    pairs.push_back({state.first, stateAttr(state.second)});
    results.push_back(newResults[i]);
    resultAttrs.push_back(stateAttr(state.second));
  }
  b.create<func::ReturnOp>(ret.getLoc(), results);

  // Argument attributes: the prefill's, then those of the added arguments.
  SmallVector<DictionaryAttr> argAttrs(entry->getNumArguments(),
                                       b.getDictionaryAttr({}));
  for (unsigned i = 0; i < prefill.getNumArguments(); ++i)
    if (DictionaryAttr attrs = prefill.getArgAttrDict(i))
      argAttrs[i] = attrs;
  for (auto &[arg, attrs] : pairs)
    argAttrs[arg.getArgNumber()] = attrs;
  for (auto &[arg, attrs] : extraArgs)
    argAttrs[cast<BlockArgument>(arg).getArgNumber()] = attrs;

  SmallVector<Type> finalResults;
  for (Value v : results)
    finalResults.push_back(v.getType());
  decode.setFunctionType(
      FunctionType::get(ctx, entry->getArgumentTypes(), finalResults));
  decode.setAllArgAttrs(argAttrs);
  decode.setAllResultAttrs(resultAttrs);
  decode.setVisibility(prefill.getVisibility());
  // A cache over the whole prefill holds `window` positions: the entry
  // needs pos + steps <= window, which the runtime checks before a call.
  if (window())
    decode->setAttr(LCtxDialect::getAdvanceAttrName(),
                    b.getDictionaryAttr(
                        {b.getNamedAttr("state", b.getStringAttr(posName())),
                         b.getNamedAttr("steps", b.getI64IntegerAttr(steps)),
                         b.getNamedAttr("limit",
                                        b.getI64IntegerAttr(window()))}));

  // A patch step drops the prefill's arguments it does not read (the byte
  // input, the other rate's weights and states).
  if (rate != Rate::Token) {
    llvm::StringSet<> returnedStates;
    for (DictionaryAttr attrs : resultAttrs)
      if (StringRef state = stateName(attrs.getValue()); !state.empty())
        returnedStates.insert(state);
    llvm::BitVector erase(entry->getNumArguments());
    for (BlockArgument arg : entry->getArguments()) {
      StringRef state = stateName(argAttrs[arg.getArgNumber()].getValue());
      if (arg.use_empty() && !returnedStates.contains(state))
        erase.set(arg.getArgNumber());
    }
    decode.eraseArguments(erase);
  }
  return decode;
}

struct LCtxDeriveDecodePass
    : public lctx::impl::LCtxDeriveDecodePassBase<LCtxDeriveDecodePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> prefills;
    for (auto func : module.getOps<func::FuncOp>())
      if (func->hasAttr(LCtxDialect::getDecodeAttrName()) ||
          func->hasAttr(LCtxDialect::getExtendAttrName()))
        prefills.push_back(func);
    SymbolTable symbols(module);
    for (func::FuncOp prefill : prefills) {
      if (prefill.isExternal() || !prefill.getBody().hasOneBlock()) {
        prefill.emitOpError() << "must have a body of one block to derive "
                                 "its decode entry points";
        return signalPassFailure();
      }
      // A patch model (MEGABYTE) steps at two rates: `<name>_global` once
      // per patch, `<name>_local` once per byte; its extend entry steps the
      // global model only, `<entry>_global`, over tokens / P patches.
      auto embeds = prefill.getBody().front().getOps<PatchEmbedOp>();
      bool patches = !embeds.empty();
      struct Entry {
        Rate rate;
        std::string name;
        int64_t steps;
      };
      SmallVector<Entry> entries;
      if (auto name = prefill->getAttrOfType<StringAttr>(
              LCtxDialect::getDecodeAttrName())) {
        if (patches) {
          entries.push_back(
              {Rate::Global, (name.getValue() + "_global").str(), 1});
          entries.push_back(
              {Rate::Local, (name.getValue() + "_local").str(), 1});
        } else {
          entries.push_back({Rate::Token, name.getValue().str(), 1});
        }
      }
      if (auto extend = prefill->getAttrOfType<DictionaryAttr>(
              LCtxDialect::getExtendAttrName())) {
        StringRef name = extend.getAs<StringAttr>("entry").getValue();
        int64_t tokens = extend.getAs<IntegerAttr>("tokens").getInt();
        if (patches) {
          int64_t patch = (*embeds.begin()).getPatchSize();
          if (tokens % patch) {
            prefill.emitOpError()
                << "extends by " << tokens << " bytes, not a multiple of "
                << "the patch (" << patch
                << "): a patch model's extend entry steps whole patches";
            return signalPassFailure();
          }
          entries.push_back(
              {Rate::Global, (name + "_global").str(), tokens / patch});
        } else {
          entries.push_back({Rate::Token, name.str(), tokens});
        }
      }
      Operation *after = prefill;
      for (Entry &e : entries) {
        if (Operation *existing = symbols.lookup(e.name)) {
          InFlightDiagnostic diag =
              prefill.emitOpError()
              << "cannot derive @" << e.name
              << ": the module already defines it";
          diag.attachNote(existing->getLoc()) << "defined here";
          return signalPassFailure();
        }
        TimeAnalysis time(prefill, e.rate);
        if (failed(time.run()))
          return signalPassFailure();
        if (e.steps > time.length()) {
          prefill.emitOpError()
              << "cannot derive @" << e.name << " over " << e.steps
              << " steps: the prefill has " << time.length();
          return signalPassFailure();
        }
        Deriver deriver(prefill, time, e.name, e.rate, e.steps, after);
        FailureOr<func::FuncOp> decode = deriver.run();
        if (failed(decode))
          return signalPassFailure();
        after = *decode;
        symbols.insert(*decode);
        if (failed(mlir::verify(*decode))) {
          (*decode).emitOpError() << "derived from @" << prefill.getSymName()
                                  << " does not verify (a bug in "
                                     "lctx-derive-decode)";
          return signalPassFailure();
        }
        if (deriver.windowed && e.rate == Rate::Token)
          recordWindow(module, time.length());
      }
      prefill->removeAttr(LCtxDialect::getDecodeAttrName());
      prefill->removeAttr(LCtxDialect::getExtendAttrName());
    }
  }

  /// `window = T` in the module's `lctx.model` (the smallest when several
  /// entries are derived).
  static void recordWindow(ModuleOp module, int64_t window) {
    Builder b(module.getContext());
    auto model = module->getAttrOfType<DictionaryAttr>(
        LCtxDialect::getModelAttrName());
    NamedAttrList entries;
    if (model)
      entries.append(model.getValue());
    if (auto old = entries.get("window"))
      window = std::min(window, cast<IntegerAttr>(old).getInt());
    entries.set("window", b.getI64IntegerAttr(window));
    module->setAttr(LCtxDialect::getModelAttrName(),
                    entries.getDictionary(module.getContext()));
  }
};

} // namespace
