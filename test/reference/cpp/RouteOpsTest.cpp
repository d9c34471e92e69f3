//===- RouteOpsTest.cpp - Tests of the reference routing ops --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Switch: hand cases, combine(ffn(dispatch)) and route.moe against the dense
// one-hot dispatch/combine einsum, dropped tokens exactly 0, aux loss at
// uniform routing. MoD: hand cases, gather -> block -> scatter_add against
// the masked-dense block. Tolerances: exact or 1e-15 for hand cases, 1e-12
// relative for cross-formulations.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include <cmath>

using namespace lctx::reference;
using namespace lctx::reference::test;

namespace {

//===----------------------------------------------------------------------===//
// Capacity arithmetic
//===----------------------------------------------------------------------===//

TEST(RouteHand, CapacityAndTopKCounts) {
  EXPECT_EQ(switchCapacity(64, 8, 1.25, false), 10); // floor(10.0)
  EXPECT_EQ(switchCapacity(64, 8, 1.0, false), 8);
  EXPECT_EQ(switchCapacity(4, 8, 1.0, false), 1);   // max(1, floor(0.5))
  EXPECT_EQ(switchCapacity(10, 11, 1.1, false), 1); // 10 * 1.1 / 11 = 1
  EXPECT_EQ(switchCapacity(7, 8, 1.0, true), 7);    // dropless: S
  EXPECT_EQ(depthSelected(DepthRouting::Topk, 0.125, 64), 8);
  EXPECT_EQ(depthSelected(DepthRouting::Topk, 0.29, 100), 29); // not 28
  EXPECT_EQ(depthSelected(DepthRouting::Topk, 0.125, 4), 0);   // k may be 0
  EXPECT_EQ(depthSelected(DepthRouting::Topk, 1.0, 5), 5);
  EXPECT_EQ(depthSelected(DepthRouting::Causal, 0.125, 5), 5);
  EXPECT_THROW(depthSelected(DepthRouting::Topk, 0.0, 5),
               std::invalid_argument);
  EXPECT_THROW(depthSelected(DepthRouting::Topk, 1.5, 5),
               std::invalid_argument);
}

//===----------------------------------------------------------------------===//
// route.experts / dispatch / combine: hand-computed
//===----------------------------------------------------------------------===//

// E = 2, router = ln3 * I. Tokens (1,0), (0,1), (1,0), (0,0):
// probabilities (3/4, 1/4), (1/4, 3/4), (3/4, 1/4), (1/2, 1/2) -> experts
// 0, 1, 0, 0 (the tie goes to 0), gates .75, .75, .75, .5.
// C = max(1, floor(4 * 1 / 2)) = 2: slots 0, 0, 1, -1 (third token of e0).
// f = (3/4, 1/4), P = (2.25/4, 1.75/4) -> aux = 0.01 * 2 * (0.421875 +
// 0.109375) = 0.010625.
TEST(RouteHand, ExpertsRouteCapacityAndAuxLoss) {
  const double ln3 = std::log(3.0);
  Tensor x({1, 4, 2}, {1, 0, 0, 1, 1, 0, 0, 0});
  Tensor router({2, 2}, {ln3, 0, 0, ln3});
  RouteExpertsResult r = routeExperts(x, router);
  EXPECT_TRUE(allEqual(r.expert, IntTensor({1, 4}, {0, 1, 0, 0})));
  EXPECT_TRUE(allEqual(r.slot, IntTensor({1, 4}, {0, 0, 1, -1})));
  EXPECT_TRUE(allClose(r.gate, Tensor({1, 4}, {0.75, 0.75, 0.75, 0.5}), 1e-15));
  EXPECT_NEAR(r.auxLoss, 0.010625, 1e-17);
  // Dropless: C = S, nobody dropped. cf = 0.1: C = 1, token 2 dropped too.
  EXPECT_TRUE(allEqual(routeExperts(x, router, 1.0, true).slot,
                       IntTensor({1, 4}, {0, 0, 1, 2})));
  EXPECT_TRUE(allEqual(routeExperts(x, router, 0.1).slot,
                       IntTensor({1, 4}, {0, 0, -1, -1})));
  // Each batch row is its own group: the same tokens in row 1 get the same
  // slots; aux over the whole batch is unchanged.
  Tensor x2 = concatDim<double>({x, x}, 0);
  RouteExpertsResult r2 = routeExperts(x2, router);
  EXPECT_TRUE(allEqual(r2.slot, IntTensor({2, 4}, {0, 0, 1, -1, 0, 0, 1, -1})));
  EXPECT_NEAR(r2.auxLoss, 0.010625, 1e-17);
}

// aux == coef at uniform routing: a zero router (every p = 1/E exactly,
// all tokens to expert 0 by the tie rule), and a balanced router with
// f = P = (1/2, 1/2).
TEST(RouteHand, AuxLossEqualsCoefAtUniformRouting) {
  std::mt19937 rng(71);
  Tensor x = randomTensor(rng, {2, 6, 3});
  RouteExpertsResult r = routeExperts(x, Tensor({3, 4}), 1.0, false, 0.01);
  EXPECT_EQ(r.auxLoss, 0.01);
  EXPECT_TRUE(allEqual(r.expert, IntTensor({2, 6})));
  EXPECT_TRUE(allEqual(r.slot, IntTensor({2, 6}, {0, -1, -1, -1, -1, -1, 0, -1,
                                                  -1, -1, -1, -1})));
  // C = floor(6 * 1 / 4) = 1.
  Tensor xb({1, 2, 2}, {1, 0, 0, 1}), rb({2, 2}, {0.7, 0, 0, 0.7});
  EXPECT_NEAR(routeExperts(xb, rb, 1.0, false, 0.25).auxLoss, 0.25, 1e-16);
}

// x = (1, 2, 3), experts (1, 0, 1), slots (0, 0, -1), E = 2, C = 2:
// e0 = (2, 0), e1 = (1, 0). Expert 5 is out of range and dropped. Row b
// writes at b*C + c.
TEST(RouteHand, DispatchLayout) {
  Tensor x({1, 3, 1}, {1, 2, 3});
  EXPECT_TRUE(allEqual(routeDispatch(x, IntTensor({1, 3}, {1, 0, 1}),
                                     IntTensor({1, 3}, {0, 0, -1}), 2, 2),
                       Tensor({2, 2, 1}, {2, 0, 1, 0})));
  EXPECT_TRUE(allEqual(routeDispatch(x, IntTensor({1, 3}, {5, 0, 1}),
                                     IntTensor({1, 3}, {0, 1, 2}), 2, 2),
                       Tensor({2, 2, 1}, {0, 2, 0, 0})));
  Tensor xb({2, 1, 1}, {7, 8});
  EXPECT_TRUE(allEqual(routeDispatch(xb, IntTensor({2, 1}, {1, 1}),
                                     IntTensor({2, 1}, {1, 0}), 2, 2),
                       Tensor({2, 4, 1}, {0, 0, 0, 0, 0, 7, 8, 0})));
}

// expert_out e0 = (10, 20), e1 = (30, 40) (B = 1, C = 2); experts (1, 0, 1),
// slots (1, 0, -1), gates (.5, .25, .9) -> (.5 * 40, .25 * 10, 0).
TEST(RouteHand, CombineGatesAndZeroesDropped) {
  Tensor out({2, 2, 1}, {10, 20, 30, 40});
  Tensor y = routeCombine(out, IntTensor({1, 3}, {1, 0, 1}),
                          IntTensor({1, 3}, {1, 0, -1}),
                          Tensor({1, 3}, {0.5, 0.25, 0.9}));
  EXPECT_TRUE(allEqual(y, Tensor({1, 3, 1}, {20, 2.5, 0})));
  // A dropped token is 0 even when the buffers hold inf/nan.
  Tensor bad({2, 2, 1}, {NAN, INFINITY, 1, 1});
  EXPECT_EQ(routeCombine(bad, IntTensor({1, 1}, {0}), IntTensor({1, 1}, {-1}),
                         Tensor({1, 1}, {1}))(0, 0, 0),
            0.0);
}

//===----------------------------------------------------------------------===//
// Switch: cross-formulation
//===----------------------------------------------------------------------===//

/// The dense Switch formulation: dispatch mask D[b,s,e,c] in {0, 1},
/// combine = gate * D, expert_in = einsum("bsec,bsd->ebcd"), per-expert
/// FFN, y = einsum("bsec,ebcd->bsd").
Tensor denseSwitch(Activation act, const Tensor &x, const RouteExpertsResult &r,
                   int64_t e, int64_t c, const Tensor &wIn, const Tensor &wOut,
                   const Tensor *wGate) {
  const int64_t b = x.dim(0), s = x.dim(1), d = x.dim(2);
  Tensor mask({b, s, e, c});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si)
      for (int64_t ei = 0; ei < e; ++ei)
        for (int64_t ci = 0; ci < c; ++ci)
          mask(bi, si, ei, ci) =
              (r.expert(bi, si) == ei && r.slot(bi, si) == ci) ? 1.0 : 0.0;
  Tensor expertIn({e, b * c, d});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si)
      for (int64_t ei = 0; ei < e; ++ei)
        for (int64_t ci = 0; ci < c; ++ci)
          for (int64_t i = 0; i < d; ++i)
            expertIn(ei, bi * c + ci, i) += mask(bi, si, ei, ci) * x(bi, si, i);
  Tensor expertOut = ffn(act, expertIn, wIn, wOut, wGate);
  Tensor y({b, s, d});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si)
      for (int64_t ei = 0; ei < e; ++ei)
        for (int64_t ci = 0; ci < c; ++ci)
          for (int64_t i = 0; i < d; ++i)
            y(bi, si, i) += r.gate(bi, si) * mask(bi, si, ei, ci) *
                            expertOut(ei, bi * c + ci, i);
  return y;
}

