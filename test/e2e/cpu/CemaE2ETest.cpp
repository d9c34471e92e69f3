//===- CemaE2ETest.cpp - E2E numerics of CEMA and TimestepNorm ------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Compiled lctx vs the float64 reference on fresh seeded inputs, long
// enough (L = 300) for the recurrence to accumulate fp32 error; tolerance
// 1e-4 (normalized max error, see E2EHarness.h). Streaming: the same input
// fed in two uneven pieces, carrying the state, gives the one-call result.
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include <gtest/gtest.h>

using namespace lctx::e2e;
namespace ref = lctx::reference;

namespace {

constexpr double kTol = 1e-4;

/// A CEMA scan function over [1, len, D] with state order N.
std::string cemaIR(int64_t len, int64_t d, int64_t n) {
  std::string tx = tensorType({1, len, d}), tdn = tensorType({d, n}),
              td = tensorType({d}),
              tg = tensorType({d, n}, "complex<f32>"),
              th = tensorType({1, d, n}, "complex<f32>");
  return "func.func @f(%x: " + tx + ", %a: " + tdn + ", %dl: " + tdn +
         ", %th: " + td + ", %g: " + tg + ", %om: " + td + ", %h0: " + th +
         ") -> (" + tx + ", " + th + ") {\n  %y, %h = lctx.cema.scan %x, %a, "
         "%dl, %th, %g, %om, %h0 : " + tx + ", " + tdn + ", " + tdn + ", " +
         td + ", " + tg + ", " + td + ", " + th + "\n  return %y, %h : " + tx +
         ", " + th + "\n}\n";
}

TEST(CemaE2E, ScanMatchesReferenceAndStreams) {
  std::mt19937 rng(701);
  int64_t len = 300, d = 6, n = 4, cut = 113;
  ref::Tensor x = randomTensor(rng, {1, len, d}),
              alpha = randomTensor(rng, {d, n}, 0.5),
              delta = randomTensor(rng, {d, n}, 0.5),
              theta = randomTensor(rng, {d}), omega = randomTensor(rng, {d});
  ref::ComplexTensor gamma({d, n}), h0({1, d, n});
  std::normal_distribution<double> dist;
  for (auto &g : gamma.data)
    g = {static_cast<float>(dist(rng)), static_cast<float>(dist(rng))};
  for (auto &h : h0.data)
    h = {static_cast<float>(dist(rng)), static_cast<float>(dist(rng))};
  auto want = ref::cemaScan(x, alpha, delta, theta, gamma, omega, h0);

  auto params = [&](const ref::Tensor &xs, const ref::ComplexTensor &hs) {
    return std::map<std::string, HostValue>{
        {"input0", HostValue::of(xs)},    {"input1", HostValue::of(alpha)},
        {"input2", HostValue::of(delta)}, {"input3", HostValue::of(theta)},
        {"input4", HostValue::of(gamma)}, {"input5", HostValue::of(omega)},
        {"input6", HostValue::of(hs)}};
  };
  auto whole = compileAndRun(cemaIR(len, d, n), "f", params(x, h0));
  ASSERT_TRUE(whole.count("result1"));
  EXPECT_LE(relError(whole["result0"], want.result), kTol);
  EXPECT_LE(relError(whole["result1"], want.finalState), kTol);

  // Two pieces of 113 and 187 steps, the state carried between calls.
  ref::Tensor x1({1, cut, d}), x2({1, len - cut, d});
  for (int64_t t = 0; t < len; ++t)
    for (int64_t j = 0; j < d; ++j)
      (t < cut ? x1(0, t, j) : x2(0, t - cut, j)) = x(0, t, j);
  auto first = compileAndRun(cemaIR(cut, d, n), "f", params(x1, h0));
  ASSERT_TRUE(first.count("result1"));
  auto second = compileAndRun(cemaIR(len - cut, d, n), "f",
                              params(x2, first["result1"].asComplex()));
  ASSERT_TRUE(second.count("result1"));
  EXPECT_LE(relError(second["result1"], want.finalState), kTol);
  ref::Tensor tail({1, len - cut, d});
  for (int64_t t = cut; t < len; ++t)
    for (int64_t j = 0; j < d; ++j)
      tail(0, t - cut, j) = want.result(0, t, j);
  EXPECT_LE(relError(second["result0"], tail), kTol);
}

std::string tsnIR(int64_t b, int64_t len, int64_t d, int64_t g) {
  std::string tx = tensorType({b, len, d}), td = tensorType({d}),
              tc = tensorType({b}, "i64"), ts = tensorType({b, g});
  return "func.func @f(%x: " + tx + ", %w: " + td + ", %b: " + td + ", %c: " +
         tc + ", %m: " + ts + ", %v: " + ts + ") -> (" + tx + ", " + tc + ", " +
         ts + ", " + ts + ") {\n  %y, %c1, %m1, %v1 = "
         "lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = " +
         std::to_string(g) + " : i64} : " + tx + ", " + td + ", " + td + ", " +
         tc + ", " + ts + ", " + ts + "\n  return %y, %c1, %m1, %v1 : " + tx +
         ", " + tc + ", " + ts + ", " + ts + "\n}\n";
}

TEST(CemaE2E, TimestepNormMatchesReferenceWithCarriedState) {
  std::mt19937 rng(702);
  int64_t b = 2, len = 300, d = 12, g = 3;
  ref::Tensor x = randomTensor(rng, {b, len, d}, 2.0),
              w = randomTensor(rng, {d}, 0.3), bias = randomTensor(rng, {d});
  for (double &v : x.data)
    v += 1.5; // a non-zero mean to track
  // A carried prior state (as after 40 earlier steps).
  ref::IntTensor count({b}, {40, 40});
  ref::Tensor mean = randomTensor(rng, {b, g}), var({b, g});
  for (double &v : var.data)
    v = 0.5 + std::fabs(static_cast<float>(std::normal_distribution<double>()(rng)));
  auto want = ref::cemaTimestepNorm(x, w, bias, count, mean, var, g);
  auto out = compileAndRun(tsnIR(b, len, d, g), "f",
                           {{"input0", HostValue::of(x)},
                            {"input1", HostValue::of(w)},
                            {"input2", HostValue::of(bias)},
                            {"input3", HostValue::of(count)},
                            {"input4", HostValue::of(mean)},
                            {"input5", HostValue::of(var)}});
  ASSERT_TRUE(out.count("result3"));
  EXPECT_LE(relError(out["result0"], want.result), kTol);
  EXPECT_EQ(out["result1"].asInts().data, want.newCount.data);
  EXPECT_LE(relError(out["result2"], want.newMean), kTol);
  EXPECT_LE(relError(out["result3"], want.newVar), kTol);
}

} // namespace
