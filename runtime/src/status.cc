//===- status.cc - lctxrt_status_t implementation ---------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "status.h"

#include <utility>

/// The object behind a non-NULL lctxrt_status_t.
struct lctxrt_status {
  lctxrt_status_code_t code;
  std::string message;
};

namespace {
/// Returned when a status itself cannot be allocated; never freed.
lctxrt_status kOutOfMemory{LCTXRT_OUT_OF_MEMORY, "out of memory"};
} // namespace

lctxrt_status_t lctxrt::makeStatus(lctxrt_status_code_t code,
                                   std::string message) noexcept {
  auto *status = new (std::nothrow) lctxrt_status;
  if (!status)
    return &kOutOfMemory;
  status->code = code;
  status->message = std::move(message);
  return status;
}

lctxrt_status_t lctxrt::outOfMemoryStatus() noexcept { return &kOutOfMemory; }

extern "C" {

lctxrt_status_code_t lctxrt_status_code(lctxrt_status_t status) {
  return status ? status->code : LCTXRT_OK;
}

const char *lctxrt_status_message(lctxrt_status_t status) {
  return status ? status->message.c_str() : "OK";
}

void lctxrt_status_free(lctxrt_status_t status) {
  if (status != &kOutOfMemory)
    delete status;
}

const char *lctxrt_status_code_name(lctxrt_status_code_t code) {
  switch (code) {
  case LCTXRT_OK:
    return "OK";
  case LCTXRT_INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case LCTXRT_NOT_FOUND:
    return "NOT_FOUND";
  case LCTXRT_IO_ERROR:
    return "IO_ERROR";
  case LCTXRT_FORMAT_ERROR:
    return "FORMAT_ERROR";
  case LCTXRT_OUT_OF_MEMORY:
    return "OUT_OF_MEMORY";
  case LCTXRT_UNSUPPORTED:
    return "UNSUPPORTED";
  case LCTXRT_INTERNAL:
    return "INTERNAL";
  case LCTXRT_UNAVAILABLE:
    return "UNAVAILABLE";
  case LCTXRT_DEVICE_ERROR:
    return "DEVICE_ERROR";
  case LCTXRT_OUT_OF_RANGE:
    return "OUT_OF_RANGE";
  default:
    return "UNKNOWN";
  }
}

} // extern "C"
