//===- manifest_fuzzer.cc - Fuzz the artifact manifest parser -------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The input is manifest JSON text, fed to the parser the artifact loader
// uses. It must return a documented status or a manifest whose indices,
// counts and sizes agree with each other.
//
//===----------------------------------------------------------------------===//

#include "fuzz_util.h"
#include "manifest.h"

#include <exception>
#include <new>
#include <string>
#include <string_view>

using namespace lctx::fuzz;

namespace {

void checkType(const lctxrt::TensorType &type) {
  const size_t elementSize = lctxrt_dtype_size(type.dtype);
  check(elementSize != 0, "invalid dtype");
  check(type.shape.size() <= LCTXRT_MAX_RANK, "rank too large");
  unsigned __int128 elements = 1;
  for (int64_t dim : type.shape) {
    check(dim >= 0, "negative dimension");
    elements *= static_cast<uint64_t>(dim);
    check(elements <= SIZE_MAX, "element count beyond size_t");
  }
  check(elements == type.numElements, "numElements != product(shape)");
  check(static_cast<unsigned __int128>(type.numElements) * elementSize ==
            type.byteSize,
        "byteSize != numElements * dtype size");
}

void checkManifest(const lctxrt::Manifest &manifest) {
  check(manifest.entryIndex.size() == manifest.entryPoints.size(),
        "entry index size");
  for (size_t i = 0; i < manifest.entryPoints.size(); ++i) {
    const lctxrt::EntryPointSpec &entry = manifest.entryPoints[i];
    auto it = manifest.entryIndex.find(entry.name);
    check(it != manifest.entryIndex.end() && it->second == i,
          "entry index disagrees");
    check(entry.argIndex.size() == entry.args.size(), "argument index size");
    size_t inputs = 0, weights = 0, outputs = 0;
    for (size_t a = 0; a < entry.args.size(); ++a) {
      const lctxrt::ArgSpec &arg = entry.args[a];
      checkType(arg.type);
      auto at = entry.argIndex.find(arg.name);
      check(at != entry.argIndex.end() && at->second == a,
            "argument index disagrees");
      inputs += arg.role == LCTXRT_ARG_ROLE_INPUT;
      weights += arg.role == LCTXRT_ARG_ROLE_WEIGHT;
      outputs += arg.role == LCTXRT_ARG_ROLE_OUTPUT;
      if (arg.role == LCTXRT_ARG_ROLE_WEIGHT) {
        auto w = manifest.weightIndex.find(arg.name);
        check(w != manifest.weightIndex.end(),
              "weight argument missing from the manifest weights");
        check(manifest.weights[w->second].type == arg.type,
              "weight argument type differs from the manifest weight");
      }
    }
    check(inputs == entry.numInputs && weights == entry.numWeights &&
              outputs == entry.numOutputs,
          "role counts disagree");
  }
  check(manifest.weightIndex.size() == manifest.weights.size(),
        "weight index size");
  for (const lctxrt::ArgSpec &weight : manifest.weights)
    checkType(weight.type);
  const size_t alignment = manifest.bufferAlignment;
  check(alignment >= 1 && alignment <= 4096 &&
            (alignment & (alignment - 1)) == 0,
        "buffer alignment not a power of two in [1, 4096]");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  lctxrt::Manifest manifest;
  try {
    lctxrt_status_t status = lctxrt::parseManifest("fuzz.lctx", text,
                                                   manifest);
    if (status) {
      consume(status);
      return 0;
    }
  } catch (const std::bad_alloc &) {
    return 0;
  } catch (const std::exception &e) {
    fail(std::string("parseManifest threw: ") + e.what());
  }
  checkManifest(manifest);
  return 0;
}
