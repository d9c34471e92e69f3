//===- Pipelines.cpp - Named lctx pass pipelines --------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Pipelines/Pipelines.h"

#include "CPUCodegen.h"

#include "lctx/Conversion/Passes.h"
#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "lctx/Dialect/LCtx/Transforms/Passes.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ComplexToLLVM/ComplexToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/OpenMPToLLVM/ConvertOpenMPToLLVM.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void lctx::buildFrontendPipeline(OpPassManager &pm,
                                 const FrontendPipelineOptions &options) {
  pm.addPass(createLCtxDeriveDecodePass());
  pm.addPass(createCanonicalizerPass());
  if (options.decompose)
    pm.addPass(createLCtxDecomposePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

namespace {
/// Prepares entry points for the LLVM dialect: every public function gets a
/// C-callable `_mlir_ciface_` wrapper.
struct PrepareEntryPointsPass
    : PassWrapper<PrepareEntryPointsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrepareEntryPointsPass)
  StringRef getArgument() const final { return "lctx-prepare-entry-points"; }
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(&getContext()));
    }
  }
};

/// The attribute lctx-read-only-arguments leaves on an entry point for
/// lctx-alias-states: [[name, state_in argument, state_out out-param], ...].
constexpr StringLiteral kStatePairsAttr = "lctx_state_pairs";

/// Marks the tensor arguments of entry points read-only for bufferization:
/// inputs and weights belong to the caller or the runtime (weights may be
/// mapped read-only), so an op that would update one in place works on a
/// copy. An incoming state whose next value the entry returns is writable:
/// the runtime never reads it again, so bufferization may update it in
/// place (a decode step writing one slot of its KV cache), and
/// lctx-alias-states can then let the runtime pass one buffer for both.
/// The lctx argument and result attributes (already recorded in the
/// artifact manifest) are dropped here, before bufferization turns results
/// into out-params.
struct ReadOnlyArgumentsPass
    : PassWrapper<ReadOnlyArgumentsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ReadOnlyArgumentsPass)
  StringRef getArgument() const final { return "lctx-read-only-arguments"; }
  void runOnOperation() override {
    auto readOnly = BoolAttr::get(&getContext(), false);
    auto writable = BoolAttr::get(&getContext(), true);
    Builder b(&getContext());
    StringRef stateName = lctx::LCtxDialect::getStateAttrName();
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      // State pairs: the argument carrying a state in and the result
      // carrying its next value (the out-param numArgs + result).
      SmallVector<Attribute> pairs;
      llvm::SmallDenseSet<unsigned> pairedArgs;
      if (func.isPublic() && !func.isExternal())
        for (unsigned r = 0, e = func.getNumResults(); r < e; ++r) {
          auto name = func.getResultAttrOfType<StringAttr>(r, stateName);
          if (!name)
            continue;
          for (unsigned i = 0, n = func.getNumArguments(); i < n; ++i)
            if (func.getArgAttrOfType<StringAttr>(i, stateName) == name &&
                func.getArgument(i).getType() ==
                    func.getFunctionType().getResult(r) &&
                pairedArgs.insert(i).second) {
              pairs.push_back(b.getArrayAttr(
                  {name, b.getI64IntegerAttr(i),
                   b.getI64IntegerAttr(func.getNumArguments() + r)}));
              break;
            }
        }
      if (!pairs.empty())
        func->setAttr(kStatePairsAttr, b.getArrayAttr(pairs));
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        for (StringRef name : {lctx::LCtxDialect::getWeightAttrName(),
                               lctx::LCtxDialect::getInputAttrName(),
                               lctx::LCtxDialect::getStateAttrName()})
          func.removeArgAttr(i, name);
      for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
        for (StringRef name : {lctx::LCtxDialect::getOutputAttrName(),
                               lctx::LCtxDialect::getStateAttrName()})
          func.removeResultAttr(i, StringAttr::get(&getContext(), name));
      if (!func.isPublic() || func.isExternal())
        continue;
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        if (isa<TensorType>(func.getArgument(i).getType()))
          func.setArgAttr(
              i, bufferization::BufferizationDialect::kWritableAttrName,
              pairedArgs.contains(i) ? writable : readOnly);
    }
  }
};

