//===- artifact_malformed_test.cc - Artifact validation tests ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// One test per validation rule of the artifact reader (docs/artifact.md):
/// container layout, checksum, manifest and code. Each builds a valid
/// artifact around the test kernel, breaks exactly one rule (resealing the
/// checksum unless the checksum is the point) and expects a status code and
/// message.
///
//===----------------------------------------------------------------------===//

#include "artifact_fixture.h"

#include <string>

#include <sys/stat.h>

namespace {

using lctxrt::test::ArtifactTest;
using lctxrt::test::entryField;
using lctxrt::test::replaced;
using lctxrt::test::reseal;
using lctxrt::test::setU32;
using lctxrt::test::setU64;

class ArtifactMalformed : public ArtifactTest {
protected:
  /// A valid image: a manifest with entry axpy and the test kernel.
  static std::string validImage() {
    return imageOf(lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {}));
  }
};

/// The axpy manifest with \p from replaced by \p to.
std::string axpyWith(const std::string &from, const std::string &to) {
  return replaced(lctxrt::test::manifestJson({lctxrt::test::axpyEntry()}, {}),
                  from, to);
}

TEST_F(ArtifactMalformed, ValidImageOpens) {
  auto artifact = lctxrt::Artifact::open(writeImage(validImage()));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
}

// --- Container ----------------------------------------------------------

TEST_F(ArtifactMalformed, FileMissingOrNotRegular) {
  EXPECT_TRUE(openPathFails(dir.path("none.lctx"), LCTXRT_NOT_FOUND,
                            "cannot open: No such file"));
  ASSERT_EQ(::mkdir(dir.path("d.lctx").c_str(), 0777), 0);
  EXPECT_TRUE(
      openPathFails(dir.path("d.lctx"), LCTXRT_IO_ERROR, "not a regular file"));
}

TEST_F(ArtifactMalformed, ShortFile) {
  EXPECT_TRUE(openFails("", LCTXRT_FORMAT_ERROR,
                        "file is 0 bytes, shorter than the 32-byte minimum"));
  EXPECT_TRUE(openFails(validImage().substr(0, 31), LCTXRT_FORMAT_ERROR,
                        "file is 31 bytes"));
}

TEST_F(ArtifactMalformed, BadMagic) {
  std::string image = validImage();
  image[3] = 'Y';
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "bad magic (bytes 0-7 are 4c 43 54 59 41 52 54 00"));
}

TEST_F(ArtifactMalformed, UnknownVersion) {
  std::string image = validImage();
  setU32(image, 8, 2);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_UNSUPPORTED,
                        "version 2 is not supported (this runtime reads "
                        "version 1)"));
  setU32(image, 8, 0);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR, "version 0 is not"));
}

TEST_F(ArtifactMalformed, SectionCount) {
  std::string image = validImage();
  setU32(image, 12, 0);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "section_count 0 is outside 1..64"));
  setU32(image, 12, 65);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR, "section_count 65"));
}

TEST_F(ArtifactMalformed, FileSizeField) {
  std::string image = validImage();
  const std::string size = std::to_string(image.size());
  setU64(image, 16, image.size() + 1);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "file_size field is " +
                            std::to_string(image.size() + 1) +
                            " but the file has " + size + " bytes"));
}

TEST_F(ArtifactMalformed, TruncatedOrExtendedFile) {
  std::string image = validImage();
  const std::string size = std::to_string(image.size());
  EXPECT_TRUE(openFails(image.substr(0, image.size() - 16), LCTXRT_FORMAT_ERROR,
                        "file_size field is " + size + " but the file has " +
                            std::to_string(image.size() - 16) +
                            " bytes (truncated or padded?)"));
  EXPECT_TRUE(openFails(image + "junk", LCTXRT_FORMAT_ERROR,
                        "file_size field is " + size));
}

TEST_F(ArtifactMalformed, SectionTableBeyondFile) {
  // A manifest-only artifact of 74 bytes cannot hold a 2-entry table.
  std::string image = lctxrt::test::artifactImage(
      {{static_cast<uint32_t>(lctxrt::ArtifactSectionKind::Manifest), "m",
        "{}"}});
  ASSERT_EQ(image.size(), 74u);
  setU32(image, 12, 2);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "section table of 2 entries ends at byte 104, beyond "
                        "the checksum at byte 66"));
}

