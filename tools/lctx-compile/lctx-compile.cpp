//===- lctx-compile.cpp - The lctx compiler driver ------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lctx-compile model.mlir -o model.lctx [--target=cpu] [--cpu=NAME]
//                         [--emit=artifact|mlir|llvm|asm|obj] [--pipeline-dump]
//
// Parses and verifies lctx IR, records the entry-point signatures, runs the
// lctx CPU pipeline (lib/Pipelines), translates to LLVM IR, adds the packed
// entry points of docs/artifact.md, optimizes and emits native code for the
// host CPU in-process, links it into a shared object, and writes the
// artifact. Upstream pass-manager options (--mlir-print-ir-after-all,
// --mlir-timing, ...) work as in mlir-opt.
//
//===----------------------------------------------------------------------===//

#include "Artifact.h"
#include "Manifest.h"

#include "lctx/InitAll.h"
#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"
#include "lctx/Dialect/LCtx/Transforms/Passes.h"
#include "lctx/Pipelines/Pipelines.h"
#include "lctx/Support/InputChecks.h"
#include "lctx/Target/CUDA.h"
#include "lctxrt/artifact_format.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <cctype>
#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                                      cl::init("-"));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("path"));
static cl::opt<std::string>
    targetName("target", cl::desc("Target: cpu (default) or cuda"),
               cl::init("cpu"));
static cl::opt<std::string>
    gpuArch("gpu-arch", cl::desc("cuda target: GPU architecture (sm_80, "
                                 "sm_90, ...; default sm_90)"),
            cl::init("sm_90"));
static cl::opt<std::string>
    cudaPath("cuda-path", cl::desc("cuda target: the CUDA toolkit for ptxas "
                                   "(default: $CUDA_HOME, $CUDA_PATH, "
                                   "/usr/local/cuda, or ptxas on $PATH)"));
enum class GPUGemm { Library, Generated };
static cl::opt<GPUGemm> gpuGemm(
    "gpu-gemm",
    cl::desc("cuda target: dense f32 contractions in the artifact"),
    cl::values(clEnumValN(GPUGemm::Library, "library",
                          "call the runtime's GEMM (cuBLAS; the default)"),
               clEnumValN(GPUGemm::Generated, "generated",
                          "generated kernels, like every other op")),
    cl::init(GPUGemm::Library));
static cl::opt<std::string>
    cpuName("cpu", cl::desc("CPU to generate code for (default: the host)"));
enum class Emit { Artifact, MLIR, LLVM, Asm, Obj, PTX, Cubin };
static cl::opt<Emit> emit(
    "emit", cl::desc("What to write"), cl::init(Emit::Artifact),
    cl::values(clEnumValN(Emit::Artifact, "artifact",
                          "the .lctx artifact (default)"),
               clEnumValN(Emit::MLIR, "mlir", "the LLVM-dialect MLIR"),
               clEnumValN(Emit::LLVM, "llvm", "LLVM IR"),
               clEnumValN(Emit::Asm, "asm", "assembly"),
               clEnumValN(Emit::Obj, "obj",
                          "an object file plus a C header (<out>.h)"),
               clEnumValN(Emit::PTX, "ptx", "cuda target: the kernels' PTX"),
               clEnumValN(Emit::Cubin, "cubin",
                          "cuda target: the kernels assembled by ptxas")));
static cl::opt<bool> pipelineDump("pipeline-dump",
                                  cl::desc("Print the pass pipeline"));
static cl::opt<bool> quiet("quiet", cl::desc("No progress output"));

namespace {
/// Prints "[i/n] stage ... seconds" lines so long compiles show progress.
class Progress {
public:
  explicit Progress(int total) : total(total) {}
  void start(llvm::StringRef stage) {
    begin = std::chrono::steady_clock::now();
    if (!quiet)
      llvm::errs() << "lctx-compile: [" << ++step << "/" << total << "] "
                   << stage << " ... ";
  }
  void done() {
    if (quiet)
      return;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                             begin)
                   .count();
    llvm::errs() << llvm::format("%.2f s\n", s);
  }

private:
  int total, step = 0;
  std::chrono::steady_clock::time_point begin;
};

