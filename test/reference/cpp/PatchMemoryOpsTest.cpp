//===- PatchMemoryOpsTest.cpp - Tests of reference patch/memory ops -------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// MEGABYTE patch ops against hand cases and the paper's App. B pseudo-code;
// Infini-attention memory ops against hand cases and an independent
// per-segment loop of eqs. 7-10. Tolerances: exact or 1e-14 relative for
// hand cases, 1e-12 relative for cross-formulations.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include <cmath>

using namespace lctx::reference;
using namespace lctx::reference::test;

namespace {

constexpr double kHand = 1e-14;
constexpr double kCross = 1e-12;

//===----------------------------------------------------------------------===//
// patch.embed / patch.to_local / patch.merge
//===----------------------------------------------------------------------===//

// T = 4, P = 2 (K = 2), D_G = 1, table (10, 20, 30), pad (-1; -2),
// ids (2, 7, 1, 5). Patch 0 is flatten(pad) = (-1, -2); patch 1 holds the
// bytes of patch 0: table[2] = 30 and id 7 (out of range) -> 0; the last
// patch (ids 1, 5) is dropped. With pos (0.1 .. 0.5): (30.1, 0.2).
TEST(PatchHand, EmbedShiftsByOnePatch) {
  IntTensor ids({1, 4}, {2, 7, 1, 5});
  Tensor table({3, 1}, {10, 20, 30}), pad({2, 1}, {-1, -2});
  Tensor pos({5, 1}, {0.1, 0.2, 0.3, 0.4, 0.5});
  EXPECT_TRUE(allEqual(patchEmbed(ids, table, pad, nullptr, 2),
                       Tensor({1, 2, 2}, {-1, -2, 30, 0})));
  EXPECT_TRUE(allClose(patchEmbed(ids, table, pad, &pos, 2),
                       Tensor({1, 2, 2}, {-1, -2, 30.1, 0.2}), kHand));
  EXPECT_THROW(patchEmbed(IntTensor({1, 3}), table, pad, nullptr, 2),
               std::invalid_argument);
  EXPECT_THROW(patchEmbed(ids, table, pad, nullptr, 4), std::invalid_argument);
}

// MEGABYTE App. B: bytes_global = cat(pad, embed(bytes)[:, :-P]) then
// rearrange "b (t p) e -> b t (p e)", written with lctx.embedding.
TEST(PatchCross, EmbedEqualsPaperPseudoCode) {
  std::mt19937 rng(31);
  const int64_t b = 2, p = 4, k = 3, t = k * p, v = 9, dg = 3;
  IntTensor ids = randomInts(rng, {b, t}, 0, v - 1);
  Tensor table = randomTensor(rng, {v, dg}), pad = randomTensor(rng, {p, dg}),
         pos = randomTensor(rng, {t + 2, dg});
  Tensor e = embedding(table, ids); // [B, T, D_G]
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ti = 0; ti < t; ++ti)
      for (int64_t i = 0; i < dg; ++i)
        e(bi, ti, i) += pos(ti, i);
  Tensor padB({b, p, dg});
  for (int64_t bi = 0; bi < b; ++bi)
    std::copy(pad.data.begin(), pad.data.end(),
              padB.data.begin() + bi * p * dg);
  Tensor global = concatDim<double>({padB, sliceDim(e, 1, 0, t - p)}, 1);
  global.shape = {b, k, p * dg}; // the rearrange is a row-major reshape
  EXPECT_TRUE(allEqual(patchEmbed(ids, table, pad, &pos, p), global));
}

// P = 2, K = 2, D_G = 1, D_L = 2, w_gl = (1, 10), local pad (0.5, 0.5),
// local table rows (100, 200), (300, 400), ids (1, 0, 0, 1).
// Patch 0: slot 0 = 1 * (1, 10) + pad = (1.5, 10.5); slot 1 = 2 * (1, 10)
// + table[ids[0] = 1] = (302, 420). Patch 1 (global (3, 4)): slot 0 uses the
// pad again, not the previous patch's byte: (3.5, 30.5); slot 1 = (4, 40)
// + table[ids[2] = 0] = (104, 240).
TEST(PatchHand, ToLocalProjectsAndAddsPreviousByte) {
  Tensor global({1, 2, 2}, {1, 2, 3, 4}), wGl({1, 2}, {1, 10});
  IntTensor ids({1, 4}, {1, 0, 0, 1});
  Tensor table({2, 2}, {100, 200, 300, 400}), lpad({2}, {0.5, 0.5});
  EXPECT_TRUE(
      allEqual(patchToLocal(global, wGl, ids, table, lpad, 2),
               Tensor({2, 2, 2}, {1.5, 10.5, 302, 420, 3.5, 30.5, 104, 240})));
}