TEST(SwitchCross, SparseAndFusedEqualDenseEinsum) {
  std::mt19937 rng(72);
  const int64_t b = 2, s = 12, d = 4, e = 3, f = 5;
  for (Activation act :
       {Activation::Relu, Activation::Gelu, Activation::Swiglu}) {
    for (double cf : {0.5, 1.0, 2.0}) {
      Tensor x = randomTensor(rng, {b, s, d}),
             router = randomTensor(rng, {d, e}, -2, 2),
             wIn = randomTensor(rng, {e, d, f}),
             wOut = randomTensor(rng, {e, f, d}),
             wGateT = randomTensor(rng, {e, d, f});
      const Tensor *wGate = act == Activation::Swiglu ? &wGateT : nullptr;
      RouteExpertsResult r = routeExperts(x, router, cf);
      const int64_t c = switchCapacity(s, e, cf, false);
      Tensor sparse = routeCombine(
          ffn(act, routeDispatch(x, r.expert, r.slot, e, c), wIn, wOut, wGate),
          r.expert, r.slot, r.gate);
      Tensor dense = denseSwitch(act, x, r, e, c, wIn, wOut, wGate);
      RouteMoeResult fused = routeMoe(act, x, router, wIn, wOut, wGate, cf);
      EXPECT_TRUE(allClose(sparse, dense, 1e-12, 1e-15));
      EXPECT_TRUE(allClose(fused.result, dense, 1e-12, 1e-15));
      EXPECT_EQ(fused.auxLoss, r.auxLoss);
      // Dropped tokens are exactly 0 in all three.
      int64_t dropped = 0;
      for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t si = 0; si < s; ++si)
          if (r.slot(bi, si) < 0) {
            ++dropped;
            for (int64_t i = 0; i < d; ++i) {
              EXPECT_EQ(sparse(bi, si, i), 0.0);
              EXPECT_EQ(dense(bi, si, i), 0.0);
              EXPECT_EQ(fused.result(bi, si, i), 0.0);
            }
          }
      if (cf == 0.5)
        EXPECT_GT(dropped, 0); // the case must exercise dropping
    }
  }
}

