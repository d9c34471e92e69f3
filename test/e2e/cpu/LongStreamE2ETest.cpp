//===- LongStreamE2ETest.cpp - A million steps through runtime state ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Numerical robustness of the recurrences over long streams: 2^20 steps fed
// in 256 calls of 4096 through entry points whose state (lctx.state) the
// runtime carries, next to the float64 reference of the same recurrence
// carried in the test. Checks: no NaN or Inf in any output or state, and
// bounded drift of the final state and of the last call's outputs against
// float64 (normalized max error, E2EHarness.h; bounds below).
//
//  - CEMA (Megalodon's complex EMA, tiny D = 4, N = 2, |q| up to ~0.99):
//    the state is a geometrically damped sum, so its fp32 error does not
//    grow with the stream: bound 1e-4.
//  - Infini-attention memory (linear rule, segments of 256, one head of
//    8 x 8): M and z are sums over every token seen, growing linearly;
//    accumulated in fp32 their relative error grows like sqrt(steps) *
//    2^-24 at most: bound 1e-4 on M, z and the last segment's outputs.
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace lctx::e2e;
namespace ref = lctx::reference;

namespace {

constexpr int64_t kPiece = 4096, kPieces = 256; // 2^20 steps

bool allFinite(const Output &o) {
  for (double v : o.values)
    if (!std::isfinite(v))
      return false;
  return true;
}

TEST(LongStreamE2E, CemaMillionSteps) {
  std::mt19937 rng(1001);
  const int64_t d = 4, n = 2;
  ref::Tensor alpha = randomTensor(rng, {d, n}, 0.5),
              delta = randomTensor(rng, {d, n}, 0.5),
              theta = randomTensor(rng, {d}), omega = randomTensor(rng, {d});
  // Slow decay in one channel: 1 - |q| down to ~1e-2.
  alpha(0, 0) = 3.0;
  delta(0, 0) = -4.0;
  ref::ComplexTensor gamma({d, n});
  std::normal_distribution<double> dist;
  for (auto &g : gamma.data)
    g = {static_cast<float>(dist(rng)), static_cast<float>(dist(rng))};
  std::string tx = tensorType({1, kPiece, d}), tdn = tensorType({d, n}),
              td = tensorType({d}), tg = tensorType({d, n}, "complex<f32>"),
              th = tensorType({1, d, n}, "complex<f32>");
  std::string ir =
      "func.func @step(%x: " + tx + " {lctx.input = \"x\"}, %a: " + tdn +
      " {lctx.weight = \"a\"}, %dl: " + tdn + " {lctx.weight = \"d\"}, %th: " +
      td + " {lctx.weight = \"t\"}, %g: " + tg + " {lctx.weight = \"g\"}, "
      "%om: " + td + " {lctx.weight = \"o\"}, %h: " + th +
      " {lctx.state = \"h\"}) -> (" + tx + " {lctx.output = \"y\"}, " + th +
      " {lctx.state = \"h\"}) {\n  %y, %h1 = lctx.cema.scan %x, %a, %dl, "
      "%th, %g, %om, %h : " + tx + ", " + tdn + ", " + tdn + ", " + td + ", " +
      tg + ", " + td + ", " + th + "\n  return %y, %h1 : " + tx + ", " + th +
      "\n}\n";
  Session session(ir, {{"a", HostValue::of(alpha)}, {"d", HostValue::of(delta)},
                       {"t", HostValue::of(theta)}, {"g", HostValue::of(gamma)},
                       {"o", HostValue::of(omega)}});
  ref::ComplexTensor h({1, d, n});
  bool finite = true;
  std::map<std::string, Output> out;
  ref::Tensor want;
  for (int64_t i = 0; i < kPieces; ++i) {
    ref::Tensor x = randomTensor(rng, {1, kPiece, d});
    out = session.run("step", {{"x", HostValue::of(x)}});
    ASSERT_TRUE(out.count("y")) << "piece " << i;
    finite = finite && allFinite(out["y"]);
    auto r = ref::cemaScan(x, alpha, delta, theta, gamma, omega, h);
    h = r.finalState;
    want = r.result;
  }
  Output state = session.state("h");
  EXPECT_TRUE(finite && allFinite(state)) << "NaN or Inf in the stream";
  EXPECT_LE(relError(state, h), 1e-4);
  EXPECT_LE(relError(out["y"], want), 1e-4);
}

TEST(LongStreamE2E, InfiniMemoryMillionTokens) {
  std::mt19937 rng(1002);
  const int64_t dk = 8, seg = 256;
  ref::Tensor beta({1}, {0.3});
  std::string tq = tensorType({1, 1, kPiece, dk}),
              tm = tensorType({1, 1, dk, dk}), tz = tensorType({1, 1, dk}),
              tb = tensorType({1});
  std::string ir =
      "func.func @step(%q: " + tq + " {lctx.input = \"q\"}, %k: " + tq +
      " {lctx.input = \"k\"}, %v: " + tq + " {lctx.input = \"v\"}, %b: " + tb +
      " {lctx.weight = \"beta\"}, %m: " + tm + " {lctx.state = \"m\"}, %z: " +
      tz + " {lctx.state = \"z\"}) -> (" + tq + " {lctx.output = \"o\"}, " +
      tm + " {lctx.state = \"m\"}, " + tz + " {lctx.state = \"z\"}) {\n"
      "  %o, %m1, %z1 = lctx.memory.attention linear %q, %k, %v, %m, %z, %b "
      "{segment_size = " + std::to_string(seg) + " : i64} : " + tq + ", " + tq +
      ", " + tq + ", " + tm + ", " + tz + ", " + tb +
      "\n  return %o, %m1, %z1 : " + tq + ", " + tm + ", " + tz + "\n}\n";
  Session session(ir, {{"beta", HostValue::of(beta)}});
  ref::Tensor m({1, 1, dk, dk}), z({1, 1, dk});
  bool finite = true;
  std::map<std::string, Output> out;
  ref::Tensor want;
  for (int64_t i = 0; i < kPieces; ++i) {
    ref::Tensor q = randomTensor(rng, {1, 1, kPiece, dk}),
                k = randomTensor(rng, {1, 1, kPiece, dk}),
                v = randomTensor(rng, {1, 1, kPiece, dk});
    out = session.run("step", {{"q", HostValue::of(q)},
                               {"k", HostValue::of(k)},
                               {"v", HostValue::of(v)}});
    ASSERT_TRUE(out.count("o")) << "piece " << i;
    finite = finite && allFinite(out["o"]);
    if (i + 1 < kPieces) {
      // Only the memory carries between calls: fold the piece's segments.
      for (int64_t s0 = 0; s0 < kPiece; s0 += seg) {
        ref::Tensor ks({1, 1, seg, dk}), vs({1, 1, seg, dk});
        for (int64_t t = 0; t < seg; ++t)
          for (int64_t c = 0; c < dk; ++c) {
            ks(0, 0, t, c) = k(0, 0, s0 + t, c);
            vs(0, 0, t, c) = v(0, 0, s0 + t, c);
          }
        auto next = ref::memoryUpdate(ref::MemoryRule::Linear, ks, vs, m, z);
        m = next.memory;
        z = next.norm;
      }
    } else {
      auto r = ref::memoryAttention(ref::MemoryRule::Linear, q, k, v, m, z,
                                    beta, seg);
      want = r.result;
      m = r.newMemory;
      z = r.newNorm;
    }
  }
  Output mOut = session.state("m"), zOut = session.state("z");
  EXPECT_TRUE(finite && allFinite(mOut) && allFinite(zOut))
      << "NaN or Inf in the stream";
  EXPECT_LE(relError(mOut, m), 1e-4);
  EXPECT_LE(relError(zOut, z), 1e-4);
  EXPECT_LE(relError(out["o"], want), 1e-4);
}

} // namespace