// to_local equals: reshape "b t (p e) -> (b t) p e", linear by w_gl, plus
// lctx.embedding of the per-patch shifted bytes (pad at p = 0).
TEST(PatchCross, ToLocalEqualsReshapeLinearEmbedding) {
  std::mt19937 rng(32);
  const int64_t b = 2, k = 3, p = 4, dg = 3, dl = 5, v = 7;
  Tensor global = randomTensor(rng, {b, k, p * dg}),
         wGl = randomTensor(rng, {dg, dl}), table = randomTensor(rng, {v, dl}),
         lpad = randomTensor(rng, {dl});
  IntTensor ids = randomInts(rng, {b, k * p}, 0, v - 1);
  Tensor reshaped = global;
  reshaped.shape = {b * k, p, dg};
  Tensor expected = linear(reshaped, wGl);
  IntTensor prev({b * k, p});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ki = 0; ki < k; ++ki)
      for (int64_t pi = 0; pi < p; ++pi)
        prev(bi * k + ki, pi) = pi == 0 ? -1 : ids(bi, ki * p + pi - 1);
  Tensor emb = embedding(table, prev); // -1 -> zero row, then add the pad
  for (int64_t r = 0; r < b * k; ++r)
    for (int64_t pi = 0; pi < p; ++pi)
      for (int64_t l = 0; l < dl; ++l)
        expected(r, pi, l) += pi == 0 ? lpad(l) : emb(r, pi, l);
  EXPECT_TRUE(allClose(patchToLocal(global, wGl, ids, table, lpad, p), expected,
                       kCross));
}

