//===- KernelFormsE2ETest.cpp - E2E numerics of the CPU kernel forms ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The lowering forms that depend on sizes, checked against the float64
// reference on fresh seeded inputs (normalized max error, E2EHarness.h):
//
//  * CEMA's chunked parallel form (chunks of 32 steps, channel blocks):
//    long sequences that are not a multiple of the chunk, sequences shorter
//    than one chunk, a single step, channel counts that split into blocks
//    with and without vector tails, long-memory coefficients (|q| close to
//    1), f64 activations, and a stream fed in uneven pieces with the state
//    carried between calls, which must equal one call. Tolerance 1e-4.
//  * Mixture-of-Depths top-k by radix select: exact ties (lowest index
//    wins), k = 1, k = S, long rows, negative logits, causal routing, and
//    scatter_add with repeated and out-of-range indices. Indices must match
//    exactly; logits are built so that fp32 and float64 agree exactly.
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include <gtest/gtest.h>

#include <numeric>

using namespace lctx::e2e;
namespace ref = lctx::reference;

namespace {

constexpr double kTol = 1e-4;

//===----------------------------------------------------------------------===//
// CEMA
//===----------------------------------------------------------------------===//

/// A CEMA scan function over [B, len, D] with state order N.
std::string cemaIR(int64_t b, int64_t len, int64_t d, int64_t n,
                   const std::string &elt = "f32") {
  std::string tx = tensorType({b, len, d}, elt), tdn = tensorType({d, n}),
              td = tensorType({d}),
              tg = tensorType({d, n}, "complex<f32>"),
              th = tensorType({b, d, n}, "complex<f32>");
  return "func.func @f(%x: " + tx + ", %a: " + tdn + ", %dl: " + tdn +
         ", %th: " + td + ", %g: " + tg + ", %om: " + td + ", %h0: " + th +
         ") -> (" + tx + ", " + th + ") {\n  %y, %h = lctx.cema.scan %x, %a, "
         "%dl, %th, %g, %om, %h0 : " + tx + ", " + tdn + ", " + tdn + ", " +
         td + ", " + tg + ", " + td + ", " + th + "\n  return %y, %h : " + tx +
         ", " + th + "\n}\n";
}

/// Parameters of one CEMA layer. With `longMemory`, delta is drawn so that
/// many channels decay slowly (1 - |q| down to ~1e-3): their state carries
/// information over ~1000 steps, i.e. across dozens of chunks. (Much slower
/// decay is out of fp32's reach whatever the algorithm: |q| = 1 - s is
/// rounded to fp32, and the state's scale 1 / s inherits that error; the
/// sequential fp32 recurrence is off by ~1e-4 at 1 - |q| ~ 5e-5.)
struct CemaParams {
  ref::Tensor alpha, delta, theta, omega;
  ref::ComplexTensor gamma;
  CemaParams(std::mt19937 &rng, int64_t d, int64_t n, bool longMemory)
      : alpha(randomTensor(rng, {d, n}, longMemory ? 1.0 : 0.5)),
        delta(randomTensor(rng, {d, n}, longMemory ? 1.5 : 0.5)),
        theta(randomTensor(rng, {d})), omega(randomTensor(rng, {d})),
        gamma({d, n}) {
    if (longMemory)
      for (double &v : delta.data)
        v -= 2.0;
    std::normal_distribution<double> dist;
    for (auto &g : gamma.data)
      g = {static_cast<float>(dist(rng)), static_cast<float>(dist(rng))};
  }
  std::map<std::string, HostValue> args(const ref::Tensor &x,
                                        const ref::ComplexTensor &h0) const {
    return {{"input0", HostValue::of(x)},     {"input1", HostValue::of(alpha)},
            {"input2", HostValue::of(delta)}, {"input3", HostValue::of(theta)},
            {"input4", HostValue::of(gamma)}, {"input5", HostValue::of(omega)},
            {"input6", HostValue::of(h0)}};
  }
  ref::CemaScanResult reference(const ref::Tensor &x,
                                const ref::ComplexTensor &h0) const {
    return ref::cemaScan(x, alpha, delta, theta, gamma, omega, h0);
  }
};

ref::ComplexTensor randomState(std::mt19937 &rng, ref::Shape shape) {
  ref::ComplexTensor h(shape);
  std::normal_distribution<double> dist;
  for (auto &v : h.data)
    v = {static_cast<float>(dist(rng)), static_cast<float>(dist(rng))};
  return h;
}

/// Rows [from, from + len) of x [B, L, D].
ref::Tensor timeSlice(const ref::Tensor &x, int64_t from, int64_t len) {
  int64_t b = x.dim(0), d = x.dim(2);
  ref::Tensor out({b, len, d});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t t = 0; t < len; ++t)
      for (int64_t j = 0; j < d; ++j)
        out(bi, t, j) = x(bi, from + t, j);
  return out;
}