// Dropless keeps every token and never depends on batch composition: row
// b of a batch equals that row routed alone.
TEST(SwitchCross, DroplessIsIndependentOfBatchComposition) {
  std::mt19937 rng(73);
  Tensor x = randomTensor(rng, {3, 7, 4}), router = randomTensor(rng, {4, 3}),
         wIn = randomTensor(rng, {3, 4, 6}),
         wOut = randomTensor(rng, {3, 6, 4});
  RouteMoeResult all =
      routeMoe(Activation::Gelu, x, router, wIn, wOut, nullptr, 1.0, true);
  for (int64_t bi = 0; bi < 3; ++bi) {
    Tensor row = sliceDim(x, 0, bi, bi + 1);
    EXPECT_TRUE(allEqual(
        routeMoe(Activation::Gelu, row, router, wIn, wOut, nullptr, 1.0, true)
            .result,
        sliceDim(all.result, 0, bi, bi + 1)));
    RouteExpertsResult r = routeExperts(row, router, 1.0, true);
    for (int64_t si = 0; si < 7; ++si)
      EXPECT_GE(r.slot(0, si), 0);
  }
}

//===----------------------------------------------------------------------===//
// Mixture-of-Depths: hand-computed
//===----------------------------------------------------------------------===//

// router = 1, so r = x = (0.5, -1, 2, 0.5, 0). topk k = floor(0.4 * 5) = 2:
// 2 (r = 2) then the tie at 0.5 between 0 and 3 goes to 0 -> (0, 2) with
// weights (0.5, 2). k = 3 -> (0, 2, 3). causal: r > 0 at 0, 2, 3 (r = 0 at 4
// is not routed) -> (0, 2, 3, -1, -1), weights (0.5, 2, 0.5, 0, 0).
TEST(DepthHand, TopkAndCausalSelection) {
  Tensor x({1, 5, 1}, {0.5, -1, 2, 0.5, 0}), router({1}, {1});
  RouteDepthResult t2 = routeDepth(DepthRouting::Topk, x, router, 0.4);
  EXPECT_TRUE(allEqual(t2.indices, IntTensor({1, 2}, {0, 2})));
  EXPECT_TRUE(allEqual(t2.weights, Tensor({1, 2}, {0.5, 2})));
  RouteDepthResult t3 = routeDepth(DepthRouting::Topk, x, router, 0.6);
  EXPECT_TRUE(allEqual(t3.indices, IntTensor({1, 3}, {0, 2, 3})));
  RouteDepthResult c = routeDepth(DepthRouting::Causal, x, router);
  EXPECT_TRUE(allEqual(c.indices, IntTensor({1, 5}, {0, 2, 3, -1, -1})));
  EXPECT_TRUE(allEqual(c.weights, Tensor({1, 5}, {0.5, 2, 0.5, 0, 0})));
  EXPECT_EQ(routeDepth(DepthRouting::Topk, x, router, 0.1).indices.shape,
            Shape({1, 0}));
  // All-equal logits: the first k indices.
  Tensor flat({1, 4, 1}, {1, 1, 1, 1});
  EXPECT_TRUE(
      allEqual(routeDepth(DepthRouting::Topk, flat, router, 0.5).indices,
               IntTensor({1, 2}, {0, 1})));
}

