//===- LCtxReference.h - Float64 reference semantics of lctx ops -*- C++
//-*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// A plain, obviously-correct float64 implementation of every lctx op, written
// from the op descriptions in dialects/LCtx/*.td and docs/conventions.md and
// nothing else. It is the oracle compiled kernels are tested against, so it
// favours loops that read like the math over speed. No MLIR/LLVM dependency.
//
// Conventions of this library:
// - Every tensor is row-major. Float operands are `Tensor` (double), integer
//   operands `IntTensor` (int64_t, whatever the op's integer width), complex
//   operands `ComplexTensor` (std::complex<double>).
// - All math is float64, including what the ops compute in fp32 (router,
//   memory, CEMA state, TimestepNorm statistics). f32-typed attributes are
//   passed as double; to mirror an op exactly pass the f32-rounded value
//   (the defaults below are the f32 defaults widened, e.g. `double(1e-6f)`).
// - An optional operand is a nullable pointer; an optional attribute is a
//   std::optional. Several results come back as a struct.
// - Shape errors throw std::invalid_argument.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_TEST_REFERENCE_CPP_LCTXREFERENCE_H
#define LCTX_TEST_REFERENCE_CPP_LCTXREFERENCE_H

#include <complex>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lctx::reference {

using Shape = std::vector<int64_t>;

/// Throws std::invalid_argument with `message` unless `condition` holds.
void check(bool condition, const std::string &message);

/// The number of elements of `shape` (1 for a scalar).
int64_t numElements(const Shape &shape);

/// "[2, 3, 4]".
std::string shapeToString(const Shape &shape);

/// A dense row-major tensor: `shape` plus `data` with numElements(shape)
/// entries. Index helpers check ranks and bounds.
template <typename T> struct BasicTensor {
  Shape shape;
  std::vector<T> data;

  BasicTensor() = default;
  /// A zero tensor of `shape`.
  explicit BasicTensor(Shape shape)
      : shape(std::move(shape)), data(numElements(this->shape), T()) {}
  /// A tensor of `shape` holding `data` (sizes must agree).
  BasicTensor(Shape shape, std::vector<T> data)
      : shape(std::move(shape)), data(std::move(data)) {
    check(static_cast<int64_t>(this->data.size()) == numElements(this->shape),
          "tensor data size does not match shape " +
              shapeToString(this->shape));
  }

  /// A tensor of `shape` with every element `value`. (A factory, so that
  /// `Tensor({2}, {5})` cannot silently mean a fill.)
  static BasicTensor full(Shape shape, T value) {
    BasicTensor t(std::move(shape));
    t.data.assign(t.data.size(), value);
    return t;
  }

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  /// Dim `i`; a negative `i` counts from the end.
  int64_t dim(int64_t i) const {
    if (i < 0)
      i += rank();
    if (i < 0 || i >= rank())
      check(false, "dim index out of range");
    return shape[i];
  }
  int64_t numel() const { return static_cast<int64_t>(data.size()); }

  /// The linear offset of a full multi-index.
  /// (The messages are built only on failure: this runs for every element
  /// access.)
  int64_t offset(const std::vector<int64_t> &index) const {
    if (static_cast<int64_t>(index.size()) != rank())
      check(false,
            "index rank does not match tensor rank " + shapeToString(shape));
    int64_t linear = 0;
    for (int64_t d = 0; d < rank(); ++d) {
      if (index[d] < 0 || index[d] >= shape[d])
        check(false, "index out of bounds for shape " + shapeToString(shape));
      linear = linear * shape[d] + index[d];
    }
    return linear;
  }
  T &at(const std::vector<int64_t> &index) { return data[offset(index)]; }
  const T &at(const std::vector<int64_t> &index) const {
    return data[offset(index)];
  }
  template <typename... I> T &operator()(I... index) {
    return at({static_cast<int64_t>(index)...});
  }
  template <typename... I> const T &operator()(I... index) const {
    return at({static_cast<int64_t>(index)...});
  }
};

