//===- cuda_session.cc - Sessions on a CUDA device --------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// See cuda_session.h and docs/runtime-cuda.md.
///
/// Placement: every buffer the GPU entry points receive is device memory,
/// except integer tensors (I64, I32, I8, U8, BOOL) of at most 8 elements,
/// which the host code also reads: those are pinned host memory, which the
/// GPU reaches through unified addressing.
///
/// The hooks are process-global (the slots live in the shared object that
/// all sessions of an artifact share): they find their session through a
/// thread-local pointer set around each GPU entry call. CUDA errors inside
/// hooks are sticky for the rest of the call: the first is recorded,
/// later launches, copies and sets are skipped, and the run turns it into
/// a status once the entry returns.
///
//===----------------------------------------------------------------------===//

#include "cuda_session.h"

#include "cuda_blas.h"
#include "cuda_driver.h"
#include "kernel_alloc.h"
#include "status.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <map>
#include <utility>

#include <dlfcn.h>

using lctxrt::makeStatus;

namespace lctxrt {
namespace cuda {

//===----------------------------------------------------------------------===//
// Dynamic symbol scan
//===----------------------------------------------------------------------===//

std::vector<std::string> listGpuSlots(const unsigned char *elf, size_t size) {
  std::vector<std::string> names;
  if (size < sizeof(Elf64_Ehdr))
    return names;
  Elf64_Ehdr header;
  std::memcpy(&header, elf, sizeof(header));
  if (header.e_shoff == 0 || header.e_shentsize != sizeof(Elf64_Shdr) ||
      header.e_shoff > size ||
      header.e_shnum > (size - header.e_shoff) / sizeof(Elf64_Shdr))
    return names;
  const auto section = [&](size_t i) {
    Elf64_Shdr s;
    std::memcpy(&s, elf + header.e_shoff + i * sizeof(Elf64_Shdr), sizeof(s));
    return s;
  };
  const size_t prefixLength = std::strlen(kSlotPrefix);
  for (size_t i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr symtab = section(i);
    if (symtab.sh_type != SHT_DYNSYM || symtab.sh_link >= header.e_shnum ||
        symtab.sh_offset > size || symtab.sh_size > size - symtab.sh_offset)
      continue;
    Elf64_Shdr strtab = section(symtab.sh_link);
    if (strtab.sh_offset > size || strtab.sh_size > size - strtab.sh_offset)
      continue;
    const char *strings = reinterpret_cast<const char *>(elf) + strtab.sh_offset;
    for (size_t at = 0; at + sizeof(Elf64_Sym) <= symtab.sh_size;
         at += sizeof(Elf64_Sym)) {
      Elf64_Sym symbol;
      std::memcpy(&symbol, elf + symtab.sh_offset + at, sizeof(symbol));
      if (symbol.st_shndx == SHN_UNDEF || symbol.st_name >= strtab.sh_size)
        continue;
      const char *name = strings + symbol.st_name;
      const size_t length =
          strnlen(name, static_cast<size_t>(strtab.sh_size - symbol.st_name));
      if (length == strtab.sh_size - symbol.st_name) // not terminated
        continue;
      if (length > prefixLength &&
          std::strncmp(name, kSlotPrefix, prefixLength) == 0)
        names.emplace_back(name + prefixLength, length - prefixLength);
    }
  }
  return names;
}

//===----------------------------------------------------------------------===//
// Session state
//===----------------------------------------------------------------------===//

namespace {

bool isIntegerDtype(lctxrt_dtype_t dtype) {
  switch (dtype) {
  case LCTXRT_DTYPE_I64:
  case LCTXRT_DTYPE_I32:
  case LCTXRT_DTYPE_I8:
  case LCTXRT_DTYPE_U8:
  case LCTXRT_DTYPE_BOOL:
    return true;
  default:
    return false;
  }
}

/// Whether a tensor of \p type lives in pinned host memory (host code reads
/// it) rather than in device memory.
bool onHost(const TensorType &type) {
  return isIntegerDtype(type.dtype) && type.numElements <= 8;
}

/// Stands in for zero-byte host tensors and for pinned allocations that
/// failed (host code then writes here harmlessly).
alignas(4096) unsigned char gHostScratch[65536];

/// A device or pinned-host allocation owned by a session.
struct Buffer {
  CUdeviceptr device = 0;
  void *host = nullptr;
  size_t bytes = 0;
  bool pinned = false;
  bool allocated = false;
};

struct ArgPlan {
  const ArgSpec *spec = nullptr;
  std::vector<int64_t> descriptor;
  /// The device/pinned buffer of an input or output (allocated at the
  /// entry's first run).
  Buffer buffer;
  /// Host buffer of an output the runtime returns (data == NULL).
  void *hostOut = nullptr;

  void setData(uint64_t address) {
    descriptor[0] = descriptor[1] = static_cast<int64_t>(address);
  }
};

struct Plan {
  const EntryPointSpec *entry = nullptr;
  EntryFunction function = nullptr;
  std::string symbol;
  std::vector<ArgPlan> args;
  std::vector<void *> argv;
};

struct StateSlot {
  const ArgSpec *spec = nullptr;
  Buffer buffers[2];
  int current = 0;
  /// Host copy returned by readState.
  void *mirror = nullptr;
};

} // namespace

struct Session {
  /// Timing events around each entry call, and the last run's time.
  CUevent timingStart = nullptr, timingEnd = nullptr;
  double lastDeviceMs = -1;
  const lctxrt_artifact_t *artifact = nullptr;
  const Driver *driver = nullptr;
  int deviceIndex = 0;
  CUdevice device = 0;
  std::string deviceName;
  std::string arch; // "sm_90"
  CUcontext context = nullptr;
  bool contextRetained = false;
  CUstream stream = nullptr;
  /// 256 bytes of device memory standing in for zero-byte tensors and for
  /// failed device allocations (never launched on: launches are skipped
  /// after an error).
  CUdeviceptr emptyDevice = 0;

