//===- artifact_test_util.h - Test artifacts around test_kernel -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Builds manifests and artifacts around the test kernels (test_kernel.c)
/// with artifact_format.h's writer. Shared by lctxrt-tests and
/// lctxrt-make-test-artifacts; header-only, no GoogleTest.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_TESTS_ARTIFACT_TEST_UTIL_H
#define LCTXRT_TESTS_ARTIFACT_TEST_UTIL_H

#include "lctxrt/artifact_format.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace lctxrt::test {

#if defined(__aarch64__)
inline const char kHostTriple[] = "aarch64-unknown-linux-gnu";
#else
inline const char kHostTriple[] = "x86_64-unknown-linux-gnu";
#endif

/// Shape of the test weight "table" and its values: table[v][d] = 10v + d +
/// 0.5.
constexpr int64_t kTableRows = 5, kTableCols = 4;
inline float tableValue(int64_t row, int64_t col) {
  return static_cast<float>(10 * row + col) + 0.5f;
}

/// Returns the JSON of one argument.
inline std::string argJson(const std::string &name, const std::string &role,
                           const std::string &dtype, const std::string &shape) {
  return "{\"name\":\"" + name + "\",\"role\":\"" + role + "\",\"dtype\":\"" +
         dtype + "\",\"shape\":" + shape + "}";
}

/// Returns the JSON of one "weights" entry.
inline std::string weightJson(const std::string &name, const std::string &dtype,
                              const std::string &shape) {
  return "{\"name\":\"" + name + "\",\"dtype\":\"" + dtype +
         "\",\"shape\":" + shape + "}";
}

inline std::string joinJson(const std::vector<std::string> &items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i ? "," : "") + items[i];
  return out;
}

/// Returns the JSON of one entry point.
inline std::string entryJson(const std::string &name, const std::string &symbol,
                             const std::vector<std::string> &args,
                             const std::string &section = "cpu.so") {
  return "{\"name\":\"" + name + "\",\"symbol\":\"" + symbol +
         "\",\"section\":\"" + section + "\",\"args\":[" + joinJson(args) +
         "]}";
}

/// The entry points of test_kernel.c.
inline std::string axpyEntry() {
  return entryJson("axpy", "lctx_entry_axpy",
                   {argJson("x", "input", "F32", "[2,3]"),
                    argJson("y", "input", "F32", "[2,3]"),
                    argJson("out", "output", "F32", "[2,3]")});
}
inline std::string embedEntry() {
  return entryJson("embed", "lctx_entry_embed",
                   {argJson("ids", "input", "I32", "[6]"),
                    argJson("table", "weight", "F32", "[5,4]"),
                    argJson("out", "output", "F32", "[6,4]")});
}
inline std::string inspectEntry() {
  return entryJson("inspect", "lctx_entry_inspect",
                   {argJson("a", "input", "F32", "[2,3,4]"),
                    argJson("s", "input", "F64", "[]"),
                    argJson("table", "weight", "F32", "[5,4]"),
                    argJson("out", "output", "I64", "[20]")});
}
inline std::string conjEntry() {
  return entryJson("conj", "lctx_entry_conj",
                   {argJson("z", "input", "C64", "[3]"),
                    argJson("out", "output", "C64", "[3]")});
}
inline std::string emptyEntry() {
  return entryJson("empty", "lctx_entry_empty",
                   {argJson("x", "input", "F32", "[0,4]"),
                    argJson("out", "output", "I64", "[3]")});
}
inline std::string tableWeight() { return weightJson("table", "F32", "[5,4]"); }

/// Returns a manifest with \p entries and \p weights; \p extra (e.g.
/// "\"buffer_alignment\":4,") is spliced in after the target.
inline std::string manifestJson(const std::vector<std::string> &entries,
                                const std::vector<std::string> &weights,
                                const std::string &extra = "") {
  return "{\"format\":\"lctx-artifact\",\"version\":1,"
         "\"producer\":\"lctxrt tests\",\"target\":{\"kind\":\"cpu\","
         "\"triple\":\"" +
         std::string(kHostTriple) +
         "\",\"cpu\":\"generic\",\"features\":\"\"}," + extra +
         "\"entry_points\":[" + joinJson(entries) + "],\"weights\":[" +
         joinJson(weights) + "]}";
}

/// The manifest of every test_kernel.c entry point.
inline std::string modelManifest(const std::string &extra = "") {
  return manifestJson(
      {axpyEntry(), embedEntry(), inspectEntry(), conjEntry(), emptyEntry()},
      {tableWeight()}, extra);
}

/// Returns the bytes of \p path.
inline std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

/// The usual two sections: a manifest and code named "cpu.so".
inline std::vector<ArtifactSection>
standardSections(const std::string &manifest, const std::string &code) {
  return {{static_cast<uint32_t>(ArtifactSectionKind::Manifest), "manifest",
           manifest},
          {static_cast<uint32_t>(ArtifactSectionKind::CpuSo), "cpu.so", code}};
}

/// Serializes \p sections; throws on invalid sections.
inline std::string artifactImage(const std::vector<ArtifactSection> &sections) {
  std::string image, error;
  if (!serializeArtifact(sections, image, &error))
    throw std::runtime_error(error);
  return image;
}

/// Recomputes the checksum of \p image after an edit.
inline void reseal(std::string &image) {
  auto *bytes = reinterpret_cast<unsigned char *>(&image[0]);
  const size_t at = image.size() - kArtifactChecksumSize;
  storeLE64(bytes + at, fnv1a64(bytes, at));
}

} // namespace lctxrt::test

#endif // LCTXRT_TESTS_ARTIFACT_TEST_UTIL_H
