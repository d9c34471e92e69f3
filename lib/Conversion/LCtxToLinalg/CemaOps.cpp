//===- CemaOps.cpp - Lower Megalodon's CEMA and TimestepNorm --------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The math of each op is in its ODS description (docs/LCtxOps.md).
// CEMA runs in chunked parallel form (kernel powers up to the chunk length,
// state passed from chunk to chunk; see CemaScanLowering) with complex
// numbers as explicit (re, im) pairs; TimestepNorm is one pass over time
// that merges each step's group moments into the carried statistics.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/Dialect/Complex/IR/Complex.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cmath>

using namespace mlir;
using namespace mlir::lctx;
using namespace mlir::lctx::lowering;

namespace {

Value sigmoid(OpBuilder &b, Location l, Value x) {
  Value one = floatConst(b, l, x.getType(), 1.0);
  return b.create<arith::DivFOp>(
      l, one,
      b.create<arith::AddFOp>(
          l, one, b.create<math::ExpOp>(l, b.create<arith::NegFOp>(l, x))));
}

/// A loop over [0, n) carrying `init`; `body` returns the next values.
SmallVector<Value>
forLoop(OpBuilder &b, Location loc, int64_t n, ValueRange init,
        function_ref<SmallVector<Value>(OpBuilder &, Location, Value,
                                        ValueRange)>
            body) {
  auto loop = b.create<scf::ForOp>(
      loc, indexConst(b, loc, 0), indexConst(b, loc, n), indexConst(b, loc, 1),
      init, [&](OpBuilder &nb, Location nl, Value iv, ValueRange args) {
        nb.create<scf::YieldOp>(nl, body(nb, nl, iv, args));
      });
  return SmallVector<Value>(loop.getResults());
}

/// `v` (a float) converted to the float type `to`.
Value castFloat(OpBuilder &b, Location l, Value v, Type to) {
  unsigned from = v.getType().getIntOrFloatBitWidth(),
           width = to.getIntOrFloatBitWidth();
  if (v.getType() == to)
    return v;
  if (from < width)
    return b.create<arith::ExtFOp>(l, to, v);
  return b.create<arith::TruncFOp>(l, to, v);
}

/// Chunk length of the parallel form: kernel powers q^k are formed for
/// k <= kChunk only, and the state is passed from chunk to chunk.
constexpr int64_t kChunk = 32;
/// Channels per thread-pool iteration (a divisor of D, preferably a
/// multiple of 16 so that the vector loops have no tails).
constexpr int64_t kChannelBlock = 64;
/// Lags per group of the intra-chunk convolution (see the chunk step).
constexpr int64_t kLagGroup = 8;

int64_t channelBlock(int64_t d) {
  if (d <= kChannelBlock)
    return d;
  for (int64_t c = kChannelBlock; c >= 16; c -= 16)
    if (d % c == 0)
      return c;
  for (int64_t c = kChannelBlock; c >= 8; --c)
    if (d % c == 0)
      return c;
  return d;
}

/// A slice of `src` of static `sizes` at `offsets` (unit strides), typed
/// `shape`, which may drop unit dims of `sizes`.
Value sliceOf(OpBuilder &b, Location l, Value src,
              ArrayRef<OpFoldResult> offsets, ArrayRef<int64_t> sizes,
              ArrayRef<int64_t> shape) {
  auto type = RankedTensorType::get(
      shape, cast<RankedTensorType>(src.getType()).getElementType());
  SmallVector<OpFoldResult> sz, st;
  for (int64_t s : sizes) {
    sz.push_back(b.getIndexAttr(s));
    st.push_back(b.getIndexAttr(1));
  }
  return b.create<tensor::ExtractSliceOp>(l, type, src, offsets, sz, st);
}

/// `src` written into `dst` at `offsets` over static `sizes`.
Value insertInto(OpBuilder &b, Location l, Value src, Value dst,
                 ArrayRef<OpFoldResult> offsets, ArrayRef<int64_t> sizes) {
  SmallVector<OpFoldResult> sz, st;
  for (int64_t s : sizes) {
    sz.push_back(b.getIndexAttr(s));
    st.push_back(b.getIndexAttr(1));
  }
  return b.create<tensor::InsertSliceOp>(l, src, dst, offsets, sz, st);
}

/// (a0 + i a1)(a2 + i a3): the real and imaginary parts.
Value complexMulRe(OpBuilder &b, Location l, ValueRange a) {
  return b.create<arith::SubFOp>(l, b.create<arith::MulFOp>(l, a[0], a[2]),
                                 b.create<arith::MulFOp>(l, a[1], a[3]));
}
Value complexMulIm(OpBuilder &b, Location l, ValueRange a) {
  return b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, a[0], a[3]),
                                 b.create<arith::MulFOp>(l, a[1], a[2]));
}