/// States an entry point updates in place. After bufferization, a state
/// whose next value is its incoming buffer (every write went into the
/// writable argument, e.g. a KV cache slot) reaches its out-param by one
/// whole copy, argument -> out-param, and nothing else touches the
/// out-param. That copy is made conditional on the two buffers being
/// distinct, and the state is listed in the module's `lctxc.inplace_states`
/// ({entry = [state, ...]}, read by lctx-compile into the manifest): the
/// runtime passes one buffer for both, and the step costs no copy of its
/// state. Every other state keeps two buffers.
struct AliasStatesPass : PassWrapper<AliasStatesPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(AliasStatesPass)
  StringRef getArgument() const final { return "lctx-alias-states"; }
  StringRef getDescription() const final {
    return "Let states copied whole from their argument alias it";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<scf::SCFDialect, arith::ArithDialect,
                    memref::MemRefDialect>();
  }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(&getContext());
    SmallVector<NamedAttribute> inPlace;
    for (auto func : module.getOps<func::FuncOp>()) {
      auto pairs = func->getAttrOfType<ArrayAttr>(kStatePairsAttr);
      if (!pairs)
        continue;
      func->removeAttr(kStatePairsAttr);
      if (func.isExternal())
        continue;
      Block &entry = func.getBody().front();
      SmallVector<Attribute> names;
      for (Attribute pair : pairs) {
        auto fields = cast<ArrayAttr>(pair);
        auto name = cast<StringAttr>(fields[0]);
        int64_t in = cast<IntegerAttr>(fields[1]).getInt();
        int64_t out = cast<IntegerAttr>(fields[2]).getInt();
        if (out >= int64_t(entry.getNumArguments()))
          continue;
        Value src = entry.getArgument(in), dst = entry.getArgument(out);
        if (!dst.hasOneUse())
          continue;
        Operation *copy = *dst.user_begin();
        if (copy->getBlock() != &entry || copy->getNumOperands() != 2 ||
            !isa<memref::CopyOp, linalg::CopyOp>(copy) ||
            copy->getOperand(0) != src || copy->getOperand(1) != dst)
          continue;
        OpBuilder ob(copy);
        Location loc = copy->getLoc();
        Value pin =
            ob.create<memref::ExtractAlignedPointerAsIndexOp>(loc, src);
        Value pout =
            ob.create<memref::ExtractAlignedPointerAsIndexOp>(loc, dst);
        Value distinct = ob.create<arith::CmpIOp>(
            loc, arith::CmpIPredicate::ne, pin, pout);
        auto ifOp = ob.create<scf::IfOp>(loc, distinct, /*withElse=*/false);
        copy->moveBefore(ifOp.thenBlock()->getTerminator());
        names.push_back(name);
      }
      if (!names.empty())
        inPlace.push_back(
            b.getNamedAttr(func.getSymName(), b.getArrayAttr(names)));
    }
    if (!inPlace.empty())
      module->setAttr("lctxc.inplace_states", b.getDictionaryAttr(inPlace));
  }
};

