//===- PatchMemoryOps.cpp - Reference MEGABYTE and Infini-attention ops ---===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lctx.patch.embed / to_local / merge (MEGABYTE eqs. 1-4) and
// lctx.memory.retrieve / update / gate / attention (Infini-attention
// eqs. 7-10).
//
//===----------------------------------------------------------------------===//

#include "LCtxReference.h"

#include <algorithm>
#include <cmath>

namespace lctx::reference {

//===----------------------------------------------------------------------===//
// MEGABYTE
//===----------------------------------------------------------------------===//

Tensor patchEmbed(const IntTensor &ids, const Tensor &table, const Tensor &pad,
                  const Tensor *pos, int64_t patchSize) {
  check(ids.rank() == 2 && table.rank() == 2 && pad.rank() == 2,
        "patch.embed: ids [B, T], table [V, D_G], pad [P, D_G]");
  const int64_t b = ids.dim(0), t = ids.dim(1), v = table.dim(0),
                dg = table.dim(1), p = patchSize;
  check(p > 0 && pad.dim(0) == p && pad.dim(1) == dg,
        "patch.embed: pad must be [patch_size, D_G]");
  check(t % p == 0, "patch.embed: patch_size must divide T");
  if (pos)
    check(pos->rank() == 2 && pos->dim(0) >= t && pos->dim(1) == dg,
          "patch.embed: pos must be [Tmax >= T, D_G]");
  const int64_t k = t / p;
  Tensor out({b, k, p * dg});
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t i = 0; i < p * dg; ++i)
      out(bi, 0, i) = pad.data[i]; // flatten(pad)
    for (int64_t ki = 1; ki < k; ++ki)
      for (int64_t pi = 0; pi < p; ++pi) {
        const int64_t byte = (ki - 1) * p + pi;
        const int64_t id = ids(bi, byte);
        for (int64_t i = 0; i < dg; ++i) {
          double e = (id >= 0 && id < v) ? table(id, i) : 0.0;
          if (pos)
            e += (*pos)(byte, i);
          out(bi, ki, pi * dg + i) = e;
        }
      }
  }
  return out;
}

Tensor patchToLocal(const Tensor &globalOut, const Tensor &wGl,
                    const IntTensor &ids, const Tensor &localTable,
                    const Tensor &localPad, int64_t patchSize) {
  check(globalOut.rank() == 3 && wGl.rank() == 2 && ids.rank() == 2 &&
            localTable.rank() == 2 && localPad.rank() == 1,
        "patch.to_local: operand ranks");
  const int64_t b = globalOut.dim(0), k = globalOut.dim(1), p = patchSize;
  check(p > 0 && globalOut.dim(2) % p == 0,
        "patch.to_local: P must divide the global width");
  const int64_t dg = globalOut.dim(2) / p, dl = wGl.dim(1),
                v = localTable.dim(0);
  check(wGl.dim(0) == dg, "patch.to_local: w_gl must be [D_G, D_L]");
  check(ids.shape == Shape({b, k * p}), "patch.to_local: ids must be [B, K*P]");
  check(localTable.dim(1) == dl && localPad.dim(0) == dl,
        "patch.to_local: local table/pad width must be D_L");
  Tensor out({b * k, p, dl});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t ki = 0; ki < k; ++ki)
      for (int64_t pi = 0; pi < p; ++pi) {
        const int64_t prev = pi == 0 ? -1 : ids(bi, ki * p + pi - 1);
        for (int64_t l = 0; l < dl; ++l) {
          double acc = 0.0;
          for (int64_t g = 0; g < dg; ++g)
            acc += globalOut(bi, ki, pi * dg + g) * wGl(g, l);
          if (pi == 0)
            acc += localPad(l);
          else if (prev >= 0 && prev < v)
            acc += localTable(prev, l);
          out(bi * k + ki, pi, l) = acc;
        }
      }
  return out;
}

Tensor patchMerge(const Tensor &input, int64_t batch) {
  check(input.rank() == 3, "patch.merge: input must be [B*K, P, X]");
  check(batch > 0 && input.dim(0) % batch == 0,
        "patch.merge: B must divide the input's dim 0");
  const int64_t k = input.dim(0) / batch, p = input.dim(1), x = input.dim(2);
  Tensor out({batch, k * p, x});
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t ki = 0; ki < k; ++ki)
      for (int64_t pi = 0; pi < p; ++pi)
        for (int64_t i = 0; i < x; ++i)
          out(bi, ki * p + pi, i) = input(bi * k + ki, pi, i);
  return out;
}

//===----------------------------------------------------------------------===//
// Infini-attention
//===----------------------------------------------------------------------===//

double memorySigma(double x) { return x > 0.0 ? x + 1.0 : std::exp(x); }

namespace {
void checkMemory(const Tensor &rows, const Tensor &memory, const Tensor &norm,
                 const char *op) {
  const std::string name(op);
  check(rows.rank() == 4 && memory.rank() == 4 && norm.rank() == 3,
        name + ": expects [B, H, N, Dk], [B, H, Dk, Dv], [B, H, Dk]");
  const int64_t b = rows.dim(0), h = rows.dim(1), dk = rows.dim(3);
  check(memory.dim(0) == b && memory.dim(1) == h && memory.dim(2) == dk,
        name + ": memory must be [B, H, Dk, Dv]");
  check(norm.shape == Shape({b, h, dk}), name + ": norm must be [B, H, Dk]");
}
} // namespace

