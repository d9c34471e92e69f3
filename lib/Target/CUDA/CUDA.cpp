//===- CUDA.cpp - NVIDIA GPU code generation ------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Target/CUDA.h"

#include "Passes.h"

#include "lctx/Conversion/Passes.h"
#include "lctx/Dialect/LCtx/Transforms/Passes.h"
#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "lctx/Pipelines/Pipelines.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
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

#include <cmath>
#include <functional>
#include <cstdlib>
#include <mutex>

using namespace mlir;
using namespace mlir::lctx;


namespace {

void registerPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerConversionPasses();
    registerGPUPasses();
    registerLinalgPasses();
    bufferization::registerBufferizationPasses();
    bufferization::registerBufferizationPipelines();
    registerTransformsPasses();
    registerSCFPasses();
    arith::registerArithPasses();
    memref::registerMemRefPasses();
  });
}

} // namespace

void lctx::registerCUDATarget(DialectRegistry &registry) {
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect, LLVM::LLVMDialect,
                  affine::AffineDialect, vector::VectorDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
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
  pm.addPass(cuda::createPortableLoweringsPass());
  // Attention over whole tensors: every head's scores at once, so that its
  // two products are single batched library GEMMs and nothing loops on the
  // host.
  ConvertLCtxToLinalgPassOptions lowering;
  lowering.attentionTile = options.libraryGemm ? -1 : 64;
  pm.addPass(createConvertLCtxToLinalgPass(lowering));
  pm.addPass(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.hostCode)
    pm.nest<func::FuncOp>().addPass(cuda::createSplitReductionsPass());
  pm.addPass(cuda::createPrepareArgumentsPass());

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
          "buffer-deallocation-pipeline,canonicalize")))
    return failure();
  if (options.libraryGemm)
    pm.addPass(cuda::createLibraryGemmPass());
  pm.nest<func::FuncOp>().addPass(cuda::createDeviceCopiesPass());
  if (failed(parse("func.func(convert-linalg-to-parallel-loops)")))
    return failure();
  pm.nest<func::FuncOp>().addPass(cuda::createTileForThreadsPass());
  if (failed(parse("func.func(convert-parallel-loops-to-gpu)")))
    return failure();
  pm.nest<func::FuncOp>().addPass(cuda::createSerialKernelsPass());
  if (failed(parse("lower-affine,gpu-kernel-outlining,canonicalize,cse")))
    return failure();
  pm.addPass(cuda::createCheckHostCodePass());
  pm.addPass(cuda::createMergeGPUModulesPass());
  std::string binary =
      options.cubin ? "format=bin toolkit=" + toolkit : std::string("format=isa");
  if (failed(parse("nvvm-attach-target{chip=" + options.chip +
                   " O=3},gpu.module(gpu.func(convert-linalg-to-loops),"
                   "expand-strided-metadata,"
                   "lower-affine,convert-scf-to-cf,"
                   "convert-gpu-to-nvvm,arith-expand,"
                   "convert-arith-to-llvm,convert-index-to-llvm,"
                   "convert-math-to-llvm,convert-complex-to-llvm,canonicalize,"
                   "cse,reconcile-unrealized-casts),gpu-module-to-binary{" +
                   binary + "}")))
    return failure();
  if (!options.hostCode)
    return success();
  // The host side: launches and buffers through the GPU runtime calls,
  // then the LLVM dialect like the CPU code.
  pm.addPass(cuda::createHostRuntimePass());
  if (!options.hostToLLVM)
    return success();
  return parse("scf-forall-to-for,expand-strided-metadata,lower-affine,"
               "convert-bufferization-to-memref,convert-scf-to-cf,"
               "gpu-to-llvm,finalize-memref-to-llvm,convert-math-to-llvm,"
               "convert-func-to-llvm,convert-arith-to-llvm,"
               "convert-index-to-llvm,convert-cf-to-llvm,canonicalize,"
               "reconcile-unrealized-casts");
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
