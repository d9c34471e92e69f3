//===- CemaOpsTest.cpp - Tests of the reference CEMA and TimestepNorm -----===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Hand cases; the sequential CEMA scan against the parallel (kernel + bias
// + causal convolution) form and the closed-form final state; streaming in
// uneven pieces (1e-12); TimestepNorm against naive recomputation from all
// previous elements. Tolerances are stated per test.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include <cmath>

using namespace lctx::reference;
using namespace lctx::reference::test;

namespace {

using C = std::complex<double>;

//===----------------------------------------------------------------------===//
// cema.scan: hand-computed
//===----------------------------------------------------------------------===//

// D = N = 1, alpha = delta = theta = 0: p = 1/2, |q| = 1 - 1/4 = 3/4,
// theta' = sigmoid(0) * 2 pi * 1 = pi, so q = -3/4. gamma = 2, omega = 1/2,
// x = (1, 2), h0 = 0:
//   h1 = 1/2           y1 = Re(2 h1) + 1/2 = 1.5
//   h2 = 1 - 3/8 = 5/8 y2 = 5/4 + 1 = 2.25, final state 5/8.
// h0 = i: h1 = 1/2 - 3i/4, h2 = 5/8 + 9i/16; Re parts unchanged for real
// gamma. gamma = i reads -Im(h): y = (3/4 + 1/2, -9/16 + 1) = (1.25, 0.4375).
TEST(CemaHand, ScalarRecurrence) {
  Tensor x({1, 2, 1}, {1, 2}), zero({1, 1}), theta({1}), omega({1}, {0.5});
  ComplexTensor gamma({1, 1}, {C(2, 0)}), h0({1, 1, 1});
  CemaScanResult r = cemaScan(x, zero, zero, theta, gamma, omega, h0);
  EXPECT_TRUE(allClose(r.result, Tensor({1, 2, 1}, {1.5, 2.25}), 1e-15));
  EXPECT_NEAR(std::abs(r.finalState(0, 0, 0) - C(0.625, 0)), 0, 1e-15);

  ComplexTensor hi({1, 1, 1}, {C(0, 1)});
  r = cemaScan(x, zero, zero, theta, gamma, omega, hi);
  EXPECT_TRUE(allClose(r.result, Tensor({1, 2, 1}, {1.5, 2.25}), 1e-15));
  EXPECT_NEAR(std::abs(r.finalState(0, 0, 0) - C(0.625, 0.5625)), 0, 1e-15);

  ComplexTensor gi({1, 1}, {C(0, 1)});
  r = cemaScan(x, zero, zero, theta, gi, omega, hi);
  EXPECT_TRUE(allClose(r.result, Tensor({1, 2, 1}, {1.25, 0.4375}), 1e-15));
}

// N = 2 checks theta' = sigmoid(theta) 2 pi / N (n + 1) and gamma / sqrt(N).
// theta = 0: angles pi/2 and pi, q = (3i/4, -3/4). gamma = (sqrt2, sqrt2)
// so gamma / sqrt(2) = 1. x = (1, 0), omega = 0:
//   h1 = (1/2, 1/2)          y1 = 1
//   h2 = (3i/8, -3/8)        y2 = -3/8.
// alpha = ln 3 (p = 3/4) and delta = 0 make |q| = 1 - 3/8 = 5/8 on n = 0.
TEST(CemaHand, OrderTwoAnglesAndNormalization) {
  Tensor x({1, 2, 1}, {1, 0}), zero({1, 2}), theta({1}), omega({1});
  const double r2 = std::sqrt(2.0);
  ComplexTensor gamma({1, 2}, {C(r2, 0), C(r2, 0)}), h0({1, 1, 2});
  CemaScanResult r = cemaScan(x, zero, zero, theta, gamma, omega, h0);
  EXPECT_TRUE(allClose(r.result, Tensor({1, 2, 1}, {1, -0.375}), 1e-15, 1e-16));
  EXPECT_NEAR(std::abs(r.finalState(0, 0, 0) - C(0, 0.375)), 0, 1e-16);
  EXPECT_NEAR(std::abs(r.finalState(0, 0, 1) - C(-0.375, 0)), 0, 1e-16);

  Tensor alpha({1, 2}, {std::log(3.0), 0});
  ComplexTensor h1({1, 1, 2}, {C(1, 0), C(0, 0)});
  Tensor none({1, 0, 1});
  // With L = 0 the final state is h0 and y is empty.
  EXPECT_TRUE(allEqual(
      cemaScan(none, alpha, zero, theta, gamma, omega, h1).finalState, h1));
  // One zero input step multiplies h0 by q = (5/8) e^{i pi/2}.
  Tensor x0({1, 1, 1});
  EXPECT_NEAR(std::abs(cemaScan(x0, alpha, zero, theta, gamma, omega, h1)
                           .finalState(0, 0, 0) -
                       C(0, 0.625)),
              0, 1e-15);
}

//===----------------------------------------------------------------------===//
// cema.scan: cross-formulation
//===----------------------------------------------------------------------===//

struct CemaInputs {
  Tensor x, alpha, delta, theta, omega;
  ComplexTensor gamma, h0;
};

CemaInputs randomCema(std::mt19937 &rng, int64_t b, int64_t l, int64_t d,
                      int64_t n) {
  return {randomTensor(rng, {b, l, d}),     randomTensor(rng, {d, n}, -2, 2),
          randomTensor(rng, {d, n}, -2, 2), randomTensor(rng, {d}, -3, 3),
          randomTensor(rng, {d}),           randomComplex(rng, {d, n}),
          randomComplex(rng, {b, d, n})};
}

// Parallel form, from powers q^j (std::pow, not repeated products):
//   K[d, j] = Re(sum_n p gamma~ q^j), bias[b, d, t] = Re(sum_n gamma~
//   q^{t+1} h0), y = causal_conv(x, K) + bias + omega x,
//   h_L = p sum_j q^{L-1-j} x_j + q^L h0.
TEST(CemaCross, SequentialEqualsParallelForm) {
  std::mt19937 rng(51);
  const int64_t b = 2, l = 37, d = 3, n = 4;
  CemaInputs in = randomCema(rng, b, l, d, n);
  CemaScanResult got =
      cemaScan(in.x, in.alpha, in.delta, in.theta, in.gamma, in.omega, in.h0);
  const double pi = std::acos(-1.0);
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  Tensor y({b, l, d});
  ComplexTensor hL({b, d, n});
  for (int64_t di = 0; di < d; ++di) {
    std::vector<C> p(n), q(n), g(n);
    for (int64_t ni = 0; ni < n; ++ni) {
      p[ni] = sig(in.alpha(di, ni));
      q[ni] = std::polar(1 - sig(in.alpha(di, ni)) * sig(in.delta(di, ni)),
                         sig(in.theta(di)) * 2 * pi * (ni + 1) / n);
      g[ni] = in.gamma(di, ni) / std::sqrt(double(n));
    }
    std::vector<double> kernel(l);
    for (int64_t j = 0; j < l; ++j) {
      C acc = 0;
      for (int64_t ni = 0; ni < n; ++ni)
        acc += p[ni] * g[ni] * std::pow(q[ni], double(j));
      kernel[j] = acc.real();
    }
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t t = 0; t < l; ++t) {
        double acc = 0;
        for (int64_t j = 0; j <= t; ++j)
          acc += kernel[j] * in.x(bi, t - j, di);
        C bias = 0;
        for (int64_t ni = 0; ni < n; ++ni)
          bias += g[ni] * std::pow(q[ni], double(t + 1)) * in.h0(bi, di, ni);
        y(bi, t, di) = acc + bias.real() + in.omega(di) * in.x(bi, t, di);
      }
      for (int64_t ni = 0; ni < n; ++ni) {
        C acc = 0;
        for (int64_t j = 0; j < l; ++j)
          acc += std::pow(q[ni], double(l - 1 - j)) * in.x(bi, j, di);
        hL(bi, di, ni) =
            p[ni] * acc + std::pow(q[ni], double(l)) * in.h0(bi, di, ni);
      }
    }
  }
  EXPECT_TRUE(allClose(got.result, y, 1e-11, 1e-12));
  for (int64_t i = 0; i < hL.numel(); ++i)
    EXPECT_NEAR(std::abs(got.finalState.data[i] - hL.data[i]), 0,
                1e-11 * (1 + std::abs(hL.data[i])));
}

