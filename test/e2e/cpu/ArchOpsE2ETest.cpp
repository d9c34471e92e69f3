//===- ArchOpsE2ETest.cpp - E2E numerics of patch, memory, route ops ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Compiled lctx vs the float64 reference, fresh seeded inputs. Tolerances
// (normalized max error, see E2EHarness.h): 1e-5 for gathers, norms and
// matmul-class ops, 1e-4 for the Infini segment loop; routing decisions
// (experts, slots, selected indices) compared exactly.
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include <gtest/gtest.h>

using namespace lctx::e2e;
namespace ref = lctx::reference;

namespace {

constexpr double kTol = 1e-5;
constexpr double kSegmentTol = 1e-4;

std::string sig(const std::vector<std::pair<std::string, ref::Shape>> &args,
                const std::vector<std::string> &elts) {
  std::string s;
  for (size_t i = 0; i < args.size(); ++i)
    s += (i ? ", " : "") + args[i].first + ": " +
         tensorType(args[i].second, elts[i]);
  return s;
}

//===----------------------------------------------------------------------===//
// MEGABYTE
//===----------------------------------------------------------------------===//

// The three patch ops chained as in MEGABYTE (global input, local input,
// merge back), with byte ids spanning the whole vocabulary.
TEST(PatchOpsE2E, EmbedToLocalMerge) {
  std::mt19937 rng(201);
  int64_t b = 2, p = 4, k = 3, t = p * k, dg = 8, dl = 6, v = 256;
  ref::IntTensor ids = randomInts(rng, {b, t}, 0, v - 1);
  ref::Tensor table = randomTensor(rng, {v, dg}), pad = randomTensor(rng, {p, dg}),
              pos = randomTensor(rng, {t + 5, dg}),
              wgl = randomTensor(rng, {dg, dl}),
              ltab = randomTensor(rng, {v, dl}), lpad = randomTensor(rng, {dl});
  std::string ir =
      "func.func @f(" +
      sig({{"%ids", {b, t}}, {"%t", {v, dg}}, {"%pad", {p, dg}},
           {"%pos", {t + 5, dg}}, {"%wgl", {dg, dl}}, {"%lt", {v, dl}},
           {"%lp", {dl}}},
          {"i32", "f32", "f32", "f32", "f32", "f32", "f32"}) +
      ") -> (tensor<2x3x32xf32>, tensor<2x12x6xf32>) {\n"
      "  %g = lctx.patch.embed %ids, %t, %pad pos(%pos) {patch_size = 4 : i64}"
      " : tensor<2x12xi32>, tensor<256x8xf32>, tensor<4x8xf32>, "
      "tensor<17x8xf32>\n"
      "  %l = lctx.patch.to_local %g, %wgl, %ids, %lt, %lp {patch_size = 4 : "
      "i64} : tensor<2x3x32xf32>, tensor<8x6xf32>, tensor<2x12xi32>, "
      "tensor<256x6xf32>, tensor<6xf32>\n"
      "  %m = lctx.patch.merge %l : tensor<6x4x6xf32> -> tensor<2x12x6xf32>\n"
      "  return %g, %m : tensor<2x3x32xf32>, tensor<2x12x6xf32>\n}\n";
  auto out = compileAndRun(ir, "f",
                           {{"input0", HostValue::of(ids)},
                            {"input1", HostValue::of(table)},
                            {"input2", HostValue::of(pad)},
                            {"input3", HostValue::of(pos)},
                            {"input4", HostValue::of(wgl)},
                            {"input5", HostValue::of(ltab)},
                            {"input6", HostValue::of(lpad)}});
  ASSERT_TRUE(out.count("result0") && out.count("result1"));
  ref::Tensor g = ref::patchEmbed(ids, table, pad, &pos, p);
  EXPECT_LE(relError(out["result0"], g), kTol);
  ref::Tensor l = ref::patchToLocal(g, wgl, ids, ltab, lpad, p);
  EXPECT_LE(relError(out["result1"], ref::patchMerge(l, b)), kTol);
}

//===----------------------------------------------------------------------===//
// Infini-attention
//===----------------------------------------------------------------------===//

struct SegmentCase {
  const char *name;
  ref::MemoryRule rule;
  int64_t t, segment;
  bool firstSegment; // M = 0, z = 0
};

class MemoryAttentionE2E : public ::testing::TestWithParam<SegmentCase> {};

TEST_P(MemoryAttentionE2E, MatchesReference) {
  SegmentCase c = GetParam();
  std::mt19937 rng(300 + c.t + 13 * c.segment);
  int64_t b = 2, h = 2, d = 8;
  ref::Tensor q = randomTensor(rng, {b, h, c.t, d}),
              k = randomTensor(rng, {b, h, c.t, d}),
              v = randomTensor(rng, {b, h, c.t, d}),
              beta = randomTensor(rng, {h});
  ref::Tensor m(ref::Shape{b, h, d, d}), z(ref::Shape{b, h, d});
  if (!c.firstSegment) {
    m = randomTensor(rng, {b, h, d, d}, 0.5);
    for (double &x : m.data)
      x = std::fabs(x); // a memory built from sigma(K) >= 0 terms
    z = randomTensor(rng, {b, h, d});
    for (double &x : z.data)
      x = std::fabs(x) + 1.0;
  }
  const char *rule = c.rule == ref::MemoryRule::Linear ? "linear" : "delta";
  std::string tq = tensorType({b, h, c.t, d}), tm = tensorType({b, h, d, d}),
              tz = tensorType({b, h, d}), tb = tensorType({h});
  std::string ir =
      "func.func @f(%q: " + tq + ", %k: " + tq + ", %v: " + tq + ", %m: " + tm +
      ", %z: " + tz + ", %beta: " + tb + ") -> (" + tq + ", " + tm + ", " + tz +
      ") {\n  %o, %m1, %z1 = lctx.memory.attention " + rule +
      " %q, %k, %v, %m, %z, %beta {segment_size = " +
      std::to_string(c.segment) + " : i64, rope_theta = 1.0e+04 : f32} : " +
      tq + ", " + tq + ", " + tq + ", " + tm + ", " + tz + ", " + tb +
      "\n  return %o, %m1, %z1 : " + tq + ", " + tm + ", " + tz + "\n}\n";
  auto out = compileAndRun(ir, "f",
                           {{"input0", HostValue::of(q)},
                            {"input1", HostValue::of(k)},
                            {"input2", HostValue::of(v)},
                            {"input3", HostValue::of(m)},
                            {"input4", HostValue::of(z)},
                            {"input5", HostValue::of(beta)}});
  ASSERT_TRUE(out.count("result2"));
  auto want = ref::memoryAttention(c.rule, q, k, v, m, z, beta, c.segment,
                                   std::nullopt, 1e4);
  EXPECT_LE(relError(out["result0"], want.result), kSegmentTol) << c.name;
  EXPECT_LE(relError(out["result1"], want.newMemory), kSegmentTol) << c.name;
  EXPECT_LE(relError(out["result2"], want.newNorm), kSegmentTol) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Segments, MemoryAttentionE2E,
    ::testing::Values(
        // First segment (M = 0, z = 0): A_mem is 0 by convention.
        SegmentCase{"linear_first", ref::MemoryRule::Linear, 8, 8, true},
        // T not a multiple of N: a short last segment.
        SegmentCase{"linear_tail", ref::MemoryRule::Linear, 19, 6, true},
        SegmentCase{"delta_tail", ref::MemoryRule::Delta, 19, 6, true},
        SegmentCase{"delta_carried", ref::MemoryRule::Delta, 12, 4, false},
        SegmentCase{"one_token", ref::MemoryRule::Linear, 1, 4, false}),
    [](const ::testing::TestParamInfo<SegmentCase> &info) {
      return std::string(info.param.name);
    });

//===----------------------------------------------------------------------===//
// Switch
//===----------------------------------------------------------------------===//

struct MoeCase {
  const char *name;
  double capacityFactor;
  bool dropless;
  bool oneExpert; // router that sends every token to expert 0
};

class RouteMoeE2E : public ::testing::TestWithParam<MoeCase> {};

TEST_P(RouteMoeE2E, MatchesReference) {
  MoeCase c = GetParam();
  std::mt19937 rng(400 + static_cast<int>(c.capacityFactor * 100) +
                   2 * c.dropless + c.oneExpert);
  int64_t b = 2, s = 16, d = 8, e = 4, f = 12;
  ref::Tensor x = randomTensor(rng, {b, s, d}), wr = randomTensor(rng, {d, e}),
              w1 = randomTensor(rng, {e, d, f}, 0.4),
              w2 = randomTensor(rng, {e, f, d}, 0.4);
  if (c.oneExpert) {
    // Logit of expert 0 dominates for every token: x . wr[:,0] large.
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < s; ++j)
        x(i, j, 0) = 4.0 + std::fabs(x(i, j, 0));
    for (int64_t r = 0; r < d; ++r)
      wr(r, 0) = r == 0 ? 3.0 : 0.0;
  }
  std::string attrs = "{capacity_factor = " + std::to_string(c.capacityFactor) +
                      " : f64" + (c.dropless ? ", dropless" : "") + "}";
  std::string ir =
      "func.func @f(%x: tensor<2x16x8xf32>, %wr: tensor<8x4xf32>, %w1: "
      "tensor<4x8x12xf32>, %w2: tensor<4x12x8xf32>) -> (tensor<2x16x8xf32>, "
      "tensor<f32>, tensor<2x16xi32>, tensor<2x16xi32>) {\n"
      "  %e, %g, %sl, %aux0 = lctx.route.experts %x, %wr " + attrs +
      " : tensor<2x16x8xf32>, tensor<8x4xf32>\n"
      "  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2 " + attrs +
      " : tensor<2x16x8xf32>, tensor<8x4xf32>, tensor<4x8x12xf32>, "
      "tensor<4x12x8xf32>\n"
      "  return %y, %aux, %e, %sl : tensor<2x16x8xf32>, tensor<f32>, "
      "tensor<2x16xi32>, tensor<2x16xi32>\n}\n";
  auto out = compileAndRun(ir, "f",
                           {{"input0", HostValue::of(x)},
                            {"input1", HostValue::of(wr)},
                            {"input2", HostValue::of(w1)},
                            {"input3", HostValue::of(w2)}});
  ASSERT_TRUE(out.count("result3"));
  auto route = ref::routeExperts(x, wr, c.capacityFactor, c.dropless);
  EXPECT_EQ(out["result2"].asInts().data, route.expert.data) << c.name;
  EXPECT_EQ(out["result3"].asInts().data, route.slot.data) << c.name;
  auto moe = ref::routeMoe(ref::Activation::Relu, x, wr, w1, w2, nullptr,
                           c.capacityFactor, c.dropless);
  EXPECT_LE(relError(out["result0"], moe.result), kTol) << c.name;
  ref::Tensor aux({}, {moe.auxLoss});
  EXPECT_LE(relError(out["result1"], aux), kTol) << c.name;
  // Dropped tokens get an exact zero from the branch.
  for (int64_t i = 0; i < b * s; ++i)
    if (route.slot.data[i] < 0)
      for (int64_t j = 0; j < d; ++j)
        EXPECT_EQ(out["result0"].values[i * d + j], 0.0);
}