using Tensor = BasicTensor<double>;
using IntTensor = BasicTensor<int64_t>;
using ComplexTensor = BasicTensor<std::complex<double>>;

/// Defaults of the f32 attributes, widened exactly.
constexpr double kRmsNormEpsilon = static_cast<double>(1.0e-6f);
constexpr double kLayerNormEpsilon = static_cast<double>(1.0e-5f);
constexpr double kTimestepNormEpsilon = static_cast<double>(1.0e-5f);
constexpr double kRopeTheta = 10000.0;

//===----------------------------------------------------------------------===//
// Attention, RoPE, norms, embedding, linear, ffn (CommonOps.cpp)
//===----------------------------------------------------------------------===//

/// lctx.attention. `query : [B, H, Tq, Dh]`, `key : [B, Hkv, Tk, Dh]`,
/// `value : [B, Hkv, Tk, Dv]` with `H % Hkv == 0` (head `h` reads kv head
/// `h / (H / Hkv)`). Positions are the explicit `qPositions : [B, Tq]` and
/// `kPositions : [B, Tk]` (both or neither) or by default `Tk - Tq + i` for
/// query `i` and `j` for key `j`. Key `j` is visible to query `i` iff
/// `pj >= 0` (a negative key position is padding), `pj <= pi` when `causal`,
/// and `floor(pi / c) == floor(pj / c)` with `chunkSize = c`. RoPE (only when
/// `ropeTheta` is set) rotates q and k at `p`, or at `p mod c` (floor mod,
/// in [0, c)) with a chunk. `scale` defaults to 1/sqrt(Dh). A query row that
/// sees no key is zero. Result `[B, H, Tq, Dv]`.
Tensor attention(const Tensor &query, const Tensor &key, const Tensor &value,
                 const IntTensor *qPositions = nullptr,
                 const IntTensor *kPositions = nullptr, bool causal = true,
                 std::optional<int64_t> chunkSize = std::nullopt,
                 std::optional<double> scale = std::nullopt,
                 std::optional<double> ropeTheta = std::nullopt);

/// lctx.rope. Rotates pairs (2i, 2i+1) of `input : [B, H, T, Dh]` by
/// `p * theta^(-2i/Dh)` with `p` from `positions : [T]` or `[B, T]`.
Tensor rope(const Tensor &input, const IntTensor &positions,
            double theta = kRopeTheta);

/// lctx.rms_norm: `x / sqrt(mean(x^2) + epsilon) * weight` over the last dim;
/// no affine when `weight` is null.
Tensor rmsNorm(const Tensor &input, const Tensor *weight = nullptr,
               double epsilon = kRmsNormEpsilon);

/// lctx.layer_norm: `(x - mean) / sqrt(var + epsilon) * weight + bias` over
/// the last dim (biased variance); `weight` and `bias` each optional.
Tensor layerNorm(const Tensor &input, const Tensor *weight = nullptr,
                 const Tensor *bias = nullptr,
                 double epsilon = kLayerNormEpsilon);

/// lctx.embedding: `table[ids[...]]` for `table : [V, D]` and `ids` of any
/// rank; an id outside [0, V) gives a zero row. Result `ids.shape + [D]`.
Tensor embedding(const Tensor &table, const IntTensor &ids);

/// lctx.linear: `x W + b` for `x : [..., I]`, `W : [I, O]`; with
/// `transposeWeight`, `W : [O, I]` and `x W^T + b`. `bias : [O]` optional.
Tensor linear(const Tensor &input, const Tensor &weight,
              const Tensor *bias = nullptr, bool transposeWeight = false);

/// The feed-forward activation of lctx.ffn / lctx.route.moe.
enum class Activation { Relu, Gelu, Swiglu };

