//===- Artifact.cpp - Native code and artifact emission -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "Artifact.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <cstdlib>

using namespace llvm;

std::unique_ptr<TargetMachine>
lctxc::createHostTargetMachine(const std::string &cpu, ManifestTarget &target,
                              std::string &error) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  std::string triple = sys::getDefaultTargetTriple();
  const Target *t = TargetRegistry::lookupTarget(triple, error);
  if (!t)
    return nullptr;
  SubtargetFeatures features;
  if (cpu.empty()) {
    target.cpu = sys::getHostCPUName().str();
    for (const auto &f : sys::getHostCPUFeatures())
      features.AddFeature(f.getKey(), f.getValue());
  } else {
    target.cpu = cpu;
  }
  target.triple = triple;
  target.features = features.getString();
  TargetOptions options;
  std::unique_ptr<TargetMachine> tm(t->createTargetMachine(
      triple, target.cpu, target.features, options, Reloc::PIC_,
      std::nullopt, CodeGenOptLevel::Aggressive));
  if (!tm)
    error = "cannot create a target machine for " + triple + " / " +
            target.cpu;
  return tm;
}

/// The exported slots through which a runtime takes over the compiled
/// code's heap allocations (docs/artifact.md): `void *(*)(size_t align,
/// size_t size)` and `void (*)(void *)`, null by default.
static constexpr const char kAllocHookName[] = "lctx_rt_alloc_hook";
static constexpr const char kFreeHookName[] = "lctx_rt_free_hook";

/// Replaces every call of the C library's `name` in the code by a call of
/// an internal wrapper: `hook ? callHook(hook, args) : name(args)`.
static void wrapThroughHook(
    Module &module, StringRef name, GlobalVariable *hook,
    function_ref<Value *(IRBuilder<> &, Value *, Function *)> callHook) {
  Function *libc = module.getFunction(name);
  if (!libc || libc->use_empty())
    return;
  LLVMContext &ctx = module.getContext();
  Function *wrapper =
      Function::Create(libc->getFunctionType(), GlobalValue::InternalLinkage,
                       ("lctx_" + name).str(), module);
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", wrapper);
  BasicBlock *viaHook = BasicBlock::Create(ctx, "hook", wrapper);
  BasicBlock *viaLibc = BasicBlock::Create(ctx, "libc", wrapper);
  IRBuilder<> b(entry);
  Value *fn = b.CreateLoad(hook->getValueType(), hook);
  b.CreateCondBr(b.CreateIsNull(fn), viaLibc, viaHook);
  auto ret = [&](Value *v) {
    if (wrapper->getReturnType()->isVoidTy())
      b.CreateRetVoid();
    else
      b.CreateRet(v);
  };
  b.SetInsertPoint(viaHook);
  ret(callHook(b, fn, wrapper));
  b.SetInsertPoint(viaLibc);
  SmallVector<Value *> args;
  for (Argument &arg : wrapper->args())
    args.push_back(&arg);
  ret(b.CreateCall(libc, args));
  libc->replaceUsesWithIf(wrapper, [&](Use &use) {
    auto *inst = dyn_cast<Instruction>(use.getUser());
    return inst && inst->getFunction() != wrapper;
  });
}