Tensor memoryRetrieve(const Tensor &query, const Tensor &memory,
                      const Tensor &norm) {
  checkMemory(query, memory, norm, "memory.retrieve");
  const int64_t b = query.dim(0), h = query.dim(1), n = query.dim(2),
                dk = query.dim(3), dv = memory.dim(3);
  Tensor out({b, h, n, dv});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t i = 0; i < n; ++i) {
        double denom = 0.0;
        for (int64_t c = 0; c < dk; ++c)
          denom += memorySigma(query(bi, hi, i, c)) * norm(bi, hi, c);
        if (denom == 0.0)
          continue; // A_mem = 0
        for (int64_t e = 0; e < dv; ++e) {
          double num = 0.0;
          for (int64_t c = 0; c < dk; ++c)
            num += memorySigma(query(bi, hi, i, c)) * memory(bi, hi, c, e);
          out(bi, hi, i, e) = num / denom;
        }
      }
  return out;
}

MemoryState memoryUpdate(MemoryRule rule, const Tensor &key,
                         const Tensor &value, const Tensor &memory,
                         const Tensor &norm) {
  checkMemory(key, memory, norm, "memory.update");
  const int64_t b = key.dim(0), h = key.dim(1), n = key.dim(2), dk = key.dim(3),
                dv = memory.dim(3);
  check(value.shape == Shape({b, h, n, dv}),
        "memory.update: value must be [B, H, N, Dv]");
  MemoryState next{memory, norm};
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t t = 0; t < n; ++t) {
        std::vector<double> sk(dk);
        double denom = 0.0;
        for (int64_t c = 0; c < dk; ++c) {
          sk[c] = memorySigma(key(bi, hi, t, c));
          denom += sk[c] * norm(bi, hi, c); // the memory before the update
        }
        for (int64_t e = 0; e < dv; ++e) {
          double target = value(bi, hi, t, e);
          if (rule == MemoryRule::Delta && denom != 0.0) {
            double retrieved = 0.0;
            for (int64_t c = 0; c < dk; ++c)
              retrieved += sk[c] * memory(bi, hi, c, e);
            target -= retrieved / denom;
          }
          for (int64_t c = 0; c < dk; ++c)
            next.memory(bi, hi, c, e) += sk[c] * target;
        }
        for (int64_t c = 0; c < dk; ++c)
          next.norm(bi, hi, c) += sk[c];
      }
  return next;
}

Tensor memoryGate(const Tensor &memoryOut, const Tensor &localOut,
                  const Tensor &beta) {
  check(memoryOut.rank() == 4 && memoryOut.shape == localOut.shape,
        "memory.gate: A_mem and A_dot must be the same [B, H, N, Dv]");
  const int64_t b = memoryOut.dim(0), h = memoryOut.dim(1),
                n = memoryOut.dim(2), dv = memoryOut.dim(3);
  check(beta.shape == Shape({h}), "memory.gate: beta must be [H]");
  Tensor out(memoryOut.shape);
  for (int64_t hi = 0; hi < h; ++hi) {
    const double g = 1.0 / (1.0 + std::exp(-beta(hi)));
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = 0; e < dv; ++e)
          out(bi, hi, i, e) =
              g * memoryOut(bi, hi, i, e) + (1.0 - g) * localOut(bi, hi, i, e);
  }
  return out;
}

namespace {
/// Rows [t0, t0 + len) of dim 2 of a rank-4 tensor.
Tensor sliceSeq(const Tensor &x, int64_t t0, int64_t len) {
  Tensor out({x.dim(0), x.dim(1), len, x.dim(3)});
  for (int64_t b = 0; b < x.dim(0); ++b)
    for (int64_t h = 0; h < x.dim(1); ++h)
      for (int64_t t = 0; t < len; ++t)
        for (int64_t d = 0; d < x.dim(3); ++d)
          out(b, h, t, d) = x(b, h, t0 + t, d);
  return out;
}
} // namespace

MemoryAttentionResult memoryAttention(MemoryRule rule, const Tensor &query,
                                      const Tensor &key, const Tensor &value,
                                      const Tensor &memory, const Tensor &norm,
                                      const Tensor &beta, int64_t segmentSize,
                                      std::optional<double> scale,
                                      std::optional<double> ropeTheta) {
  checkMemory(query, memory, norm, "memory.attention");
  check(segmentSize > 0, "memory.attention: segment_size must be positive");
  check(key.shape == query.shape,
        "memory.attention: key must have the query's shape");
  const int64_t b = query.dim(0), h = query.dim(1), t = query.dim(2),
                dv = value.dim(3);
  check(value.shape == Shape({b, h, t, dv}),
        "memory.attention: value must be [B, H, T, Dv]");
  MemoryAttentionResult res{Tensor({b, h, t, dv}), memory, norm};
  for (int64_t t0 = 0; t0 < t; t0 += segmentSize) {
    const int64_t len = std::min(segmentSize, t - t0);
    Tensor qs = sliceSeq(query, t0, len), ks = sliceSeq(key, t0, len),
           vs = sliceSeq(value, t0, len);
    Tensor dot = attention(qs, ks, vs, nullptr, nullptr, /*causal=*/true,
                           std::nullopt, scale, ropeTheta);
    Tensor mem = memoryRetrieve(qs, res.newMemory, res.newNorm);
    Tensor gated = memoryGate(mem, dot, beta);
    MemoryState next = memoryUpdate(rule, ks, vs, res.newMemory, res.newNorm);
    res.newMemory = std::move(next.memory);
    res.newNorm = std::move(next.norm);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t hi = 0; hi < h; ++hi)
        for (int64_t i = 0; i < len; ++i)
          for (int64_t e = 0; e < dv; ++e)
            res.result(bi, hi, t0 + i, e) = gated(bi, hi, i, e);
  }
  return res;
}

} // namespace lctx::reference