  std::vector<Buffer> weights;
  std::unordered_map<std::string, uint64_t> weightAddress;
  std::vector<StateSlot> states;
  std::vector<Plan> plans;

  // Modules and functions the code loads, cached for the session.
  std::unordered_map<const void *, CUmodule> modules;
  struct FunctionEntry {
    std::string name;
    CUfunction function;
  };
  std::map<std::pair<CUmodule, const char *>, FunctionEntry> functions;
  std::vector<CUevent> events;
  /// cuBLAS on the session's stream, for artifacts whose code calls
  /// mgpuLctxSgemm (cuda_blas.h).
  Blas gemm;

  // The caching pool of the code's allocations, keyed by exact size, and
  // the blocks the current call holds (returned when it ends).
  std::unordered_map<size_t, std::vector<CUdeviceptr>> freeDevice;
  std::unordered_map<uint64_t, size_t> liveDevice;
  std::unordered_map<size_t, std::vector<void *>> freePinned;
  std::unordered_map<void *, size_t> livePinned;
  /// Pinned blocks the code freed during this call: reused only after the
  /// call's final synchronization, since host code may write a block while
  /// queued kernels still read its previous contents.
  std::vector<std::pair<void *, size_t>> releasedPinned;
  /// Pageable stand-ins for pinned allocations that failed.
  std::vector<void *> hostFallbacks;

  // The sticky error of the current call.
  bool failed = false;
  lctxrt_status_code_t errorCode = LCTXRT_OK;
  std::string error;

  ~Session();

  std::string where() const {
    return artifact->path + ": cuda device " + std::to_string(deviceIndex) +
           (deviceName.empty() ? std::string() : " (" + deviceName + ")") +
           ": ";
  }
  lctxrt_status_t driverError(const char *call, CUresult result) const {
    return makeStatus(result == CUDA_ERROR_OUT_OF_MEMORY
                          ? LCTXRT_OUT_OF_MEMORY
                          : LCTXRT_DEVICE_ERROR,
                      where() + driver->failure(call, result));
  }
  void record(const char *hook, const char *call, CUresult result) {
    if (failed)
      return;
    failed = true;
    errorCode = result == CUDA_ERROR_OUT_OF_MEMORY ? LCTXRT_OUT_OF_MEMORY
                                                   : LCTXRT_DEVICE_ERROR;
    error = std::string(hook) + ": " + driver->failure(call, result);
  }
  lctxrt_status_t makeCurrent() const {
    if (CUresult result = driver->cuCtxSetCurrent(context))
      return driverError("cuCtxSetCurrent", result);
    return nullptr;
  }
  lctxrt_status_t synchronize() const {
    if (CUresult result = driver->cuStreamSynchronize(stream))
      return driverError("cuStreamSynchronize", result);
    return nullptr;
  }

  /// Allocates a long-lived buffer of \p bytes for \p what.
  lctxrt_status_t allocate(size_t bytes, bool pinned, const std::string &what,
                           Buffer &out);
  void release(Buffer &buffer);
  uint64_t address(const Buffer &buffer) const {
    if (buffer.bytes == 0)
      return buffer.pinned
                 ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(
                       gHostScratch))
                 : emptyDevice;
    return buffer.pinned ? static_cast<uint64_t>(
                               reinterpret_cast<uintptr_t>(buffer.host))
                         : buffer.device;
  }
  /// Frees every cached block of the pool (after synchronizing).
  void trimPool();
  /// Returns the blocks of the current call to the pool.
  void endCall();
};

namespace {

/// The session whose GPU entry runs on this thread.
thread_local Session *tCurrent = nullptr;

Session *current(const char *hook) {
  Session *session = tCurrent;
  if (!session) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      std::fprintf(stderr,
                   "lctxrt: %s called outside a cuda session run (GPU entry "
                   "points must be run through lctxrt_session_run)\n",
                   hook);
  }
  return session;
}

} // namespace

lctxrt_status_t Session::allocate(size_t bytes, bool pinned,
                                  const std::string &what, Buffer &out) {
  out = Buffer();
  out.bytes = bytes;
  out.pinned = pinned;
  if (bytes == 0)
    return nullptr;
  CUresult result = pinned ? driver->cuMemAllocHost(&out.host, bytes)
                           : driver->cuMemAlloc(&out.device, bytes);
  if (result == CUDA_ERROR_OUT_OF_MEMORY && !pinned) {
    trimPool();
    result = driver->cuMemAlloc(&out.device, bytes);
  }
  if (result)
    return makeStatus(result == CUDA_ERROR_OUT_OF_MEMORY
                          ? LCTXRT_OUT_OF_MEMORY
                          : LCTXRT_DEVICE_ERROR,
                      where() + "cannot allocate " + std::to_string(bytes) +
                          " bytes of " +
                          (pinned ? "pinned host" : "device") +
                          " memory for " + what + ": " +
                          driver->failure(pinned ? "cuMemAllocHost_v2"
                                                 : "cuMemAlloc_v2",
                                          result));
  out.allocated = true;
  return nullptr;
}

void Session::release(Buffer &buffer) {
  if (buffer.allocated) {
    if (buffer.pinned)
      driver->cuMemFreeHost(buffer.host);
    else
      driver->cuMemFree(buffer.device);
  }
  buffer = Buffer();
}

void Session::trimPool() {
  driver->cuStreamSynchronize(stream);
  for (auto &[size, blocks] : freeDevice)
    for (CUdeviceptr block : blocks)
      driver->cuMemFree(block);
  freeDevice.clear();
}

