//===- cuda_session.h - Sessions on a CUDA device ---------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The CUDA half of a session (docs/runtime-cuda.md): device memory for
/// weights, states and arguments, the GPU runtime hooks the artifact's host
/// code calls through its `lctx_rt_gpu_<fn>` slots, and the per-run flow
/// (inputs to the device, the `<entry_prefix><name>` call, outputs back).
/// session.cc validates the caller's arguments and dispatches here.
/// Internal to lctxrt.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_SRC_CUDA_SESSION_H
#define LCTXRT_SRC_CUDA_SESSION_H

#include "artifact.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace lctxrt {
namespace cuda {

/// The prefix of the exported slots of GPU runtime functions.
constexpr const char *kSlotPrefix = "lctx_rt_gpu_";

/// Names (without kSlotPrefix) of the slots the ELF shared object \p elf
/// defines in its dynamic symbol table, found through its section headers;
/// empty when there are none or the headers are stripped or malformed.
std::vector<std::string> listGpuSlots(const unsigned char *elf, size_t size);

/// The GPU runtime functions lctxrt implements (slot names without the
/// prefix), in a fixed order.
const std::vector<std::string> &knownGpuFunctions();

struct Session;
struct SessionDeleter {
  void operator()(Session *session) const;
};
using SessionPtr = std::unique_ptr<Session, SessionDeleter>;

/// Checks, without a driver, that \p artifact can run on CUDA: it has GPU
/// entry points (UNSUPPORTED "ARTIFACT has no GPU code: ..." otherwise),
/// every one resolves, and its code calls only known GPU functions.
lctxrt_status_t checkArtifact(const lctxrt_artifact_t &artifact);

/// Creates the CUDA part of a session of \p artifact on device
/// \p deviceIndex: checks the artifact has GPU code, loads the driver,
/// uploads the weights (\p weightData: host data of each manifest weight by
/// name, already validated), allocates zeroed states and binds the hooks.
lctxrt_status_t createSession(
    const lctxrt_artifact_t &artifact,
    const std::unordered_map<std::string, const void *> &weightData,
    int32_t deviceIndex, SessionPtr &out);

/// Runs entry point \p entryIndex. \p given / \p wanted are indexed by
/// argument: the caller's validated input views and requested output views
/// (NULL for others), as session.cc matched them.
lctxrt_status_t run(Session &session, size_t entryIndex,
                    const std::vector<const lctxrt_tensor_view_t *> &given,
                    const std::vector<lctxrt_tensor_view_t *> &wanted);

/// The device time of the last successful run in milliseconds (-1 if
/// none was timed).
double lastDeviceMs(const Session &session);

/// Zeroes every state.
lctxrt_status_t resetState(Session &session);
/// Copies manifest state \p index to a host mirror, returned in \p data
/// (valid until the next run, reset, write or close).
lctxrt_status_t readState(Session &session, size_t index, const void *&data);
/// Copies \p data (the state's byte size) into manifest state \p index.
lctxrt_status_t writeState(Session &session, size_t index, const void *data);

} // namespace cuda
} // namespace lctxrt

#endif // LCTXRT_SRC_CUDA_SESSION_H