/// Routes every `malloc`, `aligned_alloc` and `free` call of the code
/// through `lctx_rt_alloc_hook` / `lctx_rt_free_hook` when a runtime has
/// set them (lctxrt does, so that an allocation that fails becomes a status
/// instead of a null dereference, and blocks it serves from its reserve
/// are released by it), and to the C library otherwise (code linked into a
/// program of its own).
static void addAllocationHook(Module &module) {
  LLVMContext &ctx = module.getContext();
  PointerType *ptr = PointerType::get(ctx, 0);
  Type *i64 = Type::getInt64Ty(ctx);
  auto global = [&](const char *name) {
    return new GlobalVariable(module, ptr, /*isConstant=*/false,
                              GlobalValue::ExternalLinkage,
                              ConstantPointerNull::get(ptr), name);
  };
  GlobalVariable *allocHook = global(kAllocHookName);
  auto *allocType = FunctionType::get(ptr, {i64, i64}, false);
  // hook(align, size): malloc's blocks are 16-aligned.
  auto alloc = [&](bool aligned) {
    return [&, aligned](IRBuilder<> &b, Value *fn, Function *wrapper) {
      Value *align = aligned ? static_cast<Value *>(wrapper->getArg(0))
                             : ConstantInt::get(i64, 16);
      Value *size = wrapper->getArg(aligned ? 1 : 0);
      return static_cast<Value *>(b.CreateCall(allocType, fn, {align, size}));
    };
  };
  wrapThroughHook(module, "malloc", allocHook, alloc(false));
  wrapThroughHook(module, "aligned_alloc", allocHook, alloc(true));
  if (Function *libcFree = module.getFunction("free");
      libcFree && !libcFree->use_empty())
    wrapThroughHook(module, "free", global(kFreeHookName),
                    [&](IRBuilder<> &b, Value *fn, Function *wrapper) {
                      return static_cast<Value *>(
                          b.CreateCall(libcFree->getFunctionType(), fn,
                                       {wrapper->getArg(0)}));
                    });
}

std::vector<std::string> lctxc::addGPURuntimeSlots(Module &module) {
  std::vector<std::string> slots;
  LLVMContext &ctx = module.getContext();
  PointerType *ptr = PointerType::get(ctx, 0);
  for (Function &fn : llvm::make_early_inc_range(module.functions())) {
    if (!fn.isDeclaration() || !fn.getName().starts_with("mgpu"))
      continue;
    std::string slotName = ("lctx_rt_gpu_" + fn.getName()).str();
    auto *slot = new GlobalVariable(module, ptr, /*isConstant=*/false,
                                    GlobalValue::ExternalLinkage,
                                    ConstantPointerNull::get(ptr), slotName);
    // The body: tail-call the runtime's function through the slot.
    fn.setLinkage(GlobalValue::InternalLinkage);
    IRBuilder<> b(BasicBlock::Create(ctx, "entry", &fn));
    SmallVector<Value *> args;
    for (Argument &arg : fn.args())
      args.push_back(&arg);
    CallInst *call = b.CreateCall(fn.getFunctionType(),
                                  b.CreateLoad(ptr, slot), args);
    call->setTailCall();
    if (fn.getReturnType()->isVoidTy())
      b.CreateRetVoid();
    else
      b.CreateRet(call);
    slots.push_back(slotName);
  }
  return slots;
}

void lctxc::hoistStaticAllocas(Module &module) {
  for (Function &fn : module.functions()) {
    if (fn.isDeclaration())
      continue;
    BasicBlock &entry = fn.getEntryBlock();
    SmallVector<AllocaInst *> moves;
    for (BasicBlock &block : fn)
      if (&block != &entry)
        for (Instruction &inst : block)
          if (auto *alloca = dyn_cast<AllocaInst>(&inst))
            if (isa<ConstantInt>(alloca->getArraySize()))
              moves.push_back(alloca);
    for (AllocaInst *alloca : moves)
      alloca->moveBefore(&*entry.getFirstNonPHIOrDbgOrAlloca());
  }
}

