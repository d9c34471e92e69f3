//===- artifact_manifest_test.cc - Argument, weight, code rules -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Validation of entry point arguments, the weights list, entry sections and
/// the loaded code: one test per rule, each expecting a status code and a
/// message.
///
//===----------------------------------------------------------------------===//

#include "artifact_fixture.h"

#include <string>
#include <vector>

namespace {

using lctxrt::test::argJson;
using lctxrt::test::ArtifactTest;
using lctxrt::test::entryJson;
using lctxrt::test::manifestJson;
using lctxrt::test::replaced;
using lctxrt::test::weightJson;

using ArtifactManifest = ArtifactTest;

/// An entry "e" (symbol lctx_entry_axpy) with \p args.
std::string entryWith(const std::vector<std::string> &args) {
  return entryJson("e", "lctx_entry_axpy", args);
}

/// A manifest with entry "e" of \p args and weights \p weights.
std::string argsManifest(const std::vector<std::string> &args,
                         const std::vector<std::string> &weights = {}) {
  return manifestJson({entryWith(args)}, weights);
}

/// A manifest whose single argument has type \p dtype \p shape.
std::string typeManifest(const std::string &dtype, const std::string &shape) {
  return argsManifest({argJson("x", "input", dtype, shape)});
}

// --- Arguments ------------------------------------------------------------

TEST_F(ArtifactManifest, ArgMissingKeys) {
  EXPECT_TRUE(manifestFails(argsManifest({"{\"role\":\"input\",\"dtype\":"
                                          "\"F32\",\"shape\":[1]}"}),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'e': args[0]: missing key 'name'"));
  EXPECT_TRUE(manifestFails(argsManifest({"{\"name\":\"x\",\"dtype\":\"F32\","
                                          "\"shape\":[1]}"}),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'e': arg 'x': missing key 'role'"));
  EXPECT_TRUE(manifestFails(argsManifest({"{\"name\":\"x\",\"role\":\"input\","
                                          "\"shape\":[1]}"}),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'e': arg 'x': missing key 'dtype'"));
  EXPECT_TRUE(manifestFails(argsManifest({"{\"name\":\"x\",\"role\":\"input\","
                                          "\"dtype\":\"F32\"}"}),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'e': arg 'x': missing key 'shape'"));
  EXPECT_TRUE(manifestFails(argsManifest({"[]"}), LCTXRT_FORMAT_ERROR,
                            "entry 'e': args[0]: is an array, expected an "
                            "object"));
  EXPECT_TRUE(
      manifestFails(replaced(argsManifest({}), "\"args\":[]", "\"args\":{}"),
                    LCTXRT_FORMAT_ERROR, "entry 'e': 'args' is an object"));
}

TEST_F(ArtifactManifest, UnknownRole) {
  EXPECT_TRUE(manifestFails(argsManifest({argJson("x", "inout", "F32", "[1]")}),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'e': arg 'x': unknown role \"inout\""));
  EXPECT_TRUE(manifestFails(argsManifest({argJson("x", "Input", "F32", "[1]")}),
                            LCTXRT_FORMAT_ERROR, "unknown role \"Input\""));
}

TEST_F(ArtifactManifest, Dtypes) {
  EXPECT_TRUE(manifestFails(typeManifest("F33", "[1]"), LCTXRT_FORMAT_ERROR,
                            "entry 'e': arg 'x': unknown dtype \"F33\""));
  EXPECT_TRUE(manifestFails(typeManifest("f32", "[1]"), LCTXRT_FORMAT_ERROR,
                            "unknown dtype \"f32\""));
  EXPECT_TRUE(manifestFails(typeManifest("F8_E4M3", "[1]"), LCTXRT_UNSUPPORTED,
                            "dtype \"F8_E4M3\" is not supported by lctxrt"));
  EXPECT_TRUE(manifestFails(
      argsManifest({"{\"name\":\"x\",\"role\":\"input\",\"dtype\":32,"
                    "\"shape\":[1]}"}),
      LCTXRT_FORMAT_ERROR, "arg 'x': 'dtype' is 32, expected a string"));
}

TEST_F(ArtifactManifest, ShapeDimensions) {
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[2,1.5]"), LCTXRT_FORMAT_ERROR,
                            "arg 'x': shape[1] is a non-integer or "
                            "out-of-range number, expected a non-negative "
                            "integer"));
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[2.0]"), LCTXRT_FORMAT_ERROR,
                            "shape[0] is a non-integer"));
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[-2]"), LCTXRT_FORMAT_ERROR,
                            "shape[0] is -2, expected a non-negative "
                            "integer"));
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[\"2\"]"), LCTXRT_FORMAT_ERROR,
                            "shape[0] is \"2\""));
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[null]"), LCTXRT_FORMAT_ERROR,
                            "shape[0] is a null"));
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[99999999999999999999]"),
                            LCTXRT_FORMAT_ERROR, "shape[0] is a non-integer"));
  EXPECT_TRUE(manifestFails(typeManifest("F32", "6"), LCTXRT_FORMAT_ERROR,
                            "arg 'x': 'shape' is 6, expected an array"));
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[1,1,1,1,1,1,1,1,1]"),
                            LCTXRT_UNSUPPORTED,
                            "arg 'x': rank 9 exceeds the maximum rank 8"));
}