/// lctx.ffn. `relu(x w_in) w_out`, `gelu(x w_in) w_out` (exact erf gelu) or
/// `(silu(x w_gate) * (x w_in)) w_out` (`wGate` required by, and only
/// allowed with, swiglu). Rank-2 weights act on `x : [..., D]`; rank-3
/// weights `[E, D, F]`, `[E, F, Do]` apply expert `e` to slice `e` of
/// `x : [E, N, D]` (grouped form).
Tensor ffn(Activation activation, const Tensor &input, const Tensor &wIn,
           const Tensor &wOut, const Tensor *wGate = nullptr);

//===----------------------------------------------------------------------===//
// MEGABYTE patches (PatchOps.cpp)
//===----------------------------------------------------------------------===//

/// lctx.patch.embed. `ids : [B, T]` with `T = K * P`, `table : [V, D_G]`,
/// `pad : [P, D_G]`, optional `pos : [Tmax >= T, D_G]`. Row 0 of the result
/// `[B, K, P * D_G]` is flatten(pad); row k >= 1 concatenates the embeddings
/// (table row, plus pos[t]) of bytes `(k-1)P .. kP-1`. An id outside [0, V)
/// contributes a zero table row (as lctx.embedding; the op does not say).
Tensor patchEmbed(const IntTensor &ids, const Tensor &table, const Tensor &pad,
                  const Tensor *pos, int64_t patchSize);

/// lctx.patch.to_local. `out[b*K + k, p] = globalOut[b, k, p*D_G:(p+1)*D_G]
/// wGl + (p == 0 ? localPad : localTable[ids[b, k*P + p - 1]])` for
/// `globalOut : [B, K, P*D_G]`, `wGl : [D_G, D_L]`, `ids : [B, K*P]`,
/// `localTable : [V, D_L]`, `localPad : [D_L]`. An id outside [0, V) gives a
/// zero table row (as lctx.embedding; the op does not say).
Tensor patchToLocal(const Tensor &globalOut, const Tensor &wGl,
                    const IntTensor &ids, const Tensor &localTable,
                    const Tensor &localPad, int64_t patchSize);

/// lctx.patch.merge: `out[b, k*P + p] = input[b*K + k, p]` for
/// `input : [B*K, P, X]`; `batch` is the B of the op's result type.
Tensor patchMerge(const Tensor &input, int64_t batch);

//===----------------------------------------------------------------------===//
// Infini-attention memory (MemoryOps.cpp)
//===----------------------------------------------------------------------===//

/// The Infini-attention update rule.
enum class MemoryRule { Linear, Delta };

/// sigma(x) = ELU(x) + 1 (x + 1 for x > 0, exp(x) otherwise).
double memorySigma(double x);

/// lctx.memory.retrieve: `sigma(Q) M / (sigma(Q) . z)` per query row, and 0
/// where the denominator is exactly 0. `query : [B, H, N, Dk]`,
/// `memory : [B, H, Dk, Dv]`, `norm : [B, H, Dk]`; result `[B, H, N, Dv]`.
Tensor memoryRetrieve(const Tensor &query, const Tensor &memory,
                      const Tensor &norm);

/// The memory after an update (lctx.memory.update's two results).
struct MemoryState {
  Tensor memory; ///< [B, H, Dk, Dv]
  Tensor norm;   ///< [B, H, Dk]
};

/// lctx.memory.update. linear: `M + sigma(K)^T V`; delta:
/// `M + sigma(K)^T (V - sigma(K) M / (sigma(K) z))` with the retrieved term 0
/// where `sigma(K_t) . z == 0`; both: `z + sum_t sigma(K_t)`. The delta
/// term uses the memory before the update for every row of the segment.
MemoryState memoryUpdate(MemoryRule rule, const Tensor &key,
                         const Tensor &value, const Tensor &memory,
                         const Tensor &norm);