// gather x = (10, 20, 30) at (2, -1, 3, 0) -> (30, 0, 0, 10).
// scatter_add x = (1, 2, 3), updates (10, 20, 30, 40, 50) at
// (2, -1, 2, 0, 3) with weights (.5, 9, 1, 2, 7) -> (1 + 80, 2, 3 + 5 + 30)
// = (81, 2, 38); without weights (41, 2, 43).
TEST(DepthHand, GatherAndScatterAdd) {
  Tensor x({1, 3, 1}, {10, 20, 30});
  EXPECT_TRUE(allEqual(routeGather(x, IntTensor({1, 4}, {2, -1, 3, 0})),
                       Tensor({1, 4, 1}, {30, 0, 0, 10})));
  Tensor y({1, 3, 1}, {1, 2, 3}), upd({1, 5, 1}, {10, 20, 30, 40, 50});
  IntTensor idx({1, 5}, {2, -1, 2, 0, 3}); // -1 and 3 (= S) are skipped
  Tensor w({1, 5}, {0.5, 9, 1, 2, 7});
  EXPECT_TRUE(allEqual(routeScatterAdd(y, upd, idx, &w),
                       Tensor({1, 3, 1}, {81, 2, 38})));
  EXPECT_TRUE(
      allEqual(routeScatterAdd(y, upd, idx), Tensor({1, 3, 1}, {41, 2, 43})));
}