struct CemaCase {
  const char *name;
  int64_t b, len, d, n;
  bool longMemory;
};

class CemaChunkedE2E : public ::testing::TestWithParam<CemaCase> {};

TEST_P(CemaChunkedE2E, MatchesReference) {
  const CemaCase &c = GetParam();
  std::mt19937 rng(9100 + static_cast<unsigned>(c.len * 7 + c.d));
  CemaParams params(rng, c.d, c.n, c.longMemory);
  ref::Tensor x = randomTensor(rng, {c.b, c.len, c.d});
  ref::ComplexTensor h0 = randomState(rng, {c.b, c.d, c.n});
  auto want = params.reference(x, h0);
  auto out = compileAndRun(cemaIR(c.b, c.len, c.d, c.n), "f",
                           params.args(x, h0));
  ASSERT_TRUE(out.count("result1"));
  EXPECT_LE(relError(out["result0"], want.result), kTol);
  EXPECT_LE(relError(out["result1"], want.finalState), kTol);
}

INSTANTIATE_TEST_SUITE_P(
    Lengths, CemaChunkedE2E,
    ::testing::Values(
        // 64 chunks and a tail of 5; D = 80 runs as 5 blocks of 16.
        CemaCase{"long_2053", 2, 2053, 80, 16, true},
        // D = 130: blocks of 26 channels (vector tails).
        CemaCase{"long_1000_d130", 1, 1000, 130, 4, true},
        CemaCase{"shorter_than_chunk", 2, 20, 6, 4, false},
        CemaCase{"one_step", 1, 1, 6, 4, false},
        CemaCase{"one_chunk", 1, 32, 24, 8, false},
        CemaCase{"chunk_plus_one", 2, 33, 24, 8, false},
        // D = 256: 4 blocks of 64 channels.
        CemaCase{"wide", 1, 300, 256, 16, true}),
    [](const ::testing::TestParamInfo<CemaCase> &info) {
      return std::string(info.param.name);
    });

// A stream fed in uneven pieces (a single step, shorter than a chunk,
// exactly a chunk, a chunk and one, long ones), the state carried from call
// to call, equals one call over the whole sequence.
TEST(CemaChunkedE2E, StreamingInUnevenPiecesEqualsOneCall) {
  std::mt19937 rng(9201);
  int64_t b = 2, d = 40, n = 8;
  std::vector<int64_t> pieces = {1, 31, 32, 33, 1, 517, 95};
  int64_t len = std::accumulate(pieces.begin(), pieces.end(), int64_t(0));
  CemaParams params(rng, d, n, /*longMemory=*/true);
  ref::Tensor x = randomTensor(rng, {b, len, d});
  ref::ComplexTensor h0 = randomState(rng, {b, d, n});
  auto want = params.reference(x, h0);

  auto whole = compileAndRun(cemaIR(b, len, d, n), "f", params.args(x, h0));
  ASSERT_TRUE(whole.count("result1"));
  EXPECT_LE(relError(whole["result0"], want.result), kTol);
  EXPECT_LE(relError(whole["result1"], want.finalState), kTol);

  ref::ComplexTensor h = h0;
  int64_t from = 0;
  for (int64_t piece : pieces) {
    auto out = compileAndRun(cemaIR(b, piece, d, n), "f",
                             params.args(timeSlice(x, from, piece), h));
    ASSERT_TRUE(out.count("result1")) << "piece at " << from;
    EXPECT_LE(relError(out["result0"], timeSlice(want.result, from, piece)),
              kTol)
        << "piece at " << from << " of " << piece << " steps";
    h = out["result1"].asComplex();
    from += piece;
  }
  Output last;
  last.shape = h.shape;
  for (const auto &v : h.data) {
    last.values.push_back(v.real());
    last.values.push_back(v.imag());
  }
  EXPECT_LE(relError(last, want.finalState), kTol);
}

