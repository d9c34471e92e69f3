//===- StateE2ETest.cpp - Runtime-owned state, streaming in pieces --------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// A Megalodon-style stream block (TimestepNorm, then CEMA) whose recurrent
// state (step count, running mean and variance, complex EMA state) is
// declared with lctx.state, so the runtime owns it and carries it from call
// to call. The module has entry points for pieces of 1, 3 and 4 steps and
// one of 11; a stream of 11 steps fed as 3 + 1 + 4 + 3 through the pieces
// gives the one-call outputs and final state (1e-5) and both match the
// float64 reference (1e-4, the CEMA tolerance; see E2EHarness.h for the
// metric).
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include <gtest/gtest.h>

using namespace lctx::e2e;
namespace ref = lctx::reference;

namespace {

constexpr int64_t kD = 6, kN = 3, kG = 2;

/// The stream block over pieces of `len` steps, named @p<len>.
std::string blockEntry(int64_t len) {
  std::string tx = tensorType({1, len, kD}), td = tensorType({kD}),
              tdn = tensorType({kD, kN}),
              tg = tensorType({kD, kN}, "complex<f32>"),
              th = tensorType({1, kD, kN}, "complex<f32>"),
              tc = tensorType({1}, "i64"), ts = tensorType({1, kG});
  std::string l = std::to_string(len);
  return "func.func @p" + l + "(%x: " + tx + " {lctx.input = \"x\"},\n" +
         "    %w: " + td + " {lctx.weight = \"norm.w\"}, %b: " + td +
         " {lctx.weight = \"norm.b\"},\n" + "    %alpha: " + tdn +
         " {lctx.weight = \"cema.alpha\"}, %delta: " + tdn +
         " {lctx.weight = \"cema.delta\"},\n" + "    %theta: " + td +
         " {lctx.weight = \"cema.theta\"}, %gamma: " + tg +
         " {lctx.weight = \"cema.gamma\"},\n" + "    %omega: " + td +
         " {lctx.weight = \"cema.omega\"},\n" + "    %c: " + tc +
         " {lctx.state = \"norm.count\"}, %m: " + ts +
         " {lctx.state = \"norm.mean\"}, %v: " + ts +
         " {lctx.state = \"norm.var\"},\n" + "    %h: " + th +
         " {lctx.state = \"cema.h\"})\n" + "    -> (" + tx +
         " {lctx.output = \"y\"}, " + tc + " {lctx.state = \"norm.count\"}, " +
         ts + " {lctx.state = \"norm.mean\"}, " + ts +
         " {lctx.state = \"norm.var\"}, " + th +
         " {lctx.state = \"cema.h\"}) {\n" +
         "  %n, %c1, %m1, %v1 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, "
         "%v {num_groups = " +
         std::to_string(kG) + " : i64} : " + tx + ", " + td + ", " + td +
         ", " + tc + ", " + ts + ", " + ts + "\n" +
         "  %y, %h1 = lctx.cema.scan %n, %alpha, %delta, %theta, %gamma, "
         "%omega, %h : " +
         tx + ", " + tdn + ", " + tdn + ", " + td + ", " + tg + ", " + td +
         ", " + th + "\n" + "  return %y, %c1, %m1, %v1, %h1 : " + tx + ", " +
         tc + ", " + ts + ", " + ts + ", " + th + "\n}\n";
}

/// Steps [from, from + len) of x [1, T, D].
ref::Tensor steps(const ref::Tensor &x, int64_t from, int64_t len) {
  ref::Tensor out({1, len, kD});
  for (int64_t t = 0; t < len; ++t)
    for (int64_t j = 0; j < kD; ++j)
      out(0, t, j) = x(0, from + t, j);
  return out;
}

TEST(StateE2E, StreamInUnevenPiecesEqualsOneCall) {
  std::mt19937 rng(811);
  const int64_t total = 11;
  ref::Tensor x = randomTensor(rng, {1, total, kD}, 2.0);
  for (double &v : x.data)
    v += 0.75;
  ref::Tensor w = randomTensor(rng, {kD}, 0.3), b = randomTensor(rng, {kD}),
              alpha = randomTensor(rng, {kD, kN}, 0.5),
              delta = randomTensor(rng, {kD, kN}, 0.5),
              theta = randomTensor(rng, {kD}), omega = randomTensor(rng, {kD});
  ref::ComplexTensor gamma({kD, kN});
  std::normal_distribution<double> dist;
  for (auto &g : gamma.data)
    g = {static_cast<float>(dist(rng)), static_cast<float>(dist(rng))};

  // float64 reference of the whole stream from zero state.
  auto norm = ref::cemaTimestepNorm(x, w, b, ref::IntTensor({1}, {0}),
                                    ref::Tensor({1, kG}), ref::Tensor({1, kG}),
                                    kG);
  auto want = ref::cemaScan(norm.result, alpha, delta, theta, gamma, omega,
                            ref::ComplexTensor({1, kD, kN}));

  std::map<std::string, HostValue> weights = {
      {"norm.w", HostValue::of(w)},          {"norm.b", HostValue::of(b)},
      {"cema.alpha", HostValue::of(alpha)},  {"cema.delta", HostValue::of(delta)},
      {"cema.theta", HostValue::of(theta)},  {"cema.gamma", HostValue::of(gamma)},
      {"cema.omega", HostValue::of(omega)}};
  Session session(blockEntry(1) + blockEntry(3) + blockEntry(4) +
                      blockEntry(total),
                  weights);

  // One call.
  auto whole = session.run("p11", {{"x", HostValue::of(x)}});
  ASSERT_TRUE(whole.count("y"));
  EXPECT_LE(relError(whole["y"], want.result), 1e-4);
  Output wholeH = session.state("cema.h"), wholeMean = session.state("norm.mean"),
         wholeVar = session.state("norm.var"),
         wholeCount = session.state("norm.count");
  EXPECT_LE(relError(wholeH, want.finalState), 1e-4);
  EXPECT_LE(relError(wholeMean, norm.newMean), 1e-4);
  EXPECT_LE(relError(wholeVar, norm.newVar), 1e-4);
  EXPECT_EQ(wholeCount.asInts().data, std::vector<int64_t>{total});

  // The same stream in pieces of 3, 1, 4 and 3 steps.
  session.resetState();
  EXPECT_EQ(session.state("norm.count").asInts().data,
            std::vector<int64_t>{0});
  ref::Tensor streamed({1, total, kD});
  int64_t at = 0;
  for (int64_t len : {3, 1, 4, 3}) {
    auto piece = session.run("p" + std::to_string(len),
                             {{"x", HostValue::of(steps(x, at, len))}});
    ASSERT_TRUE(piece.count("y"));
    for (int64_t t = 0; t < len; ++t)
      for (int64_t j = 0; j < kD; ++j)
        streamed(0, at + t, j) = piece["y"].values[t * kD + j];
    at += len;
  }
  EXPECT_LE(relError(whole["y"], streamed), 1e-5);
  EXPECT_LE(relError(session.state("cema.h"), wholeH.asComplex()), 1e-5);
  EXPECT_LE(relError(session.state("norm.mean"), wholeMean.asTensor()), 1e-5);
  EXPECT_LE(relError(session.state("norm.var"), wholeVar.asTensor()), 1e-5);
  EXPECT_EQ(session.state("norm.count").asInts().data,
            std::vector<int64_t>{total});
  Output streamedOut{"F32", {1, total, kD}, streamed.data};
  EXPECT_LE(relError(streamedOut, want.result), 1e-4);
}

} // namespace
