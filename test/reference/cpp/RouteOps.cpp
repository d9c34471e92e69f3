//===- RouteOps.cpp - Reference Switch and Mixture-of-Depths routing ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lctx.route.experts / dispatch / combine / moe (Switch top-1 with capacity
// per batch row) and lctx.route.depth / gather / scatter_add (MoD).
//
//===----------------------------------------------------------------------===//

#include "LCtxReference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace lctx::reference {

int64_t floorProduct(double x, double f) {
  const double product = x * f;
  return static_cast<int64_t>(
      std::floor(product + 1e-9 * std::max(1.0, product)));
}

int64_t switchCapacity(int64_t groupSize, int64_t numExperts,
                       double capacityFactor, bool dropless) {
  check(numExperts > 0, "switch: the expert count must be positive");
  if (dropless)
    return groupSize;
  const double perExpert = static_cast<double>(groupSize) * capacityFactor /
                           static_cast<double>(numExperts);
  return std::max<int64_t>(1, floorProduct(perExpert, 1.0));
}

RouteExpertsResult routeExperts(const Tensor &input, const Tensor &router,
                                double capacityFactor, bool dropless,
                                double auxLossCoef) {
  check(input.rank() == 3 && router.rank() == 2,
        "route.experts: x [B, S, D], router [D, E]");
  const int64_t b = input.dim(0), s = input.dim(1), d = input.dim(2),
                e = router.dim(1);
  check(router.dim(0) == d, "route.experts: router must be [D, E]");
  const int64_t cap = switchCapacity(s, e, capacityFactor, dropless);
  RouteExpertsResult res{IntTensor({b, s}), Tensor({b, s}), IntTensor({b, s}),
                         0.0};
  std::vector<double> tokensPerExpert(e, 0.0), probSum(e, 0.0);
  std::vector<double> prob(e);
  for (int64_t bi = 0; bi < b; ++bi) {
    std::vector<int64_t> used(e, 0); // positions handed out in this row
    for (int64_t si = 0; si < s; ++si) {
      double maxLogit = 0.0;
      for (int64_t ei = 0; ei < e; ++ei) {
        double logit = 0.0;
        for (int64_t i = 0; i < d; ++i)
          logit += input(bi, si, i) * router(i, ei);
        prob[ei] = logit;
        maxLogit = ei == 0 ? logit : std::max(maxLogit, logit);
      }
      double denom = 0.0;
      for (int64_t ei = 0; ei < e; ++ei)
        denom += std::exp(prob[ei] - maxLogit);
      int64_t best = 0;
      for (int64_t ei = 0; ei < e; ++ei) {
        prob[ei] = std::exp(prob[ei] - maxLogit) / denom;
        probSum[ei] += prob[ei];
        if (prob[ei] > prob[best]) // strict: ties keep the lowest index
          best = ei;
      }
      res.expert(bi, si) = best;
      res.gate(bi, si) = prob[best];
      const int64_t position = used[best]++;
      res.slot(bi, si) = position < cap ? position : -1;
      tokensPerExpert[best] += 1.0;
    }
  }
  const double tokens = static_cast<double>(b * s);
  double sum = 0.0;
  for (int64_t ei = 0; ei < e; ++ei)
    sum += (tokensPerExpert[ei] / tokens) * (probSum[ei] / tokens);
  res.auxLoss = auxLossCoef * static_cast<double>(e) * sum;
  return res;
}

namespace {
void checkTokenMap(const Tensor &x, const IntTensor &expert,
                   const IntTensor &slot, const char *op) {
  const std::string name(op);
  check(x.rank() == 3, name + ": tokens must be [B, S, D]");
  check(expert.shape == Shape({x.dim(0), x.dim(1)}) &&
            slot.shape == expert.shape,
        name + ": expert and slot must be [B, S]");
}
} // namespace

Tensor routeDispatch(const Tensor &input, const IntTensor &expert,
                     const IntTensor &slot, int64_t numExperts,
                     int64_t capacity) {
  checkTokenMap(input, expert, slot, "route.dispatch");
  check(numExperts > 0 && capacity > 0, "route.dispatch: E and C positive");
  const int64_t b = input.dim(0), s = input.dim(1), d = input.dim(2);
  Tensor out({numExperts, b * capacity, d});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si) {
      const int64_t e = expert(bi, si), c = slot(bi, si);
      if (e < 0 || e >= numExperts || c < 0 || c >= capacity)
        continue; // dropped
      for (int64_t i = 0; i < d; ++i)
        out(e, bi * capacity + c, i) = input(bi, si, i);
    }
  return out;
}

Tensor routeCombine(const Tensor &expertOut, const IntTensor &expert,
                    const IntTensor &slot, const Tensor &gate) {
  check(expertOut.rank() == 3 && expert.rank() == 2,
        "route.combine: expert_out [E, B*C, D], expert [B, S]");
  const int64_t numExperts = expertOut.dim(0), b = expert.dim(0),
                s = expert.dim(1), d = expertOut.dim(2);
  check(b > 0 && expertOut.dim(1) % b == 0,
        "route.combine: B must divide expert_out's dim 1");
  check(slot.shape == expert.shape && gate.shape == Shape({b, s}),
        "route.combine: slot and gate must be [B, S]");
  const int64_t capacity = expertOut.dim(1) / b;
  Tensor out({b, s, d});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si) {
      const int64_t e = expert(bi, si), c = slot(bi, si);
      if (e < 0 || e >= numExperts || c < 0 || c >= capacity)
        continue; // exactly 0
      for (int64_t i = 0; i < d; ++i)
        out(bi, si, i) = gate(bi, si) * expertOut(e, bi * capacity + c, i);
    }
  return out;
}