// out[b, k*P + p] = in[b*K + k, p]: with B = 2, K = 2, P = 2, X = 1 and
// in = 0..7, out[1, 3] = in[1*2 + 1, 1] = 7 and out[0, 2] = in[1, 0] = 2.
TEST(PatchHand, MergeInvertsThePatchSplit) {
  Tensor in({4, 2, 1}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor out = patchMerge(in, 2);
  EXPECT_EQ(out.shape, Shape({2, 4, 1}));
  EXPECT_EQ(out(1, 3, 0), 7.0);
  EXPECT_EQ(out(0, 2, 0), 2.0);
  EXPECT_TRUE(allEqual(out, Tensor({2, 4, 1}, {0, 1, 2, 3, 4, 5, 6, 7})));
  EXPECT_THROW(patchMerge(in, 3), std::invalid_argument);
}

//===----------------------------------------------------------------------===//
// memory.retrieve / update / gate: hand-computed
//===----------------------------------------------------------------------===//

const double kLn2 = std::log(2.0);

// sigma(0) = e^0 = 1, sigma(-ln 2) = 1/2, sigma(1) = 2. M = (2; 4),
// z = (1, 2). q = (0, -ln 2): (2 + 2) / (1 + 1) = 2; q = (1, 0):
// (4 + 4) / (2 + 2) = 2. z = 0 gives exactly 0 (the first segment).
TEST(MemoryHand, Retrieve) {
  EXPECT_EQ(memorySigma(0.0), 1.0);
  EXPECT_EQ(memorySigma(1.0), 2.0);
  EXPECT_NEAR(memorySigma(-kLn2), 0.5, 1e-16);
  Tensor q({1, 1, 2, 2}, {0, -kLn2, 1, 0});
  Tensor m({1, 1, 2, 1}, {2, 4}), z({1, 1, 2}, {1, 2});
  EXPECT_TRUE(
      allClose(memoryRetrieve(q, m, z), Tensor({1, 1, 2, 1}, {2, 2}), kHand));
  EXPECT_TRUE(
      allEqual(memoryRetrieve(q, m, Tensor({1, 1, 2})), Tensor({1, 1, 2, 1})));
}

// Linear: K rows (0, 1), (1, 0) -> sigma (1, 2), (2, 1); V = 3, 5.
// M' = M + (1*3 + 2*5; 2*3 + 1*5) = M + (13; 11); z' = z + (3, 3).
TEST(MemoryHand, LinearUpdate) {
  Tensor k({1, 1, 2, 2}, {0, 1, 1, 0}), v({1, 1, 2, 1}, {3, 5});
  Tensor m({1, 1, 2, 1}, {2, 4}), z({1, 1, 2}, {1, 2});
  MemoryState s = memoryUpdate(MemoryRule::Linear, k, v, m, z);
  EXPECT_TRUE(allEqual(s.memory, Tensor({1, 1, 2, 1}, {15, 15})));
  EXPECT_TRUE(allEqual(s.norm, Tensor({1, 1, 2}, {4, 5})));
}

// Delta: k = (0, -ln 2), sigma (1, 1/2); retrieved (2 + 2) / (1 + 1) = 2;
// V = 5 -> V - 2 = 3 -> M' = (2 + 3; 4 + 1.5) = (5; 5.5), z' = (2, 2.5).
// With z = 0 the retrieved term is 0 (not 0/0): M' = M + sigma^T V =
// (2 + 5; 4 + 2.5).
TEST(MemoryHand, DeltaUpdateAndZeroDenominator) {
  Tensor k({1, 1, 1, 2}, {0, -kLn2}), v({1, 1, 1, 1}, {5});
  Tensor m({1, 1, 2, 1}, {2, 4}), z({1, 1, 2}, {1, 2});
  MemoryState s = memoryUpdate(MemoryRule::Delta, k, v, m, z);
  EXPECT_TRUE(allClose(s.memory, Tensor({1, 1, 2, 1}, {5, 5.5}), kHand));
  EXPECT_TRUE(allClose(s.norm, Tensor({1, 1, 2}, {2, 2.5}), kHand));
  MemoryState first =
      memoryUpdate(MemoryRule::Delta, k, v, m, Tensor({1, 1, 2}));
  EXPECT_TRUE(allClose(first.memory, Tensor({1, 1, 2, 1}, {7, 6.5}), kHand));
  // Delta uses the memory before the update for every row: a repeated key
  // with its own retrieved value adds nothing. M = (2; 4), z = (1, 2),
  // k = (0, -ln 2) retrieves 2; two rows with V = 2 leave M unchanged.
  Tensor k2({1, 1, 2, 2}, {0, -kLn2, 0, -kLn2}), v2({1, 1, 2, 1}, {2, 2});
  EXPECT_TRUE(
      allClose(memoryUpdate(MemoryRule::Delta, k2, v2, m, z).memory, m, kHand));
  // Two rows with V = 5 both retrieve 2 from M_{s-1}: M' = M + 2 * (1, 1/2)
  // * 3 = (8; 7). (Reading the memory as updated by row 0 would retrieve
  // (5 + 2.75) / 2 = 3.875 for row 1 instead.)
  Tensor v5({1, 1, 2, 1}, {5, 5});
  EXPECT_TRUE(allClose(memoryUpdate(MemoryRule::Delta, k2, v5, m, z).memory,
                       Tensor({1, 1, 2, 1}, {8, 7}), kHand));
}

// beta = 0 -> 0.5 / 0.5; beta = ln 3 -> sigmoid 3/4: 0.75 * 8 + 0.25 * 4 = 7.
TEST(MemoryHand, GatePerHead) {
  Tensor mem({1, 2, 1, 1}, {8, 8}), loc({1, 2, 1, 1}, {4, 4});
  Tensor beta({2}, {0, std::log(3.0)});
  EXPECT_TRUE(allClose(memoryGate(mem, loc, beta), Tensor({1, 2, 1, 1}, {6, 7}),
                       kHand));
}

//===----------------------------------------------------------------------===//
// memory.attention: against an independent loop of eqs. 7-10
//===----------------------------------------------------------------------===//

/// Infini-attention for one (b, h), written from the paper independently of
/// the library: per segment, causal softmax attention with RoPE as complex
/// rotation at in-segment positions, A_mem from M_{s-1} (0 if the
/// denominator is 0), the gate, then the update of M and z.
void infiniLoop(MemoryRule rule, const std::vector<std::vector<double>> &q,
                const std::vector<std::vector<double>> &k,
                const std::vector<std::vector<double>> &v,
                std::vector<std::vector<double>> &m, std::vector<double> &z,
                double beta, int64_t n, double scale, double theta,
                std::vector<std::vector<double>> &out) {
  const int64_t t = q.size(), dk = z.size(), dv = v[0].size();
  auto sig = [](double x) { return x > 0 ? x + 1 : std::exp(x); };
  auto rot = [&](const std::vector<double> &x, int64_t p) {
    std::vector<double> y(dk);
    for (int64_t i = 0; i < dk / 2; ++i) {
      std::complex<double> c(x[2 * i], x[2 * i + 1]);
      c *= std::polar(1.0, p * std::pow(theta, -2.0 * i / dk));
      y[2 * i] = c.real();
      y[2 * i + 1] = c.imag();
    }
    return y;
  };
  const double g = 1 / (1 + std::exp(-beta));
  out.assign(t, std::vector<double>(dv, 0.0));
  for (int64_t s0 = 0; s0 < t; s0 += n) {
    const int64_t s1 = std::min(t, s0 + n);
    for (int64_t i = s0; i < s1; ++i) {
      // Eq. 6 (local), RoPE at positions i - s0.
      std::vector<double> qi = rot(q[i], i - s0), w;
      for (int64_t j = s0; j <= i; ++j) {
        std::vector<double> kj = rot(k[j], j - s0);
        double dot = 0;
        for (int64_t c = 0; c < dk; ++c)
          dot += qi[c] * kj[c];
        w.push_back(std::exp(scale * dot));
      }
      double sum = 0;
      for (double x : w)
        sum += x;
      std::vector<double> dotOut(dv, 0.0), memOut(dv, 0.0);
      for (int64_t j = s0; j <= i; ++j)
        for (int64_t e = 0; e < dv; ++e)
          dotOut[e] += w[j - s0] / sum * v[j][e];
      // Eq. 7 (memory, no RoPE).
      double den = 0;
      for (int64_t c = 0; c < dk; ++c)
        den += sig(q[i][c]) * z[c];
      if (den != 0)
        for (int64_t e = 0; e < dv; ++e) {
          double num = 0;
          for (int64_t c = 0; c < dk; ++c)
            num += sig(q[i][c]) * m[c][e];
          memOut[e] = num / den;
        }
      // Eq. 10.
      for (int64_t e = 0; e < dv; ++e)
        out[i][e] = g * memOut[e] + (1 - g) * dotOut[e];
    }
    // Eqs. 8 / 9 with M_{s-1}.
    std::vector<std::vector<double>> mPrev = m;
    std::vector<double> zPrev = z;
    for (int64_t j = s0; j < s1; ++j) {
      std::vector<double> sk(dk);
      double den = 0;
      for (int64_t c = 0; c < dk; ++c) {
        sk[c] = sig(k[j][c]);
        den += sk[c] * zPrev[c];
      }
      for (int64_t e = 0; e < dv; ++e) {
        double upd = v[j][e];
        if (rule == MemoryRule::Delta && den != 0) {
          double r = 0;
          for (int64_t c = 0; c < dk; ++c)
            r += sk[c] * mPrev[c][e];
          upd -= r / den;
        }
        for (int64_t c = 0; c < dk; ++c)
          m[c][e] += sk[c] * upd;
      }
      for (int64_t c = 0; c < dk; ++c)
        z[c] += sk[c];
    }
  }
}

TEST(MemoryCross, FusedEqualsIndependentSegmentLoop) {
  std::mt19937 rng(41);
  const int64_t b = 2, h = 2, t = 11, n = 4, dk = 4, dv = 3; // short last
  for (MemoryRule rule : {MemoryRule::Linear, MemoryRule::Delta}) {
    for (bool zeroInit : {true, false}) {
      Tensor q = randomTensor(rng, {b, h, t, dk}),
             k = randomTensor(rng, {b, h, t, dk}),
             v = randomTensor(rng, {b, h, t, dv}),
             beta = randomTensor(rng, {h}, -2, 2);
      Tensor m =
          zeroInit ? Tensor({b, h, dk, dv}) : randomTensor(rng, {b, h, dk, dv});
      Tensor z =
          zeroInit ? Tensor({b, h, dk}) : randomTensor(rng, {b, h, dk}, 0.5, 2);
      MemoryAttentionResult got =
          memoryAttention(rule, q, k, v, m, z, beta, n, 0.6, 100.0);
      for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t hi = 0; hi < h; ++hi) {
          std::vector<std::vector<double>> qq(t), kk(t), vv(t), mm(dk), out;
          std::vector<double> zz(dk);
          for (int64_t i = 0; i < t; ++i)
            for (int64_t c = 0; c < dk; ++c) {
              qq[i].push_back(q(bi, hi, i, c));
              kk[i].push_back(k(bi, hi, i, c));
            }
          for (int64_t i = 0; i < t; ++i)
            for (int64_t e = 0; e < dv; ++e)
              vv[i].push_back(v(bi, hi, i, e));
          for (int64_t c = 0; c < dk; ++c) {
            zz[c] = z(bi, hi, c);
            for (int64_t e = 0; e < dv; ++e)
              mm[c].push_back(m(bi, hi, c, e));
          }
          infiniLoop(rule, qq, kk, vv, mm, zz, beta(hi), n, 0.6, 100.0, out);
          for (int64_t i = 0; i < t; ++i)
            for (int64_t e = 0; e < dv; ++e)
              EXPECT_NEAR(got.result(bi, hi, i, e), out[i][e],
                          kCross * (1 + std::abs(out[i][e])));
          for (int64_t c = 0; c < dk; ++c) {
            EXPECT_NEAR(got.newNorm(bi, hi, c), zz[c], kCross * (1 + zz[c]));
            for (int64_t e = 0; e < dv; ++e)
              EXPECT_NEAR(got.newMemory(bi, hi, c, e), mm[c][e],
                          kCross * (1 + std::abs(mm[c][e])));
          }
        }
    }
  }
}