// One call equals uneven pieces carrying the state (1e-12).
TEST(CemaCross, StreamingInUnevenPieces) {
  std::mt19937 rng(52);
  const int64_t l = 23;
  CemaInputs in = randomCema(rng, 2, l, 3, 5);
  CemaScanResult whole =
      cemaScan(in.x, in.alpha, in.delta, in.theta, in.gamma, in.omega, in.h0);
  ComplexTensor h = in.h0;
  std::vector<Tensor> ys;
  int64_t t0 = 0;
  for (int64_t len : {1, 7, 0, 2, 9, 4}) {
    CemaScanResult part = cemaScan(sliceDim(in.x, 1, t0, t0 + len), in.alpha,
                                   in.delta, in.theta, in.gamma, in.omega, h);
    ys.push_back(part.result);
    h = part.finalState;
    t0 += len;
  }
  ASSERT_EQ(t0, l);
  EXPECT_TRUE(allClose(concatDim(ys, 1), whole.result, 1e-12, 1e-14));
  for (int64_t i = 0; i < h.numel(); ++i)
    EXPECT_NEAR(std::abs(h.data[i] - whole.finalState.data[i]), 0, 1e-12);
}

//===----------------------------------------------------------------------===//
// cema.timestep_norm
//===----------------------------------------------------------------------===//

