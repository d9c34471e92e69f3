//===- DeriveDecode.cpp - One-token decode entry from a prefill -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The pass description (Passes.td) states the contract; docs/models.md says
// which generated models use it. Two steps: a time analysis that finds the
// token dimension of every value of the prefill (or rejects the op that has
// no one-token form), then a clone of the body into the derived function in
// which every time dimension is the entry's number of steps (1 for decode,
// S for extend) and the ops that look back at earlier tokens read and write
// caches held as runtime-owned state (their cached forms: DeriveCaches.cpp).
// This file: the cloning, the entry's signature and the pass.
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/Transforms/Passes.h"

#include "Deriver.h"

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

namespace {

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
