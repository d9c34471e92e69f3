//===- artifact_fuzzer.cc - Fuzz the artifact loader ----------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The input is a whole .lctx artifact. Its trailing checksum is recomputed
// first, so that mutations reach the section table and the manifest instead
// of stopping at the checksum. Opening must either fail with a documented
// status or yield an artifact whose every query is consistent.
//
// An artifact carries native code, which the runtime loads with dlopen; a
// mutated ELF object can crash the dynamic loader or run arbitrary code,
// which is the artifact's trust model, not a runtime bug. The target is
// linked with --wrap=dlopen: only an object byte-identical to the test
// kernel is really loaded, any other load fails as an unloadable object
// does.
//
//===----------------------------------------------------------------------===//

#include "fuzz_util.h"

#include "lctxrt/artifact_format.h"
#include "lctxrt/lctxrt.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <dlfcn.h>

using namespace lctx::fuzz;

namespace {

const std::string &allowedObject() {
  static const std::string bytes = [] {
    std::ifstream in(LCTX_FUZZ_KERNEL, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
    if (all.empty())
      fail("cannot read the test kernel " LCTX_FUZZ_KERNEL);
    return all;
  }();
  return bytes;
}

bool isAllowed(const char *path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  const std::string &allowed = allowedObject();
  std::string head(allowed.size() + 1, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  return static_cast<size_t>(in.gcount()) == allowed.size() &&
         head.compare(0, allowed.size(), allowed) == 0;
}

void checkArg(const lctxrt_arg_info_t &arg) {
  check(arg.name != nullptr, "argument without a name");
  check(lctxrt_arg_role_name(arg.role) != nullptr, "argument role invalid");
  const size_t elementSize = lctxrt_dtype_size(arg.dtype);
  check(elementSize != 0, "argument dtype invalid");
  check(arg.rank <= LCTXRT_MAX_RANK, "argument rank too large");
  unsigned __int128 elements = 1;
  for (size_t d = 0; d < arg.rank; ++d) {
    check(arg.shape[d] >= 0, "negative argument dimension");
    elements *= static_cast<uint64_t>(arg.shape[d]);
    if (elements > SIZE_MAX)
      fail("argument element count beyond size_t");
  }
  for (size_t d = arg.rank; d < LCTXRT_MAX_RANK; ++d)
    check(arg.shape[d] == 0, "shape entry after rank is not 0");
  check(elements == arg.num_elements, "num_elements != product(shape)");
  check(static_cast<unsigned __int128>(arg.num_elements) * elementSize ==
            arg.byte_size,
        "byte_size != num_elements * dtype size");
}

void query(const lctxrt_artifact_t *artifact, size_t fileSize) {
  check(lctxrt_artifact_manifest_json(artifact) != nullptr,
        "no manifest text");
  lctxrt_artifact_info_t info{};
  consume(lctxrt_artifact_info(artifact, &info));
  check(info.version == lctxrt::kArtifactVersion, "unexpected version");
  check(info.buffer_alignment >= 1 && info.buffer_alignment <= 4096 &&
            (info.buffer_alignment & (info.buffer_alignment - 1)) == 0,
        "buffer_alignment not a power of two in [1, 4096]");
  check(info.producer && info.target_kind && info.target_triple &&
            info.target_cpu && info.target_features,
        "NULL info string");
  check(info.num_sections == lctxrt_artifact_num_sections(artifact),
        "section counts disagree");
  for (size_t i = 0; i < info.num_sections; ++i) {
    lctxrt_section_info_t section{};
    consume(lctxrt_artifact_section_info(artifact, i, &section));
    check(section.kind_name && section.name, "NULL section string");
    check(section.offset <= fileSize && section.size <= fileSize - section.offset,
          "section beyond the file");
  }
  check(info.num_entry_points == lctxrt_artifact_num_entry_points(artifact),
        "entry point counts disagree");
  for (size_t i = 0; i < info.num_entry_points; ++i) {
    lctxrt_entry_point_info_t entry{};
    consume(lctxrt_artifact_entry_point_info(artifact, i, &entry));
    check(entry.name && entry.symbol && entry.section, "NULL entry string");
    check(entry.num_inputs + entry.num_weights + entry.num_outputs <=
              entry.num_args,
          "role counts exceed the argument count");
    for (size_t a = 0; a < entry.num_args; ++a)
      checkArg(entry.args[a]);
    lctxrt_entry_point_info_t byName{};
    consume(lctxrt_artifact_find_entry_point(artifact, entry.name, &byName));
    check(byName.args == entry.args, "find_entry_point disagrees");
  }
  check(info.num_weights == lctxrt_artifact_num_weights(artifact),
        "weight counts disagree");
  for (size_t i = 0; i < info.num_weights; ++i) {
    lctxrt_arg_info_t weight{};
    consume(lctxrt_artifact_weight_info(artifact, i, &weight));
    checkArg(weight);
  }
  lctxrt_entry_point_info_t none{};
  lctxrt_status_t status =
      lctxrt_artifact_entry_point_info(artifact, info.num_entry_points, &none);
  check(status != nullptr, "entry_point_info accepts an index past the end");
  consume(status);

  // A session without weights: fails unless the manifest needs none.
  lctxrt_session_t *session = nullptr;
  consume(lctxrt_session_create(artifact, nullptr, &session));
  lctxrt_session_close(session);
}

} // namespace

extern "C" void *__real_dlopen(const char *path, int flags);

/// Replaces dlopen for the runtime's objects (see the file comment).
extern "C" void *__wrap_dlopen(const char *path, int flags) {
  if ((flags & RTLD_NOLOAD) || (path && isAllowed(path)))
    return __real_dlopen(path, flags);
  return nullptr;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static MemFile input("lctx-fuzz-artifact");
  std::vector<unsigned char> bytes(data, data + size);
  if (size >= lctxrt::kArtifactChecksumSize) {
    const size_t at = size - lctxrt::kArtifactChecksumSize;
    lctxrt::storeLE64(bytes.data() + at, lctxrt::fnv1a64(bytes.data(), at));
  }
  input.assign(bytes.data(), bytes.size());
  lctxrt_artifact_t *artifact = nullptr;
  lctxrt_status_t status =
      lctxrt_artifact_open(input.path().c_str(), &artifact);
  if (status) {
    check(!artifact, "open failed but returned a handle");
    consume(status);
    return 0;
  }
  check(artifact != nullptr, "open succeeded without a handle");
  query(artifact, size);
  lctxrt_artifact_close(artifact);
  return 0;
}
