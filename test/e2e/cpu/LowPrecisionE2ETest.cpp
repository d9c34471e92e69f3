//===- LowPrecisionE2ETest.cpp - bf16 and f16 models end to end -----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Activations and weights in bf16 or f16: lctx computes in f32 and rounds
// results to the activation type. Each test rounds its fresh seeded inputs
// to the low-precision type first (so the runtime receives exactly what the
// reference sees), runs the compiled op through a safetensors weights file
// of that dtype, and compares with the float64 reference of the rounded
// inputs. Tolerances (normalized max error, E2EHarness.h) allow the final
// rounding and the roundings at op boundaries inside a model: 1e-2 for bf16
// (8-bit mantissa), 2e-3 for f16 (11-bit).
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include <gtest/gtest.h>

using namespace lctx::e2e;
namespace ref = lctx::reference;

namespace {

struct Precision {
  const char *name;
  const char *mlir;
  lctxrt_dtype_t dtype;
  double tol;
};

const Precision kBF16{"bf16", "bf16", LCTXRT_DTYPE_BF16, 1e-2};
const Precision kF16{"f16", "f16", LCTXRT_DTYPE_F16, 2e-3};

class LowPrecisionE2E : public ::testing::TestWithParam<Precision> {};

ref::Tensor randomRounded(std::mt19937 &rng, ref::Shape shape, double scale,
                          const Precision &p) {
  return roundTo(randomTensor(rng, std::move(shape), scale), p.dtype);
}

TEST_P(LowPrecisionE2E, LinearAndRmsNorm) {
  const Precision &p = GetParam();
  std::mt19937 rng(901);
  ref::Tensor x = randomRounded(rng, {2, 5, 48}, 1.0, p),
              w = randomRounded(rng, {48, 40}, 0.2, p),
              b = randomRounded(rng, {40}, 1.0, p),
              g = randomRounded(rng, {40}, 1.0, p);
  std::string tx = tensorType(x.shape, p.mlir), tw = tensorType(w.shape, p.mlir),
              tb = tensorType(b.shape, p.mlir),
              ty = tensorType({2, 5, 40}, p.mlir);
  std::string ir = "func.func @f(%x: " + tx + " {lctx.input = \"x\"}, %w: " + tw +
       " {lctx.weight = \"w\"}, %b: " + tb + " {lctx.weight = \"b\"}, %g: " +
       tb + " {lctx.weight = \"g\"}) -> (" + ty + " {lctx.output = \"y\"}, " +
       ty + " {lctx.output = \"n\"}) {\n"
       "  %y = lctx.linear %x, %w, %b : " + tx + ", " + tw + ", " + tb + "\n" +
       "  %n = lctx.rms_norm %y, %g : " + ty + ", " + tb + "\n"
       "  return %y, %n : " + ty + ", " + ty + "\n}\n";
  auto out = compileAndRun(ir, "f",
                           {{"x", HostValue::of(x)}, {"w", HostValue::of(w)},
                            {"b", HostValue::of(b)}, {"g", HostValue::of(g)}});
  ASSERT_TRUE(out.count("n"));
  EXPECT_EQ(out["y"].dtype, p.dtype == LCTXRT_DTYPE_BF16 ? "BF16" : "F16");
  ref::Tensor y = ref::linear(x, w, &b);
  EXPECT_LE(relError(out["y"], y), p.tol);
  // The norm reads y as rounded to the activation type.
  EXPECT_LE(relError(out["n"], ref::rmsNorm(roundTo(y, p.dtype), &g)), p.tol);
}

TEST_P(LowPrecisionE2E, CausalAttentionAcrossTiles) {
  const Precision &p = GetParam();
  std::mt19937 rng(902);
  ref::Tensor q = randomRounded(rng, {1, 2, 70, 32}, 1.0, p),
              k = randomRounded(rng, {1, 2, 70, 32}, 1.0, p),
              v = randomRounded(rng, {1, 2, 70, 32}, 1.0, p);
  std::string t = tensorType(q.shape, p.mlir);
  std::string ir = "func.func @f(%q: " + t + ", %k: " + t + ", %v: " + t +
                   ") -> " + t + " {\n  %0 = lctx.attention %q, %k, %v "
                   "{rope_theta = 1.0e+04 : f32} : " + t + ", " + t + ", " + t +
                   "\n  return %0 : " + t + "\n}\n";
  auto out = compileAndRun(ir, "f", {{"input0", HostValue::of(q)},
                                     {"input1", HostValue::of(k)},
                                     {"input2", HostValue::of(v)}});
  ASSERT_TRUE(out.count("result0"));
  EXPECT_LE(relError(out["result0"],
                     ref::attention(q, k, v, nullptr, nullptr, true,
                                    std::nullopt, std::nullopt, 1e4)),
            p.tol);
}

TEST_P(LowPrecisionE2E, SwigluFfn) {
  const Precision &p = GetParam();
  std::mt19937 rng(903);
  ref::Tensor x = randomRounded(rng, {3, 7, 32}, 1.0, p),
              w1 = randomRounded(rng, {32, 64}, 0.2, p),
              wg = randomRounded(rng, {32, 64}, 0.2, p),
              w2 = randomRounded(rng, {64, 32}, 0.2, p);
  std::string tx = tensorType(x.shape, p.mlir),
              t1 = tensorType(w1.shape, p.mlir),
              t2 = tensorType(w2.shape, p.mlir);
  std::string ir = "func.func @f(%x: " + tx + ", %w1: " + t1 +
                   " {lctx.weight = \"w1\"}, %w2: " + t2 +
                   " {lctx.weight = \"w2\"}, %wg: " + t1 +
                   " {lctx.weight = \"wg\"}) -> " + tx +
                   " {\n  %0 = lctx.ffn swiglu %x, %w1, %w2, %wg : " + tx +
                   ", " + t1 + ", " + t2 + ", " + t1 + "\n  return %0 : " + tx +
                   "\n}\n";
  auto out = compileAndRun(ir, "f", {{"input0", HostValue::of(x)},
                                     {"w1", HostValue::of(w1)},
                                     {"w2", HostValue::of(w2)},
                                     {"wg", HostValue::of(wg)}});
  ASSERT_TRUE(out.count("result0"));
  EXPECT_LE(relError(out["result0"],
                     ref::ffn(ref::Activation::Swiglu, x, w1, w2, &wg)),
            p.tol);
}

TEST_P(LowPrecisionE2E, CemaScanWithF32State) {
  const Precision &p = GetParam();
  std::mt19937 rng(904);
  int64_t len = 90, d = 8, n = 3;
  ref::Tensor x = randomRounded(rng, {1, len, d}, 1.0, p),
              alpha = randomTensor(rng, {d, n}, 0.5),
              delta = randomTensor(rng, {d, n}, 0.5),
              theta = randomTensor(rng, {d}), omega = randomTensor(rng, {d});
  ref::ComplexTensor gamma({d, n}), h0({1, d, n});
  std::normal_distribution<double> dist;
  for (auto &g : gamma.data)
    g = {static_cast<float>(dist(rng)), static_cast<float>(dist(rng))};
  std::string tx = tensorType(x.shape, p.mlir), tdn = tensorType({d, n}),
              td = tensorType({d}), tg = tensorType({d, n}, "complex<f32>"),
              th = tensorType({1, d, n}, "complex<f32>");
  std::string ir =
      "func.func @f(%x: " + tx + ", %a: " + tdn + ", %dl: " + tdn + ", %th: " +
      td + ", %g: " + tg + ", %om: " + td + ", %h0: " + th + ") -> (" + tx +
      ", " + th + ") {\n  %y, %h = lctx.cema.scan %x, %a, %dl, %th, %g, %om, "
      "%h0 : " + tx + ", " + tdn + ", " + tdn + ", " + td + ", " + tg + ", " +
      td + ", " + th + "\n  return %y, %h : " + tx + ", " + th + "\n}\n";
  auto out = compileAndRun(
      ir, "f",
      {{"input0", HostValue::of(x)}, {"input1", HostValue::of(alpha)},
       {"input2", HostValue::of(delta)}, {"input3", HostValue::of(theta)},
       {"input4", HostValue::of(gamma)}, {"input5", HostValue::of(omega)},
       {"input6", HostValue::of(h0)}});
  ASSERT_TRUE(out.count("result1"));
  auto want = ref::cemaScan(x, alpha, delta, theta, gamma, omega, h0);
  EXPECT_LE(relError(out["result0"], want.result), p.tol);
  // The state stays complex<f32>: only the input was rounded.
  EXPECT_LE(relError(out["result1"], want.finalState), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Types, LowPrecisionE2E,
                         ::testing::Values(kBF16, kF16),
                         [](const ::testing::TestParamInfo<Precision> &info) {
                           return std::string(info.param.name);
                         });

} // namespace
