//===- CUDA.cpp - NVIDIA GPU code generation ------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Target/CUDA.h"

#include "lctx/Conversion/Passes.h"
#include "lctx/Dialect/LCtx/Transforms/Passes.h"
#include "lctx/Pipelines/Pipelines.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cstdlib>
#include <mutex>

using namespace mlir;

namespace {

/// Entry points own none of their arguments (inputs, weights and state
/// belong to the runtime): bufferization must not write into them. The
/// lctx argument and result attributes, already used by the frontend, are
/// dropped before results become out-params.
struct PrepareArgumentsPass
    : PassWrapper<PrepareArgumentsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrepareArgumentsPass)
  StringRef getArgument() const final { return "lctx-cuda-prepare-arguments"; }
  void runOnOperation() override {
    auto notWritable = BoolAttr::get(&getContext(), false);
    auto isLCtx = [](NamedAttribute a) {
      return a.getName().getValue().starts_with("lctx.");
    };
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
        NamedAttrList attrs(func.getArgAttrDict(i));
        for (NamedAttribute a : llvm::make_early_inc_range(attrs))
          if (isLCtx(a))
            attrs.erase(a.getName());
        func.setArgAttrs(i, attrs.getDictionary(&getContext()));
        if (!func.isExternal() && isa<TensorType>(func.getArgument(i).getType()))
          func.setArgAttr(i,
                          bufferization::BufferizationDialect::kWritableAttrName,
                          notWritable);
      }
      for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
        NamedAttrList attrs(func.getResultAttrDict(i));
        for (NamedAttribute a : llvm::make_early_inc_range(attrs))
          if (isLCtx(a))
            attrs.erase(a.getName());
        func.setResultAttrs(i, attrs.getDictionary(&getContext()));
      }
    }
  }
};

/// Gives every outermost parallel loop nest a thread dimension: its
/// innermost (contiguous) dimension is tiled by up to 256, so that
/// gpu-map-parallel-loops puts the tile on threads (consecutive threads,
/// consecutive addresses) and the rest of the nest on blocks.
struct TileForThreadsPass
    : PassWrapper<TileForThreadsPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TileForThreadsPass)
  StringRef getArgument() const final { return "lctx-cuda-tile-for-threads"; }
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        loops.push_back(loop);
    });
    for (scf::ParallelOp loop : loops) {
      unsigned rank = loop.getNumLoops();
      auto lb = getConstantIntValue(loop.getLowerBound()[rank - 1]);
      auto ub = getConstantIntValue(loop.getUpperBound()[rank - 1]);
      auto step = getConstantIntValue(loop.getStep()[rank - 1]);
      if (!lb || !ub || !step || *step != 1 || *ub - *lb < 2)
        continue;
      SmallVector<int64_t> sizes(rank, 1);
      sizes.back() = std::min<int64_t>(*ub - *lb, 256);
      scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/false);
    }
  }
};

/// After outlining, host functions may only launch kernels and manage
/// buffers: any other memory access would run on the host. Those are the
/// ops whose lowering is not mapped to the GPU yet; report them where the
/// model wrote them.
struct CheckHostCodePass
    : PassWrapper<CheckHostCodePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CheckHostCodePass)
  StringRef getArgument() const final { return "lctx-check-gpu-host-code"; }
  void runOnOperation() override {
    bool ok = true;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      func.walk([&](Operation *op) {
        if (!isa<memref::LoadOp, memref::StoreOp, affine::AffineLoadOp,
                 affine::AffineStoreOp, vector::TransferReadOp,
                 vector::TransferWriteOp, vector::LoadOp, vector::StoreOp>(
                op) &&
            !isa<linalg::LinalgDialect>(op->getDialect()))
          return WalkResult::advance();
        op->emitError()
            << "the cuda target cannot run this on the GPU yet ('"
            << op->getName() << "' left on the host after mapping loops "
            << "to the GPU grid)";
        ok = false;
        return WalkResult::interrupt();
      });
      if (!ok)
        return signalPassFailure();
    }
  }
};

/// Moves every outlined kernel into one gpu.module, `@lctx_kernels`, so
/// that a model is one PTX/cubin; each kernel takes the unique name of the
/// module it came from.
struct MergeGPUModulesPass
    : PassWrapper<MergeGPUModulesPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MergeGPUModulesPass)
  StringRef getArgument() const final { return "lctx-merge-gpu-modules"; }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> modules(module.getOps<gpu::GPUModuleOp>());
    if (modules.empty())
      return;
    OpBuilder b(modules.front());
    auto merged = b.create<gpu::GPUModuleOp>(module.getLoc(), "lctx_kernels");
    Block &body = merged.getBodyRegion().front();
    DenseMap<StringAttr, StringAttr> renamed; // module name -> kernel
    for (gpu::GPUModuleOp m : modules) {
      SmallVector<Operation *> ops;
      for (Operation &op : m.getBodyRegion().front().without_terminator())
        ops.push_back(&op);
      for (Operation *op : ops) {
        if (auto func = dyn_cast<gpu::GPUFuncOp>(op)) {
          func.setName(m.getName());
          renamed[m.getNameAttr()] = func.getNameAttr();
        }
        op->moveBefore(body.getTerminator());
      }
      m.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr from = launch.getKernelModuleName();
      launch.setKernelAttr(SymbolRefAttr::get(
          merged.getNameAttr(),
          {FlatSymbolRefAttr::get(renamed.lookup(from))}));
    });
  }
};

void registerPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerConversionPasses();
    registerGPUPasses();
    registerLinalgPasses();
    bufferization::registerBufferizationPasses();
    registerTransformsPasses();
  });
}

} // namespace

void lctx::registerCUDATarget(DialectRegistry &registry) {
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect, LLVM::LLVMDialect,
                  affine::AffineDialect, vector::VectorDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerGPUDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}

std::string lctx::findCUDAToolkit() {
  auto hasPtxas = [](StringRef dir) {
    SmallString<128> path(dir);
    llvm::sys::path::append(path, "bin", "ptxas");
    return !dir.empty() && llvm::sys::fs::can_execute(path);
  };
  for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *dir = std::getenv(var); dir && hasPtxas(dir))
      return dir;
  if (hasPtxas("/usr/local/cuda"))
    return "/usr/local/cuda";
  if (auto ptxas = llvm::sys::findProgramByName("ptxas")) {
    StringRef dir = llvm::sys::path::parent_path(
        llvm::sys::path::parent_path(*ptxas));
    if (hasPtxas(dir))
      return dir.str();
  }
  return "";
}

LogicalResult lctx::buildCUDAPipeline(OpPassManager &pm,
                                      const CUDAOptions &options,
                                      std::string &error) {
  registerPasses();
  StringRef chip = options.chip;
  unsigned sm = 0;
  if (!chip.consume_front("sm_") || chip.getAsInteger(10, sm) || sm < 50) {
    error = "unknown GPU architecture '" + options.chip +
            "' (expected sm_<N>, N >= 50, e.g. sm_80 or sm_90)";
    return failure();
  }
  std::string toolkit = options.toolkit;
  if (options.cubin && !toolkit.empty()) {
    SmallString<128> ptxas(toolkit);
    llvm::sys::path::append(ptxas, "bin", "ptxas");
    if (!llvm::sys::fs::can_execute(ptxas)) {
      error = "the CUDA toolkit '" + toolkit + "' has no bin/ptxas";
      return failure();
    }
  }
  if (options.cubin && toolkit.empty()) {
    toolkit = findCUDAToolkit();
    if (toolkit.empty()) {
      error = "cubin needs ptxas from the CUDA toolkit: none found in "
              "$CUDA_HOME, $CUDA_PATH, /usr/local/cuda or $PATH (set "
              "--cuda-path, or emit PTX)";
      return failure();
    }
  }

  // lctx ops to linalg on tensors, as for the CPU (with Infini's
  // memory.attention and Switch's route.moe decomposed: no fused kernel
  // for them on the GPU yet).
  FrontendPipelineOptions frontend;
  frontend.decompose = true;
  buildFrontendPipeline(pm, frontend);
  pm.addPass(createConvertLCtxToLinalgPass());
  pm.addPass(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(std::make_unique<PrepareArgumentsPass>());

  auto parse = [&](StringRef text) {
    std::string message;
    llvm::raw_string_ostream os(message);
    if (succeeded(parsePassPipeline(text, pm, os)))
      return success();
    error = "internal error: cuda pipeline: " + message;
    return failure();
  };
  // Buffers, then every parallel loop nest on the grid: outer loops to
  // blocks, inner ones to threads; kernels outlined.
  if (failed(parse(
          "one-shot-bufferize{bufferize-function-boundaries "
          "function-boundary-type-conversion=identity-layout-map},"
          "buffer-results-to-out-params,canonicalize,"
          "func.func(convert-linalg-to-parallel-loops)")))
    return failure();
  pm.nest<func::FuncOp>().addPass(std::make_unique<TileForThreadsPass>());
  if (failed(parse("func.func(gpu-map-parallel-loops,"
                   "convert-parallel-loops-to-gpu),lower-affine,"
                   "gpu-kernel-outlining,canonicalize,cse")))
    return failure();
  pm.addPass(std::make_unique<CheckHostCodePass>());
  pm.addPass(std::make_unique<MergeGPUModulesPass>());
  std::string binary =
      options.cubin ? "format=bin toolkit=" + toolkit : std::string("format=isa");
  return parse("nvvm-attach-target{chip=" + options.chip +
               " O=3},gpu.module(lower-affine,convert-scf-to-cf,"
               "convert-gpu-to-nvvm,"
               "convert-arith-to-llvm,convert-index-to-llvm,"
               "convert-math-to-llvm,canonicalize,cse,"
               "reconcile-unrealized-casts),gpu-module-to-binary{" +
               binary + "}");
}

SmallVector<std::string> lctx::collectGPUObjects(ModuleOp module) {
  SmallVector<std::string> objects;
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute attr : binary.getObjects()) {
      std::string bytes = cast<gpu::ObjectAttr>(attr).getObject().str();
      // PTX ends in a NUL for cuModuleLoadData; files do not want it.
      if (cast<gpu::ObjectAttr>(attr).getFormat() ==
              gpu::CompilationTarget::Assembly &&
          !bytes.empty() && bytes.back() == '\0')
        bytes.pop_back();
      objects.push_back(std::move(bytes));
    }
  return objects;
}