void Session::endCall() {
  for (const auto &[block, size] : liveDevice)
    freeDevice[size].push_back(block);
  liveDevice.clear();
  for (const auto &[block, size] : livePinned)
    freePinned[size].push_back(block);
  livePinned.clear();
  for (const auto &[block, size] : releasedPinned)
    freePinned[size].push_back(block);
  releasedPinned.clear();
  for (void *block : hostFallbacks)
    std::free(block);
  hostFallbacks.clear();
}

Session::~Session() {
  if (!driver)
    return;
  if (context)
    driver->cuCtxSetCurrent(context);
  if (stream)
    driver->cuStreamSynchronize(stream);
  endCall();
  for (auto &[size, blocks] : freeDevice)
    for (CUdeviceptr block : blocks)
      driver->cuMemFree(block);
  for (auto &[size, blocks] : freePinned)
    for (void *block : blocks)
      driver->cuMemFreeHost(block);
  for (Buffer &buffer : weights)
    release(buffer);
  for (StateSlot &slot : states) {
    release(slot.buffers[0]);
    release(slot.buffers[1]);
    std::free(slot.mirror);
  }
  for (Plan &plan : plans)
    for (ArgPlan &arg : plan.args) {
      release(arg.buffer);
      std::free(arg.hostOut);
    }
  for (CUevent event : events)
    driver->cuEventDestroy(event);
  for (CUevent event : {timingStart, timingEnd})
    if (event)
      driver->cuEventDestroy(event);
  for (const auto &[data, module] : modules)
    driver->cuModuleUnload(module);
  if (emptyDevice)
    driver->cuMemFree(emptyDevice);
  if (stream)
    driver->cuStreamDestroy(stream);
  if (contextRetained)
    driver->cuDevicePrimaryCtxRelease(device);
}

void SessionDeleter::operator()(Session *session) const { delete session; }

//===----------------------------------------------------------------------===//
// Hooks: MLIR's gpu-to-llvm runtime calls (mgpu*), on the current session
//===----------------------------------------------------------------------===//

