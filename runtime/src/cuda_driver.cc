//===- cuda_driver.cc - The CUDA driver API, loaded at run time -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "cuda_driver.h"

#include "status.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include <dlfcn.h>

using lctxrt::makeStatus;

namespace lctxrt {
namespace cuda {

namespace {

std::mutex gDriverMutex;
/// Successfully loaded and initialized drivers by library name; never freed
/// (hooks and sessions may use them until the process exits).
std::map<std::string, std::unique_ptr<Driver>> gDrivers;

} // namespace

std::string Driver::describe(CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != CUDA_SUCCESS)
    name = nullptr;
  if (!cuGetErrorString || cuGetErrorString(result, &text) != CUDA_SUCCESS)
    text = nullptr;
  std::string out = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(" (") + text + ")";
  return out;
}

std::string Driver::failure(const char *call, CUresult result) const {
  return std::string(call) + " failed: " + describe(result);
}

std::string driverLibraryName() {
  const char *name = std::getenv("LCTXRT_LIBCUDA");
  return name && *name ? name : "libcuda.so.1";
}

lctxrt_status_t loadDriver(const Driver *&out) {
  out = nullptr;
  const std::string library = driverLibraryName();
  std::lock_guard<std::mutex> lock(gDriverMutex);
  auto found = gDrivers.find(library);
  if (found != gDrivers.end()) {
    out = found->second.get();
    return nullptr;
  }
  ::dlerror();
  void *handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *error = ::dlerror();
    return makeStatus(LCTXRT_UNAVAILABLE,
                      "no CUDA driver: cannot load " + library + ": " +
                          (error ? error : "dlopen failed"));
  }
  auto driver = std::make_unique<Driver>();
  driver->library = library;
  driver->handle = handle;
  std::string missing;
  const auto bind = [&](auto &slot, const char *name) {
    void *symbol = ::dlsym(handle, name);
    if (!symbol && missing.empty())
      missing = name;
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(symbol);
  };
#define LCTXRT_BIND(field, name) bind(driver->field, name)
  LCTXRT_BIND(cuInit, "cuInit");
  LCTXRT_BIND(cuDeviceGetCount, "cuDeviceGetCount");
  LCTXRT_BIND(cuDeviceGet, "cuDeviceGet");
  LCTXRT_BIND(cuDeviceGetAttribute, "cuDeviceGetAttribute");
  LCTXRT_BIND(cuDeviceGetName, "cuDeviceGetName");
  LCTXRT_BIND(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  LCTXRT_BIND(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
  LCTXRT_BIND(cuCtxSetCurrent, "cuCtxSetCurrent");
  LCTXRT_BIND(cuStreamCreate, "cuStreamCreate");
  LCTXRT_BIND(cuStreamDestroy, "cuStreamDestroy_v2");
  LCTXRT_BIND(cuStreamSynchronize, "cuStreamSynchronize");
  LCTXRT_BIND(cuStreamWaitEvent, "cuStreamWaitEvent");
  LCTXRT_BIND(cuModuleLoadData, "cuModuleLoadData");
  LCTXRT_BIND(cuModuleLoadDataEx, "cuModuleLoadDataEx");
  LCTXRT_BIND(cuModuleGetFunction, "cuModuleGetFunction");
  LCTXRT_BIND(cuModuleUnload, "cuModuleUnload");
  LCTXRT_BIND(cuLaunchKernel, "cuLaunchKernel");
  LCTXRT_BIND(cuMemAlloc, "cuMemAlloc_v2");
  LCTXRT_BIND(cuMemFree, "cuMemFree_v2");
  LCTXRT_BIND(cuMemAllocHost, "cuMemAllocHost_v2");
  LCTXRT_BIND(cuMemFreeHost, "cuMemFreeHost");
  LCTXRT_BIND(cuMemGetInfo, "cuMemGetInfo_v2");
  LCTXRT_BIND(cuMemcpyAsync, "cuMemcpyAsync");
  LCTXRT_BIND(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  LCTXRT_BIND(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  LCTXRT_BIND(cuMemsetD8Async, "cuMemsetD8Async");
  LCTXRT_BIND(cuMemsetD16Async, "cuMemsetD16Async");
  LCTXRT_BIND(cuMemsetD32Async, "cuMemsetD32Async");
  LCTXRT_BIND(cuEventCreate, "cuEventCreate");
  LCTXRT_BIND(cuEventDestroy, "cuEventDestroy_v2");
  LCTXRT_BIND(cuEventRecord, "cuEventRecord");
  LCTXRT_BIND(cuEventSynchronize, "cuEventSynchronize");
  LCTXRT_BIND(cuEventElapsedTime, "cuEventElapsedTime");
  LCTXRT_BIND(cuGetErrorName, "cuGetErrorName");
  LCTXRT_BIND(cuGetErrorString, "cuGetErrorString");
#undef LCTXRT_BIND
  if (!missing.empty()) {
    ::dlclose(handle);
    return makeStatus(LCTXRT_UNAVAILABLE,
                      "no CUDA driver: " + library + " lacks " + missing +
                          " (not the CUDA driver library, or too old)");
  }
  if (CUresult result = driver->cuInit(0)) {
    std::string message = result == CUDA_ERROR_NO_DEVICE
                              ? "no CUDA device: "
                              : "cannot initialize the CUDA driver: ";
    message += library + ": " + driver->failure("cuInit", result);
    // Keep the library loaded: unloading an initialized-but-failed driver
    // is not worth the risk; the table is simply not cached.
    return makeStatus(LCTXRT_UNAVAILABLE, message);
  }
  out = driver.get();
  gDrivers.emplace(library, std::move(driver));
  return nullptr;
}

} // namespace cuda
} // namespace lctxrt
