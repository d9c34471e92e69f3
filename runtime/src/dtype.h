//===- dtype.h - Internal dtype helpers -------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_SRC_DTYPE_H
#define LCTXRT_SRC_DTYPE_H

#include "lctxrt/lctxrt.h"

#include <string_view>

namespace lctxrt {

/// The result of looking up a safetensors dtype spelling.
enum class DtypeLookup {
  /// A dtype lctxrt supports; the out parameter is set.
  Supported,
  /// A dtype of the safetensors format that lctxrt does not support.
  Unsupported,
  /// Not a safetensors dtype.
  Unknown,
};

/// Looks up the safetensors spelling \p name, setting \p out when supported.
DtypeLookup lookupDtype(std::string_view name, lctxrt_dtype_t &out);

} // namespace lctxrt

#endif // LCTXRT_SRC_DTYPE_H