namespace {

void *hookModuleLoadWith(const char *hook, void *data, int32_t optLevel,
                         bool jit) {
  Session *s = current(hook);
  if (!s || s->failed)
    return nullptr;
  auto found = s->modules.find(data);
  if (found != s->modules.end())
    return found->second;
  CUmodule module = nullptr;
  CUresult result;
  if (jit) {
    int options[] = {CU_JIT_OPTIMIZATION_LEVEL};
    void *values[] = {reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
    result = s->driver->cuModuleLoadDataEx(&module, data, 1, options, values);
  } else {
    result = s->driver->cuModuleLoadData(&module, data);
  }
  if (result) {
    s->record(hook, jit ? "cuModuleLoadDataEx" : "cuModuleLoadData", result);
    return nullptr;
  }
  s->modules.emplace(data, module);
  return module;
}

void *hookModuleLoad(void *data, uint64_t /*size*/) {
  return hookModuleLoadWith("mgpuModuleLoad", data, 0, false);
}

void *hookModuleLoadJIT(void *data, int32_t optLevel) {
  return hookModuleLoadWith("mgpuModuleLoadJIT", data, optLevel, true);
}

void hookModuleUnload(void * /*module*/) {
  // Modules stay loaded for the session (unloaded when it closes).
}

void *hookModuleGetFunction(void *module, const char *name) {
  Session *s = current("mgpuModuleGetFunction");
  if (!s || s->failed || !module || !name)
    return nullptr;
  auto key = std::make_pair(static_cast<CUmodule>(module), name);
  auto found = s->functions.find(key);
  if (found != s->functions.end() && found->second.name == name)
    return found->second.function;
  CUfunction function = nullptr;
  if (CUresult result =
          s->driver->cuModuleGetFunction(&function, module, name)) {
    s->record("mgpuModuleGetFunction",
              ("cuModuleGetFunction('" + std::string(name) + "')").c_str(),
              result);
    return nullptr;
  }
  s->functions[key] = Session::FunctionEntry{name, function};
  return function;
}

void hookLaunchKernel(void *function, int64_t gridX, int64_t gridY,
                      int64_t gridZ, int64_t blockX, int64_t blockY,
                      int64_t blockZ, int32_t sharedMemBytes, void *stream,
                      void **params, void **extra, int64_t /*paramsCount*/) {
  Session *s = current("mgpuLaunchKernel");
  if (!s || s->failed)
    return;
  if (gridX == 0 || gridY == 0 || gridZ == 0 || blockX == 0 || blockY == 0 ||
      blockZ == 0)
    return; // no work
  const int64_t dims[] = {gridX, gridY, gridZ, blockX, blockY, blockZ};
  for (int64_t dim : dims)
    if (dim < 0 || dim > static_cast<int64_t>(UINT_MAX) || sharedMemBytes < 0) {
      s->failed = true;
      s->errorCode = LCTXRT_DEVICE_ERROR;
      s->error = "mgpuLaunchKernel: invalid launch configuration: grid (" +
                 std::to_string(gridX) + ", " + std::to_string(gridY) + ", " +
                 std::to_string(gridZ) + "), block (" +
                 std::to_string(blockX) + ", " + std::to_string(blockY) +
                 ", " + std::to_string(blockZ) + "), shared memory " +
                 std::to_string(sharedMemBytes) + " bytes";
      return;
    }
  if (!function) {
    s->failed = true;
    s->errorCode = LCTXRT_DEVICE_ERROR;
    s->error = "mgpuLaunchKernel: no kernel function";
    return;
  }
  if (CUresult result = s->driver->cuLaunchKernel(
          function, static_cast<unsigned>(gridX), static_cast<unsigned>(gridY),
          static_cast<unsigned>(gridZ), static_cast<unsigned>(blockX),
          static_cast<unsigned>(blockY), static_cast<unsigned>(blockZ),
          static_cast<unsigned>(sharedMemBytes),
          stream ? stream : s->stream, params, extra)) {
    s->record("mgpuLaunchKernel", "cuLaunchKernel", result);
    // Name the kernel and its configuration.
    std::string name = "?";
    for (const auto &[key, entry] : s->functions)
      if (entry.function == function)
        name = entry.name;
    s->error += " (kernel '" + name + "', grid (" + std::to_string(gridX) +
                ", " + std::to_string(gridY) + ", " + std::to_string(gridZ) +
                "), block (" + std::to_string(blockX) + ", " +
                std::to_string(blockY) + ", " + std::to_string(blockZ) +
                "), " + std::to_string(sharedMemBytes) +
                " bytes of dynamic shared memory)";
  }
}

void *hookStreamCreate() {
  Session *s = current("mgpuStreamCreate");
  return s ? s->stream : nullptr;
}

void hookStreamDestroy(void * /*stream*/) {}

void hookStreamSynchronize(void *stream) {
  Session *s = current("mgpuStreamSynchronize");
  if (!s || s->failed)
    return;
  if (CUresult result =
          s->driver->cuStreamSynchronize(stream ? stream : s->stream))
    s->record("mgpuStreamSynchronize", "cuStreamSynchronize", result);
}

void hookStreamWaitEvent(void *stream, void *event) {
  Session *s = current("mgpuStreamWaitEvent");
  if (!s || s->failed || !event)
    return;
  if (CUresult result = s->driver->cuStreamWaitEvent(
          stream ? stream : s->stream, event, 0))
    s->record("mgpuStreamWaitEvent", "cuStreamWaitEvent", result);
}

void *hookEventCreate() {
  Session *s = current("mgpuEventCreate");
  if (!s || s->failed)
    return nullptr;
  CUevent event = nullptr;
  if (CUresult result =
          s->driver->cuEventCreate(&event, CU_EVENT_DISABLE_TIMING)) {
    s->record("mgpuEventCreate", "cuEventCreate", result);
    return nullptr;
  }
  s->events.push_back(event);
  return event;
}

void hookEventDestroy(void *event) {
  Session *s = current("mgpuEventDestroy");
  if (!s || !event)
    return;
  auto it = std::find(s->events.begin(), s->events.end(), event);
  if (it == s->events.end())
    return;
  s->events.erase(it);
  s->driver->cuEventDestroy(event);
}

void hookEventSynchronize(void *event) {
  Session *s = current("mgpuEventSynchronize");
  if (!s || s->failed || !event)
    return;
  if (CUresult result = s->driver->cuEventSynchronize(event))
    s->record("mgpuEventSynchronize", "cuEventSynchronize", result);
}

void hookEventRecord(void *event, void *stream) {
  Session *s = current("mgpuEventRecord");
  if (!s || s->failed || !event)
    return;
  if (CUresult result =
          s->driver->cuEventRecord(event, stream ? stream : s->stream))
    s->record("mgpuEventRecord", "cuEventRecord", result);
}

void *hookMemAlloc(uint64_t bytes, void * /*stream*/, int8_t hostShared) {
  Session *s = current("mgpuMemAlloc");
  if (!s)
    return nullptr;
  const size_t size = static_cast<size_t>(bytes);
  if (hostShared) {
    if (size == 0)
      return gHostScratch;
    void *block = nullptr;
    auto &free = s->freePinned[size];
    if (!free.empty()) {
      block = free.back();
      free.pop_back();
    } else if (CUresult result = s->driver->cuMemAllocHost(&block, size)) {
      s->record("mgpuMemAlloc",
                ("cuMemAllocHost_v2(" + std::to_string(size) + " bytes)")
                    .c_str(),
                result);
      // Host code goes on until the entry returns: give it host memory.
      if (::posix_memalign(&block, 64, size) == 0) {
        s->hostFallbacks.push_back(block);
        return block;
      }
      return gHostScratch;
    }
    s->livePinned.emplace(block, size);
    return block;
  }
  if (size == 0 || s->failed)
    return reinterpret_cast<void *>(static_cast<uintptr_t>(s->emptyDevice));
  CUdeviceptr block = 0;
  auto &free = s->freeDevice[size];
  if (!free.empty()) {
    block = free.back();
    free.pop_back();
  } else {
    CUresult result = s->driver->cuMemAlloc(&block, size);
    if (result == CUDA_ERROR_OUT_OF_MEMORY) {
      s->trimPool();
      result = s->driver->cuMemAlloc(&block, size);
    }
    if (result) {
      s->record("mgpuMemAlloc",
                ("cuMemAlloc_v2(" + std::to_string(size) + " bytes)").c_str(),
                result);
      if (result == CUDA_ERROR_OUT_OF_MEMORY)
        s->error = "the compiled code could not allocate " +
                   std::to_string(size) + " bytes of device memory (" +
                   s->error + ")";
      return reinterpret_cast<void *>(static_cast<uintptr_t>(s->emptyDevice));
    }
  }
  s->liveDevice.emplace(block, size);
  return reinterpret_cast<void *>(static_cast<uintptr_t>(block));
}

void hookMemFree(void *ptr, void * /*stream*/) {
  Session *s = current("mgpuMemFree");
  if (!s || !ptr)
    return;
  const auto address = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ptr));
  auto device = s->liveDevice.find(address);
  if (device != s->liveDevice.end()) {
    // Stream order makes the block safe to hand out again at once.
    s->freeDevice[device->second].push_back(device->first);
    s->liveDevice.erase(device);
    return;
  }
  auto pinned = s->livePinned.find(ptr);
  if (pinned != s->livePinned.end()) {
    s->releasedPinned.emplace_back(pinned->first, pinned->second);
    s->livePinned.erase(pinned);
  }
  // Anything else (stand-ins, fallbacks) is reclaimed when the call ends.
}

