//===- status.h - Internal status helpers -----------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Helpers for creating lctxrt_status_t values inside the library and for
/// keeping C++ exceptions from crossing the C API.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_SRC_STATUS_H
#define LCTXRT_SRC_STATUS_H

#include "lctxrt/lctxrt.h"

#include <exception>
#include <new>
#include <string>

namespace lctxrt {

/// Creates a status with \p code and \p message. Never fails: if the status
/// cannot be allocated, a static OUT_OF_MEMORY status is returned instead.
lctxrt_status_t makeStatus(lctxrt_status_code_t code,
                           std::string message) noexcept;

/// Returns the static OUT_OF_MEMORY status.
lctxrt_status_t outOfMemoryStatus() noexcept;

/// Runs \p body (returning lctxrt_status_t) and turns any escaping exception
/// into a status, so that C API entry points are noexcept.
template <typename Fn>
lctxrt_status_t guardStatus(const char *function, Fn &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return outOfMemoryStatus();
  } catch (const std::exception &e) {
    return makeStatus(LCTXRT_INTERNAL,
                      std::string(function) +
                          ": unexpected exception: " + e.what());
  } catch (...) {
    return makeStatus(LCTXRT_INTERNAL, "unexpected exception");
  }
}

} // namespace lctxrt

#endif // LCTXRT_SRC_STATUS_H