// D = 2, G = 1, epsilon = 3, weight 0, bias 0. Step 0 (1, 3): mean 2,
// var 1 -> /sqrt(4): (-0.5, 0.5). Step 1 (5, 7): all of {1, 3, 5, 7} has
// mean 4, var (9 + 1 + 1 + 9) / 4 = 5 -> /sqrt(8): (1, 3) / (2 sqrt 2).
// weight (1, -0.5) scales by (2, 0.5); bias (0, 1) shifts.
TEST(TimestepNormHand, CumulativeGroupStatistics) {
  Tensor x({1, 2, 2}, {1, 3, 5, 7}), w({2}), bias({2});
  IntTensor c0({1}, {0});
  Tensor m0({1, 1}), v0({1, 1}, {1});
  const double s8 = std::sqrt(8.0);
  TimestepNormResult r = cemaTimestepNorm(x, w, bias, c0, m0, v0, 1, 3.0);
  EXPECT_TRUE(allClose(r.result, Tensor({1, 2, 2}, {-0.5, 0.5, 1 / s8, 3 / s8}),
                       1e-15));
  EXPECT_EQ(r.newCount(0), 2);
  EXPECT_NEAR(r.newMean(0, 0), 4, 1e-15);
  EXPECT_NEAR(r.newVar(0, 0), 5, 1e-15);

  Tensor w2({2}, {1, -0.5}), b2({2}, {0, 1});
  r = cemaTimestepNorm(x, w2, b2, c0, m0, v0, 1, 3.0);
  EXPECT_TRUE(allClose(r.result,
                       Tensor({1, 2, 2}, {-1, 1.25, 2 / s8, 0.5 * 3 / s8 + 1}),
                       1e-15));

  // Carried state (count 1, mean 2, var 1) is step 0; feeding step 1 alone
  // reproduces step 1.
  IntTensor c1({1}, {1});
  Tensor m1({1, 1}, {2});
  TimestepNormResult s =
      cemaTimestepNorm(sliceDim(x, 1, 1, 2), w, bias, c1, m1, v0, 1, 3.0);
  EXPECT_TRUE(allClose(s.result, Tensor({1, 1, 2}, {1 / s8, 3 / s8}), 1e-15));
  EXPECT_EQ(s.newCount(0), 2);
  // The initial var = 1 of an empty state is ignored (count 0).
  Tensor vOther({1, 1}, {123});
  EXPECT_TRUE(
      allEqual(cemaTimestepNorm(x, w, bias, c0, m0, vOther, 1, 3.0).result,
               cemaTimestepNorm(x, w, bias, c0, m0, v0, 1, 3.0).result));
}

// G = 2 groups of 2 are independent: group 1 gets (10, 30) at step 0 ->
// mean 20, var 100, epsilon 0 is invalid so use 1e-300: (-1, 1).
TEST(TimestepNormHand, GroupsAreIndependent) {
  Tensor x({1, 1, 4}, {1, 3, 10, 30}), w({4}), bias({4});
  TimestepNormResult r =
      cemaTimestepNorm(x, w, bias, IntTensor({1}, {0}), Tensor({1, 2}),
                       Tensor::full({1, 2}, 1.0), 2, 1e-300);
  EXPECT_TRUE(allClose(r.result, Tensor({1, 1, 4}, {-1, 1, -1, 1}), 1e-15));
  EXPECT_TRUE(allClose(r.newMean, Tensor({1, 2}, {2, 20}), 1e-15));
  EXPECT_TRUE(allClose(r.newVar, Tensor({1, 2}, {1, 100}), 1e-15));
  EXPECT_THROW(cemaTimestepNorm(x, w, bias, IntTensor({1}, {0}), Tensor({1, 3}),
                                Tensor({1, 3}), 3),
               std::invalid_argument);
}

/// Naive: the (mean, biased var) of all elements of group g of row b at
/// steps <= t of `history` ([B, T, D]), recomputed from scratch.
std::pair<double, double> naiveStats(const Tensor &history, int64_t b,
                                     int64_t g, int64_t dg, int64_t t) {
  double sum = 0, n = 0;
  for (int64_t s = 0; s <= t; ++s)
    for (int64_t j = 0; j < dg; ++j) {
      sum += history(b, s, g * dg + j);
      n += 1;
    }
  const double mean = sum / n;
  double ss = 0;
  for (int64_t s = 0; s <= t; ++s)
    for (int64_t j = 0; j < dg; ++j)
      ss += (history(b, s, g * dg + j) - mean) *
            (history(b, s, g * dg + j) - mean);
  return {mean, ss / n};
}