/// Lets a result buffer be the caller's out-param itself. After
/// buffer-results-to-out-params (with hoistStaticAllocs off) a result is
/// computed into a fresh `memref.alloc` and then `linalg.copy`-ed into the
/// out-param; when the out-param is used by nothing else and the alloc is
/// neither used after the copy (but by its dealloc) nor passed elsewhere,
/// the alloc is replaced by the out-param and the copy and dealloc go.
struct ForwardOutParamsPass
    : PassWrapper<ForwardOutParamsPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ForwardOutParamsPass)
  StringRef getArgument() const final { return "lctx-forward-out-params"; }
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Block &entry = func.getBody().front();
    SmallVector<Operation *> copies;
    for (Operation &op : entry)
      if (isa<memref::CopyOp>(op) ||
          (isa<linalg::CopyOp>(op) &&
           cast<linalg::CopyOp>(op).hasPureBufferSemantics()))
        copies.push_back(&op);
    for (Operation *copy : copies) {
      Value src = copy->getOperand(0), dst = copy->getOperand(1);
      auto alloc = src.getDefiningOp<memref::AllocOp>();
      auto arg = dyn_cast<BlockArgument>(dst);
      if (!alloc || !arg || arg.getOwner() != &entry ||
          alloc->getBlock() != &entry || src.getType() != dst.getType() ||
          !dst.hasOneUse())
        continue;
      SmallVector<Operation *> deallocs;
      bool ok = true;
      for (OpOperand &use : src.getUses()) {
        Operation *user = use.getOwner();
        if (user == copy)
          continue;
        if (isa<memref::DeallocOp>(user)) {
          deallocs.push_back(user);
          continue;
        }
        Operation *top = entry.findAncestorOpInBlock(*user);
        if (!top || !top->isBeforeInBlock(copy)) {
          ok = false;
          break;
        }
      }
      if (!ok)
        continue;
      for (Operation *d : deallocs)
        d->erase();
      copy->erase();
      src.replaceAllUsesWith(dst);
      alloc->erase();
    }
  }
};

/// Elementwise fusion on tensors, as upstream's linalg-fuse-elementwise-ops
/// (producers with one use fuse into their consumers; reshapes fold by
/// expansion), except that nothing fuses into a contraction-like consumer
/// (reduction loops and two or more inputs): a matmul whose body computes
/// max(x, 0) * w would no longer be a plain multiply-add for
/// lctx-cpu-contraction-codegen, and would recompute the activation for
/// every output column.
struct FuseElementwisePass
    : PassWrapper<FuseElementwisePass, OperationPass<>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FuseElementwisePass)
  StringRef getArgument() const final { return "lctx-fuse-elementwise"; }
  StringRef getDescription() const final {
    return "Fuse elementwise linalg ops, keeping contractions pure";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<linalg::LinalgDialect, tensor::TensorDialect,
                    affine::AffineDialect>();
  }
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    linalg::ControlFusionFn control = [](OpOperand *fused) {
      Operation *producer = fused->get().getDefiningOp();
      if (!producer || !producer->hasOneUse())
        return false;
      auto consumer = dyn_cast<linalg::LinalgOp>(fused->getOwner());
      return !(consumer && consumer.getNumReductionLoops() > 0 &&
               consumer.getNumDpsInputs() >= 2);
    };
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, control);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    ctx->getLoadedDialect<linalg::LinalgDialect>()->getCanonicalizationPatterns(
        patterns);
    linalg::populateConstantFoldLinalgOperations(patterns, control);
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      signalPassFailure();
  }
};

bool convertAllFunctions(func::FuncOp *) { return true; }