/// (aRe + i aIm) (hRe + i hIm) elementwise, written into hRe and hIm
/// themselves (after every read of their old values), so that loop-carried
/// states bufferize in place.
std::pair<Value, Value> rotateInPlace(OpBuilder &b, Location l, Value aRe,
                                      Value aIm, Value hRe, Value hIm) {
  auto type = cast<RankedTensorType>(hRe.getType());
  unsigned rank = type.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iters(rank, kParallel);
  Value re = buildGeneric(
      b, l, emptyTensor(b, l, type.getShape(), type.getElementType()),
      {aRe, aIm, hRe, hIm}, {id, id, id, id}, id, iters,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        return complexMulRe(nb, nl, a);
      });
  Value im = buildGeneric(b, l, hIm, {aRe, aIm, hRe}, {id, id, id}, id, iters,
                          [&](OpBuilder &nb, Location nl, ValueRange a) {
                            return complexMulIm(nb, nl, a);
                          });
  // A linalg.copy (an identity linalg.generic would fold away).
  Value reInPlace =
      b.create<linalg::CopyOp>(l, ValueRange{re}, ValueRange{hRe}).getResult(0);
  return {reInPlace, im};
}

/// lctx.cema.scan in chunked parallel form. Time is split into chunks of C
/// steps (the last one may be shorter). Within a chunk starting at t0, with
/// the carried state h (the state after step t0 - 1):
///
///   y[t0+j] = Re(sum_n gamma~ q^(j+1) h)                 state term
///           + sum_{i<=j} K[j-i] x[t0+i]                  intra-chunk conv
///           + omega x[t0+j]
///   h'      = q^C h + sum_i p q^(C-1-i) x[t0+i]          state passing
///
/// with the real kernel K[k] = Re(sum_n gamma~ p q^k) (gamma~ = gamma /
/// sqrt(N)). The powers q^k, k <= C, are formed once by repeated complex
/// multiplication (|q| < 1, and no power beyond C is ever formed) into the
/// tables
///
///   K[k] [D],  W[j] = gamma~ q^(j+1) [N, D],  V[i] = p q^(C-1-i) [N, D]
///
/// (V stored with i inside n, the order in which the state update reads
/// it); the transition q^C, whose error compounds from chunk to chunk, is
/// formed directly to fp32 accuracy (see qPower), so the error does not
/// grow with the sequence length.
///
/// Channels are split into blocks of Dc; every table is laid out
/// [block, ..., Dc] so that a block's tables are contiguous, and every piece
/// of work is a linalg.generic whose innermost loop runs over the Dc
/// contiguous channels of a block (the CPU pipeline vectorizes those). A
/// chunk's output is accumulated in a small contiguous tile and written out
/// once. Work is O(L (C + 4N)) per channel, memory O(C N D). The (batch,
/// channel block) pairs are independent: an scf.forall (the OpenMP thread
/// pool). The math is fp32 for any activation type.
struct CemaScanLowering : OpRewritePattern<CemaScanOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CemaScanOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto xType = op.getInput().getType();
    int64_t bs = xType.getShape()[0], len = xType.getShape()[1],
            d = xType.getShape()[2];
    int64_t n = op.getAlpha().getType().getShape()[1];
    Type elt = xType.getElementType();
    Type f32 = rewriter.getF32Type();
    int64_t chunk = std::max<int64_t>(1, std::min(kChunk, len));
    int64_t full = len / chunk, tail = len % chunk;
    int64_t dc = channelBlock(d), blocks = d / dc;

    // Channel d = block * Dc + c.
    auto channel = [&](OpBuilder &b, Location l, Value blk, Value c) {
      return b
          .create<arith::AddIOp>(
              l, b.create<arith::MulIOp>(l, blk, indexConst(b, l, dc)), c)
          .getResult();
    };
    // Coefficients as [blocks, N, Dc] from the [D, N] params.
    Value alpha = op.getAlpha(), delta = op.getDelta(), theta = op.getTheta(),
          gamma = op.getGamma();
    auto param = [&](OpBuilder &b, Location l, Value t, ValueRange i) {
      return b
          .create<tensor::ExtractOp>(
              l, t, ValueRange{channel(b, l, i[0], i[2]), i[1]})
          .getResult();
    };
    auto coef = [&](function_ref<Value(OpBuilder &, Location, ValueRange)> f) {
      return buildIndexGeneric(rewriter, loc, {blocks, n, dc}, f32, f);
    };
    // The raw [D, N] params regrouped (a gather, scalar), then the math on
    // whole [blocks, N, Dc] tensors (vector loops).
    AffineMap id3 = rewriter.getMultiDimIdentityMap(3),
              blkC3 = selectDims(ctx, 3, {0, 2});
    auto map3 = [&](ValueRange ins, ArrayRef<AffineMap> maps,
                    function_ref<Value(OpBuilder &, Location, ValueRange)> f) {
      return buildGeneric(rewriter, loc,
                          emptyTensor(rewriter, loc, {blocks, n, dc}, f32), ins,
                          maps, id3, {kParallel, kParallel, kParallel},
                          [&](OpBuilder &b, Location l, ValueRange a) {
                            return f(b, l, a);
                          });
    };
    auto sigmoidOf = [&](Value raw) {
      return map3({raw}, {id3}, [&](OpBuilder &b, Location l, ValueRange a) {
        return sigmoid(b, l, a[0]);
      });
    };
    Value p = sigmoidOf(coef([&](OpBuilder &b, Location l, ValueRange i) {
      return param(b, l, alpha, i);
    }));
    Value sigDelta = sigmoidOf(coef([&](OpBuilder &b, Location l, ValueRange i) {
      return param(b, l, delta, i);
    }));
    // sigmoid(theta) per channel, in f32 and (for q^C below) in f64.
    auto sigTheta = [&](Type t) {
      return buildIndexGeneric(
          rewriter, loc, {blocks, dc}, t,
          [&](OpBuilder &b, Location l, ValueRange i) {
            Value v = b.create<tensor::ExtractOp>(l, theta,
                                                  channel(b, l, i[0], i[1]));
            return sigmoid(b, l, castFloat(b, l, v, t));
          });
    };
    Value sigTheta32 = sigTheta(f32);
    // q = (1 - p sigmoid(delta)) exp(i sigmoid(theta) (n + 1) 2 pi / N).
    auto qPart = [&](bool re) {
      return map3({p, sigDelta, sigTheta32}, {id3, id3, blkC3},
                  [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                    Value mod = b.create<arith::SubFOp>(
                        l, floatConst(b, l, f32, 1.0),
                        b.create<arith::MulFOp>(l, a[0], a[1]));
                    Value k = b.create<arith::UIToFPOp>(
                        l, f32,
                        b.create<arith::IndexCastOp>(
                            l, b.getI64Type(),
                            b.create<arith::AddIOp>(
                                l, b.create<linalg::IndexOp>(l, 1),
                                indexConst(b, l, 1))));
                    Value ang = b.create<arith::MulFOp>(
                        l, b.create<arith::MulFOp>(l, a[2], k),
                        floatConst(b, l, f32,
                                   2.0 * M_PI / static_cast<double>(n)));
                    Value trig = re ? b.create<math::CosOp>(l, ang).getResult()
                                    : b.create<math::SinOp>(l, ang).getResult();
                    return b.create<arith::MulFOp>(l, mod, trig);
                  });
    };
    Value qRe = qPart(true), qIm = qPart(false);
    double invSqrtN = 1.0 / std::sqrt(static_cast<double>(n));
    Value gRe = coef([&](OpBuilder &b, Location l, ValueRange i) {
      return b.create<arith::MulFOp>(
                  l, b.create<complex::ReOp>(l, param(b, l, gamma, i)),
                  floatConst(b, l, f32, invSqrtN))
          .getResult();
    });
    Value gIm = coef([&](OpBuilder &b, Location l, ValueRange i) {
      return b.create<arith::MulFOp>(
                  l, b.create<complex::ImOp>(l, param(b, l, gamma, i)),
                  floatConst(b, l, f32, invSqrtN))
          .getResult();
    });
    // The initial state as [B, blocks, N, Dc].
    Value h0 = op.getInitState();
    auto state0 = [&](bool re) {
      return buildIndexGeneric(
          rewriter, loc, {bs, blocks, n, dc}, f32,
          [&](OpBuilder &b, Location l, ValueRange i) -> Value {
            Value h = b.create<tensor::ExtractOp>(
                l, h0, ValueRange{i[0], channel(b, l, i[1], i[3]), i[2]});
            if (re)
              return b.create<complex::ReOp>(l, h);
            return b.create<complex::ImOp>(l, h);
          });
    };
    Value h0Re = state0(true), h0Im = state0(false);

    // Elementwise [blocks, N, Dc] products.
    auto ew = [&](OpBuilder &b, Location l, ValueRange ins,
                  Value (*f)(OpBuilder &, Location, ValueRange)) {
      SmallVector<AffineMap> maps(ins.size(), id3);
      return buildGeneric(b, l, emptyTensor(b, l, {blocks, n, dc}, f32), ins,
                          maps, id3, {kParallel, kParallel, kParallel},
                          [&](OpBuilder &nb, Location nl, ValueRange a) {
                            return f(nb, nl, a);
                          });
    };
    auto scale = [](OpBuilder &b, Location l, ValueRange a) -> Value {
      return b.create<arith::MulFOp>(l, a[0], a[1]);
    };

    // Kernel tables from the powers Q = q^m, m = 0 .. C-1.
    auto powers = rewriter.create<scf::ForOp>(
        loc, indexConst(rewriter, loc, 0), indexConst(rewriter, loc, chunk),
        indexConst(rewriter, loc, 1),
        ValueRange{filledTensor(rewriter, loc, {blocks, n, dc}, f32, 1.0),
                   filledTensor(rewriter, loc, {blocks, n, dc}, f32, 0.0),
                   emptyTensor(rewriter, loc, {blocks, chunk, n, dc}, f32),
                   emptyTensor(rewriter, loc, {blocks, chunk, n, dc}, f32),
                   emptyTensor(rewriter, loc, {blocks, n, chunk, dc}, f32),
                   emptyTensor(rewriter, loc, {blocks, n, chunk, dc}, f32),
                   emptyTensor(rewriter, loc, {blocks, chunk, dc}, f32)},
        [&](OpBuilder &b, Location l, Value m, ValueRange s) {
          Value pwRe = s[0], pwIm = s[1];
          OpFoldResult z = b.getIndexAttr(0);
          // K[m] = sum_n p Re(gamma~ q^m).
          Value kRow = buildGeneric(
              b, l, filledTensor(b, l, {blocks, dc}, f32, 0.0),
              {p, gRe, gIm, pwRe, pwIm}, {id3, id3, id3, id3, id3},
              selectDims(ctx, 3, {0, 2}), {kParallel, kReduction, kParallel},
              [&](OpBuilder &nb, Location nl, ValueRange a) {
                return nb
                    .create<arith::AddFOp>(
                        nl, a[5],
                        nb.create<arith::MulFOp>(
                            nl, a[0], complexMulRe(nb, nl, a.slice(1, 4))))
                    .getResult();
              });
          Value kTab = insertInto(b, l, kRow, s[6], {z, m, z}, {blocks, 1, dc});
          // V[C-1-m] = p q^m, stored [blocks, N, C, Dc].
          Value row = b.create<arith::SubIOp>(l, indexConst(b, l, chunk - 1), m);
          auto put = [&](Value v, Value table, OpFoldResult at) {
            return insertInto(b, l, v, table, {z, at, z, z}, {blocks, 1, n, dc});
          };
          auto putV = [&](Value v, Value table) {
            return insertInto(b, l, v, table, {z, z, row, z}, {blocks, n, 1, dc});
          };
          Value vRe = putV(ew(b, l, {p, pwRe}, scale), s[4]);
          Value vIm = putV(ew(b, l, {p, pwIm}, scale), s[5]);
          // q^(m+1), then W[m] = gamma~ q^(m+1).
          auto [nRe, nIm] = rotateInPlace(b, l, qRe, qIm, pwRe, pwIm);
          Value wRe = put(ew(b, l, {gRe, gIm, nRe, nIm}, complexMulRe), s[2], m);
          Value wIm = put(ew(b, l, {gRe, gIm, nRe, nIm}, complexMulIm), s[3], m);
          b.create<scf::YieldOp>(
              l, ValueRange{nRe, nIm, wRe, wIm, vRe, vIm, kTab});
        });
    Value wTabRe = powers.getResult(2), wTabIm = powers.getResult(3);
    Value vTabRe = powers.getResult(4), vTabIm = powers.getResult(5);
    Value kTab = powers.getResult(6);
    // The chunk-to-chunk transition q^m (m = C, and the tail's length) is
    // formed directly rather than by m multiplications with the rounded q:
    // its error compounds over every chunk within the state's memory. The
    // modulus exp(m log1p(-sigmoid(alpha) sigmoid(delta))) keeps 1 - |q|^m
    // accurate in fp32; the angle m sigmoid(theta) (n + 1) 2 pi / N reaches
    // hundreds of radians, so it and its cos/sin are taken in f64 and only
    // q^m is rounded to fp32.
    Type f64 = rewriter.getF64Type();
    Value sigTheta64 = sigTheta(f64);
    auto qPower = [&](int64_t m) {
      Value mod = map3({p, sigDelta}, {id3, id3},
                       [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                         Value logMod = b.create<math::Log1pOp>(
                             l, b.create<arith::NegFOp>(
                                    l, b.create<arith::MulFOp>(l, a[0], a[1])));
                         return b.create<math::ExpOp>(
                             l, b.create<arith::MulFOp>(
                                    l, logMod,
                                    floatConst(b, l, f32,
                                               static_cast<double>(m))));
                       });
      auto part = [&](bool re) {
        return buildGeneric(
            rewriter, loc, emptyTensor(rewriter, loc, {blocks, n, dc}, f32),
            {mod, sigTheta64}, {id3, blkC3}, id3,
            {kParallel, kParallel, kParallel},
            [&](OpBuilder &b, Location l, ValueRange a) -> Value {
              // (n + 1) m is exact.
              Value km = b.create<arith::UIToFPOp>(
                  l, f64,
                  b.create<arith::IndexCastOp>(
                      l, b.getI64Type(),
                      b.create<arith::MulIOp>(
                          l,
                          b.create<arith::AddIOp>(
                              l, b.create<linalg::IndexOp>(l, 1),
                              indexConst(b, l, 1)),
                          indexConst(b, l, m))));
              Value ang = b.create<arith::MulFOp>(
                  l, b.create<arith::MulFOp>(l, a[1], km),
                  floatConst(b, l, f64, 2.0 * M_PI / static_cast<double>(n)));
              Value trig = re ? b.create<math::CosOp>(l, ang).getResult()
                              : b.create<math::SinOp>(l, ang).getResult();
              return b.create<arith::TruncFOp>(
                  l, f32,
                  b.create<arith::MulFOp>(
                      l, b.create<arith::ExtFOp>(l, f64, a[0]), trig));
            });
      };
      return std::make_pair(part(true), part(false));
    };
    // One-token scans (decode steps) need q^1, which is q: its f64 sin/cos
    // over [D, N] (recomputed from the weights on every step) were 20% of a
    // Megalodon decode step.
    auto [qcRe, qcIm] =
        chunk == 1 ? std::make_pair(qRe, qIm) : qPower(chunk);
    Value qtRe = qcRe, qtIm = qcIm;
    if (tail > 0)
      std::tie(qtRe, qtIm) = qPower(tail);

    Value x = op.getInput(), omega = op.getOmega();
    AffineMap id2 = selectDims(ctx, 2, {0, 1}), col2 = selectDims(ctx, 2, {1});
    AffineMap a3 = selectDims(ctx, 3, {0, 1, 2}), d02 = selectDims(ctx, 3, {0, 2}),
              d12 = selectDims(ctx, 3, {1, 2});
    auto forall = rewriter.create<scf::ForallOp>(
        loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(bs * blocks)},
        ValueRange{emptyTensor(rewriter, loc, {bs, len, d}, elt),
                   emptyTensor(rewriter, loc, {bs, blocks, n, dc}, f32),
                   emptyTensor(rewriter, loc, {bs, blocks, n, dc}, f32)},
        std::nullopt, [&](OpBuilder &b, Location l, ValueRange args) {
          Value iv = args[0];
          Value bi = b.create<arith::DivUIOp>(l, iv, indexConst(b, l, blocks));
          Value blk = b.create<arith::RemUIOp>(l, iv, indexConst(b, l, blocks));
          Value d0 = b.create<arith::MulIOp>(l, blk, indexConst(b, l, dc));
          OpFoldResult z = b.getIndexAttr(0);
          auto table = [&](Value t) {
            return sliceOf(b, l, t, {blk, z, z, z}, {1, chunk, n, dc},
                           {chunk, n, dc});
          };
          auto perBlock = [&](Value t) {
            return sliceOf(b, l, t, {blk, z, z}, {1, n, dc}, {n, dc});
          };
          Value wRe = table(wTabRe), wIm = table(wTabIm);
          Value vRe = sliceOf(b, l, vTabRe, {blk, z, z, z}, {1, n, chunk, dc},
                              {n, chunk, dc});
          Value vIm = sliceOf(b, l, vTabIm, {blk, z, z, z}, {1, n, chunk, dc},
                              {n, chunk, dc});
          Value kTile = sliceOf(b, l, kTab, {blk, z, z}, {1, chunk, dc},
                             {chunk, dc});
          Value pcRe = perBlock(qcRe), pcIm = perBlock(qcIm);
          Value ptRe = perBlock(qtRe), ptIm = perBlock(qtIm);
          Value om = sliceOf(b, l, omega, {d0}, {dc}, {dc});
          auto state = [&](Value t) {
            return sliceOf(b, l, t, {bi, blk, z, z}, {1, 1, n, dc}, {n, dc});
          };
          Value hRe = state(h0Re), hIm = state(h0Im);
          Value yb = sliceOf(b, l, args[1], {bi, z, d0}, {1, len, dc},
                             {len, dc});

          // One chunk of `lc` steps at t0: (y block, h) -> (y block, h').
          auto step = [&](OpBuilder &cb, Location cl, OpFoldResult t0,
                          int64_t lc, Value yBlk, Value hr, Value hi,
                          Value powRe, Value powIm) -> SmallVector<Value> {
            OpFoldResult cz = cb.getIndexAttr(0);
            auto wRows = [&](Value t) {
              if (lc == chunk)
                return t;
              return sliceOf(cb, cl, t, {cz, cz, cz}, {lc, n, dc}, {lc, n, dc});
            };
            auto vRows = [&](Value t) {
              if (lc == chunk)
                return t;
              return sliceOf(cb, cl, t, {cz, cb.getIndexAttr(chunk - lc), cz},
                             {n, lc, dc}, {n, lc, dc});
            };
            // x of the chunk in f32, contiguous, after lc zero rows:
            // xpad[lc + i] = x[t0 + i].
            // (A copy: the rows of x itself are D apart, which the loops
            // below would revisit many times.)
            Value xc = sliceOf(cb, cl, x, {bi, t0, d0}, {1, lc, dc}, {lc, dc});
            Value xs;
            if (elt != f32)
              xs = buildGeneric(cb, cl, emptyTensor(cb, cl, {lc, dc}, f32),
                                {xc}, {id2}, id2, {kParallel, kParallel},
                                [&](OpBuilder &nb, Location nl, ValueRange a) {
                                  return castFloat(nb, nl, a[0], f32);
                                });
            else
              xs = cb.create<linalg::CopyOp>(
                         cl, ValueRange{xc},
                         ValueRange{emptyTensor(cb, cl, {lc, dc}, f32)})
                       .getResult(0);
            Value xpad = insertInto(
                cb, cl, xs, filledTensor(cb, cl, {2 * lc, dc}, f32, 0.0),
                {cb.getIndexAttr(lc), cz}, {lc, dc});
            // State term, dims (j, n, c): y[j] = sum_n Re(W[j] h).
            Value y = buildGeneric(
                cb, cl, filledTensor(cb, cl, {lc, dc}, f32, 0.0),
                {wRows(wRe), wRows(wIm), hr, hi}, {a3, a3, d12, d12}, d02,
                {kParallel, kReduction, kParallel},
                [&](OpBuilder &nb, Location nl, ValueRange a) {
                  return nb
                      .create<arith::AddFOp>(
                          nl, a[4], complexMulRe(nb, nl, a.take_front(4)))
                      .getResult();
                });
            // Intra-chunk conv, one lag k at a time:
            // y[j] += K[k] xpad[lc + j - k] (zero for j < k). Lags go in
            // groups of kLagGroup; a group starting at lag k0 updates rows
            // j >= k0 only (static sizes), which skips most of the zero
            // upper triangle.
            for (int64_t k0 = 0; k0 < lc; k0 += kLagGroup) {
              int64_t rowsG = lc - k0, lags = std::min(kLagGroup, lc - k0);
              OpFoldResult r0 = cb.getIndexAttr(k0);
              Value part = sliceOf(cb, cl, y, {r0, cz}, {rowsG, dc},
                                   {rowsG, dc});
              auto conv = cb.create<scf::ForOp>(
                  cl, indexConst(cb, cl, k0), indexConst(cb, cl, k0 + lags),
                  indexConst(cb, cl, 1), ValueRange{part},
                  [&](OpBuilder &kb, Location kl, Value k, ValueRange acc) {
                    OpFoldResult kz = kb.getIndexAttr(0);
                    Value kRow =
                        sliceOf(kb, kl, kTile, {k, kz}, {1, dc}, {dc});
                    Value off = kb.create<arith::SubIOp>(
                        kl, indexConst(kb, kl, lc + k0), k);
                    Value shifted = sliceOf(kb, kl, xpad, {off, kz},
                                            {rowsG, dc}, {rowsG, dc});
                    Value next = buildGeneric(
                        kb, kl, acc[0], {kRow, shifted}, {col2, id2}, id2,
                        {kParallel, kParallel},
                        [&](OpBuilder &nb, Location nl, ValueRange a) {
                          return nb
                              .create<arith::AddFOp>(
                                  nl, a[2],
                                  nb.create<arith::MulFOp>(nl, a[0], a[1]))
                              .getResult();
                        });
                    kb.create<scf::YieldOp>(kl, next);
                  });
              y = insertInto(cb, cl, conv.getResult(0), y, {r0, cz},
                             {rowsG, dc});
            }
            // Out: y + omega x, written into the result. The accumulator
            // tile must stay a separate, contiguous buffer: the write-out
            // generic takes it as an input only, and with an f32 result its
            // init is omega x (a dead init would be replaced by the tile,
            // and the whole chain would then run in the strided result).
            Value out;
            if (elt == f32) {
              Value ox = buildGeneric(
                  cb, cl, emptyTensor(cb, cl, {lc, dc}, f32), {xs, om},
                  {id2, col2}, id2, {kParallel, kParallel},
                  [&](OpBuilder &nb, Location nl, ValueRange a) {
                    return nb.create<arith::MulFOp>(nl, a[1], a[0])
                        .getResult();
                  });
              out = buildGeneric(
                  cb, cl, ox, {y}, {id2}, id2,
                  {kParallel, kParallel},
                  [&](OpBuilder &nb, Location nl, ValueRange a) {
                    return nb.create<arith::AddFOp>(nl, a[0], a[1])
                        .getResult();
                  });
            } else {
              out = buildGeneric(
                  cb, cl, emptyTensor(cb, cl, {lc, dc}, elt),
                  {y, xs, om}, {id2, id2, col2}, id2,
                  {kParallel, kParallel},
                  [&](OpBuilder &nb, Location nl, ValueRange a) {
                    Value v = nb.create<arith::AddFOp>(
                        nl, a[0], nb.create<arith::MulFOp>(nl, a[2], a[1]));
                    return castFloat(nb, nl, v, elt);
                  });
            }
            Value yNew = insertInto(cb, cl, out, yBlk, {t0, cz}, {lc, dc});
            // State passing: h' = q^lc h + sum_i p q^(lc-1-i) x[i].
            auto [hrRot, hiRot] = rotateInPlace(cb, cl, powRe, powIm, hr, hi);
            auto feed = [&](Value v, Value init) {
              // dims (n, i, c): init[n] += V[n, i] x[i].
              return buildGeneric(
                  cb, cl, init, {vRows(v), xs}, {a3, d12}, d02,
                  {kParallel, kReduction, kParallel},
                  [&](OpBuilder &nb, Location nl, ValueRange a) {
                    return nb
                        .create<arith::AddFOp>(
                            nl, a[2], nb.create<arith::MulFOp>(nl, a[0], a[1]))
                        .getResult();
                  });
            };
            return {yNew, feed(vRe, hrRot), feed(vIm, hiRot)};
          };

          SmallVector<Value> st = {yb, hRe, hIm};
          if (full > 0) {
            auto loop = b.create<scf::ForOp>(
                l, indexConst(b, l, 0), indexConst(b, l, full),
                indexConst(b, l, 1), st,
                [&](OpBuilder &cb, Location cl, Value c, ValueRange s) {
                  Value t0 =
                      cb.create<arith::MulIOp>(cl, c, indexConst(cb, cl, chunk));
                  cb.create<scf::YieldOp>(
                      cl, step(cb, cl, t0, chunk, s[0], s[1], s[2], pcRe, pcIm));
                });
            st.assign(loop.getResults().begin(), loop.getResults().end());
          }
          if (tail > 0)
            st = step(b, l, b.getIndexAttr(full * chunk), tail, st[0], st[1],
                      st[2], ptRe, ptIm);

          // With a body builder, the terminator is ours to create.
          auto terminator = b.create<scf::InParallelOp>(l);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(terminator.getBody());
          auto put = [&](Value src, Value dst, ArrayRef<OpFoldResult> offsets,
                         ArrayRef<int64_t> sizes) {
            SmallVector<OpFoldResult> sz, st1;
            for (int64_t s : sizes) {
              sz.push_back(b.getIndexAttr(s));
              st1.push_back(b.getIndexAttr(1));
            }
            b.create<tensor::ParallelInsertSliceOp>(l, src, dst, offsets, sz,
                                                    st1);
          };
          put(st[0], args[1], {bi, z, d0}, {1, len, dc});
          put(st[1], args[2], {bi, blk, z, z}, {1, 1, n, dc});
          put(st[2], args[3], {bi, blk, z, z}, {1, 1, n, dc});
        });

    // h_L as complex [B, D, N].
    auto stateType = op.getFinalState().getType();
    Value hLRe = forall.getResult(1), hLIm = forall.getResult(2);
    Value state = buildIndexGeneric(
        rewriter, loc, stateType.getShape(), stateType.getElementType(),
        [&](OpBuilder &b, Location l, ValueRange i) -> Value {
          Value blk = b.create<arith::DivUIOp>(l, i[1], indexConst(b, l, dc));
          Value c = b.create<arith::RemUIOp>(l, i[1], indexConst(b, l, dc));
          SmallVector<Value> at = {i[0], blk, i[2], c};
          return b.create<complex::CreateOp>(
              l, stateType.getElementType(),
              b.create<tensor::ExtractOp>(l, hLRe, at),
              b.create<tensor::ExtractOp>(l, hLIm, at));
        });
    rewriter.replaceOp(op, {forall.getResult(0), state});
    return success();
  }
};

