//===- InputChecksTest.cpp - Tests of the IR nesting screen ---------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Support/InputChecks.h"

#include <gtest/gtest.h>

#include <string>

using namespace mlir::lctx;

namespace {

std::string nested(char open, char close, unsigned depth) {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(InputChecks, AcceptsNestingUpToTheLimit) {
  for (auto [open, close] : {std::pair{'[', ']'}, std::pair{'(', ')'},
                             std::pair{'{', '}'}, std::pair{'<', '>'}}) {
    EXPECT_FALSE(findExcessiveNesting(nested(open, close, 8), 8).has_value());
    auto at = findExcessiveNesting(nested(open, close, 9), 8);
    ASSERT_TRUE(at.has_value());
    EXPECT_EQ(*at, 8u); // the ninth opening bracket
  }
}

TEST(InputChecks, SequentialGroupsDoNotAccumulate) {
  std::string text;
  for (int i = 0; i < 100; ++i)
    text += nested('[', ']', 5);
  EXPECT_FALSE(findExcessiveNesting(text, 5).has_value());
}

TEST(InputChecks, IgnoresStringsCommentsAndArrows) {
  EXPECT_FALSE(findExcessiveNesting("\"[[[[[[[[\" // {{{{{{{{\n()", 2));
  // An escaped quote does not end the string.
  EXPECT_FALSE(findExcessiveNesting("\"\\\"[[[[[[\" []", 2));
  // `->` closes nothing: ((( -> ))) stays at depth 3.
  auto at = findExcessiveNesting("(((a -> b)))((((", 3);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(*at, 15u);
}

TEST(InputChecks, UnbalancedClosersDoNotUnderflow) {
  EXPECT_FALSE(findExcessiveNesting(")))]]]}}}>>>[[", 2).has_value());
  EXPECT_TRUE(findExcessiveNesting(")))[[[", 2).has_value());
}

} // namespace

TEST(InputChecks, MalformedIntegerLists) {
  using mlir::lctx::findMalformedIntegerList;
  EXPECT_FALSE(findMalformedIntegerList("permutation = [1, 0]"));
  EXPECT_FALSE(findMalformedIntegerList("permutation = [ -1 ,0 ]"));
  EXPECT_FALSE(findMalformedIntegerList("dimensions = []"));
  EXPECT_FALSE(findMalformedIntegerList("<{dimensions = array<i64: 1>}>"));
  EXPECT_FALSE(findMalformedIntegerList("// permutation = [1 0]\n"));
  EXPECT_FALSE(findMalformedIntegerList("{s = \"dimensions = x\"}"));
  EXPECT_FALSE(findMalformedIntegerList("%permutations = [x]"));
  EXPECT_EQ(findMalformedIntegerList("x permutation = [1 0]"), 2u);
  EXPECT_TRUE(findMalformedIntegerList("dimensions = [1,>"));
  EXPECT_TRUE(findMalformedIntegerList("dimensions = x"));
  EXPECT_TRUE(findMalformedIntegerList("dimensions = [1"));
}

TEST(InputChecks, EmptyReassociationGroups) {
  using mlir::lctx::findMalformedIntegerList;
  EXPECT_FALSE(findMalformedIntegerList(
      "%c = tensor.collapse_shape %x [[0], [1, 2]] : tensor<1x2x3xf32>"));
  EXPECT_FALSE(findMalformedIntegerList(
      "%c = tensor.collapse_shape %x [] : tensor<1x1xf32> into tensor<f32>"));
  EXPECT_FALSE(findMalformedIntegerList(
      "%e = tensor.expand_shape %x [[0, 1]] output_shape [1, 2] : t"));
  EXPECT_FALSE(findMalformedIntegerList("// collapse_shape %x [[0], []]\n"));
  EXPECT_EQ(findMalformedIntegerList("%c = tensor.collapse_shape %x [[0], [ ], "
                                     "[2, 3]] : t"),
            12u);
  EXPECT_TRUE(findMalformedIntegerList(
      "%e = memref.expand_shape %x [[], [0]] output_shape [1] : t"));
  // A NUL byte is skipped by MLIR's lexer like a blank (found by the fuzzer).
  EXPECT_TRUE(findMalformedIntegerList(llvm::StringRef(
      "%c = tensor.collapse_shape %x [[0], [\0], [1]] : t", 49)));
  EXPECT_TRUE(findMalformedIntegerList(
      "\"tensor.collapse_shape\"(%x) <{reassociation = [[0], []]}> : t"));
}