void hookMemcpy(void *dst, void *src, uint64_t bytes, void *stream) {
  Session *s = current("mgpuMemcpy");
  if (!s || s->failed || bytes == 0)
    return;
  if (CUresult result = s->driver->cuMemcpyAsync(
          static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(dst)),
          static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(src)),
          static_cast<size_t>(bytes), stream ? stream : s->stream))
    s->record("mgpuMemcpy", "cuMemcpyAsync", result);
}

void hookMemset32(void *dst, uint32_t value, uint64_t count, void *stream) {
  Session *s = current("mgpuMemset32");
  if (!s || s->failed || count == 0)
    return;
  if (CUresult result = s->driver->cuMemsetD32Async(
          static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(dst)), value,
          static_cast<size_t>(count), stream ? stream : s->stream))
    s->record("mgpuMemset32", "cuMemsetD32Async", result);
}

void hookMemset16(void *dst, uint16_t value, uint64_t count, void *stream) {
  Session *s = current("mgpuMemset16");
  if (!s || s->failed || count == 0)
    return;
  if (CUresult result = s->driver->cuMemsetD16Async(
          static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(dst)), value,
          static_cast<size_t>(count), stream ? stream : s->stream))
    s->record("mgpuMemset16", "cuMemsetD16Async", result);
}

/// The runtime's GEMM (cuda_blas.h): C = A B + beta C over a strided
/// batch, on the session's stream.
void hookLctxSgemm(int64_t batch, int64_t M, int64_t N, int64_t K, int64_t A,
                   int64_t sAb, int64_t sAm, int64_t sAk, int64_t B,
                   int64_t sBb, int64_t sBk, int64_t sBn, int64_t C,
                   int64_t sCb, int64_t sCm, int64_t sCn, int64_t beta) {
  Session *s = current("mgpuLctxSgemm");
  if (!s || s->failed)
    return;
  const int64_t args[17] = {batch, M,   N,   K,   A,   sAb, sAm, sAk, B,
                            sBb,   sBk, sBn, C,   sCb, sCm, sCn, beta};
  std::string message;
  if (!s->gemm.ready())
    message = "cuBLAS is not loaded";
  else if (s->gemm.sgemm(args, message))
    return;
  s->failed = true;
  s->errorCode = LCTXRT_DEVICE_ERROR;
  s->error = "mgpuLctxSgemm: " + message;
}

struct Hook {
  const char *name;
  void *function;
};

template <typename Fn> void *erase(Fn *fn) {
  return reinterpret_cast<void *>(fn);
}

const Hook kHooks[] = {
    {"mgpuModuleLoad", erase(&hookModuleLoad)},
    {"mgpuModuleLoadJIT", erase(&hookModuleLoadJIT)},
    {"mgpuModuleUnload", erase(&hookModuleUnload)},
    {"mgpuModuleGetFunction", erase(&hookModuleGetFunction)},
    {"mgpuLaunchKernel", erase(&hookLaunchKernel)},
    {"mgpuStreamCreate", erase(&hookStreamCreate)},
    {"mgpuStreamDestroy", erase(&hookStreamDestroy)},
    {"mgpuStreamSynchronize", erase(&hookStreamSynchronize)},
    {"mgpuStreamWaitEvent", erase(&hookStreamWaitEvent)},
    {"mgpuEventCreate", erase(&hookEventCreate)},
    {"mgpuEventDestroy", erase(&hookEventDestroy)},
    {"mgpuEventSynchronize", erase(&hookEventSynchronize)},
    {"mgpuEventRecord", erase(&hookEventRecord)},
    {"mgpuMemAlloc", erase(&hookMemAlloc)},
    {"mgpuMemFree", erase(&hookMemFree)},
    {"mgpuMemcpy", erase(&hookMemcpy)},
    {"mgpuMemset32", erase(&hookMemset32)},
    {"mgpuMemset16", erase(&hookMemset16)},
    {"mgpuLctxSgemm", erase(&hookLctxSgemm)},
};

} // namespace

const std::vector<std::string> &knownGpuFunctions() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Hook &hook : kHooks)
      out.push_back(hook.name);
    return out;
  }();
  return names;
}

//===----------------------------------------------------------------------===//
// Creation
//===----------------------------------------------------------------------===//