struct CemaTimestepNormLowering : OpRewritePattern<CemaTimestepNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CemaTimestepNormOp op,
                                PatternRewriter &rewriter) const override {
    if (!hasStaticTensorShapes(op))
      return rewriter.notifyMatchFailure(op, "dynamic shapes");
    Location loc = op.getLoc();
    auto xType = op.getInput().getType();
    int64_t bs = xType.getShape()[0], len = xType.getShape()[1],
            d = xType.getShape()[2];
    int64_t groups = op.getNumGroupsAttr().getInt();
    int64_t dg = d / groups;
    Type elt = xType.getElementType();
    Type f32 = rewriter.getF32Type();
    double eps = op.getEpsilon().convertToDouble();
    Value x = op.getInput(), weight = op.getWeight(), bias = op.getBias();
    Value y = emptyTensor(rewriter, loc, {bs, len, d}, elt);

    SmallVector<Value> res = forLoop(
        rewriter, loc, bs, {y, op.getCount(), op.getMean(), op.getVar()},
        [&](OpBuilder &b, Location l, Value bi, ValueRange s0) {
          Value cnt0 = b.create<tensor::ExtractOp>(l, s0[1], bi);
          SmallVector<Value> steps = forLoop(
              b, l, len, {s0[0], s0[2], s0[3], cnt0},
              [&](OpBuilder &tb, Location tl, Value t, ValueRange s1) {
                SmallVector<Value> g = forLoop(
                    tb, tl, groups, {s1[0], s1[1], s1[2]},
                    [&](OpBuilder &gb, Location gl, Value gi, ValueRange s2) {
                      Value base = gb.create<arith::MulIOp>(
                          gl, gi, indexConst(gb, gl, dg));
                      auto xAt = [&](OpBuilder &ib, Location il, Value j) {
                        Value f = ib.create<arith::AddIOp>(il, base, j);
                        return castFloat(ib, il,
                                         ib.create<tensor::ExtractOp>(
                                             il, x, ValueRange{bi, t, f}),
                                         f32);
                      };
                      // This step's group mean and M2 (two passes).
                      Value sum = forLoop(
                          gb, gl, dg, {floatConst(gb, gl, f32, 0.0)},
                          [&](OpBuilder &ib, Location il, Value j,
                              ValueRange a) {
                            return SmallVector<Value>{ib.create<arith::AddFOp>(
                                il, a[0], xAt(ib, il, j))};
                          })[0];
                      Value mb = gb.create<arith::DivFOp>(
                          gl, sum, floatConst(gb, gl, f32, dg));
                      Value m2b = forLoop(
                          gb, gl, dg, {floatConst(gb, gl, f32, 0.0)},
                          [&](OpBuilder &ib, Location il, Value j,
                              ValueRange a) {
                            Value dv = ib.create<arith::SubFOp>(
                                il, xAt(ib, il, j), mb);
                            return SmallVector<Value>{ib.create<arith::AddFOp>(
                                il, a[0], ib.create<arith::MulFOp>(il, dv, dv))};
                          })[0];
                      // Welford merge with the carried (na, mean, var), in
                      // f64: over a stream of millions of steps the f32
                      // products na * var and na * nb / ntot drift (the
                      // statistics are stored back in f32, rounded once).
                      Type f64 = gb.getF64Type();
                      auto wide = [&](Value v) {
                        return gb.create<arith::ExtFOp>(gl, f64, v).getResult();
                      };
                      Value ma = wide(gb.create<tensor::ExtractOp>(
                          gl, s2[1], ValueRange{bi, gi}));
                      Value va = wide(gb.create<tensor::ExtractOp>(
                          gl, s2[2], ValueRange{bi, gi}));
                      // Elements merged so far per group: count * D/G.
                      Value naw = gb.create<arith::MulFOp>(
                          gl, gb.create<arith::SIToFPOp>(gl, f64, s1[3]),
                          floatConst(gb, gl, f64, static_cast<double>(dg)));
                      Value nbv = floatConst(gb, gl, f64, dg);
                      Value ntot = gb.create<arith::AddFOp>(gl, naw, nbv);
                      Value dlt = gb.create<arith::SubFOp>(gl, wide(mb), ma);
                      Value meanW = gb.create<arith::AddFOp>(
                          gl, ma,
                          gb.create<arith::MulFOp>(
                              gl, dlt,
                              gb.create<arith::DivFOp>(gl, nbv, ntot)));
                      Value m2 = gb.create<arith::AddFOp>(
                          gl,
                          gb.create<arith::AddFOp>(
                              gl, gb.create<arith::MulFOp>(gl, va, naw),
                              wide(m2b)),
                          gb.create<arith::MulFOp>(
                              gl, gb.create<arith::MulFOp>(gl, dlt, dlt),
                              gb.create<arith::DivFOp>(
                                  gl, gb.create<arith::MulFOp>(gl, naw, nbv),
                                  ntot)));
                      Value varW = gb.create<arith::DivFOp>(gl, m2, ntot);
                      Value mean = gb.create<arith::TruncFOp>(gl, f32, meanW);
                      Value var = gb.create<arith::TruncFOp>(gl, f32, varW);
                      Value rstd = gb.create<arith::DivFOp>(
                          gl, floatConst(gb, gl, f32, 1.0),
                          gb.create<math::SqrtOp>(
                              gl, gb.create<arith::AddFOp>(
                                      gl, var, floatConst(gb, gl, f32, eps))));
                      Value yNew = forLoop(
                          gb, gl, dg, {s2[0]},
                          [&](OpBuilder &ib, Location il, Value j,
                              ValueRange a) {
                            Value f = ib.create<arith::AddIOp>(il, base, j);
                            Value w1 = ib.create<arith::AddFOp>(
                                il,
                                castFloat(ib, il,
                                          ib.create<tensor::ExtractOp>(
                                              il, weight, f),
                                          f32),
                                floatConst(ib, il, f32, 1.0));
                            Value bv = castFloat(
                                ib, il, ib.create<tensor::ExtractOp>(il, bias, f),
                                f32);
                            Value v = ib.create<arith::AddFOp>(
                                il,
                                ib.create<arith::MulFOp>(
                                    il,
                                    ib.create<arith::MulFOp>(
                                        il,
                                        ib.create<arith::SubFOp>(
                                            il, xAt(ib, il, j), mean),
                                        rstd),
                                    w1),
                                bv);
                            return SmallVector<Value>{ib.create<tensor::InsertOp>(
                                il, castFloat(ib, il, v, elt), a[0],
                                ValueRange{bi, t, f})};
                          })[0];
                      return SmallVector<Value>{
                          yNew,
                          gb.create<tensor::InsertOp>(gl, mean, s2[1],
                                                      ValueRange{bi, gi}),
                          gb.create<tensor::InsertOp>(gl, var, s2[2],
                                                      ValueRange{bi, gi})};
                    });
                Value cnt = tb.create<arith::AddIOp>(
                    tl, s1[3],
                    tb.create<arith::ConstantOp>(tl, tb.getI64IntegerAttr(1)));
                return SmallVector<Value>{g[0], g[1], g[2], cnt};
              });
          Value count = b.create<tensor::InsertOp>(l, steps[3], s0[1], bi);
          return SmallVector<Value>{steps[0], count, steps[1], steps[2]};
        });
    rewriter.replaceOp(op, res);
    return success();
  }
};

} // namespace

void lowering::populateCemaOpsPatterns(RewritePatternSet &patterns) {
  // clang-format off
  patterns.add<
      CemaScanLowering,
      CemaTimestepNormLowering
  >(patterns.getContext());
  // clang-format on
}
