//===- CommonOpsTest.cpp - Tests of the reference common ops --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Hand-computed cases and cross-formulation checks of attention, RoPE,
// norms, embedding, linear and ffn. Tolerances: 1e-14 relative for hand
// cases (plain double arithmetic), 1e-12 for cross-formulations.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include <cmath>

using namespace lctx::reference;
using namespace lctx::reference::test;

namespace {

constexpr double kHand = 1e-14;
constexpr double kCross = 1e-12;
const double kLn3 = std::log(3.0);

/// [1, 1, T, 1] from a list of scalars.
Tensor column(std::vector<double> values) {
  const int64_t t = static_cast<int64_t>(values.size());
  return Tensor({1, 1, t, 1}, std::move(values));
}

//===----------------------------------------------------------------------===//
// attention: hand-computed
//===----------------------------------------------------------------------===//

// Dh = 1, so the default scale is 1. q = 1, k = (0, ln 3), v = (10, 20).
// Causal: row 0 sees key 0 only -> 10; row 1 sees both with weights
// e^0 : e^ln3 = 1 : 3 -> 10/4 + 60/4 = 17.5. Non-causal row 0 -> 17.5 too.
TEST(AttentionHand, CausalAndNonCausal) {
  Tensor q = column({1, 1}), k = column({0, kLn3}), v = column({10, 20});
  EXPECT_TRUE(allClose(attention(q, k, v), column({10, 17.5}), kHand));
  EXPECT_TRUE(allClose(attention(q, k, v, nullptr, nullptr, false),
                       column({17.5, 17.5}), kHand));
}

// scale = 2 with k = (0, ln3 / 2) gives the same logits 0, ln 3 -> 17.5.
TEST(AttentionHand, ExplicitScale) {
  Tensor q = column({1, 1}), k = column({0, kLn3 / 2}), v = column({10, 20});
  EXPECT_TRUE(
      allClose(attention(q, k, v, nullptr, nullptr, true, std::nullopt, 2.0),
               column({10, 17.5}), kHand));
}

// Default scale 1/sqrt(Dh) with Dh = 4: q = (1,1,1,1), k1 = (ln3/2) * 1 so
// <q, k1> = 2 ln 3 and the scaled logit is ln 3.
TEST(AttentionHand, DefaultScaleIsInverseSqrtHeadDim) {
  Tensor q({1, 1, 1, 4}, {1, 1, 1, 1});
  Tensor k({1, 1, 2, 4}, {0, 0, 0, 0, kLn3 / 2, kLn3 / 2, kLn3 / 2, kLn3 / 2});
  Tensor v({1, 1, 2, 1}, {10, 20});
  EXPECT_TRUE(
      allClose(attention(q, k, v), Tensor({1, 1, 1, 1}, {17.5}), kHand));
}

// Tq = 2 queries over Tk = 3 keys sit at positions 1, 2 (end-aligned).
// k = (0, 0, ln 2), v = (4, 8, 12), q = 1: query 0 (pos 1) sees keys 0, 1
// -> 6; query 1 (pos 2) sees all with weights 1/4, 1/4, 1/2 -> 9.
TEST(AttentionHand, DefaultPositionsAreEndAligned) {
  Tensor q = column({1, 1}), k = column({0, 0, std::log(2.0)}),
         v = column({4, 8, 12});
  EXPECT_TRUE(allClose(attention(q, k, v), column({6, 9}), kHand));
  // A causal op without positions needs Tq <= Tk.
  EXPECT_THROW(attention(column({1, 1, 1, 1}), k, v), std::invalid_argument);
}

// q at position 5; keys at -1 (padding), 3, 5, 7 with logits 100, 0, ln 3, 0.
// Causal: keys 1, 2 -> 17.5. Non-causal: keys 1, 2, 3 with 1 : 3 : 1 ->
// (10 + 60 + 30) / 5 = 20. The padding key never counts, however large.
TEST(AttentionHand, ExplicitPositionsAndPadding) {
  Tensor q = column({1}), k = column({100, 0, kLn3, 0}),
         v = column({1000, 10, 20, 30});
  IntTensor qp({1, 1}, {5}), kp({1, 4}, {-1, 3, 5, 7});
  EXPECT_TRUE(allClose(attention(q, k, v, &qp, &kp), column({17.5}), kHand));
  EXPECT_TRUE(
      allClose(attention(q, k, v, &qp, &kp, false), column({20}), kHand));
}

// Rows that see no key are exactly zero: a causal query at -1, every key
// padding (non-causal), and a chunk holding no key.
TEST(AttentionHand, RowWithNoVisibleKeyIsZero) {
  Tensor q = column({1, 1}), k = column({0, 1}), v = column({5, 7});
  IntTensor qp({1, 2}, {-1, 1}), kp({1, 2}, {0, 1});
  const double e = std::exp(1.0);
  EXPECT_TRUE(allClose(attention(q, k, v, &qp, &kp),
                       column({0, (5 + 7 * e) / (1 + e)}), kHand));
  EXPECT_EQ(attention(q, k, v, &qp, &kp)(0, 0, 0, 0), 0.0);
  IntTensor allPad({1, 2}, {-3, -1});
  EXPECT_TRUE(
      allEqual(attention(q, k, v, &qp, &allPad, false), column({0, 0})));
  IntTensor qChunk({1, 2}, {4, 1});
  Tensor out = attention(q, k, v, &qChunk, &kp, true, 2);
  EXPECT_EQ(out(0, 0, 0, 0), 0.0); // chunk 2 has no key
  EXPECT_NEAR(out(0, 0, 1, 0), (5 + 7 * e) / (1 + e), 1e-13);
}

// Chunk 2 over T = 5 (short last chunk): k = (0, ln3, 0, ln3, 9),
// v = (10, 20, 30, 40, 50), q = 1. Rows: 10; 17.5; 30 (key 3 is future);
// 37.5 (keys 2, 3 with 1 : 3); 50 (alone in the short chunk). Unchunked
// row 3 would be (10 + 60 + 30 + 120) / 8 = 27.5.
TEST(AttentionHand, ChunkIsBlockDiagonalWithShortLastChunk) {
  Tensor q = column({1, 1, 1, 1, 1}), k = column({0, kLn3, 0, kLn3, 9}),
         v = column({10, 20, 30, 40, 50});
  EXPECT_TRUE(allClose(attention(q, k, v, nullptr, nullptr, true, 2),
                       column({10, 17.5, 30, 37.5, 50}), kHand));
  EXPECT_NEAR(attention(q, k, v)(0, 0, 3, 0), 27.5, 1e-13);
  // Non-causal chunked: row 2 sees keys 2, 3 -> 37.5.
  EXPECT_NEAR(attention(q, k, v, nullptr, nullptr, false, 2)(0, 0, 2, 0), 37.5,
              1e-13);
}

// Non-causal, Tq = 3 > Tk = 2: default query positions -1, 0, 1. Without a
// chunk every query sees both keys: (10 + 3 * 20) / 4 = 17.5. With
// chunk_size 4 this oracle reads `pi / c` as floor division (as the
// LCtxToLinalg lowering does), so query -1 is in chunk -1 and is zero.
// (The op text does not say; see the report.)
TEST(AttentionHand, NegativeDefaultQueryPositionsWithChunk) {
  Tensor q = column({1, 1, 1}), k = column({0, kLn3}), v = column({10, 20});
  EXPECT_TRUE(allClose(attention(q, k, v, nullptr, nullptr, false),
                       column({17.5, 17.5, 17.5}), kHand));
  EXPECT_TRUE(allClose(attention(q, k, v, nullptr, nullptr, false, 4),
                       column({0, 17.5, 17.5}), kHand));
}

// RoPE with Dh = 2 rotates by p * theta^0 = p, so <R(pi) q, R(pj) k> =
// cos(pi - pj) for q = k = (1, 0). Row 1 (scale 1): logits cos 1, 1 over
// v = (0, 1) -> e / (e^cos1 + e) = 0.6129424583348396.
TEST(AttentionHand, RopeInsideAttention) {
  Tensor q({1, 1, 2, 2}, {1, 0, 1, 0}), v = column({0, 1});
  Tensor out =
      attention(q, q, v, nullptr, nullptr, true, std::nullopt, 1.0, 10000.0);
  EXPECT_NEAR(out(0, 0, 1, 0), 0.6129424583348396, 1e-15);
  // Chunk 2 with positions 2, 3: RoPE restarts at 0, 1; the same numbers.
  IntTensor pos({1, 2}, {2, 3});
  Tensor chunked = attention(q, q, v, &pos, &pos, true, 2, 1.0, 10000.0);
  EXPECT_NEAR(chunked(0, 0, 1, 0), 0.6129424583348396, 1e-15);
}

// GQA: H = 2 query heads share kv head 0; head 1 must read kv head 0.
TEST(AttentionHand, GroupedQueryHeadsShareKv) {
  Tensor q({1, 2, 2, 1}, {1, 1, 1, 1});
  Tensor k({1, 1, 2, 1}, {0, kLn3}), v({1, 1, 2, 1}, {10, 20});
  Tensor expected({1, 2, 2, 1}, {10, 17.5, 10, 17.5});
  EXPECT_TRUE(allClose(attention(q, k, v), expected, kHand));
  Tensor k3({1, 2, 2, 1}), v3({1, 2, 2, 1});
  EXPECT_THROW(attention(Tensor({1, 3, 2, 1}), k3, v3), std::invalid_argument);
}

//===----------------------------------------------------------------------===//
// attention: cross-formulation
//===----------------------------------------------------------------------===//

// A chunked op equals a loop over chunks of unchunked attention (with RoPE
// at the in-chunk positions 0..c-1), including a short last chunk.
TEST(AttentionCross, ChunkedEqualsPerChunkLoop) {
  std::mt19937 rng(1234);
  const int64_t t = 11, c = 4;
  for (bool rope : {false, true}) {
    Tensor q = randomTensor(rng, {2, 4, t, 8}),
           k = randomTensor(rng, {2, 2, t, 8}),
           v = randomTensor(rng, {2, 2, t, 6});
    std::optional<double> theta =
        rope ? std::optional<double>(500.0) : std::nullopt;
    Tensor full = attention(q, k, v, nullptr, nullptr, true, c, 1.0, theta);
    std::vector<Tensor> parts;
    for (int64_t lo = 0; lo < t; lo += c) {
      int64_t hi = std::min(t, lo + c);
      parts.push_back(attention(sliceDim(q, 2, lo, hi), sliceDim(k, 2, lo, hi),
                                sliceDim(v, 2, lo, hi), nullptr, nullptr, true,
                                std::nullopt, 1.0, theta));
    }
    EXPECT_TRUE(allClose(full, concatDim(parts, 2), kCross, 1e-14));
  }
}

// A decode block (Tq < Tk) with chunks: the queries' chunk loop sees only
// the keys of the queries' own chunk.
TEST(AttentionCross, ChunkedDecodeBlockEqualsExplicitLoop) {
  std::mt19937 rng(99);
  const int64_t tq = 3, tk = 10, c = 4; // queries at 7, 8, 9: chunks 1, 2
  Tensor q = randomTensor(rng, {1, 2, tq, 4}),
         k = randomTensor(rng, {1, 2, tk, 4}),
         v = randomTensor(rng, {1, 2, tk, 4});
  Tensor got =
      attention(q, k, v, nullptr, nullptr, true, c, std::nullopt, 10000.0);
  // Query 0 (pos 7) sees keys 4..7 at in-chunk positions 0..3.
  IntTensor qp0({1, 1}, {3}), kp0({1, 4}, {0, 1, 2, 3});
  Tensor row0 = attention(sliceDim(q, 2, 0, 1), sliceDim(k, 2, 4, 8),
                          sliceDim(v, 2, 4, 8), &qp0, &kp0, true, std::nullopt,
                          std::nullopt, 10000.0);
  // Queries 1, 2 (pos 8, 9) see keys 8, 9 of the short chunk.
  Tensor rows12 = attention(sliceDim(q, 2, 1, 3), sliceDim(k, 2, 8, 10),
                            sliceDim(v, 2, 8, 10), nullptr, nullptr, true,
                            std::nullopt, std::nullopt, 10000.0);
  EXPECT_TRUE(
      allClose(got, concatDim<double>({row0, rows12}, 2), kCross, 1e-14));
}

// GQA equals attention over K/V repeated per query head.
TEST(AttentionCross, GqaEqualsRepeatedKv) {
  std::mt19937 rng(7);
  Tensor q = randomTensor(rng, {2, 6, 5, 4}),
         k = randomTensor(rng, {2, 2, 7, 4}),
         v = randomTensor(rng, {2, 2, 7, 3});
  Tensor kr({2, 6, 7, 4}), vr({2, 6, 7, 3});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 6; ++h)
      for (int64_t j = 0; j < 7; ++j) {
        for (int64_t d = 0; d < 4; ++d)
          kr(b, h, j, d) = k(b, h / 3, j, d);
        for (int64_t d = 0; d < 3; ++d)
          vr(b, h, j, d) = v(b, h / 3, j, d);
      }
  EXPECT_TRUE(allClose(
      attention(q, k, v, nullptr, nullptr, true, 3, 0.7, 50.0),
      attention(q, kr, vr, nullptr, nullptr, true, 3, 0.7, 50.0), 0.0));
}

