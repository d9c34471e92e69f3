//===- CommonOps.cpp - Reference attention, RoPE, norms, FFN --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lctx.attention, lctx.rope, lctx.rms_norm, lctx.layer_norm, lctx.embedding,
// lctx.linear and lctx.ffn in plain float64 loops.
//
//===----------------------------------------------------------------------===//

#include "LCtxReference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace lctx::reference {

void check(bool condition, const std::string &message) {
  if (!condition)
    throw std::invalid_argument("lctx reference: " + message);
}

int64_t numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    check(d >= 0, "negative dim in shape");
    n *= d;
  }
  return n;
}

std::string shapeToString(const Shape &shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i)
    os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

namespace {

/// Floor division and the matching non-negative remainder (c > 0).
int64_t floorDiv(int64_t p, int64_t c) {
  int64_t q = p / c;
  return (p % c != 0 && p < 0) ? q - 1 : q;
}
int64_t floorMod(int64_t p, int64_t c) { return p - floorDiv(p, c) * c; }

/// Rotates the pairs (2i, 2i+1) of `x[0:dh]` by `p * theta^(-2i/dh)`.
std::vector<double> rotate(const double *x, int64_t dh, int64_t p,
                           double theta) {
  std::vector<double> y(dh);
  for (int64_t i = 0; i < dh / 2; ++i) {
    double angle =
        static_cast<double>(p) * std::pow(theta, -2.0 * static_cast<double>(i) /
                                                     static_cast<double>(dh));
    double c = std::cos(angle), s = std::sin(angle);
    y[2 * i] = x[2 * i] * c - x[2 * i + 1] * s;
    y[2 * i + 1] = x[2 * i] * s + x[2 * i + 1] * c;
  }
  return y;
}

/// The rows of `x : [..., n]` as (rows, n).
std::pair<int64_t, int64_t> rowsOf(const Tensor &x) {
  check(x.rank() >= 1, "expected a tensor of rank >= 1");
  int64_t n = x.dim(-1);
  return {n == 0 ? 0 : x.numel() / n, n};
}

double activate(Activation act, double v) {
  switch (act) {
  case Activation::Relu:
    return v > 0.0 ? v : 0.0;
  case Activation::Gelu:
    return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  case Activation::Swiglu:
    return v / (1.0 + std::exp(-v)); // silu, the gate's activation
  }
  return v;
}

/// One expert's FFN on the rows `x[r*D:(r+1)*D]`, r in [0, rows).
void ffnRows(Activation act, const double *x, int64_t rows, int64_t d,
             const double *wIn, const double *wGate, const double *wOut,
             int64_t f, int64_t dOut, double *y) {
  std::vector<double> hidden(f);
  for (int64_t r = 0; r < rows; ++r) {
    const double *xr = x + r * d;
    for (int64_t j = 0; j < f; ++j) {
      double in = 0.0;
      for (int64_t i = 0; i < d; ++i)
        in += xr[i] * wIn[i * f + j];
      if (act == Activation::Swiglu) {
        double gate = 0.0;
        for (int64_t i = 0; i < d; ++i)
          gate += xr[i] * wGate[i * f + j];
        hidden[j] = activate(Activation::Swiglu, gate) * in;
      } else {
        hidden[j] = activate(act, in);
      }
    }
    for (int64_t o = 0; o < dOut; ++o) {
      double acc = 0.0;
      for (int64_t j = 0; j < f; ++j)
        acc += hidden[j] * wOut[j * dOut + o];
      y[r * dOut + o] = acc;
    }
  }
}

} // namespace