TEST_F(ArtifactManifest, ShapeProductOverflow) {
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[4294967296,4294967296,2]"),
                            LCTXRT_FORMAT_ERROR,
                            "arg 'x': shape [4294967296, 4294967296, 2] has "
                            "more than 2^64 elements"));
  EXPECT_TRUE(manifestFails(typeManifest("F32", "[4611686018427387904]"),
                            LCTXRT_FORMAT_ERROR,
                            "shape [4611686018427387904] of F32 needs more "
                            "than"));
  // A zero dimension makes the product 0 whatever the others are.
  auto artifact = open(argsManifest(
      {argJson("x", "input", "F32", "[0,9223372036854775807,4]")}));
  EXPECT_TRUE(artifact.ok()) << artifact.status().toString();
}

TEST_F(ArtifactManifest, DuplicateArgName) {
  EXPECT_TRUE(manifestFails(
      argsManifest({argJson("x", "input", "F32", "[1]"),
                    argJson("x", "output", "F32", "[1]")}),
      LCTXRT_FORMAT_ERROR, "entry 'e': arg 'x': duplicate argument name"));
}

TEST_F(ArtifactManifest, InputsPrecedeOutputs) {
  EXPECT_TRUE(manifestFails(argsManifest({argJson("o", "output", "F32", "[1]"),
                                          argJson("x", "input", "F32", "[1]")}),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'e': arg 'x': follows an output; inputs, "
                            "weights and incoming states must precede "
                            "outputs and outgoing states"));
}

// --- Weights ----------------------------------------------------------------

TEST_F(ArtifactManifest, WeightNotListed) {
  EXPECT_TRUE(manifestFails(
      argsManifest({argJson("w", "weight", "F32", "[5,4]")}),
      LCTXRT_FORMAT_ERROR,
      "entry 'e': arg 'w': weight argument not listed in 'weights'"));
  EXPECT_TRUE(
      manifestFails(argsManifest({argJson("w", "weight", "F32", "[5,4]")},
                                 {weightJson("v", "F32", "[5,4]")}),
                    LCTXRT_FORMAT_ERROR, "weight argument not listed"));
}

TEST_F(ArtifactManifest, WeightListedWithOtherType) {
  EXPECT_TRUE(manifestFails(
      argsManifest({argJson("w", "weight", "F32", "[5,4]")},
                   {weightJson("w", "F32", "[5,5]")}),
      LCTXRT_FORMAT_ERROR,
      "arg 'w': weight argument of type F32 [5, 4] but 'weights' lists F32 "
      "[5, 5]"));
  EXPECT_TRUE(
      manifestFails(argsManifest({argJson("w", "weight", "F32", "[5,4]")},
                                 {weightJson("w", "BF16", "[5,4]")}),
                    LCTXRT_FORMAT_ERROR, "but 'weights' lists BF16 [5, 4]"));
  EXPECT_TRUE(manifestFails(
      argsManifest({argJson("w", "weight", "F32", "[20]")},
                   {weightJson("w", "F32", "[5,4]")}),
      LCTXRT_FORMAT_ERROR, "of type F32 [20] but 'weights' lists F32 [5, 4]"));
}

TEST_F(ArtifactManifest, WeightsList) {
  EXPECT_TRUE(manifestFails(replaced(argsManifest({}), ",\"weights\":[]", ""),
                            LCTXRT_FORMAT_ERROR, "missing key 'weights'"));
  EXPECT_TRUE(manifestFails(
      replaced(argsManifest({}), "\"weights\":[]", "\"weights\":{}"),
      LCTXRT_FORMAT_ERROR, "'weights' is an object, expected an array"));
  EXPECT_TRUE(manifestFails(argsManifest({}, {"1"}), LCTXRT_FORMAT_ERROR,
                            "weights[0]: is 1, expected an object"));
  EXPECT_TRUE(manifestFails(argsManifest({}, {"{\"dtype\":\"F32\","
                                              "\"shape\":[1]}"}),
                            LCTXRT_FORMAT_ERROR,
                            "weights[0]: missing key 'name'"));
  EXPECT_TRUE(manifestFails(argsManifest({}, {"{\"name\":\"w\","
                                              "\"shape\":[1]}"}),
                            LCTXRT_FORMAT_ERROR,
                            "weight 'w': missing key 'dtype'"));
  EXPECT_TRUE(manifestFails(argsManifest({}, {weightJson("w", "F32", "[-1]")}),
                            LCTXRT_FORMAT_ERROR, "weight 'w': shape[0] is -1"));
  EXPECT_TRUE(manifestFails(argsManifest({}, {weightJson("w", "F32", "[1]"),
                                              weightJson("w", "F32", "[1]")}),
                            LCTXRT_FORMAT_ERROR,
                            "weight 'w': listed twice in 'weights'"));
}