/// A Switch layer over a handful of tokens (a decode step: B x 1) runs
/// each token through its own expert only: route.experts, then per token
/// the chosen expert's FFN on slices of the expert weights at a dynamic
/// offset, scaled by the gate. The decomposed form (dispatch into E
/// capacity buffers, grouped FFN, combine) runs all E experts, i.e. reads
/// every expert's weights for one token. Only where no token can be
/// dropped (dropless, or one token per group); f32.
struct MoeTokenwisePass
    : PassWrapper<MoeTokenwisePass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MoeTokenwisePass)
  static constexpr int64_t kMaxTokens = 4;
  StringRef getArgument() const final { return "lctx-moe-tokenwise"; }
  StringRef getDescription() const final {
    return "Run small-batch Switch layers per token on the chosen expert only";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<scf::SCFDialect, tensor::TensorDialect,
                    arith::ArithDialect>();
  }
  void runOnOperation() override {
    SmallVector<lctx::RouteMoeOp> ops;
    getOperation().walk([&](lctx::RouteMoeOp op) {
      auto x = cast<RankedTensorType>(op.getInput().getType());
      auto w1 = cast<RankedTensorType>(op.getWIn().getType());
      auto w2 = cast<RankedTensorType>(op.getWOut().getType());
      if (!x.hasStaticShape() || !w1.hasStaticShape() ||
          !w2.hasStaticShape() || !x.getElementType().isF32() ||
          !w1.getElementType().isF32() || !w2.getElementType().isF32() ||
          (op.getWGate() &&
           !cast<RankedTensorType>(op.getWGate().getType())
                .getElementType()
                .isF32()) ||
          x.getDimSize(0) * x.getDimSize(1) > kMaxTokens ||
          !(op.getDropless() || x.getDimSize(1) == 1))
        return;
      ops.push_back(op);
    });
    for (lctx::RouteMoeOp op : ops) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      auto xType = cast<RankedTensorType>(op.getInput().getType());
      int64_t bsz = xType.getDimSize(0), seq = xType.getDimSize(1);
      int64_t d = xType.getDimSize(2);
      auto w2Type = cast<RankedTensorType>(op.getWOut().getType());
      int64_t dOut = w2Type.getDimSize(2);
      Type f32 = b.getF32Type();
      auto route = b.create<lctx::RouteExpertsOp>(
          loc, op.getInput(), op.getRouter(), op.getCapacityFactorAttr(),
          op.getDroplessAttr(), op.getAuxLossCoefAttr());
      auto idx = [&](OpBuilder &nb, int64_t v) -> Value {
        return nb.create<arith::ConstantIndexOp>(loc, v);
      };
      auto attrs = [&](OpBuilder &nb, ArrayRef<int64_t> v) {
        SmallVector<OpFoldResult> r;
        for (int64_t i : v)
          r.push_back(nb.getIndexAttr(i));
        return r;
      };
      Value acc = b.create<tensor::EmptyOp>(
          loc, ArrayRef<int64_t>{bsz, seq, dOut}, f32);
      for (int64_t bi = 0; bi < bsz; ++bi)
        for (int64_t si = 0; si < seq; ++si) {
          Value at[] = {idx(b, bi), idx(b, si)};
          Value e = b.create<arith::IndexCastOp>(
              loc, b.getIndexType(),
              b.create<tensor::ExtractOp>(loc, route.getExpert(), at));
          Value g = b.create<tensor::ExtractOp>(loc, route.getGate(), at);
          Value row = b.create<tensor::ExtractSliceOp>(
              loc, RankedTensorType::get({1, 1, d}, f32), op.getInput(),
              attrs(b, {bi, si, 0}), attrs(b, {1, 1, d}),
              attrs(b, {1, 1, 1}));
          Value y = lctx::buildExpertFfn(b, loc, op, e, row);
          Value gs = b.create<tensor::SplatOp>(
              loc, g, RankedTensorType::get({1, 1, dOut}, f32));
          y = b.create<arith::MulFOp>(loc, y, gs);
          acc = b.create<tensor::InsertSliceOp>(
              loc, y, acc, attrs(b, {bi, si, 0}), attrs(b, {1, 1, dOut}),
              attrs(b, {1, 1, 1}));
        }
      op.getResult().replaceAllUsesWith(acc);
      op.getAuxLoss().replaceAllUsesWith(route.getAuxLoss());
      op->erase();
    }
  }
};