Tensor attention(const Tensor &query, const Tensor &key, const Tensor &value,
                 const IntTensor *qPositions, const IntTensor *kPositions,
                 bool causal, std::optional<int64_t> chunkSize,
                 std::optional<double> scale, std::optional<double> ropeTheta) {
  check(query.rank() == 4 && key.rank() == 4 && value.rank() == 4,
        "attention expects rank-4 query, key and value");
  const int64_t b = query.dim(0), h = query.dim(1), tq = query.dim(2),
                dh = query.dim(3);
  const int64_t hkv = key.dim(1), tk = key.dim(2), dv = value.dim(3);
  check(key.dim(0) == b && value.dim(0) == b, "attention: batch mismatch");
  check(key.dim(3) == dh, "attention: key head dim differs from query's");
  check(value.dim(1) == hkv && value.dim(2) == tk,
        "attention: value heads/length differ from key's");
  check(hkv > 0 && h % hkv == 0,
        "attention: H must be a multiple of the key/value head count");
  check((qPositions == nullptr) == (kPositions == nullptr),
        "attention: q_positions and k_positions come together");
  if (qPositions) {
    check(qPositions->shape == Shape({b, tq}), "attention: q_positions shape");
    check(kPositions->shape == Shape({b, tk}), "attention: k_positions shape");
  }
  check(qPositions || !causal || tq <= tk,
        "attention: a causal op without explicit positions needs Tq <= Tk");
  if (chunkSize)
    check(*chunkSize > 0, "attention: chunk_size must be positive");
  if (ropeTheta)
    check(dh % 2 == 0, "attention: RoPE needs an even head dim");
  const double s = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(dh));
  const int64_t groupSize = h / hkv;

  auto qPos = [&](int64_t bi, int64_t i) {
    return qPositions ? (*qPositions)(bi, i) : tk - tq + i;
  };
  auto kPos = [&](int64_t bi, int64_t j) {
    return kPositions ? (*kPositions)(bi, j) : j;
  };
  auto ropePos = [&](int64_t p) {
    return chunkSize ? floorMod(p, *chunkSize) : p;
  };

  Tensor out({b, h, tq, dv});
  std::vector<double> logits(tk);
  std::vector<char> visible(tk);
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t hi = 0; hi < h; ++hi) {
      const int64_t g = hi / groupSize;
      for (int64_t i = 0; i < tq; ++i) {
        const int64_t pi = qPos(bi, i);
        const double *qRow = &query(bi, hi, i, 0);
        std::vector<double> qv(qRow, qRow + dh);
        if (ropeTheta)
          qv = rotate(qRow, dh, ropePos(pi), *ropeTheta);
        double maxLogit = -std::numeric_limits<double>::infinity();
        bool any = false;
        for (int64_t j = 0; j < tk; ++j) {
          const int64_t pj = kPos(bi, j);
          bool vis = pj >= 0;
          if (causal && pj > pi)
            vis = false;
          if (chunkSize && floorDiv(pi, *chunkSize) != floorDiv(pj, *chunkSize))
            vis = false;
          visible[j] = vis;
          if (!vis)
            continue;
          const double *kRow = &key(bi, g, j, 0);
          std::vector<double> kv(kRow, kRow + dh);
          if (ropeTheta)
            kv = rotate(kRow, dh, ropePos(pj), *ropeTheta);
          double dot = 0.0;
          for (int64_t d = 0; d < dh; ++d)
            dot += qv[d] * kv[d];
          logits[j] = s * dot;
          maxLogit = any ? std::max(maxLogit, logits[j]) : logits[j];
          any = true;
        }
        if (!any)
          continue; // a row that sees no key is zero
        double denom = 0.0;
        for (int64_t j = 0; j < tk; ++j)
          if (visible[j])
            denom += std::exp(logits[j] - maxLogit);
        for (int64_t j = 0; j < tk; ++j) {
          if (!visible[j])
            continue;
          double w = std::exp(logits[j] - maxLogit) / denom;
          for (int64_t d = 0; d < dv; ++d)
            out(bi, hi, i, d) += w * value(bi, g, j, d);
        }
      }
    }
  }
  return out;
}

Tensor rope(const Tensor &input, const IntTensor &positions, double theta) {
  check(input.rank() == 4, "rope expects x : [B, H, T, Dh]");
  const int64_t b = input.dim(0), h = input.dim(1), t = input.dim(2),
                dh = input.dim(3);
  check(dh % 2 == 0, "rope: Dh must be even");
  check(positions.shape == Shape({t}) || positions.shape == Shape({b, t}),
        "rope: positions must be [T] or [B, T]");
  const bool shared = positions.rank() == 1;
  Tensor out(input.shape);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t ti = 0; ti < t; ++ti) {
        int64_t p = shared ? positions(ti) : positions(bi, ti);
        std::vector<double> y = rotate(&input(bi, hi, ti, 0), dh, p, theta);
        std::copy(y.begin(), y.end(), &out(bi, hi, ti, 0));
      }
  return out;
}

Tensor rmsNorm(const Tensor &input, const Tensor *weight, double epsilon) {
  check(epsilon > 0.0, "rms_norm: epsilon must be > 0");
  auto [rows, d] = rowsOf(input);
  if (weight)
    check(weight->shape == Shape({d}), "rms_norm: weight must be [D]");
  Tensor out(input.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const double *x = input.data.data() + r * d;
    double sumSq = 0.0;
    for (int64_t i = 0; i < d; ++i)
      sumSq += x[i] * x[i];
    double inv = 1.0 / std::sqrt(sumSq / static_cast<double>(d) + epsilon);
    for (int64_t i = 0; i < d; ++i)
      out.data[r * d + i] = x[i] * inv * (weight ? weight->data[i] : 1.0);
  }
  return out;
}