RouteMoeResult routeMoe(Activation activation, const Tensor &input,
                        const Tensor &router, const Tensor &wIn,
                        const Tensor &wOut, const Tensor *wGate,
                        double capacityFactor, bool dropless,
                        double auxLossCoef) {
  check(wIn.rank() == 3 && wOut.rank() == 3,
        "route.moe: w_in [E, D, F], w_out [E, F, D]");
  check(wIn.dim(0) == router.dim(1) && wOut.dim(0) == router.dim(1),
        "route.moe: expert count mismatch");
  RouteExpertsResult route =
      routeExperts(input, router, capacityFactor, dropless, auxLossCoef);
  const int64_t b = input.dim(0), s = input.dim(1), d = input.dim(2);
  check(wOut.dim(2) == d, "route.moe: w_out must map back to D");
  RouteMoeResult res{Tensor({b, s, d}), route.auxLoss};
  // Token by token: y = gate * FFN_expert(x) if kept, else 0.
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si) {
      if (route.slot(bi, si) < 0)
        continue;
      const int64_t e = route.expert(bi, si);
      Tensor x({1, d});
      for (int64_t i = 0; i < d; ++i)
        x(0, i) = input(bi, si, i);
      auto expertSlice = [&](const Tensor &w) {
        Tensor m({w.dim(1), w.dim(2)});
        std::copy(w.data.begin() + e * w.dim(1) * w.dim(2),
                  w.data.begin() + (e + 1) * w.dim(1) * w.dim(2),
                  m.data.begin());
        return m;
      };
      Tensor gateW;
      if (wGate)
        gateW = expertSlice(*wGate);
      Tensor y = ffn(activation, x, expertSlice(wIn), expertSlice(wOut),
                     wGate ? &gateW : nullptr);
      for (int64_t i = 0; i < d; ++i)
        res.result(bi, si, i) = route.gate(bi, si) * y(0, i);
    }
  return res;
}

int64_t depthSelected(DepthRouting mode, double capacity, int64_t seqLen) {
  check(capacity > 0.0 && capacity <= 1.0,
        "route.depth: capacity must be in (0, 1]");
  if (mode == DepthRouting::Causal)
    return seqLen;
  return std::clamp<int64_t>(
      floorProduct(static_cast<double>(seqLen), capacity), 0, seqLen);
}

RouteDepthResult routeDepth(DepthRouting mode, const Tensor &input,
                            const Tensor &router, double capacity) {
  check(input.rank() == 3 && router.shape == Shape({input.dim(2)}),
        "route.depth: x [B, S, D], router [D]");
  const int64_t b = input.dim(0), s = input.dim(1), d = input.dim(2);
  const int64_t k = depthSelected(mode, capacity, s);
  RouteDepthResult res{IntTensor::full({b, k}, -1), Tensor({b, k})};
  for (int64_t bi = 0; bi < b; ++bi) {
    std::vector<double> r(s, 0.0);
    for (int64_t si = 0; si < s; ++si)
      for (int64_t i = 0; i < d; ++i)
        r[si] += input(bi, si, i) * router(i);
    std::vector<int64_t> chosen;
    if (mode == DepthRouting::Topk) {
      std::vector<int64_t> order(s);
      std::iota(order.begin(), order.end(), 0);
      // Largest r first; among equal r the lowest index first.
      std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
        return r[x] > r[y] || (r[x] == r[y] && x < y);
      });
      chosen.assign(order.begin(), order.begin() + k);
      std::sort(chosen.begin(), chosen.end());
    } else {
      for (int64_t si = 0; si < s; ++si)
        if (r[si] > 0.0) // sigmoid(r) > 0.5
          chosen.push_back(si);
    }
    for (size_t j = 0; j < chosen.size(); ++j) {
      res.indices(bi, j) = chosen[j];
      res.weights(bi, j) = r[chosen[j]];
    }
  }
  return res;
}

Tensor routeGather(const Tensor &input, const IntTensor &indices) {
  check(input.rank() == 3 && indices.rank() == 2 &&
            indices.dim(0) == input.dim(0),
        "route.gather: x [B, S, D], indices [B, k]");
  const int64_t b = input.dim(0), s = input.dim(1), d = input.dim(2),
                k = indices.dim(1);
  Tensor out({b, k, d});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t j = 0; j < k; ++j) {
      const int64_t idx = indices(bi, j);
      if (idx < 0 || idx >= s)
        continue; // zero row
      for (int64_t i = 0; i < d; ++i)
        out(bi, j, i) = input(bi, idx, i);
    }
  return out;
}

Tensor routeScatterAdd(const Tensor &input, const Tensor &updates,
                       const IntTensor &indices, const Tensor *weights) {
  check(input.rank() == 3 && indices.rank() == 2 &&
            indices.dim(0) == input.dim(0),
        "route.scatter_add: x [B, S, D], indices [B, k]");
  const int64_t b = input.dim(0), s = input.dim(1), d = input.dim(2),
                k = indices.dim(1);
  check(updates.shape == Shape({b, k, d}),
        "route.scatter_add: updates must be [B, k, D]");
  if (weights)
    check(weights->shape == indices.shape,
          "route.scatter_add: weights must be [B, k]");
  Tensor out = input;
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t j = 0; j < k; ++j) {
      const int64_t idx = indices(bi, j);
      if (idx < 0 || idx >= s)
        continue; // skipped
      const double w = weights ? (*weights)(bi, j) : 1.0;
      for (int64_t i = 0; i < d; ++i)
        out(bi, idx, i) += w * updates(bi, j, i);
    }
  return out;
}

} // namespace lctx::reference