// rope_theta inside attention equals lctx.rope applied to Q and K first.
TEST(AttentionCross, RopeThetaEqualsRopeOpFirst) {
  std::mt19937 rng(8);
  Tensor q = randomTensor(rng, {1, 2, 6, 8}),
         k = randomTensor(rng, {1, 2, 6, 8}),
         v = randomTensor(rng, {1, 2, 6, 8});
  IntTensor pos({1, 6}, {3, 9, 10, 14, 20, 21});
  Tensor viaOp =
      attention(rope(q, pos, 300.0), rope(k, pos, 300.0), v, &pos, &pos, true);
  EXPECT_TRUE(allClose(
      attention(q, k, v, &pos, &pos, true, std::nullopt, std::nullopt, 300.0),
      viaOp, kCross, 1e-14));
}

//===----------------------------------------------------------------------===//
// rope
//===----------------------------------------------------------------------===//

// Dh = 4, theta = 100, p = 2: pair 0 turns by 2, pair 1 by 2 * 100^(-1/2)
// = 0.2. x = (1, 0, 1, 0) -> (cos 2, sin 2, cos 0.2, sin 0.2).
TEST(RopeHand, Angles) {
  Tensor x({1, 1, 1, 4}, {1, 0, 1, 0});
  Tensor expected({1, 1, 1, 4},
                  {std::cos(2.0), std::sin(2.0), std::cos(0.2), std::sin(0.2)});
  EXPECT_TRUE(allClose(rope(x, IntTensor({1}, {2}), 100.0), expected, kHand));
  // (0, 1) turns to (-sin a, cos a); position 0 is the identity.
  Tensor y({1, 1, 2, 2}, {0, 1, 0.3, -0.7});
  Tensor ey({1, 1, 2, 2}, {-std::sin(3.0), std::cos(3.0), 0.3, -0.7});
  EXPECT_TRUE(allClose(rope(y, IntTensor({2}, {3, 0})), ey, kHand));
  EXPECT_THROW(rope(Tensor({1, 1, 1, 3}), IntTensor({1}, {0})),
               std::invalid_argument);
}