// f64 activations: the scan still runs in fp32 (the op's contract) and the
// result comes back in f64.
TEST(CemaChunkedE2E, F64ActivationsComputeInF32) {
  std::mt19937 rng(9202);
  int64_t b = 1, len = 70, d = 16, n = 4;
  CemaParams params(rng, d, n, /*longMemory=*/false);
  ref::Tensor x = randomTensor(rng, {b, len, d});
  ref::ComplexTensor h0 = randomState(rng, {b, d, n});
  auto want = params.reference(x, h0);
  auto out = compileAndRun(cemaIR(b, len, d, n, "f64"), "f",
                           params.args(x, h0));
  ASSERT_TRUE(out.count("result1"));
  EXPECT_EQ(out["result0"].dtype, "F64");
  EXPECT_LE(relError(out["result0"], want.result), kTol);
  EXPECT_LE(relError(out["result1"], want.finalState), kTol);
}

//===----------------------------------------------------------------------===//
// Mixture-of-Depths
//===----------------------------------------------------------------------===//

/// route.depth -> gather -> scaled scatter_add over [B, S, D].
std::string depthIR(const std::string &mode, int64_t b, int64_t s, int64_t d,
                    int64_t k, double capacity) {
  std::string tx = tensorType({b, s, d}), tw = tensorType({d}),
              ti = tensorType({b, k}, "i64"), tr = tensorType({b, k}),
              tg = tensorType({b, k, d});
  char cap[64];
  std::snprintf(cap, sizeof(cap), "%.17e", capacity);
  return "func.func @f(%x: " + tx + ", %w: " + tw + ") -> (" + ti + ", " +
         tr + ", " + tx + ") {\n  %idx, %r = lctx.route.depth " + mode +
         " %x, %w {capacity = " + cap + " : f64} : " + tx + ", " + tw +
         "\n  %g = lctx.route.gather %x, %idx : " + tx + ", " + ti +
         "\n  %y = lctx.route.scatter_add %x, %g, %idx, %r : " + tx + ", " +
         tg + ", " + ti + ", " + tr + "\n  return %idx, %r, %y : " + ti +
         ", " + tr + ", " + tx + "\n}\n";
}

/// Tokens whose router logits are exact in fp32 and float64 alike and tie
/// often: x[b, s] = a[b, s] u with a drawn from `levels` multiples of 1/16
/// (centred on `offset`), and u, w small integers, so every product and
/// partial sum is a small dyadic number. u . w > 0, so the logits have the
/// sign of a.
void tiedTokens(std::mt19937 &rng, int64_t b, int64_t s, int64_t d,
                int levels, int offset, ref::Tensor &x, ref::Tensor &w) {
  std::uniform_int_distribution<int> small(-3, 3), level(0, levels - 1);
  std::vector<double> u(d);
  w = ref::Tensor({d});
  double uw = 0;
  do {
    uw = 0;
    for (int64_t i = 0; i < d; ++i) {
      u[i] = small(rng);
      w(i) = small(rng);
      uw += u[i] * w(i);
    }
  } while (uw <= 0);
  x = ref::Tensor({b, s, d});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si) {
      double a = (level(rng) - offset) / 16.0;
      for (int64_t i = 0; i < d; ++i)
        x(bi, si, i) = a * u[i];
    }
}

struct DepthCase {
  const char *name;
  const char *mode;
  int64_t b, s, d;
  double capacity;
  int levels, offset; // of the tied logits (see tiedTokens)
};

class RouteDepthSelectE2E : public ::testing::TestWithParam<DepthCase> {};