// The first segment retrieves nothing: its output is (1 - sigmoid(beta))
// A_dot exactly, and A_dot is lctx.attention on the segment.
TEST(MemoryCross, FirstSegmentIsGatedLocalAttention) {
  std::mt19937 rng(42);
  Tensor q = randomTensor(rng, {1, 2, 6, 4}),
         k = randomTensor(rng, {1, 2, 6, 4}),
         v = randomTensor(rng, {1, 2, 6, 4}), beta({2}, {0.3, -1.2});
  MemoryAttentionResult r =
      memoryAttention(MemoryRule::Delta, q, k, v, Tensor({1, 2, 4, 4}),
                      Tensor({1, 2, 4}), beta, 4);
  Tensor dot = attention(sliceDim(q, 2, 0, 4), sliceDim(k, 2, 0, 4),
                         sliceDim(v, 2, 0, 4));
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t e = 0; e < 4; ++e)
        EXPECT_NEAR(r.result(0, h, i, e),
                    (1 - 1 / (1 + std::exp(-beta(h)))) * dot(0, h, i, e),
                    1e-15);
}

// Streaming: one call equals two calls split at a segment boundary with
// the memory carried.
TEST(MemoryCross, SplitAtSegmentBoundaryCarriesMemory) {
  std::mt19937 rng(43);
  Tensor q = randomTensor(rng, {1, 2, 10, 4}),
         k = randomTensor(rng, {1, 2, 10, 4}),
         v = randomTensor(rng, {1, 2, 10, 2}), beta({2}, {0.5, -0.5});
  Tensor m({1, 2, 4, 2}), z({1, 2, 4});
  MemoryAttentionResult whole =
      memoryAttention(MemoryRule::Linear, q, k, v, m, z, beta, 3, {}, 1e4);
  MemoryAttentionResult a = memoryAttention(
      MemoryRule::Linear, sliceDim(q, 2, 0, 6), sliceDim(k, 2, 0, 6),
      sliceDim(v, 2, 0, 6), m, z, beta, 3, {}, 1e4);
  MemoryAttentionResult b = memoryAttention(
      MemoryRule::Linear, sliceDim(q, 2, 6, 10), sliceDim(k, 2, 6, 10),
      sliceDim(v, 2, 6, 10), a.newMemory, a.newNorm, beta, 3, {}, 1e4);
  EXPECT_TRUE(
      allEqual(whole.result, concatDim<double>({a.result, b.result}, 2)));
  EXPECT_TRUE(allEqual(whole.newMemory, b.newMemory));
  EXPECT_TRUE(allEqual(whole.newNorm, b.newNorm));
}

} // namespace