TEST_F(ArtifactMalformed, ChecksumMismatch) {
  std::string image = validImage();
  image[image.size() - 100] ^= 0x20; // One bit of the cpu.so payload.
  EXPECT_TRUE(
      openFails(image, LCTXRT_FORMAT_ERROR, "checksum mismatch: stored 0x"));
  image = validImage();
  image[300] ^= 0x01; // Inside the manifest.
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR, "(corrupted file)"));
  image = validImage();
  image.back() ^= 0x01; // The checksum itself.
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR, "checksum mismatch"));
}

TEST_F(ArtifactMalformed, UnknownSectionKind) {
  std::string image = validImage();
  setU32(image, entryField(1, 0), 9);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "section #1 ('cpu.so'): unknown kind 9"));
  setU32(image, entryField(1, 0), 0);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR, "unknown kind 0"));
}

TEST_F(ArtifactMalformed, NonZeroFlags) {
  std::string image = validImage();
  setU32(image, entryField(0, 4), 1);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "section #0 ('manifest'): flags 1 are not 0"));
}

TEST_F(ArtifactMalformed, SectionNames) {
  std::string image = validImage();
  image[entryField(1, 24)] = '\0';
  reseal(image);
  EXPECT_TRUE(
      openFails(image, LCTXRT_FORMAT_ERROR, "section #1 (''): empty name"));
  image = validImage();
  image[entryField(1, 24 + 10)] = 'x'; // "cpu.so\0\0\0\0x..."
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "section #1 ('cpu.so'): name is not NUL-padded"));
  image = validImage();
  image.replace(entryField(1, 24), 9, std::string("manifest\0", 9));
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "section #1 ('manifest'): duplicate section name"));
}

TEST_F(ArtifactMalformed, MisalignedSection) {
  std::string image = validImage();
  setU64(image, entryField(1, 8),
         lctxrt::test::getU64(image, entryField(1, 8)) + 8);
  setU64(image, entryField(1, 16),
         lctxrt::test::getU64(image, entryField(1, 16)) - 8);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR, "is not a multiple of 64"));
}

TEST_F(ArtifactMalformed, SectionOutOfRange) {
  std::string image = validImage();
  const size_t payloadEnd = image.size() - 8;
  setU64(image, entryField(0, 8), 0); // Over the header.
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "section #0 ('manifest'): offset 0 size "));
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "is outside the payload area [104, " +
                            std::to_string(payloadEnd) + ")"));
  image = validImage();
  setU64(image, entryField(1, 16),
         lctxrt::test::getU64(image, entryField(1, 16)) + 1); // Into checksum.
  reseal(image);
  EXPECT_TRUE(
      openFails(image, LCTXRT_FORMAT_ERROR, "section #1 ('cpu.so'): offset "));
  setU64(image, entryField(1, 16), UINT64_MAX); // offset + size wraps.
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "size 18446744073709551615 is outside"));
  setU64(image, entryField(1, 16), 0);
  setU64(image, entryField(1, 8), uint64_t(1) << 62); // Far beyond the file.
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR, "is outside"));
}

TEST_F(ArtifactMalformed, OverlappingSections) {
  std::string image = validImage();
  // cpu.so starts inside the manifest: both at the manifest's offset.
  setU64(image, entryField(1, 8),
         lctxrt::test::getU64(image, entryField(0, 8)));
  setU64(image, entryField(1, 16), 64);
  reseal(image);
  EXPECT_TRUE(
      openFails(image, LCTXRT_FORMAT_ERROR, "section #0 ('manifest') [128, "));
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "and section #1 ('cpu.so') [128, 192) overlap"));
}

TEST_F(ArtifactMalformed, EmptySectionsMayShareOffsets) {
  std::string image = validImage();
  setU64(image, entryField(1, 8),
         lctxrt::test::getU64(image, entryField(0, 8)));
  setU64(image, entryField(1, 16), 0);
  reseal(image);
  // No overlap error; the empty cpu.so section fails as code instead.
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "section 'cpu.so': not an ELF file"));
}

