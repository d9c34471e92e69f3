//===- safetensors_fuzzer.cc - Fuzz the safetensors reader and writer -----===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The input is a whole safetensors file. Opening it must either fail with a
// documented status or yield tensors whose every field is consistent and
// whose bytes lie inside the file. A file that opens is written back with
// lctxrt_safetensors_write and reopened: names, dtypes, shapes, bytes and
// metadata must survive.
//
//===----------------------------------------------------------------------===//

#include "fuzz_util.h"

#include "lctxrt/lctxrt.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

using namespace lctx::fuzz;

namespace {

struct Closer {
  void operator()(lctxrt_safetensors_t *file) const {
    lctxrt_safetensors_close(file);
  }
};
using FilePtr = std::unique_ptr<lctxrt_safetensors_t, Closer>;

FilePtr open(const std::string &path) {
  lctxrt_safetensors_t *file = nullptr;
  lctxrt_status_t status = lctxrt_safetensors_open(path.c_str(), &file);
  if (status) {
    check(!file, "open failed but returned a handle");
    consume(status);
    return nullptr;
  }
  check(file != nullptr, "open succeeded without a handle");
  return FilePtr(file);
}

/// Checks the fields of one tensor against each other and against the file.
void checkTensor(const lctxrt_tensor_info_t &info, size_t fileSize) {
  check(info.name != nullptr, "tensor without a name");
  const size_t elementSize = lctxrt_dtype_size(info.dtype);
  check(elementSize != 0, "tensor with an invalid dtype");
  check(info.rank <= LCTXRT_MAX_RANK, "rank beyond LCTXRT_MAX_RANK");
  unsigned __int128 elements = 1;
  for (size_t d = 0; d < LCTXRT_MAX_RANK; ++d) {
    if (d >= info.rank) {
      check(info.shape[d] == 0, "shape entry after rank is not 0");
      continue;
    }
    check(info.shape[d] >= 0, "negative dimension");
    elements *= static_cast<uint64_t>(info.shape[d]);
    if (elements > fileSize)
      elements = fileSize + 1; // Keeps the product bounded; checked below.
  }
  check(elements == info.num_elements, "num_elements != product(shape)");
  check(static_cast<unsigned __int128>(info.num_elements) * elementSize ==
            info.byte_size,
        "byte_size != num_elements * dtype size");
  check(info.byte_size <= fileSize, "tensor larger than the file");
  check(info.data != nullptr, "tensor data is NULL");
  touch(info.data, info.byte_size);
  if (info.byte_size && (info.dtype == LCTXRT_DTYPE_F16 ||
                         info.dtype == LCTXRT_DTYPE_BF16 ||
                         info.dtype == LCTXRT_DTYPE_F32)) {
    std::vector<float> converted(info.num_elements < 4096 ? info.num_elements
                                                          : 4096);
    consume(lctxrt_convert_to_f32(info.data, info.dtype, converted.size(),
                                  converted.data()));
  }
}

void roundTrip(const lctxrt_safetensors_t *file,
               const std::vector<lctxrt_tensor_info_t> &tensors) {
  std::vector<lctxrt_tensor_view_t> views;
  for (const lctxrt_tensor_info_t &info : tensors)
    views.push_back({info.name, info.dtype, info.rank, info.shape, info.data,
                     info.byte_size});
  std::vector<lctxrt_metadata_entry_t> metadata;
  for (size_t i = 0; i < lctxrt_safetensors_num_metadata(file); ++i) {
    lctxrt_metadata_entry_t entry{};
    consume(lctxrt_safetensors_metadata_entry(file, i, &entry.key,
                                              &entry.value));
    check(entry.key && entry.value, "metadata entry without key or value");
    check(lctxrt_safetensors_metadata(file, entry.key) != nullptr,
          "metadata lookup misses a listed key");
    metadata.push_back(entry);
  }
  const std::string path = scratchDir() + "/round-trip.safetensors";
  lctxrt_status_t status =
      lctxrt_safetensors_write(path.c_str(), views.size(), views.data(),
                               metadata.size(), metadata.data());
  if (status) {
    // The reader accepts what the writer refuses only for duplicate
    // metadata keys (JSON objects with repeated keys are rejected on read).
    std::string message = lctxrt_status_message(status);
    consume(status);
    fail("cannot write back a file that opened: " + message);
  }
  FilePtr copy = open(path);
  ::unlink(path.c_str());
  if (!copy)
    fail("cannot reopen a written file");
  check(lctxrt_safetensors_num_tensors(copy.get()) == tensors.size(),
        "round trip changed the tensor count");
  for (const lctxrt_tensor_info_t &info : tensors) {
    lctxrt_tensor_info_t again{};
    lctxrt_status_t found = lctxrt_safetensors_find(copy.get(), info.name,
                                                    &again);
    if (found) {
      consume(found);
      fail("round trip lost a tensor");
    }
    check(again.dtype == info.dtype && again.rank == info.rank &&
              std::memcmp(again.shape, info.shape, sizeof(info.shape)) == 0 &&
              again.byte_size == info.byte_size &&
              (info.byte_size == 0 ||
               std::memcmp(again.data, info.data, info.byte_size) == 0),
          "round trip changed a tensor");
  }
  check(lctxrt_safetensors_num_metadata(copy.get()) == metadata.size(),
        "round trip changed the metadata count");
  for (const lctxrt_metadata_entry_t &entry : metadata) {
    const char *value = lctxrt_safetensors_metadata(copy.get(), entry.key);
    check(value && std::strcmp(value, entry.value) == 0,
          "round trip changed a metadata value");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static MemFile input("lctx-fuzz-safetensors");
  input.assign(data, size);
  FilePtr file = open(input.path());
  if (!file)
    return 0;
  const size_t count = lctxrt_safetensors_num_tensors(file.get());
  check(count <= size, "more tensors than bytes");
  std::vector<lctxrt_tensor_info_t> tensors(count);
  for (size_t i = 0; i < count; ++i) {
    consume(lctxrt_safetensors_tensor_info(file.get(), i, &tensors[i]));
    checkTensor(tensors[i], size);
    lctxrt_tensor_info_t byName{};
    consume(lctxrt_safetensors_find(file.get(), tensors[i].name, &byName));
    check(byName.data == tensors[i].data &&
              byName.byte_size == tensors[i].byte_size,
          "find by name disagrees with tensor_info");
  }
  lctxrt_tensor_info_t beyond{};
  lctxrt_status_t status =
      lctxrt_safetensors_tensor_info(file.get(), count, &beyond);
  check(status != nullptr, "tensor_info accepts an index past the end");
  consume(status);
  roundTrip(file.get(), tensors);
  return 0;
}
