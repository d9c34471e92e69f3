//===- artifact_format_test.cc - artifact_format.h checks -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `lctxrt-artifact-format-test FILE` checks artifact_format.h on its own,
/// built as the compiler builds it (-fno-exceptions -fno-rtti, warnings as
/// errors): golden FNV-1a values, the exact bytes of a serialized artifact,
/// the writer's validation, and writeArtifact() to FILE. No GoogleTest, no
/// lctxrt library. Exits non-zero on the first mismatch.
///
//===----------------------------------------------------------------------===//

#include "lctxrt/artifact_format.h"

#include <cstdio>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool condition, const char *what, int line) {
  if (!condition) {
    std::fprintf(stderr, "artifact_format_test.cc:%d: check failed: %s\n", line,
                 what);
    ++failures;
  }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

const unsigned char *bytesOf(const std::string &text) {
  return reinterpret_cast<const unsigned char *>(text.data());
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: lctxrt-artifact-format-test FILE\n");
    return 2;
  }
  // Published FNV-1a 64 test vectors.
  CHECK(lctxrt::fnv1a64("", 0) == 0xcbf29ce484222325ULL);
  CHECK(lctxrt::fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
  CHECK(lctxrt::fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
  // Hashing in pieces equals hashing at once.
  CHECK(lctxrt::fnv1a64("bar", 3, lctxrt::fnv1a64("foo", 3)) ==
        lctxrt::fnv1a64("foobar", 6));

  const uint32_t manifestKind =
      static_cast<uint32_t>(lctxrt::ArtifactSectionKind::Manifest);
  const uint32_t cpuKind =
      static_cast<uint32_t>(lctxrt::ArtifactSectionKind::CpuSo);
  std::vector<lctxrt::ArtifactSection> sections = {
      {manifestKind, "manifest", "{}"},
      {cpuKind, "cpu.so", std::string(70, 'x')},
  };
  std::string image, error;
  CHECK(lctxrt::serializeArtifact(sections, image, &error));
  // Header 24 + table 80 = 104 -> manifest at 128 (2 bytes) -> cpu.so at
  // 192 (70 bytes) -> checksum at 262 -> file_size 270.
  CHECK(image.size() == 270);
  const unsigned char *b = bytesOf(image);
  CHECK(std::string(image, 0, 8) == std::string("LCTXART\0", 8));
  CHECK(lctxrt::loadLE32(b + 8) == 1 && lctxrt::loadLE32(b + 12) == 2);
  CHECK(lctxrt::loadLE64(b + 16) == 270);
  lctxrt::ArtifactSectionEntry first =
      lctxrt::decodeArtifactSectionEntry(b + 24);
  lctxrt::ArtifactSectionEntry second =
      lctxrt::decodeArtifactSectionEntry(b + 64);
  CHECK(first.kind == 1 && first.flags == 0 && first.offset == 128 &&
        first.size == 2 && first.nameString() == "manifest" &&
        first.nameIsNulPadded());
  CHECK(second.kind == 2 && second.offset == 192 && second.size == 70 &&
        second.nameString() == "cpu.so");
  CHECK(b[24] == 1 && b[25] == 0 && b[32] == 128 && b[40] == 2);
  CHECK(image.compare(128, 2, "{}") == 0);
  CHECK(image[104] == '\0' && image[191] == '\0'); // Zero padding.
  CHECK(lctxrt::loadLE64(b + 262) == lctxrt::fnv1a64(b, 262));
  // Encoding round-trips.
  unsigned char buffer[40];
  lctxrt::encodeArtifactSectionEntry(second, buffer);
  CHECK(std::string(reinterpret_cast<char *>(buffer), 40) ==
        image.substr(64, 40));
  lctxrt::ArtifactHeader header = lctxrt::decodeArtifactHeader(b);
  lctxrt::encodeArtifactHeader(header, buffer);
  CHECK(std::string(reinterpret_cast<char *>(buffer), 24) ==
        image.substr(0, 24));
  CHECK(std::string(lctxrt::artifactSectionKindName(3)) == "ptx");
  CHECK(lctxrt::artifactSectionKindName(5) == nullptr);

  // The writer rejects what the reader would.
  const auto rejects = [&](std::vector<lctxrt::ArtifactSection> bad,
                           const char *substring) {
    std::string out, message;
    return !lctxrt::serializeArtifact(bad, out, &message) &&
           message.find(substring) != std::string::npos;
  };
  CHECK(rejects({}, "1 to 64 sections, got 0"));
  CHECK(
      rejects(std::vector<lctxrt::ArtifactSection>(65, {manifestKind, "m", ""}),
              "got 65"));
  CHECK(rejects({{cpuKind, "cpu.so", ""}},
                "exactly one manifest section, got 0"));
  CHECK(rejects({{manifestKind, "a", ""}, {manifestKind, "b", ""}}, "got 2"));
  CHECK(rejects({{manifestKind, "m", ""}, {7, "x", ""}}, "unknown kind 7"));
  CHECK(rejects({{manifestKind, "", ""}}, "1 to 16 bytes"));
  CHECK(rejects({{manifestKind, std::string(17, 'n'), ""}}, "1 to 16 bytes"));
  CHECK(rejects({{manifestKind, std::string("a\0b", 3), ""}}, "no NUL"));
  CHECK(rejects({{manifestKind, "m", ""}, {cpuKind, "m", ""}},
                "duplicate section name"));
  std::string sixteen(16, 'n');
  CHECK(lctxrt::serializeArtifact({{manifestKind, sixteen, "{}"}}, image,
                                  &error));
  CHECK(lctxrt::decodeArtifactSectionEntry(bytesOf(image) + 24).nameString() ==
        sixteen);

  // writeArtifact writes the same bytes; failures leave no file behind.
  const std::string path = argv[1];
  CHECK(lctxrt::writeArtifact(path, sections, &error));
  std::FILE *file = std::fopen(path.c_str(), "rb");
  std::string written;
  if (file) {
    char chunk[512];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
      written.append(chunk, n);
    std::fclose(file);
  }
  std::string expected;
  CHECK(lctxrt::serializeArtifact(sections, expected, &error));
  CHECK(written == expected);
  CHECK(!lctxrt::writeArtifact(path + ".d/missing/x.lctx", sections, &error));
  CHECK(error.find("cannot create") != std::string::npos);
  CHECK(!lctxrt::writeArtifact(path, {}, &error));
  CHECK(error.rfind(path + ": an artifact needs", 0) == 0);

  if (failures)
    std::fprintf(stderr, "%d check(s) failed\n", failures);
  else
    std::printf("artifact_format.h OK\n");
  return failures ? 1 : 0;
}
