//===- Deriver.h - Writes one derived decode entry --------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The writer half of lctx-derive-decode: given a prefill and its time
/// analysis (TimeAnalysis.h), clones the body into an entry point that
/// advances the model by a number of steps of one rate, re-typing every
/// token dimension. DeriveDecode.cpp holds the cloning, the entry's
/// signature and the pass; DeriveCaches.cpp the cached forms of the ops
/// that look back at earlier tokens (attention, memory attention, routing)
/// and MEGABYTE's patch steps.
///
//===----------------------------------------------------------------------===//

#ifndef LCTX_LIB_DIALECT_LCTX_TRANSFORMS_DERIVER_H
#define LCTX_LIB_DIALECT_LCTX_TRANSFORMS_DERIVER_H

#include "TimeAnalysis.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"

#include <string>

namespace mlir::lctx::derive {

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

} // namespace mlir::lctx::derive

#endif // LCTX_LIB_DIALECT_LCTX_TRANSFORMS_DERIVER_H