TEST_F(ArtifactMalformed, MissingManifest) {
  std::string image = validImage();
  setU32(image, entryField(0, 0), 3); // Now a ptx section.
  reseal(image);
  EXPECT_TRUE(
      openFails(image, LCTXRT_FORMAT_ERROR, "no manifest section (kind 1)"));
}

TEST_F(ArtifactMalformed, DuplicateManifest) {
  std::string image = validImage();
  setU32(image, entryField(1, 0), 1);
  reseal(image);
  EXPECT_TRUE(openFails(image, LCTXRT_FORMAT_ERROR,
                        "duplicate manifest: sections #0 and #1 are both of "
                        "kind 1"));
}

// --- Manifest: document and top level -------------------------------------

TEST_F(ArtifactMalformed, ManifestNotJson) {
  EXPECT_TRUE(manifestFails("{\"format\":", LCTXRT_FORMAT_ERROR,
                            "invalid JSON at manifest byte 10"));
  EXPECT_TRUE(manifestFails("{} x", LCTXRT_FORMAT_ERROR, "invalid JSON"));
  EXPECT_TRUE(manifestFails("\"\xff\"", LCTXRT_FORMAT_ERROR, "invalid JSON"));
  EXPECT_TRUE(manifestFails("", LCTXRT_FORMAT_ERROR, "invalid JSON"));
  EXPECT_TRUE(manifestFails("[1]", LCTXRT_FORMAT_ERROR,
                            "the manifest is an array, expected a JSON "
                            "object"));
  EXPECT_TRUE(manifestFails(axpyWith("\"version\":1,", "\"version\":1,"
                                                       "\"version\":1,"),
                            LCTXRT_FORMAT_ERROR, "invalid JSON"));
}

TEST_F(ArtifactMalformed, ManifestFormatAndVersion) {
  EXPECT_TRUE(manifestFails(axpyWith("\"format\":\"lctx-artifact\",", ""),
                            LCTXRT_FORMAT_ERROR, "missing key 'format'"));
  EXPECT_TRUE(manifestFails(axpyWith("lctx-artifact", "onnx"),
                            LCTXRT_FORMAT_ERROR,
                            "'format' is \"onnx\", expected "
                            "\"lctx-artifact\""));
  EXPECT_TRUE(manifestFails(axpyWith("\"version\":1,", ""), LCTXRT_FORMAT_ERROR,
                            "missing key 'version'"));
  EXPECT_TRUE(manifestFails(axpyWith("\"version\":1", "\"version\":\"1\""),
                            LCTXRT_FORMAT_ERROR,
                            "'version' is \"1\", expected an integer"));
  EXPECT_TRUE(manifestFails(axpyWith("\"version\":1", "\"version\":2"),
                            LCTXRT_UNSUPPORTED, "version 2 is not supported"));
  EXPECT_TRUE(
      manifestFails(axpyWith("\"producer\":\"lctxrt tests\"", "\"producer\":7"),
                    LCTXRT_FORMAT_ERROR, "'producer' is 7, expected a string"));
}

TEST_F(ArtifactMalformed, ManifestTarget) {
  const std::string target = "\"target\":{\"kind\":\"cpu\",\"triple\":\"" +
                             std::string(lctxrt::test::kHostTriple) +
                             "\",\"cpu\":\"generic\",\"features\":\"\"},";
  EXPECT_TRUE(manifestFails(axpyWith(target, ""), LCTXRT_FORMAT_ERROR,
                            "missing key 'target'"));
  EXPECT_TRUE(manifestFails(axpyWith(target, "\"target\":\"cpu\","),
                            LCTXRT_FORMAT_ERROR,
                            "'target' is \"cpu\", expected an object"));
  EXPECT_TRUE(manifestFails(axpyWith("\"kind\":\"cpu\",", ""),
                            LCTXRT_FORMAT_ERROR, "target: missing key 'kind'"));
  EXPECT_TRUE(manifestFails(axpyWith("\"kind\":\"cpu\"", "\"kind\":\"cuda\""),
                            LCTXRT_UNSUPPORTED,
                            "target kind \"cuda\" is not supported"));
  EXPECT_TRUE(
      manifestFails(axpyWith(std::string(lctxrt::test::kHostTriple), ""),
                    LCTXRT_FORMAT_ERROR, "target: 'triple' is empty"));
  EXPECT_TRUE(manifestFails(
      axpyWith(std::string(lctxrt::test::kHostTriple), "riscv64-linux-gnu"),
      LCTXRT_UNSUPPORTED,
      "target triple \"riscv64-linux-gnu\" does not run on this host"));
}