namespace {

const LoadedCode *codeOf(const lctxrt_artifact_t &art,
                         const std::string &section) {
  for (const auto &code : art.code)
    if (code->section == section)
      return code.get();
  return nullptr;
}

std::string recompileHint(const std::string &arch) {
  return "lctx-compile --target=cuda --gpu-arch=" +
         (arch.empty() ? std::string("sm_NN") : arch);
}

/// What can be checked without a driver: GPU code, entry symbols, slots.
lctxrt_status_t checkArtifactPlans(const lctxrt_artifact_t &art,
                              std::vector<Plan> &plans) {
  const GpuSpec &gpu = art.manifest.gpu;
  if (!gpu.present)
    return makeStatus(LCTXRT_UNSUPPORTED,
                      art.path + " has no GPU code: compile it with " +
                          recompileHint(""));
  if (gpu.entryPrefix.empty())
    return makeStatus(
        LCTXRT_UNSUPPORTED,
        art.path + " has GPU kernels (" + gpu.format + " for " + gpu.arch +
            ") but no GPU entry points (its manifest's \"gpu\" has no "
            "\"entry_prefix\"; written by an older lctx-compile): recompile "
            "it with " +
            recompileHint(gpu.arch));
  if (gpu.kind != "cuda")
    return makeStatus(LCTXRT_UNSUPPORTED,
                      art.path + ": GPU kind '" + gpu.kind +
                          "' is not supported (this runtime runs \"cuda\")");
  plans.resize(art.manifest.entryPoints.size());
  for (size_t e = 0; e < plans.size(); ++e) {
    const EntryPointSpec &entry = art.manifest.entryPoints[e];
    Plan &plan = plans[e];
    plan.entry = &entry;
    plan.symbol = gpu.entryPrefix + entry.name;
    const LoadedCode *code = codeOf(art, entry.section);
    void *symbol = code ? ::dlsym(code->handle, plan.symbol.c_str()) : nullptr;
    if (!symbol)
      return makeStatus(LCTXRT_FORMAT_ERROR,
                        art.path + ": entry '" + entry.name +
                            "': GPU entry symbol '" + plan.symbol +
                            "' not found in section '" + entry.section + "'");
    plan.function = reinterpret_cast<EntryFunction>(symbol);
  }
  const std::vector<std::string> &known = knownGpuFunctions();
  for (const auto &code : art.code)
    for (const std::string &slot : code->gpuSlots)
      if (std::find(known.begin(), known.end(), slot) == known.end())
        return makeStatus(
            LCTXRT_UNSUPPORTED,
            art.path + ": section '" + code->section +
                "' calls the GPU runtime function '" + slot + "' (slot " +
                kSlotPrefix + slot +
                "), which this runtime does not provide; use an lctxrt as "
                "recent as the lctx-compile that wrote the artifact");
  if (art.gpuImage.empty())
    return makeStatus(LCTXRT_FORMAT_ERROR,
                      art.path + ": the manifest's gpu.section '" +
                          gpu.section +
                          "' is not a ptx or cubin section of the artifact");
  return nullptr;
}

/// Points every known slot of the artifact's code at its hook.
void bindSlots(const lctxrt_artifact_t &art) {
  for (const auto &code : art.code)
    for (const Hook &hook : kHooks) {
      void *slot = ::dlsym(code->handle,
                           (std::string(kSlotPrefix) + hook.name).c_str());
      if (slot)
        __atomic_store_n(static_cast<void **>(slot), hook.function,
                         __ATOMIC_RELEASE);
    }
}

/// Builds the memref descriptor of \p spec (data to be set).
std::vector<int64_t> makeDescriptor(const TensorType &type) {
  const size_t rank = type.shape.size();
  std::vector<int64_t> descriptor(3 + 2 * rank, 0);
  int64_t stride = 1;
  for (size_t d = rank; d-- > 0;) {
    descriptor[3 + d] = type.shape[d];
    descriptor[3 + rank + d] = stride;
    stride *= type.shape[d];
  }
  return descriptor;
}

} // namespace

lctxrt_status_t checkArtifact(const lctxrt_artifact_t &artifact) {
  std::vector<Plan> plans;
  return checkArtifactPlans(artifact, plans);
}