/// lctx.memory.gate: `sigmoid(beta[h]) A_mem + (1 - sigmoid(beta[h])) A_dot`
/// for `[B, H, N, Dv]` operands and `beta : [H]`.
Tensor memoryGate(const Tensor &memoryOut, const Tensor &localOut,
                  const Tensor &beta);

/// lctx.memory.attention's results.
struct MemoryAttentionResult {
  Tensor result;    ///< [B, H, T, Dv]
  Tensor newMemory; ///< [B, H, Dk, Dv]
  Tensor newNorm;   ///< [B, H, Dk]
};

/// lctx.memory.attention: for each segment of `segmentSize` (the last may be
/// short), causal lctx.attention (default positions inside the segment,
/// `scale`, `ropeTheta`), retrieve from the memory before the segment, gate
/// with `beta : [H]`, then update with `rule`.
MemoryAttentionResult
memoryAttention(MemoryRule rule, const Tensor &query, const Tensor &key,
                const Tensor &value, const Tensor &memory, const Tensor &norm,
                const Tensor &beta, int64_t segmentSize,
                std::optional<double> scale = std::nullopt,
                std::optional<double> ropeTheta = std::nullopt);

//===----------------------------------------------------------------------===//
// Megalodon CEMA and TimestepNorm (CemaOps.cpp)
//===----------------------------------------------------------------------===//

/// lctx.cema.scan's results.
struct CemaScanResult {
  Tensor result;            ///< y : [B, L, D]
  ComplexTensor finalState; ///< h_L : [B, D, N]
};

/// lctx.cema.scan, the sequential recurrence. `input : [B, L, D]`,
/// `alpha, delta : [D, N]`, `theta : [D]`, `gamma : [D, N]` (complex),
/// `omega : [D]`, `initState : [B, D, N]` (complex):
/// `p = sigmoid(alpha)`, `theta' = sigmoid(theta) 2 pi / N (n + 1)`,
/// `q = (1 - sigmoid(alpha) sigmoid(delta)) exp(i theta')`,
/// `h_t = p x_t + q h_{t-1}`, `y_t = Re(sum_n gamma / sqrt(N) h_t) + omega
/// x_t`.
CemaScanResult cemaScan(const Tensor &input, const Tensor &alpha,
                        const Tensor &delta, const Tensor &theta,
                        const ComplexTensor &gamma, const Tensor &omega,
                        const ComplexTensor &initState);

/// lctx.cema.timestep_norm's results.
struct TimestepNormResult {
  Tensor result;      ///< y : [B, L, D]
  IntTensor newCount; ///< [B], steps seen
  Tensor newMean;     ///< [B, G]
  Tensor newVar;      ///< [B, G], biased
};

/// lctx.cema.timestep_norm. `D` features form `numGroups` groups of `D/G`;
/// at step t the mean and biased variance of all the group's elements at
/// steps <= t, merged with the carried state (`count : [B]` steps, each of
/// D/G elements, `mean, var : [B, G]`), normalize
/// `(x - mu) / sqrt(var + epsilon) * (weight + 1) + bias`.
TimestepNormResult cemaTimestepNorm(const Tensor &input, const Tensor &weight,
                                    const Tensor &bias, const IntTensor &count,
                                    const Tensor &mean, const Tensor &var,
                                    int64_t numGroups,
                                    double epsilon = kTimestepNormEpsilon);

//===----------------------------------------------------------------------===//
// Switch experts and Mixture-of-Depths (RouteOps.cpp)
//===----------------------------------------------------------------------===//

/// `floor(x * f)`, tolerating binary rounding of an exact product (0.29 *
/// 100 gives 29, not 28): `floor(x f + 1e-9 max(1, x f))`, the rule of
/// lctx's ShapeUtils.
int64_t floorProduct(double x, double f);

/// Switch capacity: `S` if `dropless`, else `max(1, floor(S * cf / E))`.
int64_t switchCapacity(int64_t groupSize, int64_t numExperts,
                       double capacityFactor, bool dropless);