//===----------------------------------------------------------------------===//
// Mixture-of-Depths: gather -> block -> scatter vs masked dense
//===----------------------------------------------------------------------===//

struct Block {
  Tensor wq, wk, wv, w1, w2;
  double theta;
};

/// f(x) = a + m, a = Attn(LN1(x)) (one head, RoPE, causal at the given
/// positions), m = MLP(LN2(x + a)). `qPos`/`kPos` are [B, T].
Tensor blockF(const Block &blk, const Tensor &x, const IntTensor &qPos,
              const IntTensor &kPos) {
  const int64_t b = x.dim(0), t = x.dim(1), d = x.dim(2);
  Tensor h = layerNorm(x);
  auto heads = [&](Tensor y) {
    y.shape = {b, 1, t, d};
    return y;
  };
  Tensor a = attention(heads(linear(h, blk.wq)), heads(linear(h, blk.wk)),
                       heads(linear(h, blk.wv)), &qPos, &kPos, true,
                       std::nullopt, std::nullopt, blk.theta);
  a.shape = {b, t, d};
  Tensor xa = x;
  for (int64_t i = 0; i < xa.numel(); ++i)
    xa.data[i] += a.data[i];
  Tensor m = ffn(Activation::Relu, layerNorm(xa), blk.w1, blk.w2);
  for (int64_t i = 0; i < a.numel(); ++i)
    a.data[i] += m.data[i];
  return a;
}

TEST(DepthCross, GatherBlockScatterEqualsMaskedDense) {
  std::mt19937 rng(81);
  const int64_t b = 2, s = 16, d = 4;
  Block blk{randomTensor(rng, {d, d}), randomTensor(rng, {d, d}),
            randomTensor(rng, {d, d}), randomTensor(rng, {d, 8}),
            randomTensor(rng, {8, d}), 100.0};
  Tensor x = randomTensor(rng, {b, s, d}), router = randomTensor(rng, {d});
  for (DepthRouting mode : {DepthRouting::Topk, DepthRouting::Causal}) {
    RouteDepthResult r = routeDepth(mode, x, router, 0.25);
    // Sparse: the selected tokens at their original positions (the causal
    // mode's -1 padding is a padding key and a query that sees nothing).
    Tensor sel = routeGather(x, r.indices);
    Tensor f = blockF(blk, sel, r.indices, r.indices);
    Tensor sparse = routeScatterAdd(x, f, r.indices, &r.weights);
    // Masked dense: every token runs; unselected tokens are padding keys;
    // only selected rows are kept, scaled by their logit.
    IntTensor qPos({b, s}), kPos = IntTensor::full({b, s}, -1);
    Tensor scale({b, s}), mask({b, s});
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t si = 0; si < s; ++si)
        qPos(bi, si) = si;
      for (int64_t j = 0; j < r.indices.dim(1); ++j) {
        int64_t idx = r.indices(bi, j);
        if (idx < 0)
          continue;
        kPos(bi, idx) = idx;
        mask(bi, idx) = 1;
        scale(bi, idx) = r.weights(bi, j);
      }
    }
    Tensor fd = blockF(blk, x, qPos, kPos);
    Tensor dense = x;
    int64_t routed = 0;
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t si = 0; si < s; ++si) {
        routed += mask(bi, si) != 0;
        for (int64_t i = 0; i < d; ++i)
          dense(bi, si, i) += mask(bi, si) * scale(bi, si) * fd(bi, si, i);
      }
    EXPECT_GT(routed, 0);
    EXPECT_LT(routed, b * s);
    EXPECT_TRUE(allClose(sparse, dense, 1e-12, 1e-14));
    // Bypassed tokens are exactly x.
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t si = 0; si < s; ++si)
        if (mask(bi, si) == 0)
          for (int64_t i = 0; i < d; ++i)
            EXPECT_EQ(sparse(bi, si, i), x(bi, si, i));
  }
}

} // namespace