TEST_P(RouteDepthSelectE2E, MatchesReferenceBitExact) {
  const DepthCase &c = GetParam();
  std::mt19937 rng(9300 + static_cast<unsigned>(c.s));
  ref::Tensor x, w;
  tiedTokens(rng, c.b, c.s, c.d, c.levels, c.offset, x, w);
  bool topk = std::string(c.mode) == "topk";
  auto want = ref::routeDepth(
      topk ? ref::DepthRouting::Topk : ref::DepthRouting::Causal, x, w,
      c.capacity);
  int64_t k = want.indices.dim(1);
  auto out = compileAndRun(depthIR(c.mode, c.b, c.s, c.d, k, c.capacity), "f",
                           {{"input0", HostValue::of(x)},
                            {"input1", HostValue::of(w)}});
  ASSERT_TRUE(out.count("result2"));
  EXPECT_EQ(out["result0"].asInts().data, want.indices.data);
  EXPECT_LE(relError(out["result1"], want.weights), 1e-6);
  ref::Tensor gathered = ref::routeGather(x, want.indices);
  ref::Tensor y = ref::routeScatterAdd(x, gathered, want.indices,
                                       &want.weights);
  EXPECT_LE(relError(out["result2"], y), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RouteDepthSelectE2E,
    ::testing::Values(
        // 7 logit levels over 37 tokens: the k-th largest sits in a tie.
        DepthCase{"ties", "topk", 2, 37, 8, 0.25, 7, 3},
        // k = floor(0.03 * 37) = 1, the maximum tied between tokens.
        DepthCase{"k_1", "topk", 2, 37, 8, 0.03, 3, 0},
        // k = S (capacity 1): every token, in order.
        DepthCase{"k_S", "topk", 2, 37, 8, 1.0, 5, 2},
        // Long rows, negative and positive logits in 401 levels.
        DepthCase{"long", "topk", 2, 3000, 16, 0.1, 401, 200},
        // All logits negative (the key order of negative floats).
        DepthCase{"negative", "topk", 1, 500, 8, 0.3, 50, 60},
        // Causal routing (r > 0), zeros included, over a long row.
        DepthCase{"causal", "causal", 2, 300, 8, 0.125, 9, 4}),
    [](const ::testing::TestParamInfo<DepthCase> &info) {
      return std::string(info.param.name);
    });

// scatter_add on hand-written indices: repeats accumulate in order,
// indices outside [0, S) are skipped; with and without weights.
TEST(RouteScatterAddE2E, RepeatsAccumulateAndOutOfRangeIsSkipped) {
  std::mt19937 rng(9400);
  int64_t b = 2, s = 11, d = 20, k = 9;
  ref::Tensor x = randomTensor(rng, {b, s, d}),
              upd = randomTensor(rng, {b, k, d}),
              wts = randomTensor(rng, {b, k});
  ref::IntTensor idx({b, k}, {3, 3, -1, 10, 0, 11, 3, 7, 0,  //
                              5, 100, 5, 5, 2, -7, 1, 9, 10});
  std::string tx = tensorType({b, s, d}), tu = tensorType({b, k, d}),
              ti = tensorType({b, k}, "i64"), tw = tensorType({b, k});
  std::string ir =
      "func.func @f(%x: " + tx + ", %u: " + tu + ", %i: " + ti + ", %w: " +
      tw + ") -> (" + tx + ", " + tx + ") {\n  %a = lctx.route.scatter_add "
      "%x, %u, %i, %w : " + tx + ", " + tu + ", " + ti + ", " + tw +
      "\n  %b = lctx.route.scatter_add %x, %u, %i : " + tx + ", " + tu + ", " +
      ti + "\n  return %a, %b : " + tx + ", " + tx + "\n}\n";
  auto out = compileAndRun(ir, "f",
                           {{"input0", HostValue::of(x)},
                            {"input1", HostValue::of(upd)},
                            {"input2", HostValue::of(idx)},
                            {"input3", HostValue::of(wts)}});
  ASSERT_TRUE(out.count("result1"));
  EXPECT_LE(relError(out["result0"], ref::routeScatterAdd(x, upd, idx, &wts)),
            1e-6);
  EXPECT_LE(relError(out["result1"], ref::routeScatterAdd(x, upd, idx, nullptr)),
            1e-6);
}

} // namespace