lctxrt_status_t
createSession(const lctxrt_artifact_t &art,
              const std::unordered_map<std::string, const void *> &weightData,
              int32_t deviceIndex, SessionPtr &out) {
  out.reset();
  if (deviceIndex < 0)
    return makeStatus(LCTXRT_INVALID_ARGUMENT,
                      "lctxrt_session_create_with_options: device_index " +
                          std::to_string(deviceIndex) + " is negative");
  SessionPtr session(new Session);
  Session &s = *session;
  s.artifact = &art;
  s.deviceIndex = deviceIndex;
  if (lctxrt_status_t status = checkArtifactPlans(art, s.plans))
    return status;

  const Driver *driver = nullptr;
  if (lctxrt_status_t status = loadDriver(driver))
    return status;
  s.driver = driver;
  int count = 0;
  if (CUresult result = driver->cuDeviceGetCount(&count))
    return makeStatus(LCTXRT_UNAVAILABLE,
                      "no CUDA device: " +
                          driver->failure("cuDeviceGetCount", result));
  if (count == 0)
    return makeStatus(LCTXRT_UNAVAILABLE,
                      "no CUDA device (the driver reports none)");
  if (deviceIndex >= count)
    return makeStatus(LCTXRT_INVALID_ARGUMENT,
                      "CUDA device index " + std::to_string(deviceIndex) +
                          " is out of range: this machine has " +
                          std::to_string(count) + " CUDA device" +
                          (count == 1 ? "" : "s"));
  if (CUresult result = driver->cuDeviceGet(&s.device, deviceIndex))
    return s.driverError("cuDeviceGet", result);
  char name[256] = {0};
  if (driver->cuDeviceGetName(name, sizeof(name) - 1, s.device) == 0)
    s.deviceName = name;
  int major = 0, minor = 0;
  driver->cuDeviceGetAttribute(
      &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, s.device);
  driver->cuDeviceGetAttribute(
      &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, s.device);
  s.arch = "sm_" + std::to_string(major) + std::to_string(minor);
  if (CUresult result = driver->cuDevicePrimaryCtxRetain(&s.context, s.device))
    return s.driverError("cuDevicePrimaryCtxRetain", result);
  s.contextRetained = true;
  if (lctxrt_status_t status = s.makeCurrent())
    return status;

  // The kernels must suit this device.
  const GpuSpec &gpu = art.manifest.gpu;
  CUmodule probe = nullptr;
  if (CUresult result = driver->cuModuleLoadData(&probe, art.gpuImage.c_str())) {
    if (result == CUDA_ERROR_NO_BINARY_FOR_GPU ||
        result == CUDA_ERROR_INVALID_PTX ||
        result == CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
      return makeStatus(
          LCTXRT_UNSUPPORTED,
          art.path + ": the artifact's kernels are " + gpu.format + " for " +
              gpu.arch + " but device " + std::to_string(deviceIndex) + " (" +
              s.deviceName + ") is " + s.arch + "; recompile with " +
              recompileHint(s.arch) + " (" +
              driver->failure("cuModuleLoadData", result) + ")");
    if (result == CUDA_ERROR_INVALID_IMAGE)
      return makeStatus(LCTXRT_FORMAT_ERROR,
                        art.path + ": the kernel section '" + gpu.section +
                            "' is not a valid " + gpu.format + " image: " +
                            driver->failure("cuModuleLoadData", result));
    return s.driverError("cuModuleLoadData", result);
  }
  driver->cuModuleUnload(probe);

  if (CUresult result =
          driver->cuStreamCreate(&s.stream, CU_STREAM_NON_BLOCKING))
    return s.driverError("cuStreamCreate", result);
  if (CUresult result = driver->cuMemAlloc(&s.emptyDevice, 256))
    return s.driverError("cuMemAlloc_v2", result);

  // Weights: uploaded once.
  const Manifest &manifest = art.manifest;
  s.weights.resize(manifest.weights.size());
  for (size_t i = 0; i < manifest.weights.size(); ++i) {
    const ArgSpec &weight = manifest.weights[i];
    Buffer &buffer = s.weights[i];
    const size_t bytes = weight.type.byteSize;
    if (lctxrt_status_t status = s.allocate(bytes, onHost(weight.type),
                                            "weight '" + weight.name + "'",
                                            buffer))
      return status;
    const void *data = weightData.at(weight.name);
    if (bytes && buffer.pinned)
      std::memcpy(buffer.host, data, bytes);
    else if (bytes)
      if (CUresult result = driver->cuMemcpyHtoDAsync(buffer.device, data,
                                                      bytes, s.stream))
        return s.driverError("cuMemcpyHtoDAsync_v2", result);
    s.weightAddress.emplace(weight.name, s.address(buffer));
  }

  // States: two zeroed buffers each.
  s.states.resize(manifest.states.size());
  for (size_t i = 0; i < manifest.states.size(); ++i) {
    StateSlot &slot = s.states[i];
    slot.spec = &manifest.states[i];
    const size_t bytes = slot.spec->type.byteSize;
    for (Buffer &buffer : slot.buffers) {
      if (lctxrt_status_t status =
              s.allocate(bytes, onHost(slot.spec->type),
                         "state '" + slot.spec->name + "'", buffer))
        return status;
      if (bytes && buffer.pinned)
        std::memset(buffer.host, 0, bytes);
      else if (bytes)
        if (CUresult result =
                driver->cuMemsetD8Async(buffer.device, 0, bytes, s.stream))
          return s.driverError("cuMemsetD8Async", result);
    }
  }

  // Plans: descriptors with weights bound.
  for (Plan &plan : s.plans) {
    plan.args.resize(plan.entry->args.size());
    for (size_t a = 0; a < plan.args.size(); ++a) {
      ArgPlan &arg = plan.args[a];
      arg.spec = &plan.entry->args[a];
      arg.descriptor = makeDescriptor(arg.spec->type);
      arg.setData(onHost(arg.spec->type)
                      ? static_cast<uint64_t>(
                            reinterpret_cast<uintptr_t>(gHostScratch))
                      : s.emptyDevice);
      if (arg.spec->role == LCTXRT_ARG_ROLE_WEIGHT)
        arg.setData(s.weightAddress.at(arg.spec->name));
      plan.argv.push_back(arg.descriptor.data());
    }
  }

  // cuBLAS for the runtime's GEMM, when the code calls it.
  bool needsBlas = false;
  for (const auto &code : art.code)
    if (::dlsym(code->handle,
                (std::string(kSlotPrefix) + "mgpuLctxSgemm").c_str()))
      needsBlas = true;
  if (needsBlas) {
    std::string message;
    if (!s.gemm.init(s.stream, message))
      return makeStatus(LCTXRT_UNAVAILABLE, s.where() + message);
  }

  // Timing is best effort: without events, runs report no device time.
  if (s.driver->cuEventCreate(&s.timingStart, 0) ||
      s.driver->cuEventCreate(&s.timingEnd, 0))
    s.timingStart = s.timingEnd = nullptr;
  if (lctxrt_status_t status = s.synchronize())
    return status;
  bindSlots(art);
  out = std::move(session);
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Runs
//===----------------------------------------------------------------------===//

lctxrt_status_t run(Session &s, size_t entryIndex,
                    const std::vector<const lctxrt_tensor_view_t *> &given,
                    const std::vector<lctxrt_tensor_view_t *> &wanted) {
  Plan &plan = s.plans[entryIndex];
  const EntryPointSpec &entry = *plan.entry;
  const Driver &driver = *s.driver;
  const std::string where =
      s.artifact->path + ": entry '" + entry.name + "': ";
  if (lctxrt_status_t status = s.makeCurrent())
    return status;

  // Inputs to the device; outputs get their buffers.
  for (size_t a = 0; a < plan.args.size(); ++a) {
    ArgPlan &arg = plan.args[a];
    const lctxrt_arg_role_t role = arg.spec->role;
    if (role != LCTXRT_ARG_ROLE_INPUT && role != LCTXRT_ARG_ROLE_OUTPUT)
      continue;
    const TensorType &type = arg.spec->type;
    if (!arg.buffer.allocated && type.byteSize > 0)
      if (lctxrt_status_t status =
              s.allocate(type.byteSize, onHost(type),
                         std::string(lctxrt_arg_role_name(role)) + " '" +
                             arg.spec->name + "' of entry '" + entry.name +
                             "'",
                         arg.buffer))
        return status;
    if (type.byteSize == 0)
      arg.buffer.pinned = onHost(type);
    arg.setData(s.address(arg.buffer));
    if (role != LCTXRT_ARG_ROLE_INPUT || type.byteSize == 0)
      continue;
    if (arg.buffer.pinned)
      std::memcpy(arg.buffer.host, given[a]->data, type.byteSize);
    else if (CUresult result = driver.cuMemcpyHtoDAsync(
                 arg.buffer.device, given[a]->data, type.byteSize, s.stream))
      return s.driverError("cuMemcpyHtoDAsync_v2", result);
  }
  const Manifest &manifest = s.artifact->manifest;
  for (const auto &[name, pair] : entry.stateArgs) {
    const StateSlot &slot = s.states[manifest.stateIndex.at(name)];
    plan.args[pair.first].setData(s.address(slot.buffers[slot.current]));
    plan.args[pair.second].setData(s.address(slot.buffers[1 - slot.current]));
  }

  // The call, with this session's hooks.
  s.failed = false;
  s.errorCode = LCTXRT_OK;
  s.error.clear();
  Session *outer = tCurrent;
  tCurrent = &s;
  size_t failedBytes = 0;
  const bool timed = s.timingStart && s.timingEnd &&
                     !driver.cuEventRecord(s.timingStart, s.stream);
  const bool completed =
      callEntry(plan.function, plan.argv.data(), failedBytes);
  tCurrent = outer;
  const bool timedEnd = timed && !driver.cuEventRecord(s.timingEnd, s.stream);
  if (!s.failed)
    if (CUresult result = driver.cuStreamSynchronize(s.stream))
      s.record("after the call", "cuStreamSynchronize", result);
  float elapsed = 0;
  s.lastDeviceMs =
      timedEnd && !s.failed &&
              !driver.cuEventElapsedTime(&elapsed, s.timingStart, s.timingEnd)
          ? elapsed
          : -1;
  const auto finish = [&](lctxrt_status_t status) {
    // Nothing queued may still use the blocks the pool gets back.
    driver.cuStreamSynchronize(s.stream);
    s.endCall();
    return status;
  };
  if (!completed)
    return finish(makeStatus(
        LCTXRT_OUT_OF_MEMORY,
        where + "the compiled code could not allocate " +
            std::to_string(failedBytes) +
            " bytes of host memory (out of memory); outputs and state are "
            "unchanged"));
  if (s.failed)
    return finish(makeStatus(s.errorCode,
                             s.where() + "entry '" + entry.name + "': " +
                                 s.error +
                                 "; outputs and state are unchanged"));

  // Outputs back to the host.
  for (size_t a = 0; a < plan.args.size(); ++a) {
    lctxrt_tensor_view_t *view = wanted[a];
    if (!view)
      continue;
    ArgPlan &arg = plan.args[a];
    const TensorType &type = arg.spec->type;
    void *target = const_cast<void *>(view->data);
    if (!target) {
      if (!arg.hostOut &&
          ::posix_memalign(&arg.hostOut, 64, std::max<size_t>(type.byteSize, 1)))
        return finish(outOfMemoryStatus());
      target = arg.hostOut;
      view->dtype = type.dtype;
      view->rank = type.shape.size();
      view->shape = type.shape.data();
      view->byte_size = type.byteSize;
      view->data = target;
    }
    if (type.byteSize == 0)
      continue;
    if (arg.buffer.pinned)
      std::memcpy(target, arg.buffer.host, type.byteSize);
    else if (CUresult result = driver.cuMemcpyDtoHAsync(
                 target, arg.buffer.device, type.byteSize, s.stream))
      return finish(s.driverError("cuMemcpyDtoHAsync_v2", result));
  }
  if (lctxrt_status_t status = s.synchronize())
    return finish(status);
  for (const auto &[name, pair] : entry.stateArgs) {
    StateSlot &slot = s.states[manifest.stateIndex.at(name)];
    slot.current = 1 - slot.current;
  }
  return finish(nullptr);
}

double lastDeviceMs(const Session &session) { return session.lastDeviceMs; }

lctxrt_status_t resetState(Session &s) {
  if (lctxrt_status_t status = s.makeCurrent())
    return status;
  for (StateSlot &slot : s.states) {
    Buffer &buffer = slot.buffers[slot.current];
    const size_t bytes = slot.spec->type.byteSize;
    if (bytes && buffer.pinned)
      std::memset(buffer.host, 0, bytes);
    else if (bytes)
      if (CUresult result =
              s.driver->cuMemsetD8Async(buffer.device, 0, bytes, s.stream))
        return s.driverError("cuMemsetD8Async", result);
  }
  return s.synchronize();
}

lctxrt_status_t readState(Session &s, size_t index, const void *&data) {
  StateSlot &slot = s.states[index];
  const size_t bytes = slot.spec->type.byteSize;
  if (!slot.mirror &&
      ::posix_memalign(&slot.mirror, 64, std::max<size_t>(bytes, 1)))
    return outOfMemoryStatus();
  data = slot.mirror;
  const Buffer &buffer = slot.buffers[slot.current];
  if (bytes == 0)
    return nullptr;
  if (buffer.pinned) {
    std::memcpy(slot.mirror, buffer.host, bytes);
    return nullptr;
  }
  if (lctxrt_status_t status = s.makeCurrent())
    return status;
  if (CUresult result = s.driver->cuMemcpyDtoHAsync(slot.mirror, buffer.device,
                                                    bytes, s.stream))
    return s.driverError("cuMemcpyDtoHAsync_v2", result);
  return s.synchronize();
}

lctxrt_status_t writeState(Session &s, size_t index, const void *data) {
  StateSlot &slot = s.states[index];
  const size_t bytes = slot.spec->type.byteSize;
  const Buffer &buffer = slot.buffers[slot.current];
  if (bytes == 0)
    return nullptr;
  if (buffer.pinned) {
    std::memmove(buffer.host, data, bytes);
    return nullptr;
  }
  if (lctxrt_status_t status = s.makeCurrent())
    return status;
  if (CUresult result = s.driver->cuMemcpyHtoDAsync(buffer.device, data, bytes,
                                                    s.stream))
    return s.driverError("cuMemcpyHtoDAsync_v2", result);
  return s.synchronize();
}

} // namespace cuda
} // namespace lctxrt