INSTANTIATE_TEST_SUITE_P(
    Capacity, RouteMoeE2E,
    ::testing::Values(MoeCase{"cf1", 1.0, false, false},
                      // Capacity overflow: C = max(1, floor(16*0.5/4)) = 2.
                      MoeCase{"overflow", 0.5, false, false},
                      MoeCase{"dropless", 1.0, true, false},
                      MoeCase{"all_to_one_expert", 1.25, false, true}),
    [](const ::testing::TestParamInfo<MoeCase> &info) {
      return std::string(info.param.name);
    });

// Layers over enough tokens for several blocks per expert in the grouped
// form (lctx-moe-grouped: blocks of 6 rows here): a router biased towards
// expert 0 and away from expert 4, so that the loads are uneven and
// expert 4 has no token (loads 50-69 / 12-46 / 12-25 / 12-25 / 0 tokens),
// dropless and capacity-limited (36-39 tokens dropped), every activation.
struct MoeGroupedCase {
  const char *name;
  ref::Activation act;
  double capacityFactor;
  bool dropless;
};

class RouteMoeGroupedE2E : public ::testing::TestWithParam<MoeGroupedCase> {};

TEST_P(RouteMoeGroupedE2E, MatchesReference) {
  MoeGroupedCase c = GetParam();
  std::mt19937 rng(470 + static_cast<int>(c.act) * 7 + 2 * c.dropless);
  int64_t b = 2, s = 60, d = 16, e = 5, f = 24;
  bool swiglu = c.act == ref::Activation::Swiglu;
  ref::Tensor x = randomTensor(rng, {b, s, d}), wr = randomTensor(rng, {d, e}),
              w1 = randomTensor(rng, {e, d, f}, 0.3),
              w2 = randomTensor(rng, {e, f, d}, 0.3),
              wg = randomTensor(rng, {e, d, f}, 0.3);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < s; ++j)
      x(i, j, 0) = 2.0 + std::fabs(x(i, j, 0));
  // Logits: a fixed bias per expert from the positive feature 0 (0.6x,
  // 0.2x, 0, -0.2x, -5x) plus a smaller random part.
  const double bias[] = {0.6, 0.2, 0.0, -0.2, -5.0};
  for (int64_t r = 0; r < d; ++r)
    for (int64_t k = 0; k < e; ++k)
      wr(r, k) = r == 0 ? bias[k] : 0.5 * wr(r, k);
  auto route = ref::routeExperts(x, wr, c.capacityFactor, c.dropless);
  // The loads this test is about.
  std::vector<int64_t> load(e, 0);
  int64_t dropped = 0;
  for (size_t i = 0; i < route.expert.data.size(); ++i) {
    ++load[route.expert.data[i]];
    dropped += route.slot.data[i] < 0;
  }
  std::string loads;
  for (int64_t l : load)
    loads += " " + std::to_string(l);
  ASSERT_EQ(load[e - 1], 0) << c.name << loads;
  ASSERT_GT(load[0], 4 * 6) << c.name << loads;
  ASSERT_GT(*std::max_element(load.begin(), load.end()),
            2 * *std::min_element(load.begin(), load.end() - 1))
      << c.name << loads;
  ASSERT_EQ(dropped > 0, !c.dropless) << c.name;

  std::string act = c.act == ref::Activation::Relu   ? "relu"
                    : c.act == ref::Activation::Gelu ? "gelu"
                                                     : "swiglu";
  std::string attrs = "{capacity_factor = " + std::to_string(c.capacityFactor) +
                      " : f64" + (c.dropless ? ", dropless" : "") + "}";
  std::string xT = tensorType({b, s, d}), w1T = tensorType({e, d, f}),
              w2T = tensorType({e, f, d});
  std::string ir =
      "func.func @f(%x: " + xT + ", %wr: " + tensorType({d, e}) +
      ", %w1: " + w1T + ", %w2: " + w2T + (swiglu ? ", %wg: " + w1T : "") +
      ") -> (" + xT + ", tensor<f32>) {\n"
      "  %y, %aux = lctx.route.moe " + act + " %x, %wr, %w1, %w2" +
      (swiglu ? ", %wg " : " ") + attrs + " : " + xT + ", " +
      tensorType({d, e}) + ", " + w1T + ", " + w2T +
      (swiglu ? ", " + w1T : "") +
      "\n  return %y, %aux : " + xT + ", tensor<f32>\n}\n";
  std::map<std::string, HostValue> args = {{"input0", HostValue::of(x)},
                                           {"input1", HostValue::of(wr)},
                                           {"input2", HostValue::of(w1)},
                                           {"input3", HostValue::of(w2)}};
  if (swiglu)
    args["input4"] = HostValue::of(wg);
  auto out = compileAndRun(ir, "f", args);
  ASSERT_TRUE(out.count("result1"));
  auto moe = ref::routeMoe(c.act, x, wr, w1, w2, swiglu ? &wg : nullptr,
                           c.capacityFactor, c.dropless);
  EXPECT_LE(relError(out["result0"], moe.result), kTol) << c.name;
  ref::Tensor aux({}, {moe.auxLoss});
  EXPECT_LE(relError(out["result1"], aux), kTol) << c.name;
  // Dropped tokens get an exact zero; every kept token a nonzero row.
  for (int64_t i = 0; i < b * s; ++i) {
    bool any = false;
    for (int64_t j = 0; j < d; ++j) {
      float v = out["result0"].values[i * d + j];
      if (route.slot.data[i] < 0)
        EXPECT_EQ(v, 0.0f) << c.name << " token " << i;
      any |= v != 0.0f;
    }
    if (route.slot.data[i] >= 0)
      EXPECT_TRUE(any) << c.name << " token " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Grouped, RouteMoeGroupedE2E,
    ::testing::Values(
        MoeGroupedCase{"relu_dropless", ref::Activation::Relu, 1.0, true},
        MoeGroupedCase{"swiglu_dropless", ref::Activation::Swiglu, 1.0, true},
        // C = floor(60 * 1.25 / 5) = 15 per sequence: expert 0 overflows.
        MoeGroupedCase{"gelu_capacity", ref::Activation::Gelu, 1.25, false},
        MoeGroupedCase{"swiglu_capacity", ref::Activation::Swiglu, 1.25,
                       false}),
    [](const ::testing::TestParamInfo<MoeGroupedCase> &info) {
      return std::string(info.param.name);
    });