/// lctx.route.experts's results.
struct RouteExpertsResult {
  IntTensor expert; ///< [B, S]
  Tensor gate;      ///< [B, S]
  IntTensor slot;   ///< [B, S], -1 for a dropped token
  double auxLoss = 0.0;
};

/// lctx.route.experts: softmax router over `x : [B, S, D]` and
/// `router : [D, E]`, argmax with the lowest index on ties, capacity per
/// batch row, slots in sequence order, aux loss `coef E sum_e f_e P_e` over
/// the whole batch.
RouteExpertsResult routeExperts(const Tensor &input, const Tensor &router,
                                double capacityFactor = 1.0,
                                bool dropless = false,
                                double auxLossCoef = 0.01);

/// lctx.route.dispatch: `out[e, b*C + c] = x[b, s]` for `expert[b,s] = e`,
/// `slot[b,s] = c`; unused slots zero, a token with a slot outside [0, C)
/// or an expert outside [0, E) is dropped. `numExperts` and `capacity` come
/// from the op's result type `[E, B*C, D]`. Two tokens on one slot: the
/// later token (in b, s order) wins.
Tensor routeDispatch(const Tensor &input, const IntTensor &expert,
                     const IntTensor &slot, int64_t numExperts,
                     int64_t capacity);

/// lctx.route.combine: `gate[b,s] expertOut[expert, b*C + slot]` with
/// `expertOut : [E, B*C, D]`, and exactly 0 for a token whose slot is outside
/// [0, C) or expert outside [0, E).
Tensor routeCombine(const Tensor &expertOut, const IntTensor &expert,
                    const IntTensor &slot, const Tensor &gate);

/// lctx.route.moe's results.
struct RouteMoeResult {
  Tensor result; ///< [B, S, D]
  double auxLoss = 0.0;
};

/// lctx.route.moe: `gate * FFN_expert(x)` for a kept token, 0 for a dropped
/// one; `wIn : [E, D, F]`, `wOut : [E, F, D]`, `wGate : [E, D, F]`.
RouteMoeResult routeMoe(Activation activation, const Tensor &input,
                        const Tensor &router, const Tensor &wIn,
                        const Tensor &wOut, const Tensor *wGate = nullptr,
                        double capacityFactor = 1.0, bool dropless = false,
                        double auxLossCoef = 0.01);

/// The Mixture-of-Depths routing mode.
enum class DepthRouting { Topk, Causal };

/// The number k of selected entries per row: floorProduct(S, capacity) for
/// topk (may be 0), S for causal.
int64_t depthSelected(DepthRouting mode, double capacity, int64_t seqLen);

/// lctx.route.depth's results.
struct RouteDepthResult {
  IntTensor indices; ///< [B, k]
  Tensor weights;    ///< [B, k]
};

/// lctx.route.depth. `r = x . router` for `x : [B, S, D]`, `router : [D]`.
/// topk: the k largest r per row (lowest index on ties), indices ascending;
/// causal: tokens with r > 0 ascending, then -1 padding with weight 0.
/// `weights = r[indices]`.
RouteDepthResult routeDepth(DepthRouting mode, const Tensor &input,
                            const Tensor &router, double capacity = 0.125);

/// lctx.route.gather: `x[b, indices[b, j]]`, a zero row for an index outside
/// [0, S). Result `[B, k, D]`.
Tensor routeGather(const Tensor &input, const IntTensor &indices);

/// lctx.route.scatter_add: `y = x`, then `y[b, idx[b,j]] += w[b,j] upd[b,j]`
/// for in-range indices (repeats accumulate, `w = 1` when `weights` is null).
Tensor routeScatterAdd(const Tensor &input, const Tensor &updates,
                       const IntTensor &indices,
                       const Tensor *weights = nullptr);

} // namespace lctx::reference

#endif // LCTX_TEST_REFERENCE_CPP_LCTXREFERENCE_H