// [T] positions are shared by the batch; [B, T] are per row.
TEST(RopeCross, SharedAndPerRowPositions) {
  std::mt19937 rng(11);
  Tensor x = randomTensor(rng, {2, 3, 4, 6});
  IntTensor shared({4}, {0, 5, 17, 1000});
  IntTensor perRow({2, 4}, {0, 5, 17, 1000, 0, 5, 17, 1000});
  EXPECT_TRUE(allEqual(rope(x, shared), rope(x, perRow)));
  IntTensor other({2, 4}, {0, 5, 17, 1000, 1, 2, 3, 4});
  Tensor y = rope(x, other);
  EXPECT_TRUE(
      allEqual(sliceDim(y, 0, 0, 1), sliceDim(rope(x, shared), 0, 0, 1)));
  EXPECT_FALSE(
      allClose(sliceDim(y, 0, 1, 2), sliceDim(rope(x, shared), 0, 1, 2), 1e-3));
  // A rotation keeps each pair's norm.
  for (int64_t i = 0; i < x.numel(); i += 2)
    EXPECT_NEAR(std::hypot(y.data[i], y.data[i + 1]),
                std::hypot(x.data[i], x.data[i + 1]), 1e-15);
}

//===----------------------------------------------------------------------===//
// rms_norm / layer_norm
//===----------------------------------------------------------------------===//