//===----------------------------------------------------------------------===//
// Mixture-of-Depths
//===----------------------------------------------------------------------===//

// route.depth -> gather -> (block) -> scaled scatter_add, both modes.
TEST(RouteDepthE2E, GatherScatterBothModes) {
  for (const char *mode : {"topk", "causal"}) {
    std::mt19937 rng(500 + mode[0]);
    int64_t b = 2, s = 13, d = 6;
    ref::Tensor x = randomTensor(rng, {b, s, d}), w = randomTensor(rng, {d});
    bool topk = mode[0] == 't';
    int64_t k = topk ? 3 : s; // floor(0.25 * 13) = 3
    std::string tk = "tensor<2x" + std::to_string(k);
    std::string ir =
        "func.func @f(%x: tensor<2x13x6xf32>, %w: tensor<6xf32>) -> (" + tk +
        "xi64>, " + tk + "xf32>, tensor<2x13x6xf32>) {\n"
        "  %idx, %r = lctx.route.depth " + mode +
        " %x, %w {capacity = 0.25 : f64} : tensor<2x13x6xf32>, tensor<6xf32>\n"
        "  %g = lctx.route.gather %x, %idx : tensor<2x13x6xf32>, " + tk +
        "xi64>\n  %y = lctx.route.scatter_add %x, %g, %idx, %r : "
        "tensor<2x13x6xf32>, " + tk + "x6xf32>, " + tk + "xi64>, " + tk +
        "xf32>\n  return %idx, %r, %y : " + tk + "xi64>, " + tk +
        "xf32>, tensor<2x13x6xf32>\n}\n";
    auto out = compileAndRun(ir, "f", {{"input0", HostValue::of(x)},
                                       {"input1", HostValue::of(w)}});
    ASSERT_TRUE(out.count("result2")) << mode;
    auto want = ref::routeDepth(topk ? ref::DepthRouting::Topk
                                     : ref::DepthRouting::Causal,
                                x, w, 0.25);
    EXPECT_EQ(out["result0"].asInts().data, want.indices.data) << mode;
    EXPECT_LE(relError(out["result1"], want.weights), kTol) << mode;
    ref::Tensor gathered = ref::routeGather(x, want.indices);
    ref::Tensor y =
        ref::routeScatterAdd(x, gathered, want.indices, &want.weights);
    EXPECT_LE(relError(out["result2"], y), kTol) << mode;
  }
}

} // namespace