/// MLIR 19's ownership-based deallocation leaves the buffers allocated
/// directly in an scf.forall body without a dealloc (scf.forall is not a
/// region-branch op it models), so every parallel loop with a temporary
/// (packed B blocks of the threaded contractions, attention's per-tile
/// row statistics and transposed tiles, ...) leaked it once per iteration:
/// 20-40 MB per call of a whole-model prefill, and the page faults of
/// fresh memory on every call. Such a buffer cannot outlive its iteration
/// (the body has no results), so it is freed before the body's terminator
/// unless it is already freed or may escape through a terminator, a
/// region-branch op or a call.
struct DeallocForallLocalsPass
    : PassWrapper<DeallocForallLocalsPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(DeallocForallLocalsPass)
  StringRef getArgument() const final { return "lctx-dealloc-forall-locals"; }
  StringRef getDescription() const final {
    return "Free the buffers allocated in scf.forall bodies at the end of "
           "each iteration";
  }
  static bool isLocal(Value root) {
    SmallVector<Value> work{root};
    while (!work.empty()) {
      Value v = work.pop_back_val();
      for (OpOperand &use : v.getUses()) {
        Operation *user = use.getOwner();
        if (isa<memref::DeallocOp, bufferization::DeallocOp,
                RegionBranchOpInterface, CallOpInterface>(user) ||
            user->hasTrait<OpTrait::IsTerminator>())
          return false;
        if (auto view = dyn_cast<ViewLikeOpInterface>(user)) {
          if (view.getViewSource() != v)
            return false;
          for (Value r : user->getResults())
            work.push_back(r);
          continue;
        }
        // Any other user reads or writes the buffer; one that returns a
        // memref might alias it.
        if (llvm::any_of(user->getResultTypes(),
                         [](Type t) { return isa<BaseMemRefType>(t); }))
          return false;
      }
    }
    return true;
  }
  void runOnOperation() override {
    SmallVector<memref::AllocOp> allocs;
    getOperation().walk([&](memref::AllocOp alloc) {
      if (isa<scf::ForallOp>(alloc->getParentOp()) &&
          isLocal(alloc.getResult()))
        allocs.push_back(alloc);
    });
    for (memref::AllocOp alloc : allocs) {
      OpBuilder b(alloc->getBlock()->getTerminator());
      b.create<memref::DeallocOp>(alloc.getLoc(), alloc.getResult());
    }
  }
};

/// convert-scf-to-openmp wraps each parallel body in memref.alloca_scope,
/// which must stay a single block, so lowering the loops inside it to
/// branches would make it invalid. A scope that holds no alloca bounds
/// nothing: inline it.
struct InlineAllocaFreeScopesPass
    : PassWrapper<InlineAllocaFreeScopesPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(InlineAllocaFreeScopesPass)
  StringRef getArgument() const final {
    return "lctx-inline-alloca-free-scopes";
  }
  void runOnOperation() override {
    SmallVector<memref::AllocaScopeOp> scopes;
    getOperation().walk([&](memref::AllocaScopeOp scope) {
      bool hasAlloca = false;
      scope.walk([&](memref::AllocaOp) { hasAlloca = true; });
      if (!hasAlloca)
        scopes.push_back(scope);
    });
    for (memref::AllocaScopeOp scope : scopes) {
      Block &body = scope.getBodyRegion().front();
      Operation *ret = body.getTerminator();
      SmallVector<Value> results(ret->getOperands());
      ret->erase();
      scope->getBlock()->getOperations().splice(
          Block::iterator(scope), body.getOperations());
      scope->replaceAllUsesWith(results);
      scope->erase();
    }
  }
};
} // namespace