// --- Sections and code ------------------------------------------------------

TEST_F(ArtifactManifest, EntrySectionMustExist) {
  EXPECT_TRUE(manifestFails(
      manifestJson({entryJson("e", "lctx_entry_axpy", {}, "gpu.so")}, {}),
      LCTXRT_FORMAT_ERROR, "entry 'e': section 'gpu.so' does not exist",
      false));
  EXPECT_TRUE(manifestFails(
      manifestJson({entryJson("e", "lctx_entry_axpy", {}, "manifest")}, {}),
      LCTXRT_FORMAT_ERROR, "entry 'e': section 'manifest' is the manifest",
      false));
}

TEST_F(ArtifactManifest, EntrySectionOfReservedKind) {
  auto sections = lctxrt::test::standardSections(
      manifestJson({entryJson("e", "lctx_entry_axpy", {}, "kernels.ptx")}, {}),
      lctxrt::test::kernelBytes());
  sections.push_back({static_cast<uint32_t>(lctxrt::ArtifactSectionKind::Ptx),
                      "kernels.ptx", ".version 8.0\n"});
  EXPECT_TRUE(openFails(lctxrt::test::artifactImage(sections),
                        LCTXRT_UNSUPPORTED,
                        "entry 'e': section 'kernels.ptx' is of kind ptx; "
                        "this runtime runs only cpu.so code"));
}

TEST_F(ArtifactManifest, MissingSymbol) {
  EXPECT_TRUE(manifestFails(
      manifestJson(
          {lctxrt::test::axpyEntry(), entryJson("e", "lctx_entry_nope", {})},
          {}),
      LCTXRT_FORMAT_ERROR,
      "entry 'e': symbol 'lctx_entry_nope' not found in section 'cpu.so'",
      false));
}

TEST_F(ArtifactManifest, CodeNotElf) {
  const std::string manifest = manifestJson({lctxrt::test::axpyEntry()}, {});
  EXPECT_TRUE(
      openFails(lctxrt::test::artifactImage(lctxrt::test::standardSections(
                    manifest, std::string(4096, 'x'))),
                LCTXRT_FORMAT_ERROR, "section 'cpu.so': not an ELF file"));
  EXPECT_TRUE(openFails(lctxrt::test::artifactImage(
                            lctxrt::test::standardSections(manifest, "\x7f"
                                                                     "ELF")),
                        LCTXRT_FORMAT_ERROR, "not an ELF file"));
}

TEST_F(ArtifactManifest, CodeForAnotherMachineOrNotShared) {
  const std::string manifest = manifestJson({lctxrt::test::axpyEntry()}, {});
  std::string code = lctxrt::test::kernelBytes();
  code[18] = static_cast<char>(243); // EM_RISCV.
  code[19] = 0;
  EXPECT_TRUE(openFails(lctxrt::test::artifactImage(
                            lctxrt::test::standardSections(manifest, code)),
                        LCTXRT_UNSUPPORTED,
                        "section 'cpu.so': ELF machine 243 does not run "
                        "on this host"));
  code = lctxrt::test::kernelBytes();
  code[16] = 1; // ET_REL.
  EXPECT_TRUE(openFails(lctxrt::test::artifactImage(
                            lctxrt::test::standardSections(manifest, code)),
                        LCTXRT_FORMAT_ERROR,
                        "ELF type 1 is not a shared object"));
  code = lctxrt::test::kernelBytes();
  code[4] = 1; // ELFCLASS32.
  EXPECT_TRUE(openFails(lctxrt::test::artifactImage(
                            lctxrt::test::standardSections(manifest, code)),
                        LCTXRT_UNSUPPORTED,
                        "not a 64-bit little-endian ELF object"));
}

TEST_F(ArtifactManifest, CodeThatCannotBeLoaded) {
  EXPECT_TRUE(openFails(
      imageOf(manifestJson({lctxrt::test::axpyEntry()}, {}), /*kernel=*/0),
      LCTXRT_FORMAT_ERROR, "section 'cpu.so': cannot load the code: "));
  EXPECT_TRUE(openFails(
      imageOf(manifestJson({lctxrt::test::axpyEntry()}, {}), /*kernel=*/0),
      LCTXRT_FORMAT_ERROR, "lctx_test_function_that_does_not_exist"));
}

} // namespace