// x = (3, 4): mean(x^2) = 12.5; with epsilon 3.5 the denominator is 4:
// (0.75, 1). Weight (2, -1) -> (1.5, -1).
TEST(NormHand, RmsNorm) {
  Tensor x({1, 2}, {3, 4}), w({2}, {2, -1});
  EXPECT_TRUE(
      allClose(rmsNorm(x, nullptr, 3.5), Tensor({1, 2}, {0.75, 1}), kHand));
  EXPECT_TRUE(allClose(rmsNorm(x, &w, 3.5), Tensor({1, 2}, {1.5, -1}), kHand));
  // Default epsilon is the f32 1e-6.
  EXPECT_NEAR(rmsNorm(x)(0, 0), 3 / std::sqrt(12.5 + 1e-6), 1e-15);
}

// x = (1, 2, 3, 6): mean 3, var (4 + 1 + 0 + 9) / 4 = 3.5, epsilon 0.5 ->
// sqrt 4 = 2: (-1, -0.5, 0, 1.5); weight (1, 2, 3, 4), bias 1 ->
// (0, 0, 1, 7); bias only -> (0, 0.5, 1, 2.5).
TEST(NormHand, LayerNorm) {
  Tensor x({1, 1, 4}, {1, 2, 3, 6}), w({4}, {1, 2, 3, 4}), b({4}, {1, 1, 1, 1});
  EXPECT_TRUE(allClose(layerNorm(x, nullptr, nullptr, 0.5),
                       Tensor({1, 1, 4}, {-1, -0.5, 0, 1.5}), kHand));
  EXPECT_TRUE(allClose(layerNorm(x, &w, &b, 0.5),
                       Tensor({1, 1, 4}, {0, 0, 1, 7}), kHand));
  EXPECT_TRUE(allClose(layerNorm(x, nullptr, &b, 0.5),
                       Tensor({1, 1, 4}, {0, 0.5, 1, 2.5}), kHand));
  EXPECT_TRUE(allClose(layerNorm(x, &w, nullptr, 0.5),
                       Tensor({1, 1, 4}, {-1, -1, 0, 6}), kHand));
}