void lctx::buildCPUPipeline(OpPassManager &pm,
                            const CPUPipelineOptions &options) {
  // memory.attention is lowered fused (retrieval and gate in the attention
  // epilogue), so only route.moe is decomposed here.
  FrontendPipelineOptions frontend;
  frontend.decompose = false;
  buildFrontendPipeline(pm, frontend);
  pm.addNestedPass<func::FuncOp>(std::make_unique<MoeTokenwisePass>());
  // The other f32 Switch layers: a grouped FFN over the kept tokens.
  pm.addNestedPass<func::FuncOp>(createMoeGroupedPass());
  if (options.decompose) {
    static const std::string kDecomposed[] = {"route.moe"};
    LCtxDecomposePassOptions decompose;
    decompose.ops = kDecomposed;
    pm.addPass(createLCtxDecomposePass(decompose));
  }

  // lctx -> linalg on tensors, fused.
  pm.addPass(createConvertLCtxToLinalgPass());
  pm.addPass(createConvertElementwiseToLinalgPass());
  pm.addPass(std::make_unique<FuseElementwisePass>());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Matmul-class ops -> cache-blocked, register-tiled vector loops (still on
  // tensors); the other linalg ops stay and become loops after
  // bufferization.
  if (options.contractions)
    pm.addNestedPass<func::FuncOp>(createCPUContractionCodegenPass());
  pm.addNestedPass<func::FuncOp>(createCPUGenericVectorizePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  // Tensors -> buffers; results become caller-provided out-params.
  // Copies between two identity-layout (contiguous) buffers are memref.copy,
  // which becomes llvm.memcpy; the others are linalg.copy, which becomes
  // loops: a strided memref.copy would need a runtime helper (memrefCopy)
  // in the artifact. (Whole-state copies of decode steps, e.g. the KV
  // caches, ran as scalar loops before.)
  auto linalgCopy = [](OpBuilder &b, Location loc, Value from,
                       Value to) -> LogicalResult {
    auto contiguous = [](Value v) {
      auto t = dyn_cast<MemRefType>(v.getType());
      return t && t.getLayout().isIdentity();
    };
    if (contiguous(from) && contiguous(to))
      b.create<memref::CopyOp>(loc, from, to);
    else
      b.create<linalg::CopyOp>(loc, from, to);
    return success();
  };
  bufferization::OneShotBufferizationOptions bufferization;
  bufferization.memCpyFn = linalgCopy;
  bufferization.bufferizeFunctionBoundaries = true;
  bufferization.setFunctionBoundaryTypeConversion(
      bufferization::LayoutMapOption::IdentityLayoutMap);
  pm.addPass(std::make_unique<ReadOnlyArgumentsPass>());
  pm.addNestedPass<func::FuncOp>(createGuardPartialTransferWritesPass());
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  pm.addPass(bufferization::createEmptyTensorToAllocTensorPass());
  pm.addPass(bufferization::createOneShotBufferizePass(bufferization));
  pm.addNestedPass<func::FuncOp>(createFoldUnitTransferWritesPass());
  bufferization::BufferResultsToOutParamsOpts outParams;
  // The default filter is a function_ref to a temporary lambda; bind it to a
  // function with static lifetime.
  outParams.filterFn = convertAllFunctions;
  outParams.memCpyFn = linalgCopy;
  // hoistStaticAllocs stays off: in MLIR 19 it crashes when a returned
  // buffer is not a plain memref.alloc (e2e MemoryAttention cases).
  outParams.hoistStaticAllocs = false;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  pm.addNestedPass<func::FuncOp>(std::make_unique<DeallocForallLocalsPass>());
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(std::make_unique<ForwardOutParamsPass>());
  pm.addPass(std::make_unique<AliasStatesPass>());

  // Loops, then the LLVM dialect. Subviews fold into the loads, stores and
  // vector transfers that use them.
  pm.addNestedPass<func::FuncOp>(memref::createFoldMemRefAliasOpsPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // Independent iterations (scf.forall, e.g. attention's query tiles) run on
  // the OpenMP thread pool (OMP_NUM_THREADS, lctx-run --threads).
  pm.addPass(createForallToParallelLoopPass());
  pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(std::make_unique<InlineAllocaFreeScopesPass>());
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(std::make_unique<PrepareEntryPointsPass>());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertComplexToLLVMPass());
  pm.addPass(arith::createArithExpandOpsPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void lctx::registerLCtxPipelines() {
  registerCPUContractionCodegenPass();
  registerCPUGenericVectorizePass();
  registerTransferWriteGuardPasses();
  PassRegistration<FuseElementwisePass>();
  PassRegistration<DeallocForallLocalsPass>();
  PassRegistration<AliasStatesPass>();
  PassRegistration<ReadOnlyArgumentsPass>();
  PassRegistration<MoeTokenwisePass>();
  registerMoeGroupedPass();
  PassPipelineRegistration<CPUPipelineOptions>(
      "lctx-cpu-pipeline",
      "lctx IR to the LLVM dialect for the host CPU (artifact calling "
      "convention: results become out-params)",
      buildCPUPipeline);
  PassPipelineRegistration<FrontendPipelineOptions>(
      "lctx-frontend-pipeline",
      "Model-level lctx pipeline: canonicalize, decompose composite ops, "
      "canonicalize, CSE",
      buildFrontendPipeline);
}
