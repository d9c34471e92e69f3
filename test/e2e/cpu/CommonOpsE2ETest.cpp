//===- CommonOpsE2ETest.cpp - E2E numerics of the shared ops --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Compiled lctx vs the float64 reference, fresh seeded inputs. Tolerances
// (normalized max error, see E2EHarness.h): 1e-5 for elementwise ops, norms
// and matmul-class ops; 1e-4 for attention.
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include <gtest/gtest.h>

using namespace lctx::e2e;
namespace ref = lctx::reference;

namespace {

constexpr double kElementwiseTol = 1e-5;
constexpr double kAttentionTol = 1e-4;

TEST(CommonOpsE2E, RmsNormWithWeight) {
  std::mt19937 rng(101);
  ref::Tensor x = randomTensor(rng, {3, 5, 24}), w = randomTensor(rng, {24});
  std::string ir = "func.func @f(%x: " + tensorType(x.shape) +
                   " {lctx.input = \"x\"}, %w: " + tensorType(w.shape) +
                   " {lctx.weight = \"w\"}) -> " + tensorType(x.shape) + " {\n"
                   "  %0 = lctx.rms_norm %x, %w : " + tensorType(x.shape) + ", " +
                   tensorType(w.shape) + "\n  return %0 : " +
                   tensorType(x.shape) + "\n}\n";
  auto out = compileAndRun(ir, "f", {{"x", HostValue::of(x)},
                                     {"w", HostValue::of(w)}});
  ASSERT_TRUE(out.count("result0"));
  EXPECT_LE(relError(out["result0"], ref::rmsNorm(x, &w)), kElementwiseTol);
}

TEST(CommonOpsE2E, LayerNormWeightAndBias) {
  std::mt19937 rng(102);
  ref::Tensor x = randomTensor(rng, {4, 33}, 3.0), g = randomTensor(rng, {33}),
              b = randomTensor(rng, {33});
  std::string tx = tensorType(x.shape), tp = tensorType(g.shape);
  std::string ir = "func.func @f(%x: " + tx + ", %g: " + tp +
                   " {lctx.weight = \"g\"}, %b: " + tp +
                   " {lctx.weight = \"b\"}) -> " + tx + " {\n"
                   "  %0 = lctx.layer_norm %x weight(%g : " + tp + ") bias(%b : " +
                   tp + ") : " + tx + "\n  return %0 : " + tx + "\n}\n";
  auto out = compileAndRun(ir, "f", {{"input0", HostValue::of(x)},
                                     {"g", HostValue::of(g)},
                                     {"b", HostValue::of(b)}});
  ASSERT_TRUE(out.count("result0"));
  EXPECT_LE(relError(out["result0"], ref::layerNorm(x, &g, &b)),
            kElementwiseTol);
}

// Ids include out-of-range values (-1 and V), which give zero rows.
TEST(CommonOpsE2E, EmbeddingWithOutOfRangeIds) {
  std::mt19937 rng(103);
  ref::Tensor table = randomTensor(rng, {50, 12});
  ref::IntTensor ids = randomInts(rng, {2, 7}, -1, 50);
  ids(0, 0) = -1;
  ids(1, 6) = 50;
  std::string ir = "func.func @f(%t: tensor<50x12xf32> {lctx.weight = \"t\"}, "
                   "%ids: tensor<2x7xi32>) -> tensor<2x7x12xf32> {\n"
                   "  %0 = lctx.embedding %t, %ids : tensor<50x12xf32>, "
                   "tensor<2x7xi32>\n  return %0 : tensor<2x7x12xf32>\n}\n";
  auto out = compileAndRun(ir, "f", {{"t", HostValue::of(table)},
                                     {"input1", HostValue::of(ids)}});
  ASSERT_TRUE(out.count("result0"));
  EXPECT_EQ(relError(out["result0"], ref::embedding(table, ids)), 0.0);
}

TEST(CommonOpsE2E, LinearTransposedWithBias) {
  std::mt19937 rng(104);
  ref::Tensor x = randomTensor(rng, {2, 3, 40}), w = randomTensor(rng, {24, 40}),
              b = randomTensor(rng, {24});
  std::string ir = "func.func @f(%x: tensor<2x3x40xf32>, %w: tensor<24x40xf32> "
                   "{lctx.weight = \"w\"}, %b: tensor<24xf32> {lctx.weight = "
                   "\"b\"}) -> tensor<2x3x24xf32> {\n"
                   "  %0 = lctx.linear %x, %w, %b {transpose_weight} : "
                   "tensor<2x3x40xf32>, tensor<24x40xf32>, tensor<24xf32>\n"
                   "  return %0 : tensor<2x3x24xf32>\n}\n";
  auto out = compileAndRun(ir, "f", {{"input0", HostValue::of(x)},
                                     {"w", HostValue::of(w)},
                                     {"b", HostValue::of(b)}});
  ASSERT_TRUE(out.count("result0"));
  EXPECT_LE(relError(out["result0"], ref::linear(x, w, &b, true)),
            kElementwiseTol);
}

struct FfnCase {
  const char *name;
  ref::Activation act;
  bool grouped;
};

class FfnE2E : public ::testing::TestWithParam<FfnCase> {};

TEST_P(FfnE2E, MatchesReference) {
  FfnCase c = GetParam();
  std::mt19937 rng(105 + static_cast<int>(c.act) + 10 * c.grouped);
  ref::Shape xs = c.grouped ? ref::Shape{3, 5, 16} : ref::Shape{2, 5, 16};
  ref::Shape w1s = c.grouped ? ref::Shape{3, 16, 32} : ref::Shape{16, 32};
  ref::Shape w2s = c.grouped ? ref::Shape{3, 32, 16} : ref::Shape{32, 16};
  ref::Tensor x = randomTensor(rng, xs), w1 = randomTensor(rng, w1s, 0.3),
              w2 = randomTensor(rng, w2s, 0.3), wg = randomTensor(rng, w1s, 0.3);
  bool swiglu = c.act == ref::Activation::Swiglu;
  std::string tx = tensorType(xs), t1 = tensorType(w1s), t2 = tensorType(w2s);
  std::string ir = "func.func @f(%x: " + tx + ", %w1: " + t1 +
                   " {lctx.weight = \"w1\"}, %w2: " + t2 +
                   " {lctx.weight = \"w2\"}" +
                   (swiglu ? ", %wg: " + t1 + " {lctx.weight = \"wg\"}" : "") +
                   ") -> " + tx + " {\n  %0 = lctx.ffn " + c.name +
                   " %x, %w1, %w2" + (swiglu ? ", %wg" : "") + " : " + tx +
                   ", " + t1 + ", " + t2 + (swiglu ? ", " + t1 : "") +
                   "\n  return %0 : " + tx + "\n}\n";
  std::map<std::string, HostValue> args = {{"input0", HostValue::of(x)},
                                           {"w1", HostValue::of(w1)},
                                           {"w2", HostValue::of(w2)}};
  if (swiglu)
    args["wg"] = HostValue::of(wg);
  auto out = compileAndRun(ir, "f", args);
  ASSERT_TRUE(out.count("result0"));
  EXPECT_LE(relError(out["result0"],
                     ref::ffn(c.act, x, w1, w2, swiglu ? &wg : nullptr)),
            kElementwiseTol);
}

INSTANTIATE_TEST_SUITE_P(
    Activations, FfnE2E,
    ::testing::Values(FfnCase{"relu", ref::Activation::Relu, false},
                      FfnCase{"gelu", ref::Activation::Gelu, false},
                      FfnCase{"swiglu", ref::Activation::Swiglu, false},
                      FfnCase{"swiglu", ref::Activation::Swiglu, true},
                      FfnCase{"relu", ref::Activation::Relu, true}));

TEST(CommonOpsE2E, RopeBatchedPositions) {
  std::mt19937 rng(106);
  ref::Tensor x = randomTensor(rng, {2, 3, 7, 16});
  ref::IntTensor pos = randomInts(rng, {2, 7}, 0, 100000);
  std::string ir = "func.func @f(%x: tensor<2x3x7x16xf32>, %p: tensor<2x7xi64>)"
                   " -> tensor<2x3x7x16xf32> {\n"
                   "  %0 = lctx.rope %x, %p {theta = 5.0e+05 : f32} : "
                   "tensor<2x3x7x16xf32>, tensor<2x7xi64>\n"
                   "  return %0 : tensor<2x3x7x16xf32>\n}\n";
  auto out = compileAndRun(ir, "f", {{"input0", HostValue::of(x)},
                                     {"input1", HostValue::of(pos)}});
  ASSERT_TRUE(out.count("result0"));
  EXPECT_LE(relError(out["result0"], ref::rope(x, pos, 5.0e5)),
            kElementwiseTol);
}

struct AttnCase {
  const char *name;
  int64_t heads, kvHeads, tq, tk;
  bool causal;
  std::optional<int64_t> chunk;
  std::optional<double> rope;
};

class AttentionE2E : public ::testing::TestWithParam<AttnCase> {};

TEST_P(AttentionE2E, MatchesReference) {
  AttnCase c = GetParam();
  std::mt19937 rng(107 + c.tq * 7 + c.tk);
  int64_t dh = 16;
  ref::Tensor q = randomTensor(rng, {2, c.heads, c.tq, dh}),
              k = randomTensor(rng, {2, c.kvHeads, c.tk, dh}),
              v = randomTensor(rng, {2, c.kvHeads, c.tk, dh});
  std::string attrs = std::string("causal = ") + (c.causal ? "true" : "false");
  if (c.chunk)
    attrs += ", chunk_size = " + std::to_string(*c.chunk) + " : i64";
  if (c.rope)
    attrs += ", rope_theta = 1.0e+04 : f32";
  std::string tq = tensorType(q.shape), tk = tensorType(k.shape);
  std::string ir = "func.func @f(%q: " + tq + ", %k: " + tk + ", %v: " + tk +
                   ") -> " + tq + " {\n  %0 = lctx.attention %q, %k, %v {" +
                   attrs + "} : " + tq + ", " + tk + ", " + tk +
                   "\n  return %0 : " + tq + "\n}\n";
  auto out = compileAndRun(ir, "f", {{"input0", HostValue::of(q)},
                                     {"input1", HostValue::of(k)},
                                     {"input2", HostValue::of(v)}});
  ASSERT_TRUE(out.count("result0"));
  ref::Tensor want = ref::attention(q, k, v, nullptr, nullptr, c.causal,
                                    c.chunk, std::nullopt,
                                    c.rope ? std::optional<double>(1e4)
                                           : std::nullopt);
  EXPECT_LE(relError(out["result0"], want), kAttentionTol) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionE2E,
    ::testing::Values(
        AttnCase{"causal", 4, 4, 19, 19, true, std::nullopt, std::nullopt},
        AttnCase{"gqa_rope", 4, 2, 21, 21, true, std::nullopt, 1e4},
        // T not a multiple of the chunk: the last chunk is short.
        AttnCase{"chunked_rope", 2, 2, 23, 23, true, 8, 1e4},
        // A decode-like block aligned with the end of the keys.
        AttnCase{"decode_block", 2, 1, 3, 17, true, std::nullopt, 1e4},
        AttnCase{"single_token", 2, 2, 1, 1, true, std::nullopt, std::nullopt},
        AttnCase{"bidirectional", 2, 2, 9, 13, false, std::nullopt,
                 std::nullopt},
        // Several 64-wide tiles with a padded last tile: the online softmax
        // across key tiles and the causal tile skipping.
        AttnCase{"multi_tile_causal", 2, 1, 150, 150, true, std::nullopt, 1e4},
        AttnCase{"multi_tile_chunked", 2, 2, 150, 150, true, 48, 1e4},
        AttnCase{"multi_tile_decode_block", 2, 2, 5, 150, true, std::nullopt,
                 std::nullopt},
        AttnCase{"multi_tile_bidirectional", 1, 1, 70, 130, false, 64,
                 std::nullopt}),
    [](const ::testing::TestParamInfo<AttnCase> &info) {
      return std::string(info.param.name);
    });

// Explicit positions with padding keys (negative positions are masked).
TEST(CommonOpsE2E, AttentionExplicitPositionsWithPadding) {
  std::mt19937 rng(108);
  ref::Tensor q = randomTensor(rng, {1, 2, 5, 8}), k = randomTensor(rng, {1, 2, 6, 8}),
              v = randomTensor(rng, {1, 2, 6, 8});
  ref::IntTensor qp({1, 5}, {3, 9, 20, 21, 40});
  ref::IntTensor kp({1, 6}, {3, 9, 20, -1, 21, -1});
  std::string ir =
      "func.func @f(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x6x8xf32>, %v: "
      "tensor<1x2x6x8xf32>, %qp: tensor<1x5xi64>, %kp: tensor<1x6xi64>) -> "
      "tensor<1x2x5x8xf32> {\n  %0 = lctx.attention %q, %k, %v positions(%qp, "
      "%kp) {chunk_size = 16 : i64, rope_theta = 1.0e+04 : f32} : "
      "tensor<1x2x5x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32>, "
      "tensor<1x5xi64>, tensor<1x6xi64>\n  return %0 : tensor<1x2x5x8xf32>\n}\n";
  auto out = compileAndRun(ir, "f", {{"input0", HostValue::of(q)},
                                     {"input1", HostValue::of(k)},
                                     {"input2", HostValue::of(v)},
                                     {"input3", HostValue::of(qp)},
                                     {"input4", HostValue::of(kp)}});
  ASSERT_TRUE(out.count("result0"));
  ref::Tensor want = ref::attention(q, k, v, &qp, &kp, true, 16, std::nullopt,
                                    1e4);
  EXPECT_LE(relError(out["result0"], want), kAttentionTol);
}

} // namespace