int fail(llvm::StringRef message) {
  llvm::errs() << "lctx-compile: error: " << message << "\n";
  return 1;
}

std::string defaultOutput() {
  llvm::StringRef stem = inputFile == "-"
                             ? llvm::StringRef("out")
                             : llvm::sys::path::stem(inputFile.getValue());
  switch (emit) {
  case Emit::Artifact:
    return (stem + ".lctx").str();
  case Emit::MLIR:
    return (stem + ".llvm.mlir").str();
  case Emit::LLVM:
    return (stem + ".ll").str();
  case Emit::Asm:
    return (stem + ".s").str();
  case Emit::Obj:
    return (stem + ".o").str();
  case Emit::PTX:
    return (stem + ".ptx").str();
  case Emit::Cubin:
    return (stem + ".cubin").str();
  }
  return "out";
}

bool writeFile(const std::string &path, llvm::StringRef bytes) {
  std::string error;
  auto file = openOutputFile(path, &error);
  if (!file) {
    llvm::errs() << "lctx-compile: error: " << error << "\n";
    return false;
  }
  file->os() << bytes;
  file->keep();
  return true;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::ParseCommandLineOptions(argc, argv, "lctx compiler\n");

  bool cuda = targetName == "cuda";
  if (targetName != "cpu" && !cuda)
    return fail("--target=" + targetName +
                " is not supported (supported: cpu, cuda)");
  bool gpuEmit = emit == Emit::PTX || emit == Emit::Cubin;
  if (cuda && !gpuEmit && emit != Emit::MLIR && emit != Emit::Artifact)
    return fail("--target=cuda writes --emit=artifact (the default: CPU "
                "code plus the GPU kernels), ptx, cubin or mlir");
  if (!cuda && gpuEmit)
    return fail("--emit=ptx and --emit=cubin need --target=cuda");
  std::string output = outputFile.empty() ? defaultOutput() : outputFile;

  DialectRegistry registry;
  lctx::registerAllLCtxDialects(registry);
  if (cuda)
    lctx::registerCUDATarget(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  Progress progress(cuda ? (emit == Emit::Artifact ? 7 : 2)
                         : emit == Emit::Artifact ? 5 : 4);
  progress.start("parse and verify");
  std::string error;
  auto input = openInputFile(inputFile, &error);
  if (!input)
    return fail(error);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  if (!lctx::checkIRText(sourceMgr))
    return 1;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr,
                                                           &context);
  if (!module)
    return 1;
  // Decode entry points derived from prefills (`lctx.decode`) are entry
  // points like the others: derive them before collecting the manifest.
  {
    PassManager derive(&context);
    derive.addPass(lctx::createLCtxDeriveDecodePass());
    if (failed(derive.run(*module)))
      return 1;
  }
  // The cuda target: the GPU kernels alone (--emit=ptx/cubin/mlir), or
  // beside the CPU code in the artifact.
  lctxc::ManifestGPU gpu;
  std::string gpuObject;
  // With --emit=artifact, the host side of the cuda target (lowered to the
  // LLVM dialect) is linked beside the CPU code.
  OwningOpRef<ModuleOp> gpuModule;
  if (cuda) {
    progress.done();
    progress.start("lctx cuda pipeline (" + gpuArch + ")");
    bool artifact = emit == Emit::Artifact;
    lctx::CUDAOptions options;
    options.chip = gpuArch;
    options.toolkit = cudaPath;
    options.hostCode = artifact || emit == Emit::MLIR;
    options.hostToLLVM = artifact;
    // --emit=ptx/cubin: every kernel, none left to the library.
    options.libraryGemm = options.hostCode && gpuGemm == GPUGemm::Library;
    // An artifact carries cubin when ptxas is at hand, else PTX.
    options.cubin = emit == Emit::Cubin ||
                    (artifact && (!cudaPath.empty() ||
                                  !lctx::findCUDAToolkit().empty()));
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return 1;
    applyDefaultTimingPassManagerCLOptions(pm);
    std::string error;
    if (failed(lctx::buildCUDAPipeline(pm, options, error)))
      return fail(error);
    if (pipelineDump) {
      pm.printAsTextualPipeline(llvm::errs());
      llvm::errs() << "\n";
    }
    gpuModule = (*module).clone();
    (*gpuModule)->removeAttr(lctx::LCtxDialect::getModelAttrName());
    (*gpuModule)->walk([](func::FuncOp f) {
      f->removeAttr(lctx::LCtxDialect::getAdvanceAttrName());
    });
    if (failed(pm.run(*gpuModule)))
      return 1;
    progress.done();
    if (emit == Emit::MLIR) {
      std::string text;
      llvm::raw_string_ostream os(text);
      gpuModule->print(os);
      return writeFile(output, text) ? 0 : 1;
    }
    SmallVector<std::string> objects = lctx::collectGPUObjects(*gpuModule);
    if (objects.size() != 1)
      return fail("expected one GPU module of kernels, got " +
                  std::to_string(objects.size()));
    if (!artifact)
      return writeFile(output, objects.front()) ? 0 : 1;
    gpuObject = std::move(objects.front());
    gpu.arch = gpuArch;
    gpu.format = options.cubin ? "cubin" : "ptx";
    gpu.section = gpu.format + "." + gpuArch;
    gpu.entryPrefix = std::string("lctx_entry_") + lctx::kCUDAEntryPrefix;
    (*gpuModule)->walk([&](Operation *op) {
      if (op->getName().getStringRef() == "gpu.launch_func")
        ++gpu.kernels;
    });
    progress.start("entry points");
  }
  std::vector<lctxc::ManifestEntry> entries;
  if (failed(lctxc::collectEntryPoints(*module, entries)))
    return 1;
  // The model description goes to the manifest, not into the code.
  lctxc::ManifestModel model = lctxc::collectModel(*module);
  (*module)->removeAttr(lctx::LCtxDialect::getModelAttrName());
  (*module)->walk([](func::FuncOp f) {
    f->removeAttr(lctx::LCtxDialect::getAdvanceAttrName());
  });
  progress.done();

  progress.start("lctx CPU pipeline");
  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  applyDefaultTimingPassManagerCLOptions(pm);
  lctx::buildCPUPipeline(pm, lctx::CPUPipelineOptions());
  if (pipelineDump) {
    pm.printAsTextualPipeline(llvm::errs());
    llvm::errs() << "\n";
  }
  if (failed(pm.run(*module)))
    return 1;
  // The states each entry's CPU code updates in place (lctx-alias-states).
  if (auto inPlace =
          (*module)->getAttrOfType<DictionaryAttr>("lctxc.inplace_states")) {
    for (lctxc::ManifestEntry &e : entries)
      if (auto names = inPlace.getAs<ArrayAttr>(e.name))
        for (Attribute name : names)
          e.inPlaceStates.push_back(cast<StringAttr>(name).str());
    (*module)->removeAttr("lctxc.inplace_states");
  }
  progress.done();
  if (emit == Emit::MLIR) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return writeFile(output, text) ? 0 : 1;
  }

  progress.start("translate to LLVM IR and optimize");
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateModuleToLLVMIR(*module, llvmContext, "lctx");
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  lctxc::ManifestTarget target;
  auto tm = lctxc::createHostTargetMachine(cpuName, target, error);
  if (!tm)
    return fail(error);
  llvmModule->setDataLayout(tm->createDataLayout());
  llvmModule->setTargetTriple(tm->getTargetTriple().str());
  std::vector<lctxc::ManifestEntry> packed = entries;
  if (gpuModule && !gpu.entryPrefix.empty()) {
    auto hostModule =
        translateModuleToLLVMIR(*gpuModule, llvmContext, "lctx_cuda");
    if (!hostModule)
      return fail("translation of the cuda host code to LLVM IR failed");
    lctxc::hoistStaticAllocas(*hostModule);
    hostModule->setDataLayout(tm->createDataLayout());
    hostModule->setTargetTriple(tm->getTargetTriple().str());
    if (llvm::Linker::linkModules(*llvmModule, std::move(hostModule)))
      return fail("linking the cuda host code with the CPU code failed");
    lctxc::addGPURuntimeSlots(*llvmModule);
    for (const lctxc::ManifestEntry &e : entries) {
      packed.push_back(e);
      packed.back().name = lctx::kCUDAEntryPrefix + e.name;
    }
  }
  if (!lctxc::addPackedEntryPoints(*llvmModule, packed, error))
    return fail(error);
  lctxc::optimizeModule(*llvmModule, *tm);
  progress.done();
  if (emit == Emit::LLVM) {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    return writeFile(output, text) ? 0 : 1;
  }

  progress.start("native code for " + target.cpu);
  std::string code;
  if (!lctxc::emitCode(*llvmModule, *tm, emit == Emit::Asm, code, error))
    return fail(error);
  progress.done();
  if (emit == Emit::Asm)
    return writeFile(output, code) ? 0 : 1;
  if (emit == Emit::Obj) {
    std::string guard = "LCTX_" + llvm::sys::path::stem(output).upper() + "_H";
    for (char &c : guard)
      if (!std::isalnum(static_cast<unsigned char>(c)))
        c = '_';
    return writeFile(output, code) &&
                   writeFile(output + ".h",
                             lctxc::writeCHeader(entries, guard))
               ? 0
               : 1;
  }

  progress.start("link and write the artifact");
  std::string sharedObject;
  if (!lctxc::linkSharedObject(code, sharedObject, error))
    return fail(error);
  std::vector<lctxrt::ArtifactSection> sections;
  lctxrt::ArtifactSection manifest;
  manifest.kind = static_cast<uint32_t>(lctxrt::ArtifactSectionKind::Manifest);
  manifest.name = "manifest";
  manifest.payload =
      lctxc::writeManifest(entries, gpu, target, model);
  sections.push_back(std::move(manifest));
  lctxrt::ArtifactSection cpu;
  cpu.kind = static_cast<uint32_t>(lctxrt::ArtifactSectionKind::CpuSo);
  cpu.name = "cpu.so";
  cpu.payload = std::move(sharedObject);
  sections.push_back(std::move(cpu));
  if (!gpu.section.empty()) {
    lctxrt::ArtifactSection kernels;
    kernels.kind = static_cast<uint32_t>(
        gpu.format == "cubin" ? lctxrt::ArtifactSectionKind::Cubin
                              : lctxrt::ArtifactSectionKind::Ptx);
    kernels.name = gpu.section;
    kernels.payload = std::move(gpuObject);
    sections.push_back(std::move(kernels));
  }
  if (!lctxrt::writeArtifact(output, sections, &error))
    return fail(error);
  progress.done();
  if (!quiet) {
    size_t numStates = 0;
    uint64_t bytes = lctxc::stateBytes(entries, &numStates);
    llvm::errs() << "lctx-compile: wrote " << output << " (" << entries.size()
                 << " entry point" << (entries.size() == 1 ? "" : "s");
    if (numStates)
      llvm::errs() << "; runtime-owned state: " << bytes << " bytes in "
                   << numStates << " tensor" << (numStates == 1 ? "" : "s")
                   << " per session";
    llvm::errs() << ")\n";
  }
  return 0;
}
