//===- make_test_files.cc - Write files for the CLI tests -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `lctxrt-make-test-files DIR` writes into DIR (created if missing):
///  - valid.safetensors: 4 tensors (40 elements, 146 bytes), metadata
///    format=pt;
///  - truncated-header.safetensors: its first 16 bytes;
///  - truncated-data.safetensors: all but its last 4 bytes.
///
//===----------------------------------------------------------------------===//

#include "lctxrt/lctxrt.hpp"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace {

/// Reads all of \p path into \p bytes.
bool readFile(const std::string &path, std::string &bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  bytes.assign(std::istreambuf_iterator<char>(in),
               std::istreambuf_iterator<char>());
  return !in.bad();
}

/// Writes \p bytes to \p path.
bool writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out.good();
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: lctxrt-make-test-files DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    std::perror(dir.c_str());
    return 1;
  }

  std::vector<float> wq(30);
  for (size_t i = 0; i < wq.size(); ++i)
    wq[i] = static_cast<float>(i) * 0.5f;
  const uint16_t bias[4] = {0x3c00, 0xbc00, 0x0001, 0x7c00}; // 1,-1,tiny,inf
  const int64_t step = 42;
  const uint16_t scale[5] = {0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0};
  const int64_t wqShape[] = {5, 6}, biasShape[] = {4}, scaleShape[] = {5};

  std::vector<lctxrt_tensor_view_t> tensors = {
      {"w_q", LCTXRT_DTYPE_F32, 2, wqShape, wq.data(), sizeof(float) * 30},
      {"bias", LCTXRT_DTYPE_F16, 1, biasShape, bias, sizeof(bias)},
      {"step", LCTXRT_DTYPE_I64, 0, nullptr, &step, sizeof(step)},
      {"scale", LCTXRT_DTYPE_BF16, 1, scaleShape, scale, sizeof(scale)},
  };
  const std::string valid = dir + "/valid.safetensors";
  lctxrt::Status status =
      lctxrt::writeSafetensors(valid, tensors, {{"format", "pt"}});
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.toString().c_str());
    return 1;
  }
  std::string bytes;
  if (!readFile(valid, bytes) || bytes.size() < 16 ||
      !writeFile(dir + "/truncated-header.safetensors", bytes.substr(0, 16)) ||
      !writeFile(dir + "/truncated-data.safetensors",
                 bytes.substr(0, bytes.size() - 4))) {
    std::fprintf(stderr, "cannot write the truncated files in %s\n",
                 dir.c_str());
    return 1;
  }
  std::printf("wrote test files to %s\n", dir.c_str());
  return 0;
}