TEST_F(ArtifactMalformed, ManifestBufferAlignment) {
  for (const char *bad : {"0", "3", "8192", "-64", "\"64\"", "1.5"})
    EXPECT_TRUE(
        manifestFails(lctxrt::test::manifestJson(
                          {lctxrt::test::axpyEntry()}, {},
                          std::string("\"buffer_alignment\":") + bad + ","),
                      LCTXRT_FORMAT_ERROR, "'buffer_alignment' is "))
        << bad;
}

TEST_F(ArtifactMalformed, ManifestEntryPointsList) {
  EXPECT_TRUE(manifestFails(lctxrt::test::manifestJson({}, {}),
                            LCTXRT_FORMAT_ERROR, "'entry_points' is empty"));
  EXPECT_TRUE(manifestFails(
      replaced(lctxrt::test::manifestJson({}, {}), "\"entry_points\":[],", ""),
      LCTXRT_FORMAT_ERROR, "missing key 'entry_points'"));
  EXPECT_TRUE(
      manifestFails(replaced(lctxrt::test::manifestJson({}, {}),
                             "\"entry_points\":[]", "\"entry_points\":{}"),
                    LCTXRT_FORMAT_ERROR,
                    "'entry_points' is an object, expected an "
                    "array"));
  EXPECT_TRUE(manifestFails(lctxrt::test::manifestJson({"7"}, {}),
                            LCTXRT_FORMAT_ERROR,
                            "entry_points[0]: is 7, expected an object"));
}

TEST_F(ArtifactMalformed, ManifestEntryKeys) {
  EXPECT_TRUE(manifestFails(axpyWith("\"name\":\"axpy\",", ""),
                            LCTXRT_FORMAT_ERROR,
                            "entry_points[0]: missing key 'name'"));
  EXPECT_TRUE(manifestFails(axpyWith("\"name\":\"axpy\"", "\"name\":\"\""),
                            LCTXRT_FORMAT_ERROR,
                            "entry_points[0]: 'name' is empty"));
  EXPECT_TRUE(
      manifestFails(axpyWith("\"name\":\"axpy\"", "\"name\":\"a\\u0000b\""),
                    LCTXRT_FORMAT_ERROR, "'name' contains a NUL character"));
  EXPECT_TRUE(manifestFails(axpyWith("\"symbol\":\"lctx_entry_axpy\",", ""),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'axpy': missing key 'symbol'"));
  EXPECT_TRUE(manifestFails(axpyWith("\"section\":\"cpu.so\",", ""),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'axpy': missing key 'section'"));
  EXPECT_TRUE(manifestFails(axpyWith("\"args\":[", "\"argz\":["),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'axpy': missing key 'args'"));
  EXPECT_TRUE(manifestFails(
      lctxrt::test::manifestJson(
          {lctxrt::test::axpyEntry(), lctxrt::test::axpyEntry()}, {}),
      LCTXRT_FORMAT_ERROR, "entry 'axpy': duplicate entry point name"));
}

TEST_F(ArtifactMalformed, UnknownKeysAreIgnored) {
  auto artifact = open(
      axpyWith("\"version\":1,", "\"version\":1,\"future\":{\"x\":[1,2]},"));
  EXPECT_TRUE(artifact.ok()) << artifact.status().toString();
  artifact = open(axpyWith("\"role\":\"input\",",
                           "\"role\":\"input\",\"layout\":\"nchw\","));
  EXPECT_TRUE(artifact.ok()) << artifact.status().toString();
}

} // namespace