//===----------------------------------------------------------------------===//
// embedding / linear / ffn
//===----------------------------------------------------------------------===//

// table rows (1,2), (3,4), (5,6); ids (2, -1; 3, 0): -1 and 3 are out of
// range and give zero rows.
TEST(EmbeddingHand, LookupAndOutOfRange) {
  Tensor table({3, 2}, {1, 2, 3, 4, 5, 6});
  IntTensor ids({2, 2}, {2, -1, 3, 0});
  EXPECT_TRUE(allEqual(embedding(table, ids),
                       Tensor({2, 2, 2}, {5, 6, 0, 0, 0, 0, 1, 2})));
  // Any id rank: a scalar-like rank-1 and a rank-3 id tensor.
  EXPECT_EQ(embedding(table, IntTensor({1}, {1})).shape, Shape({1, 2}));
  EXPECT_EQ(embedding(table, IntTensor({2, 1, 3})).shape, Shape({2, 1, 3, 2}));
}

// x = (1, 2), W = [[1, 0, 2], [0, 1, 3]] -> (1, 2, 8); + b (1, 1, 1) ->
// (2, 3, 9). transpose_weight stores W^T = [3, 2].
TEST(LinearHand, PlainBiasAndTransposed) {
  Tensor x({1, 1, 2}, {1, 2});
  Tensor w({2, 3}, {1, 0, 2, 0, 1, 3}), wt({3, 2}, {1, 0, 0, 1, 2, 3});
  Tensor b({3}, {1, 1, 1});
  EXPECT_TRUE(allEqual(linear(x, w), Tensor({1, 1, 3}, {1, 2, 8})));
  EXPECT_TRUE(allEqual(linear(x, w, &b), Tensor({1, 1, 3}, {2, 3, 9})));
  EXPECT_TRUE(allEqual(linear(x, wt, &b, true), Tensor({1, 1, 3}, {2, 3, 9})));
  EXPECT_THROW(linear(x, wt), std::invalid_argument);
}

