//===- CemaOps.cpp - Reference Megalodon CEMA and TimestepNorm ------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lctx.cema.scan as the sequential recurrence, in the official code's
// parameterization, and lctx.cema.timestep_norm as a step-by-step merge of
// per-step group moments into the carried (count, mean, var).
//
//===----------------------------------------------------------------------===//

#include "LCtxReference.h"

#include <cmath>

namespace lctx::reference {

namespace {
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
} // namespace

CemaScanResult cemaScan(const Tensor &input, const Tensor &alpha,
                        const Tensor &delta, const Tensor &theta,
                        const ComplexTensor &gamma, const Tensor &omega,
                        const ComplexTensor &initState) {
  check(input.rank() == 3, "cema.scan: x must be [B, L, D]");
  const int64_t b = input.dim(0), l = input.dim(1), d = input.dim(2);
  check(alpha.rank() == 2 && alpha.dim(0) == d,
        "cema.scan: alpha must be [D, N]");
  const int64_t n = alpha.dim(1);
  check(n > 0, "cema.scan: N must be positive");
  check(delta.shape == alpha.shape, "cema.scan: delta must be [D, N]");
  check(gamma.shape == alpha.shape, "cema.scan: gamma must be [D, N]");
  check(theta.shape == Shape({d}), "cema.scan: theta must be [D]");
  check(omega.shape == Shape({d}), "cema.scan: omega must be [D]");
  check(initState.shape == Shape({b, d, n}),
        "cema.scan: init_state must be [B, D, N]");

  const double pi = std::acos(-1.0);
  const double invSqrtN = 1.0 / std::sqrt(static_cast<double>(n));
  CemaScanResult res{Tensor({b, l, d}), initState};
  for (int64_t di = 0; di < d; ++di) {
    for (int64_t ni = 0; ni < n; ++ni) {
      const double p = sigmoid(alpha(di, ni));
      const double angle = sigmoid(theta(di)) * (2.0 * pi / n) * (ni + 1);
      const double magnitude =
          1.0 - sigmoid(alpha(di, ni)) * sigmoid(delta(di, ni));
      const std::complex<double> q = std::polar(magnitude, angle);
      const std::complex<double> g = gamma(di, ni) * invSqrtN;
      for (int64_t bi = 0; bi < b; ++bi) {
        std::complex<double> h = initState(bi, di, ni);
        for (int64_t t = 0; t < l; ++t) {
          h = p * input(bi, t, di) + q * h;
          res.result(bi, t, di) += (g * h).real();
        }
        res.finalState(bi, di, ni) = h;
      }
    }
  }
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t t = 0; t < l; ++t)
      for (int64_t di = 0; di < d; ++di)
        res.result(bi, t, di) += omega(di) * input(bi, t, di);
  return res;
}

TimestepNormResult cemaTimestepNorm(const Tensor &input, const Tensor &weight,
                                    const Tensor &bias, const IntTensor &count,
                                    const Tensor &mean, const Tensor &var,
                                    int64_t numGroups, double epsilon) {
  check(input.rank() == 3, "timestep_norm: x must be [B, L, D]");
  const int64_t b = input.dim(0), l = input.dim(1), d = input.dim(2),
                g = numGroups;
  check(g > 0 && d % g == 0, "timestep_norm: num_groups must divide D");
  check(epsilon > 0.0, "timestep_norm: epsilon must be > 0");
  check(weight.shape == Shape({d}) && bias.shape == Shape({d}),
        "timestep_norm: weight and bias must be [D]");
  check(count.shape == Shape({b}), "timestep_norm: count must be [B]");
  check(mean.shape == Shape({b, g}) && var.shape == Shape({b, g}),
        "timestep_norm: mean and var must be [B, G]");
  const int64_t dg = d / g;
  TimestepNormResult res{Tensor({b, l, d}), count, mean, var};
  for (int64_t bi = 0; bi < b; ++bi) {
    check(count(bi) >= 0, "timestep_norm: negative count");
    res.newCount(bi) = count(bi) + l;
    for (int64_t gi = 0; gi < g; ++gi) {
      // Running statistics over all elements seen: n elements, mean m,
      // biased variance v. The carried state holds count steps of dg each.
      double n = static_cast<double>(count(bi) * dg);
      double m = mean(bi, gi), v = var(bi, gi);
      for (int64_t t = 0; t < l; ++t) {
        // This step's dg elements: their mean and biased variance.
        double stepMean = 0.0, stepVar = 0.0;
        for (int64_t j = 0; j < dg; ++j)
          stepMean += input(bi, t, gi * dg + j);
        stepMean /= static_cast<double>(dg);
        for (int64_t j = 0; j < dg; ++j) {
          double c = input(bi, t, gi * dg + j) - stepMean;
          stepVar += c * c;
        }
        stepVar /= static_cast<double>(dg);
        // Chan et al. merge of (n, m, v) with (dg, stepMean, stepVar).
        const double nb = static_cast<double>(dg), total = n + nb;
        const double diff = stepMean - m;
        const double merged = m + diff * nb / total;
        v = (n * v + nb * stepVar + diff * diff * n * nb / total) / total;
        m = merged;
        n = total;
        const double inv = 1.0 / std::sqrt(v + epsilon);
        for (int64_t j = 0; j < dg; ++j) {
          const int64_t di = gi * dg + j;
          res.result(bi, t, di) =
              (input(bi, t, di) - m) * inv * (weight(di) + 1.0) + bias(di);
        }
      }
      res.newMean(bi, gi) = m;
      res.newVar(bi, gi) = v;
    }
  }
  return res;
}

} // namespace lctx::reference
