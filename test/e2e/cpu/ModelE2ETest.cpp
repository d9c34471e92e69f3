//===- ModelE2ETest.cpp - The shipped MEGABYTE model end to end -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Compiles models/megabyte/tiny.mlir, runs prefill with seeded random weights
// and bytes, and compares the logits with the same model composed from the
// float64 reference ops (paper semantics, docs/conventions.md). Tolerance:
// normalized max error 1e-4.
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace lctx::e2e;
namespace ref = lctx::reference;

namespace {

/// [B, T, H*Dh] -> [B, H, T, Dh].
ref::Tensor splitHeads(const ref::Tensor &x, int64_t heads) {
  int64_t b = x.dim(0), t = x.dim(1), dh = x.dim(2) / heads;
  ref::Tensor out({b, heads, t, dh});
  for (int64_t i = 0; i < b; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < t; ++s)
        for (int64_t d = 0; d < dh; ++d)
          out(i, h, s, d) = x(i, s, h * dh + d);
  return out;
}

/// [B, H, T, Dh] -> [B, T, H*Dh].
ref::Tensor mergeHeads(const ref::Tensor &x) {
  int64_t b = x.dim(0), heads = x.dim(1), t = x.dim(2), dh = x.dim(3);
  ref::Tensor out({b, t, heads * dh});
  for (int64_t i = 0; i < b; ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < t; ++s)
        for (int64_t d = 0; d < dh; ++d)
          out(i, s, h * dh + d) = x(i, h, s, d);
  return out;
}

ref::Tensor add(ref::Tensor a, const ref::Tensor &b) {
  for (size_t i = 0; i < a.data.size(); ++i)
    a.data[i] += b.data[i];
  return a;
}

/// One pre-norm transformer layer of the model file (RoPE attention, ReLU
/// FFN), weights under `prefix`.
ref::Tensor layer(const ref::Tensor &x, int64_t heads,
                  std::map<std::string, ref::Tensor> &w,
                  const std::string &prefix) {
  ref::Tensor h = ref::rmsNorm(x, &w[prefix + "norm1"]);
  ref::Tensor q = splitHeads(ref::linear(h, w[prefix + "attn.wq"]), heads);
  ref::Tensor k = splitHeads(ref::linear(h, w[prefix + "attn.wk"]), heads);
  ref::Tensor v = splitHeads(ref::linear(h, w[prefix + "attn.wv"]), heads);
  ref::Tensor a = ref::attention(q, k, v, nullptr, nullptr, true, std::nullopt,
                                 std::nullopt, 1e4);
  ref::Tensor x1 = add(x, ref::linear(mergeHeads(a), w[prefix + "attn.wo"]));
  ref::Tensor h2 = ref::rmsNorm(x1, &w[prefix + "norm2"]);
  return add(x1, ref::ffn(ref::Activation::Relu, h2, w[prefix + "ffn.w_in"],
                          w[prefix + "ffn.w_out"]));
}

TEST(ModelE2E, ShippedMegabyteTinyPrefill) {
  std::ifstream file(std::string(LCTX_SOURCE_DIR) + "/models/megabyte/tiny.mlir");
  ASSERT_TRUE(file) << "cannot read models/megabyte/tiny.mlir";
  std::stringstream ir;
  ir << file.rdbuf();

  std::mt19937 rng(601);
  const std::vector<std::pair<std::string, ref::Shape>> shapes = {
      {"global.embed", {256, 16}}, {"global.pad", {4, 16}},
      {"global.layers.0.norm1", {64}}, {"global.layers.0.attn.wq", {64, 64}},
      {"global.layers.0.attn.wk", {64, 64}}, {"global.layers.0.attn.wv", {64, 64}},
      {"global.layers.0.attn.wo", {64, 64}}, {"global.layers.0.norm2", {64}},
      {"global.layers.0.ffn.w_in", {64, 256}},
      {"global.layers.0.ffn.w_out", {256, 64}}, {"global.norm", {64}},
      {"global_to_local", {16, 32}}, {"local.embed", {256, 32}},
      {"local.pad", {32}}, {"local.layers.0.norm1", {32}},
      {"local.layers.0.attn.wq", {32, 32}}, {"local.layers.0.attn.wk", {32, 32}},
      {"local.layers.0.attn.wv", {32, 32}}, {"local.layers.0.attn.wo", {32, 32}},
      {"local.layers.0.norm2", {32}}, {"local.layers.0.ffn.w_in", {32, 128}},
      {"local.layers.0.ffn.w_out", {128, 32}}, {"local.norm", {32}}};
  std::map<std::string, ref::Tensor> w;
  std::map<std::string, HostValue> args;
  for (const auto &[name, shape] : shapes) {
    w[name] = randomTensor(rng, shape, shape.size() == 1 ? 1.0 : 0.2);
    args[name] = HostValue::of(w[name]);
  }
  ref::IntTensor ids = randomInts(rng, {1, 32}, 0, 255);
  args["ids"] = HostValue::of(ids);

  auto out = compileAndRun(ir.str(), "prefill", args);
  ASSERT_TRUE(out.count("logits"));

  ref::Tensor g0 = ref::patchEmbed(ids, w["global.embed"], w["global.pad"],
                                   nullptr, 4);
  ref::Tensor g = ref::rmsNorm(layer(g0, 2, w, "global.layers.0."),
                               &w["global.norm"]);
  ref::Tensor l0 = ref::patchToLocal(g, w["global_to_local"], ids,
                                     w["local.embed"], w["local.pad"], 4);
  ref::Tensor l = ref::rmsNorm(layer(l0, 2, w, "local.layers.0."),
                               &w["local.norm"]);
  ref::Tensor logits = ref::patchMerge(
      ref::linear(l, w["local.embed"], nullptr, /*transposeWeight=*/true), 1);
  EXPECT_LE(relError(out["logits"], logits), 1e-4);
}

} // namespace