// A prefix builds the state naively; the op on the rest (from that state)
// equals naive recomputation over prefix + rest, per row of different
// prefix lengths.
TEST(TimestepNormCross, CarriedStateEqualsNaiveRecomputation) {
  std::mt19937 rng(61);
  const int64_t b = 2, l = 9, d = 6, g = 3, dg = 2;
  const std::vector<int64_t> prefixLen = {5, 0};
  const int64_t maxPrefix = 5;
  Tensor prefix = randomTensor(rng, {b, maxPrefix, d}, -2, 3);
  Tensor x = randomTensor(rng, {b, l, d}, -2, 3);
  Tensor w = randomTensor(rng, {d}), bias = randomTensor(rng, {d});
  IntTensor count({b});
  Tensor mean({b, g}), var = Tensor::full({b, g}, 1.0);
  for (int64_t bi = 0; bi < b; ++bi) {
    count(bi) = prefixLen[bi];
    if (prefixLen[bi] == 0)
      continue;
    for (int64_t gi = 0; gi < g; ++gi) {
      auto [m, v] = naiveStats(prefix, bi, gi, dg, prefixLen[bi] - 1);
      mean(bi, gi) = m;
      var(bi, gi) = v;
    }
  }
  const double epsilon = 1e-5;
  TimestepNormResult r =
      cemaTimestepNorm(x, w, bias, count, mean, var, g, epsilon);
  for (int64_t bi = 0; bi < b; ++bi) {
    Tensor hist = concatDim<double>(
        {sliceDim(sliceDim(prefix, 0, bi, bi + 1), 1, 0, prefixLen[bi]),
         sliceDim(x, 0, bi, bi + 1)},
        1);
    for (int64_t t = 0; t < l; ++t)
      for (int64_t gi = 0; gi < g; ++gi) {
        auto [m, v] = naiveStats(hist, 0, gi, dg, prefixLen[bi] + t);
        for (int64_t j = 0; j < dg; ++j) {
          const int64_t di = gi * dg + j;
          const double want =
              (x(bi, t, di) - m) / std::sqrt(v + epsilon) * (w(di) + 1) +
              bias(di);
          EXPECT_NEAR(r.result(bi, t, di), want, 1e-12 * (1 + std::abs(want)));
        }
        if (t == l - 1) {
          EXPECT_NEAR(r.newMean(bi, gi), m, 1e-13);
          EXPECT_NEAR(r.newVar(bi, gi), v, 1e-12 * v);
        }
      }
    EXPECT_EQ(r.newCount(bi), prefixLen[bi] + l);
  }
}

// One call equals uneven pieces carrying (count, mean, var) (1e-12).
TEST(TimestepNormCross, StreamingInUnevenPieces) {
  std::mt19937 rng(62);
  const int64_t b = 2, l = 20, d = 8, g = 4;
  Tensor x = randomTensor(rng, {b, l, d}, -1, 4);
  Tensor w = randomTensor(rng, {d}), bias = randomTensor(rng, {d});
  IntTensor count({b}, {0, 3});
  Tensor mean = randomTensor(rng, {b, g}),
         var = randomTensor(rng, {b, g}, 0.5, 2);
  mean(0, 0) = 0; // row 0 starts empty: mean 0, var 1
  for (int64_t gi = 0; gi < g; ++gi) {
    mean(0, gi) = 0;
    var(0, gi) = 1;
  }
  TimestepNormResult whole = cemaTimestepNorm(x, w, bias, count, mean, var, g);
  std::vector<Tensor> ys;
  int64_t t0 = 0;
  for (int64_t len : {3, 1, 0, 11, 5}) {
    TimestepNormResult part = cemaTimestepNorm(sliceDim(x, 1, t0, t0 + len), w,
                                               bias, count, mean, var, g);
    ys.push_back(part.result);
    count = part.newCount;
    mean = part.newMean;
    var = part.newVar;
    t0 += len;
  }
  ASSERT_EQ(t0, l);
  EXPECT_TRUE(allClose(concatDim(ys, 1), whole.result, 1e-12, 1e-14));
  EXPECT_TRUE(allEqual(count, whole.newCount));
  EXPECT_TRUE(allClose(mean, whole.newMean, 1e-12, 1e-14));
  EXPECT_TRUE(allClose(var, whole.newVar, 1e-12));
}

} // namespace
