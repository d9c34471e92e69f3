//===- make_test_artifacts.cc - Write artifacts for CLI tests ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `lctxrt-make-test-artifacts KERNEL.so DIR` packs the test kernel into
/// artifacts with artifact_format.h's writer and writes into DIR:
///  - axpy.lctx: entry axpy only; model.lctx: every test_kernel.c entry
///    point plus the weight "table" (F32 [5, 4]);
///  - weights.safetensors: table[v][d] = 10v + d + 0.5;
///  - x.bin = F32 0..5, y.bin = F32 10..15, ids.bin = I32 {4, 0, 2, 1, 3, 0};
///  - inputs.safetensors: x and y;
///  - bad-checksum.lctx: axpy.lctx with one payload byte flipped;
///  - not-elf.lctx: axpy with a cpu.so section that is not ELF.
///
//===----------------------------------------------------------------------===//

#include "artifact_test_util.h"

#include "lctxrt/lctxrt.hpp"

#include <cerrno>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace {

using lctxrt::test::artifactImage;
using lctxrt::test::axpyEntry;
using lctxrt::test::kTableCols;
using lctxrt::test::kTableRows;
using lctxrt::test::manifestJson;
using lctxrt::test::modelManifest;
using lctxrt::test::readBytes;
using lctxrt::test::standardSections;
using lctxrt::test::tableValue;

void writeBytes(const std::string &path, const void *data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char *>(data),
            static_cast<std::streamsize>(size));
  if (!out.good())
    throw std::runtime_error("cannot write " + path);
}

void writeArtifactOrThrow(
    const std::string &path,
    const std::vector<lctxrt::ArtifactSection> &sections) {
  std::string error;
  if (!lctxrt::writeArtifact(path, sections, &error))
    throw std::runtime_error(error);
}

void writeAll(const std::string &kernelPath, const std::string &dir) {
  const std::string code = readBytes(kernelPath);
  writeArtifactOrThrow(dir + "/axpy.lctx",
                       standardSections(manifestJson({axpyEntry()}, {}), code));
  writeArtifactOrThrow(dir + "/model.lctx",
                       standardSections(modelManifest(), code));

  std::vector<float> table(kTableRows * kTableCols);
  for (int64_t v = 0; v < kTableRows; ++v)
    for (int64_t d = 0; d < kTableCols; ++d)
      table[v * kTableCols + d] = tableValue(v, d);
  const int64_t tableShape[] = {kTableRows, kTableCols};
  lctxrt::Status status =
      lctxrt::writeSafetensors(dir + "/weights.safetensors",
                               {{"table", LCTXRT_DTYPE_F32, 2, tableShape,
                                 table.data(), table.size() * sizeof(float)}});
  if (!status.ok())
    throw std::runtime_error(status.toString());

  const float x[6] = {0, 1, 2, 3, 4, 5};
  const float y[6] = {10, 11, 12, 13, 14, 15};
  const int32_t ids[6] = {4, 0, 2, 1, 3, 0};
  writeBytes(dir + "/x.bin", x, sizeof(x));
  writeBytes(dir + "/y.bin", y, sizeof(y));
  writeBytes(dir + "/ids.bin", ids, sizeof(ids));
  const int64_t shape[] = {2, 3};
  status = lctxrt::writeSafetensors(
      dir + "/inputs.safetensors",
      {{"x", LCTXRT_DTYPE_F32, 2, shape, x, sizeof(x)},
       {"y", LCTXRT_DTYPE_F32, 2, shape, y, sizeof(y)}});
  if (!status.ok())
    throw std::runtime_error(status.toString());

  std::string image =
      artifactImage(standardSections(manifestJson({axpyEntry()}, {}), code));
  image[image.size() - 100] ^= 0x01; // Inside the cpu.so payload.
  writeBytes(dir + "/bad-checksum.lctx", image.data(), image.size());
  writeArtifactOrThrow(dir + "/not-elf.lctx",
                       standardSections(manifestJson({axpyEntry()}, {}),
                                        "this is not an ELF shared object, "
                                        "just some text that is long enough"));
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: lctxrt-make-test-artifacts KERNEL.so DIR\n");
    return 2;
  }
  const std::string dir = argv[2];
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    std::perror(dir.c_str());
    return 1;
  }
  try {
    writeAll(argv[1], dir);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "lctxrt-make-test-artifacts: %s\n", e.what());
    return 1;
  }
  std::printf("wrote test artifacts to %s\n", dir.c_str());
  return 0;
}