bool lctxc::addPackedEntryPoints(Module &module,
                                const std::vector<ManifestEntry> &entries,
                                std::string &error) {
  LLVMContext &ctx = module.getContext();
  PointerType *ptr = PointerType::get(ctx, 0);
  for (const ManifestEntry &e : entries) {
    Function *ciface = module.getFunction("_mlir_ciface_" + e.name);
    if (!ciface) {
      error = "no C interface was generated for entry point '" + e.name + "'";
      return false;
    }
    if (ciface->arg_size() != e.args.size()) {
      error = "entry point '" + e.name + "' lowered to " +
              std::to_string(ciface->arg_size()) +
              " descriptor arguments but the manifest lists " +
              std::to_string(e.args.size());
      return false;
    }
    auto *type = FunctionType::get(Type::getVoidTy(ctx), {ptr}, false);
    Function *packed = Function::Create(type, GlobalValue::ExternalLinkage,
                                        "lctx_entry_" + e.name, module);
    IRBuilder<> b(BasicBlock::Create(ctx, "entry", packed));
    SmallVector<Value *> args;
    for (unsigned i = 0; i < ciface->arg_size(); ++i)
      args.push_back(b.CreateLoad(
          ptr, b.CreateConstGEP1_64(ptr, packed->getArg(0), i)));
    b.CreateCall(ciface, args);
    b.CreateRetVoid();
  }
  addAllocationHook(module);
  // Only the packed entry points (and the allocation hook) are exported.
  // Everything else (the
  // functions as the model names them, their C interfaces, constants) is
  // internal: an entry point called `step`, `open` or `time` must not bind
  // to, or be bound by, the C library's symbol of that name when the code
  // is loaded into a process.
  for (Function &f : module.functions())
    if (!f.isDeclaration() && !f.getName().starts_with("lctx_entry_"))
      f.setLinkage(GlobalValue::InternalLinkage);
  for (GlobalVariable &g : module.globals())
    if (!g.isDeclaration() && g.getName() != kAllocHookName &&
        g.getName() != kFreeHookName && !g.getName().starts_with("lctx_rt_gpu_"))
      g.setLinkage(GlobalValue::InternalLinkage);
  return true;
}

void lctxc::optimizeModule(Module &module, TargetMachine &tm) {
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(OptimizationLevel::O3);
  mpm.run(module, mam);
}

bool lctxc::emitCode(Module &module, TargetMachine &tm, bool assembly,
                    std::string &out, std::string &error) {
  module.setDataLayout(tm.createDataLayout());
  module.setTargetTriple(tm.getTargetTriple().str());
  SmallString<0> buffer;
  raw_svector_ostream os(buffer);
  legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             assembly ? CodeGenFileType::AssemblyFile
                                      : CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit this file type";
    return false;
  }
  pm.run(module);
  out.assign(buffer.begin(), buffer.end());
  return true;
}

bool lctxc::linkSharedObject(const std::string &object,
                            std::string &sharedObject, std::string &error) {
  std::string clang;
  if (const char *env = std::getenv("LCTX_CLANG"))
    clang = env;
  for (const char *name : {"clang-19", "clang"}) {
    if (!clang.empty())
      break;
    if (auto found = sys::findProgramByName(name))
      clang = *found;
  }
  if (clang.empty()) {
    error = "cannot find clang-19 (or clang, or $LCTX_CLANG) to link the "
            "shared object";
    return false;
  }
  SmallString<128> objPath, soPath;
  if (auto ec = sys::fs::createTemporaryFile("lctx", "o", objPath)) {
    error = "cannot create a temporary file: " + ec.message();
    return false;
  }
  if (auto ec = sys::fs::createTemporaryFile("lctx", "so", soPath)) {
    error = "cannot create a temporary file: " + ec.message();
    return false;
  }
  auto cleanup = [&] {
    sys::fs::remove(objPath);
    sys::fs::remove(soPath);
  };
  {
    std::error_code ec;
    raw_fd_ostream os(objPath, ec);
    if (ec) {
      error = "cannot write " + objPath.str().str() + ": " + ec.message();
      cleanup();
      return false;
    }
    os << object;
  }
  // -fopenmp links the OpenMP runtime (libomp) that parallel loops call.
  SmallVector<StringRef> args = {clang, "-shared", "-fopenmp", "-o", soPath,
                                 objPath, "-lm"};
  std::string message;
  int rc = sys::ExecuteAndWait(clang, args, std::nullopt, {}, 0, 0, &message);
  if (rc != 0) {
    error = "linking the shared object with " + clang + " failed (exit " +
            std::to_string(rc) + ")" + (message.empty() ? "" : ": " + message);
    cleanup();
    return false;
  }
  auto buffer = MemoryBuffer::getFile(soPath, /*IsText=*/false);
  if (!buffer) {
    error = "cannot read the linked shared object: " +
            buffer.getError().message();
    cleanup();
    return false;
  }
  sharedObject = (*buffer)->getBuffer().str();
  cleanup();
  return true;
}