// x = 2, w_in = (1, -1) -> (2, -2), w_out = (3; 5).
// relu: 3 * 2 = 6. gelu: 3 * 2 Phi(2) + 5 * (-2) Phi(-2)
// = 3 * 1.9544997361036416 - 5 * 0.04550026389635842 = 5.635997888829133.
// swiglu, w_gate = (1, 0): silu(2) * 2 = 3.5231883119115292, silu(0) * -2
// = 0 -> 3 * 3.52318831... = 10.569564935734588.
TEST(FfnHand, Activations) {
  Tensor x({1, 1}, {2}), wIn({1, 2}, {1, -1}), wOut({2, 1}, {3, 5}),
      wGate({1, 2}, {1, 0});
  EXPECT_NEAR(ffn(Activation::Relu, x, wIn, wOut)(0, 0), 6.0, 0.0);
  EXPECT_NEAR(ffn(Activation::Gelu, x, wIn, wOut)(0, 0), 5.635997888829133,
              1e-14);
  EXPECT_NEAR(ffn(Activation::Swiglu, x, wIn, wOut, &wGate)(0, 0),
              10.569564935734588, 1e-14);
  EXPECT_THROW(ffn(Activation::Relu, x, wIn, wOut, &wGate),
               std::invalid_argument);
  EXPECT_THROW(ffn(Activation::Swiglu, x, wIn, wOut), std::invalid_argument);
}

// Grouped: expert 0 doubles, expert 1 negates (relu of +-x): x = [[1], [-3]]
// per expert 0 row 0 = 1 -> 2; expert 1 row 0 = -3: relu(-(-3)) * -1 = -3.
TEST(FfnHand, GroupedUsesEachExpertsWeights) {
  Tensor x({2, 1, 1}, {1, -3});
  Tensor wIn({2, 1, 1}, {1, -1}), wOut({2, 1, 1}, {2, -1});
  EXPECT_TRUE(allEqual(ffn(Activation::Relu, x, wIn, wOut),
                       Tensor({2, 1, 1}, {2, -3})));
}

TEST(FfnCross, GroupedEqualsPerExpertLoop) {
  std::mt19937 rng(21);
  const int64_t e = 3, n = 5, d = 4, f = 6, dOut = 4;
  for (Activation act :
       {Activation::Relu, Activation::Gelu, Activation::Swiglu}) {
    Tensor x = randomTensor(rng, {e, n, d}), wIn = randomTensor(rng, {e, d, f}),
           wOut = randomTensor(rng, {e, f, dOut}),
           wGate = randomTensor(rng, {e, d, f});
    const Tensor *gate = act == Activation::Swiglu ? &wGate : nullptr;
    std::vector<Tensor> parts;
    for (int64_t i = 0; i < e; ++i) {
      auto slice = [&](const Tensor &w) {
        Tensor s = sliceDim(w, 0, i, i + 1);
        s.shape.erase(s.shape.begin());
        return s;
      };
      Tensor g = slice(wGate);
      Tensor y =
          ffn(act, slice(x), slice(wIn), slice(wOut), gate ? &g : nullptr);
      y.shape.insert(y.shape.begin(), 1);
      parts.push_back(y);
    }
    EXPECT_TRUE(allEqual(ffn(act, x, wIn, wOut, gate), concatDim(parts, 0)));
  }
}

// swiglu equals silu(linear(x, w_gate)) * linear(x, w_in) then linear.
TEST(FfnCross, SwigluEqualsLinearComposition) {
  std::mt19937 rng(22);
  Tensor x = randomTensor(rng, {2, 3, 4}), wIn = randomTensor(rng, {4, 5}),
         wOut = randomTensor(rng, {5, 3}), wGate = randomTensor(rng, {4, 5});
  Tensor a = linear(x, wGate), b = linear(x, wIn);
  for (int64_t i = 0; i < a.numel(); ++i)
    a.data[i] = a.data[i] / (1 + std::exp(-a.data[i])) * b.data[i];
  EXPECT_TRUE(allClose(ffn(Activation::Swiglu, x, wIn, wOut, &wGate),
                       linear(a, wOut), kCross, 1e-15));
}

} // namespace