Tensor layerNorm(const Tensor &input, const Tensor *weight, const Tensor *bias,
                 double epsilon) {
  check(epsilon > 0.0, "layer_norm: epsilon must be > 0");
  auto [rows, d] = rowsOf(input);
  if (weight)
    check(weight->shape == Shape({d}), "layer_norm: weight must be [D]");
  if (bias)
    check(bias->shape == Shape({d}), "layer_norm: bias must be [D]");
  Tensor out(input.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const double *x = input.data.data() + r * d;
    double mean = 0.0;
    for (int64_t i = 0; i < d; ++i)
      mean += x[i];
    mean /= static_cast<double>(d);
    double var = 0.0;
    for (int64_t i = 0; i < d; ++i)
      var += (x[i] - mean) * (x[i] - mean);
    var /= static_cast<double>(d);
    double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t i = 0; i < d; ++i)
      out.data[r * d + i] =
          (x[i] - mean) * inv * (weight ? weight->data[i] : 1.0) +
          (bias ? bias->data[i] : 0.0);
  }
  return out;
}

Tensor embedding(const Tensor &table, const IntTensor &ids) {
  check(table.rank() == 2, "embedding: table must be [V, D]");
  const int64_t v = table.dim(0), d = table.dim(1);
  Shape shape = ids.shape;
  shape.push_back(d);
  Tensor out(shape);
  for (int64_t n = 0; n < ids.numel(); ++n) {
    int64_t id = ids.data[n];
    if (id < 0 || id >= v)
      continue; // zero row
    for (int64_t i = 0; i < d; ++i)
      out.data[n * d + i] = table(id, i);
  }
  return out;
}

Tensor linear(const Tensor &input, const Tensor &weight, const Tensor *bias,
              bool transposeWeight) {
  check(weight.rank() == 2, "linear: weight must be rank 2");
  auto [rows, in] = rowsOf(input);
  const int64_t o = transposeWeight ? weight.dim(0) : weight.dim(1);
  check((transposeWeight ? weight.dim(1) : weight.dim(0)) == in,
        "linear: weight does not match the input width");
  if (bias)
    check(bias->shape == Shape({o}), "linear: bias must be [O]");
  Shape shape = input.shape;
  shape.back() = o;
  Tensor out(shape);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < o; ++c) {
      double acc = bias ? bias->data[c] : 0.0;
      for (int64_t i = 0; i < in; ++i)
        acc += input.data[r * in + i] *
               (transposeWeight ? weight(c, i) : weight(i, c));
      out.data[r * o + c] = acc;
    }
  return out;
}

Tensor ffn(Activation activation, const Tensor &input, const Tensor &wIn,
           const Tensor &wOut, const Tensor *wGate) {
  const bool swiglu = activation == Activation::Swiglu;
  check(swiglu == (wGate != nullptr),
        "ffn: w_gate is required by, and only allowed with, swiglu");
  check(wIn.rank() == wOut.rank() && (wIn.rank() == 2 || wIn.rank() == 3),
        "ffn: weights must be both rank 2 or both rank 3");
  if (wGate)
    check(wGate->shape == wIn.shape, "ffn: w_gate must match w_in");
  if (wIn.rank() == 2) {
    auto [rows, d] = rowsOf(input);
    const int64_t f = wIn.dim(1), dOut = wOut.dim(1);
    check(wIn.dim(0) == d && wOut.dim(0) == f, "ffn: weight shapes");
    Shape shape = input.shape;
    shape.back() = dOut;
    Tensor out(shape);
    ffnRows(activation, input.data.data(), rows, d, wIn.data.data(),
            wGate ? wGate->data.data() : nullptr, wOut.data.data(), f, dOut,
            out.data.data());
    return out;
  }
  // Grouped form: expert e on slice e of x : [E, N, D].
  check(input.rank() == 3, "grouped ffn expects x : [E, N, D]");
  const int64_t e = wIn.dim(0), n = input.dim(1), d = input.dim(2),
                f = wIn.dim(2), dOut = wOut.dim(2);
  check(input.dim(0) == e && wOut.dim(0) == e, "grouped ffn: expert count");
  check(wIn.dim(1) == d && wOut.dim(1) == f, "grouped ffn: weight shapes");
  Tensor out({e, n, dOut});
  for (int64_t ei = 0; ei < e; ++ei)
    ffnRows(activation, input.data.data() + ei * n * d, n, d,
            wIn.data.data() + ei * d * f,
            wGate ? wGate->data.data() + ei * d * f : nullptr,
            wOut.data.data() + ei * f * dOut, f, dOut,
            out.data.data() + ei * n * dOut);
  return out;
}

} // namespace lctx::reference
