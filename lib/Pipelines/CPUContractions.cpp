//===- CPUContractions.cpp - Register-tiled contractions for the CPU ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Rewrites f32 linalg contractions on tensors into explicit loops:
//
//   for the loop dims that are neither M, N nor K (batch, extra dims):
//     for n_c (Nc), k_c (Kc), m_c (Mc):          cache blocks
//       for j in n_c block step Nr, i in m_c block step Mr:
//         acc[r] = C[i + r, j : j + Nr]           r < Mr, vector<Nr>
//         for k in k_c block:
//           b = B[k, j : j + Nr]
//           acc[r] = fma(broadcast(A[i + r, k]), b, acc[r])
//         C[i + r, j : j + Nr] = acc[r]
//
// When a region (or a forall iteration, below) has at least `pack-rows`
// rows, each Kc x Nc block of B is first copied into a fresh tensor, panel
// by panel (P[j / Nr, k, :] = B[k, j : j + Nr]), and the micro-kernel reads
// that: contiguous whatever B's row stride (a large power-of-two N
// otherwise maps a block's rows onto few cache sets). A contraction that
// is itself inside an scf.forall packs from `nested-pack-rows` (64) rows.
//
// N is the loop dim of the result's last dimension and B the input indexed
// by it; M is the result dim just before it that only A indexes, K a
// reduction dim both inputs index. The accumulators are loop-carried
// vectors, so they stay in registers across K without a hoisting step.
// Register tiles never straddle the edges: the M x N space is split into
// the full-tile part and static remainder strips (Mr x (N mod Nr), ...), so
// every vector has a static length and odd shapes need no masks. When B's
// last dimension is not N, B is first transposed into a fresh tensor.
//
// When C's init is a linalg.fill and K is the only reduction dim, the
// accumulators start from the fill value in the first K block and the fill
// (and C's first read) disappear.
//
// The summation order per result element is the naive one (k ascending,
// starting from the init value), with fused multiply-adds. Only f32 ops
// with static shapes and a plain mul-add body are rewritten.
//
// Threads: a contraction of at least `parallel-flops` FLOPs (2 M N K times
// the other dims) whose other dims all index C runs each of its M x N
// regions (full tiles and remainder strips) of at least 1/16 of that as an
// scf.forall, which the CPU pipeline runs on the OpenMP thread pool:
//
//   forall (outer dims) x (Nc blocks of N) x (M chunks):
//     c = extract_slice C[outer, m chunk, n block]
//     for k_c, m_c, j, i: ... as above, on c ...
//     parallel_insert_slice c into C
//
// M is split into chunks of whole Mc blocks only when the outer dims and
// the N blocks give fewer than `parallel-chunks` iterations. Every
// iteration owns a disjoint block of C and runs the whole K reduction for
// it in the same order as the sequential loops, so the result is
// bit-identical for any thread count. A contraction inside another
// scf.forall (attention's tiles) stays sequential.
//
//===----------------------------------------------------------------------===//

#include "CPUCodegen.h"
#include "CPUContractionPlan.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::lctx::cpu;

namespace {

/// Emits the loops of one contraction.
class Emitter {
public:
  Emitter(const Plan &p, const Tiles &t, const Threading &threads, Location loc,
          Value a, Value b, AffineMap bMap)
      : p(p), t(t), threads(threads), loc(loc), a(a), b(b), bMap(bMap),
        dims(p.extents.size()), cBase(p.extents.size()) {}

  Value emit(OpBuilder &builder, Value c) {
    SmallVector<Region> parts = regions();
    if (!parallel()) {
      return emitOuter(builder, c, 0, [&](OpBuilder &nb, Value cur) {
        for (const Region &r : parts)
          cur = emitRegion(nb, cur, r, cst(nb, r.r0), cst(nb, r.r1),
                           cst(nb, r.c0), cst(nb, r.c1), r.r1 - r.r0);
        return cur;
      });
    }
    for (const Region &r : parts) {
      Split s = split(r);
      if (s.iterations() >= 2 &&
          regionFlops(r) >= threads.minFlops / kRegionFlopsDivisor) {
        c = emitForall(builder, c, r, s);
        continue;
      }
      c = emitOuter(builder, c, 0, [&](OpBuilder &nb, Value cur) {
        return emitRegion(nb, cur, r, cst(nb, r.r0), cst(nb, r.r1),
                          cst(nb, r.c0), cst(nb, r.c1), r.r1 - r.r0);
      });
    }
    return c;
  }

private:
  using Body = function_ref<SmallVector<Value>(OpBuilder &, Value, ValueRange)>;

  /// Rows [r0, r1) in tiles of th, columns [c0, c1) in tiles of tw.
  struct Region {
    int64_t r0, r1, th, c0, c1, tw;
  };

  /// How a region's forall divides it: the outer dims (`outer` iterations
  /// in all), `nBlocks` column blocks of `cols`, `mChunks` row chunks of
  /// `rows`.
  struct Split {
    int64_t outer = 1, nBlocks = 1, cols = 0, mChunks = 1, rows = 0;
    int64_t iterations() const { return outer * nBlocks * mChunks; }
  };

  /// The full-tile part and the remainder strips of the M x N space.
  SmallVector<Region> regions() const {
    int64_t m = p.mDim ? p.extents[*p.mDim] : 1, n = p.extents[p.nDim];
    int64_t mMain = m / t.mr * t.mr, nMain = n / t.nr * t.nr;
    SmallVector<Region> out;
    if (mMain > 0 && nMain > 0)
      out.push_back({0, mMain, t.mr, 0, nMain, t.nr});
    if (mMain > 0 && nMain < n)
      out.push_back({0, mMain, t.mr, nMain, n, n - nMain});
    if (mMain < m && nMain > 0)
      out.push_back({mMain, m, m - mMain, 0, nMain, t.nr});
    if (mMain < m && nMain < n)
      out.push_back({mMain, m, m - mMain, nMain, n, n - nMain});
    return out;
  }

  int64_t mcFor(const Region &r) const {
    return ceilDiv(t.mc, r.th) * r.th;
  }
  int64_t ncFor(const Region &r) const {
    return ceilDiv(t.nc, r.tw) * r.tw;
  }

  int64_t outerIterations() const {
    int64_t n = 1;
    for (unsigned d : p.outerDims)
      n *= p.extents[d];
    return n;
  }

  int64_t flops() const {
    int64_t n = 2;
    for (int64_t e : p.extents)
      n *= e;
    return n;
  }

  int64_t regionFlops(const Region &r) const {
    return 2 * outerIterations() * (r.r1 - r.r0) * (r.c1 - r.c0) *
           p.extents[p.kDim];
  }

  bool parallel() const {
    return p.parallelizable && threads.minFlops > 0 &&
           flops() >= threads.minFlops &&
           !p.op->getParentOfType<scf::ForallOp>();
  }

  /// One iteration per outer index and Nc block; whole-Mc-block chunks of
  /// M as well when that gives fewer than `threads.chunks` iterations.
  Split split(const Region &r) const {
    Split s;
    int64_t h = r.r1 - r.r0, w = r.c1 - r.c0;
    s.outer = outerIterations();
    s.cols = ncFor(r);
    s.nBlocks = ceilDiv(w, s.cols);
    s.rows = h;
    if (s.outer * s.nBlocks < threads.chunks) {
      int64_t mc = mcFor(r), mBlocks = ceilDiv(h, mc);
      int64_t want = std::min(
          mBlocks, ceilDiv(threads.chunks, s.outer * s.nBlocks));
      s.rows = std::min(h, ceilDiv(mBlocks, want) * mc);
    }
    s.mChunks = ceilDiv(h, s.rows);
    return s;
  }

  Value cst(OpBuilder &builder, int64_t v) {
    return builder.create<arith::ConstantIndexOp>(loc, v);
  }

  Value add(OpBuilder &builder, Value x, int64_t v) {
    if (std::optional<int64_t> c = getConstantIntValue(x))
      return cst(builder, *c + v);
    if (v == 0)
      return x;
    return builder.create<arith::AddIOp>(loc, x, cst(builder, v));
  }

  /// x - y, folded when both are constants or equal.
  Value sub(OpBuilder &builder, Value x, Value y) {
    std::optional<int64_t> cx = getConstantIntValue(x),
                           cy = getConstantIntValue(y);
    if (x == y)
      return cst(builder, 0);
    if (cx && cy)
      return cst(builder, *cx - *cy);
    if (cy && *cy == 0)
      return x;
    return builder.create<arith::SubIOp>(loc, x, y);
  }

  /// min(x + v, bound).
  Value clampedEnd(OpBuilder &builder, Value x, int64_t v, Value bound) {
    std::optional<int64_t> c = getConstantIntValue(x),
                           cb = getConstantIntValue(bound);
    if (c && cb)
      return cst(builder, std::min(*c + v, *cb));
    return builder.create<arith::MinSIOp>(loc, add(builder, x, v), bound);
  }

  /// A loop over [lo, hi) with `step` carrying `args`; a range known to
  /// hold at most one step is emitted without a loop.
  SmallVector<Value> loop(OpBuilder &builder, Value lo, Value hi, int64_t step,
                          ValueRange args, Body body) {
    std::optional<int64_t> l = getConstantIntValue(lo),
                           h = getConstantIntValue(hi);
    if (l && h && *h - *l <= step) {
      if (*h <= *l)
        return SmallVector<Value>(args);
      return body(builder, lo, args);
    }
    auto forOp = builder.create<scf::ForOp>(
        loc, lo, hi, cst(builder, step), args,
        [&](OpBuilder &nested, Location, Value iv, ValueRange iterArgs) {
          nested.create<scf::YieldOp>(loc, body(nested, iv, iterArgs));
        });
    return SmallVector<Value>(forOp.getResults());
  }

  SmallVector<Value> indices(AffineMap map) {
    SmallVector<Value> idx;
    for (unsigned i = 0, e = map.getNumResults(); i < e; ++i)
      idx.push_back(dims[map.getDimPosition(i)]);
    return idx;
  }

  /// Indices into C, relative to the block of C a forall iteration owns.
  SmallVector<Value> cIndices(OpBuilder &builder) {
    SmallVector<Value> idx;
    for (unsigned i = 0, e = p.cMap.getNumResults(); i < e; ++i) {
      unsigned d = p.cMap.getDimPosition(i);
      idx.push_back(cBase[d] ? sub(builder, dims[d], cBase[d]) : dims[d]);
    }
    return idx;
  }

  Value emitOuter(OpBuilder &builder, Value c, unsigned level,
                  function_ref<Value(OpBuilder &, Value)> inner) {
    if (level == p.outerDims.size())
      return inner(builder, c);
    unsigned d = p.outerDims[level];
    return loop(builder, cst(builder, 0), cst(builder, p.extents[d]), 1, c,
                [&](OpBuilder &nested, Value iv, ValueRange args) {
                  dims[d] = iv;
                  return SmallVector<Value>{
                      emitOuter(nested, args[0], level + 1, inner)};
                })[0];
  }

  /// One region as an scf.forall over `s`; each iteration computes its
  /// block of C in a slice of the shared C.
  Value emitForall(OpBuilder &builder, Value c, const Region &r,
                   const Split &s) {
    auto forall = builder.create<scf::ForallOp>(
        loc, ArrayRef<OpFoldResult>{builder.getIndexAttr(s.iterations())},
        ValueRange{c}, std::nullopt,
        [&](OpBuilder &fb, Location, ValueRange regionArgs) {
          Value rest = regionArgs[0], shared = regionArgs[1];
          // iv = ((outer...) * nBlocks + n block) * mChunks + m chunk.
          auto next = [&](int64_t extent) -> Value {
            if (extent == 1)
              return cst(fb, 0);
            Value e = cst(fb, extent);
            Value idx = fb.create<arith::RemUIOp>(loc, rest, e);
            rest = fb.create<arith::DivUIOp>(loc, rest, e);
            return idx;
          };
          Value mi = next(s.mChunks);
          Value ni = next(s.nBlocks);
          for (unsigned d : llvm::reverse(p.outerDims))
            dims[d] = next(p.extents[d]);

          // Chunk `index` of [lo, hi) in chunks of `size`: its bounds, and
          // its size (static unless it may be a shorter last chunk).
          auto chunk = [&](int64_t lo, int64_t hi, int64_t size, Value index,
                           Value &begin, Value &end) -> OpFoldResult {
            if (std::optional<int64_t> ci = getConstantIntValue(index)) {
              int64_t b0 = lo + *ci * size, e0 = std::min(b0 + size, hi);
              begin = cst(fb, b0);
              end = cst(fb, e0);
              return fb.getIndexAttr(e0 - b0);
            }
            begin = add(
                fb, fb.create<arith::MulIOp>(loc, index, cst(fb, size)), lo);
            if ((hi - lo) % size == 0) {
              end = add(fb, begin, size);
              return fb.getIndexAttr(size);
            }
            end = clampedEnd(fb, begin, size, cst(fb, hi));
            return fb.create<arith::SubIOp>(loc, end, begin).getResult();
          };
          Value ra, rb, ca, cb;
          OpFoldResult rowSize = chunk(r.r0, r.r1, s.rows, mi, ra, rb);
          OpFoldResult colSize = chunk(r.c0, r.c1, s.cols, ni, ca, cb);

          SmallVector<OpFoldResult> offsets, sizes;
          for (unsigned i = 0, e = p.cMap.getNumResults(); i < e; ++i) {
            unsigned d = p.cMap.getDimPosition(i);
            if (d == p.nDim) {
              offsets.push_back(ca);
              sizes.push_back(colSize);
              cBase[d] = ca;
            } else if (p.mDim && d == *p.mDim) {
              offsets.push_back(ra);
              sizes.push_back(rowSize);
              cBase[d] = ra;
            } else {
              offsets.push_back(dims[d]);
              sizes.push_back(fb.getIndexAttr(1));
              cBase[d] = dims[d];
            }
          }
          SmallVector<OpFoldResult> strides(offsets.size(),
                                            fb.getIndexAttr(1));
          Value block = fb.create<tensor::ExtractSliceOp>(loc, shared, offsets,
                                                          sizes, strides);
          block = emitRegion(fb, block, r, ra, rb, ca, cb,
                             std::min(s.rows, r.r1 - r.r0),
                             /*oneColBlock=*/true);
          cBase.assign(cBase.size(), Value());
          // With a body builder, the terminator is ours to create.
          auto terminator = fb.create<scf::InParallelOp>(loc);
          OpBuilder::InsertionGuard guard(fb);
          fb.setInsertionPointToStart(terminator.getBody());
          fb.create<tensor::ParallelInsertSliceOp>(loc, block, shared, offsets,
                                                   sizes, strides);
        });
    return forall.getResult(0);
  }

  /// Rows [r0, r1) in tiles of `r.th`, columns [c0, c1) in tiles of `r.tw`
  /// (a part of region `r`); `oneColBlock`: c1 - c0 is at most one Nc
  /// block.
  Value emitRegion(OpBuilder &builder, Value c, const Region &r, Value r0,
                   Value r1, Value c0, Value c1, int64_t rows,
                   bool oneColBlock = false) {
    int64_t th = r.th, tw = r.tw;
    int64_t mc = mcFor(r), nc = ncFor(r);
    int64_t kc = t.kc, k = p.extents[p.kDim];
    // B blocks are packed when enough row tiles reuse them.
    bool pack = t.packRows > 0 &&
                rows >= (p.op->getParentOfType<scf::ForallOp>()
                             ? std::max(t.packRows, t.nestedPackRows)
                             : t.packRows);
    int64_t panels = std::min(nc, r.c1 - r.c0) / tw, depth = std::min(kc, k);
    auto colBlocks = [&](OpBuilder &b0, ValueRange a0, Body body) {
      if (oneColBlock)
        return body(b0, c0, a0);
      return loop(b0, c0, c1, nc, a0, body);
    };
    return colBlocks(
        builder, c,
        [&](OpBuilder &b1, Value jc, ValueRange a1) {
          Value jEnd = oneColBlock ? c1 : clampedEnd(b1, jc, nc, c1);
          return loop(
              b1, cst(b1, 0), cst(b1, k), kc, a1,
              [&](OpBuilder &b2, Value kc0, ValueRange a2) {
                Value kEnd = clampedEnd(b2, kc0, kc, cst(b2, k));
                if (pack) {
                  packedB = packB(b2, jc, jEnd, kc0, kEnd, tw, panels, depth);
                  packJ0 = jc;
                  packK0 = kc0;
                }
                auto rowBlocks = loop(
                    b2, r0, r1, mc, a2,
                    [&](OpBuilder &b3, Value ic, ValueRange a3) {
                      Value iEnd = clampedEnd(b3, ic, mc, r1);
                      return loop(
                          b3, jc, jEnd, tw, a3,
                          [&](OpBuilder &b4, Value j, ValueRange a4) {
                            return loop(
                                b4, ic, iEnd, th, a4,
                                [&](OpBuilder &b5, Value i, ValueRange a5) {
                                  return SmallVector<Value>{microKernel(
                                      b5, a5[0], i, j, kc0, kEnd, th, tw)};
                                });
                          });
                    });
                packedB = Value();
                return rowBlocks;
              });
        })[0];
  }

  /// The vectors of a row of a tile `tw` wide: power-of-two lengths up to
  /// the native one (24 = 16 + 8), which LLVM maps onto whole registers.
  void tileVectors(int64_t tw, SmallVectorImpl<int64_t> &offsets,
                   SmallVectorImpl<int64_t> &widths) {
    for (int64_t off = 0; off < tw;) {
      int64_t w =
          std::min<int64_t>(t.vl, static_cast<int64_t>(llvm::bit_floor(
                                      static_cast<uint64_t>(tw - off))));
      offsets.push_back(off);
      widths.push_back(w);
      off += w;
    }
  }

  /// B[k0 : k1, j0 : j1] packed panel by panel: P[(j - j0) / tw, k - k0, :]
  /// holds B[k, j : j + tw], so the micro-kernel streams contiguous
  /// memory whatever B's row stride.
  Value packB(OpBuilder &builder, Value j0, Value j1, Value k0, Value k1,
              int64_t tw, int64_t panels, int64_t depth) {
    static constexpr bool inBounds[] = {true};
    SmallVector<int64_t> offsets, widths;
    tileVectors(tw, offsets, widths);
    Type f32 = builder.getF32Type();
    Value empty = builder.create<tensor::EmptyOp>(
        loc, ArrayRef<int64_t>{panels, depth, tw}, f32);
    return loop(
        builder, k0, k1, 1, empty,
        [&](OpBuilder &kb, Value kv, ValueRange a0) {
          Value kLocal = sub(kb, kv, k0);
          return loop(
              kb, j0, j1, tw, a0,
              [&](OpBuilder &jb, Value j, ValueRange a1) {
                Value panel = jb.create<arith::DivUIOp>(loc, sub(jb, j, j0),
                                                        cst(jb, tw));
                Value packed = a1[0];
                dims[p.kDim] = kv;
                for (size_t v = 0; v < widths.size(); ++v) {
                  dims[p.nDim] = add(jb, j, offsets[v]);
                  Value vec = jb.create<vector::TransferReadOp>(
                      loc, VectorType::get({widths[v]}, f32), b, indices(bMap),
                      ArrayRef<bool>(inBounds));
                  packed = jb.create<vector::TransferWriteOp>(
                                 loc, vec, packed,
                                 ValueRange{panel, kLocal,
                                            cst(jb, offsets[v])},
                                 ArrayRef<bool>(inBounds))
                               .getResult();
                }
                return SmallVector<Value>{packed};
              });
        })[0];
  }
  /// C[i : i + th, j : j + tw] += A[i : i + th, k0 : k1] B[k0 : k1, j : j + tw]
  Value microKernel(OpBuilder &builder, Value c, Value i, Value j, Value k0,
                    Value k1, int64_t th, int64_t tw) {
    static constexpr bool inBounds[] = {true};
    SmallVector<int64_t> offsets, widths;
    tileVectors(tw, offsets, widths);
    size_t nv = widths.size();
    Type f32 = builder.getF32Type();
    SmallVector<Value> rows, cols;
    for (int64_t r = 0; r < th; ++r)
      rows.push_back(add(builder, i, r));
    for (int64_t off : offsets)
      cols.push_back(add(builder, j, off));
    // Accumulators, row-major: acc[r * nv + v]. They start from C, or from
    // the fill value in the first K block when C's init was a fill.
    auto readC = [&](OpBuilder &rb) {
      SmallVector<Value> accs;
      for (int64_t r = 0; r < th; ++r) {
        if (p.mDim)
          dims[*p.mDim] = rows[r];
        for (size_t v = 0; v < nv; ++v) {
          dims[p.nDim] = cols[v];
          accs.push_back(rb.create<vector::TransferReadOp>(
              loc, VectorType::get({widths[v]}, f32), c, cIndices(rb),
              ArrayRef<bool>(inBounds)));
        }
      }
      return accs;
    };
    auto splatFill = [&](OpBuilder &rb) {
      SmallVector<Value> accs;
      for (int64_t r = 0; r < th; ++r)
        for (size_t v = 0; v < nv; ++v)
          accs.push_back(rb.create<vector::BroadcastOp>(
              loc, VectorType::get({widths[v]}, f32), p.fillValue));
      return accs;
    };
    SmallVector<Value> accs;
    std::optional<int64_t> kStart = getConstantIntValue(k0);
    if (!p.fillValue || (kStart && *kStart != 0)) {
      accs = readC(builder);
    } else if (kStart) {
      accs = splatFill(builder);
    } else {
      Value first = builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                                  k0, cst(builder, 0));
      // Result types come from the yields.
      auto ifOp = builder.create<scf::IfOp>(
          loc, first,
          [&](OpBuilder &tb, Location) {
            tb.create<scf::YieldOp>(loc, splatFill(tb));
          },
          [&](OpBuilder &eb, Location) {
            eb.create<scf::YieldOp>(loc, readC(eb));
          });
      accs = SmallVector<Value>(ifOp.getResults());
    }
    Value panel;
    if (packedB)
      panel = builder.create<arith::DivUIOp>(loc, sub(builder, j, packJ0),
                                             cst(builder, tw));
    SmallVector<Value> sums = loop(
        builder, k0, k1, 1, accs, [&](OpBuilder &kb, Value kv, ValueRange acc) {
          dims[p.kDim] = kv;
          SmallVector<Value> bVecs;
          for (size_t v = 0; v < nv; ++v) {
            dims[p.nDim] = cols[v];
            if (packedB)
              bVecs.push_back(kb.create<vector::TransferReadOp>(
                  loc, VectorType::get({widths[v]}, f32), packedB,
                  ValueRange{panel, sub(kb, kv, packK0),
                             cst(kb, offsets[v])},
                  ArrayRef<bool>(inBounds)));
            else
              bVecs.push_back(kb.create<vector::TransferReadOp>(
                  loc, VectorType::get({widths[v]}, f32), b, indices(bMap),
                  ArrayRef<bool>(inBounds)));
          }
          SmallVector<Value> next;
          for (int64_t r = 0; r < th; ++r) {
            if (p.mDim)
              dims[*p.mDim] = rows[r];
            Value aVal = kb.create<tensor::ExtractOp>(loc, a, indices(p.aMap));
            for (size_t v = 0; v < nv; ++v) {
              Value aVec = kb.create<vector::BroadcastOp>(
                  loc, VectorType::get({widths[v]}, f32), aVal);
              next.push_back(kb.create<vector::FMAOp>(loc, aVec, bVecs[v],
                                                      acc[r * nv + v]));
            }
          }
          return next;
        });
    for (int64_t r = 0; r < th; ++r) {
      if (p.mDim)
        dims[*p.mDim] = rows[r];
      for (size_t v = 0; v < nv; ++v) {
        dims[p.nDim] = cols[v];
        c = builder
                .create<vector::TransferWriteOp>(loc, sums[r * nv + v], c,
                                                 cIndices(builder),
                                                 ArrayRef<bool>(inBounds))
                .getResult();
      }
    }
    return c;
  }

  const Plan &p;
  const Tiles &t;
  const Threading &threads;
  Location loc;
  Value a, b;
  AffineMap bMap;
  /// The current index of every loop dim while emitting.
  SmallVector<Value> dims;
  /// Inside a forall iteration: where its block of C starts, per loop dim
  /// that indexes C (null outside).
  SmallVector<Value> cBase;
  /// While emitting a K block whose B block is packed: the packed tensor
  /// and the block's first column and K index.
  Value packedB, packJ0, packK0;
};

void rewrite(RewriterBase &rewriter, const Plan &p, const Tiles &t,
             const Threading &threads) {
  linalg::LinalgOp op = p.op;
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value a = op.getDpsInputs()[p.aIdx], b = op.getDpsInputs()[p.bIdx];
  AffineMap bMap = p.bMap;
  if (!p.bPerm.empty()) {
    auto bType = cast<RankedTensorType>(b.getType());
    SmallVector<int64_t> shape;
    SmallVector<AffineExpr> exprs;
    for (int64_t i : p.bPerm) {
      shape.push_back(bType.getDimSize(i));
      exprs.push_back(bMap.getResult(i));
    }
    Value init =
        rewriter.create<tensor::EmptyOp>(loc, shape, bType.getElementType());
    b = rewriter.create<linalg::TransposeOp>(loc, b, init, p.bPerm)
            ->getResult(0);
    bMap = AffineMap::get(bMap.getNumDims(), 0, exprs, op.getContext());
  }
  // With a fill folded into the accumulators, C starts from a fresh
  // tensor (its contents are never read), not from the fill's result.
  Value c = op.getDpsInits()[0];
  if (p.fillValue) {
    auto cType = cast<RankedTensorType>(c.getType());
    c = rewriter.create<tensor::EmptyOp>(loc, cType.getShape(),
                                         cType.getElementType());
  }
  Emitter emitter(p, t, threads, loc, a, b, bMap);
  Value result = emitter.emit(rewriter, c);
  rewriter.replaceOp(op, result);
}

struct CPUContractionCodegenPass
    : PassWrapper<CPUContractionCodegenPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CPUContractionCodegenPass)

  CPUContractionCodegenPass() = default;
  CPUContractionCodegenPass(const CPUContractionCodegenPass &other)
      : PassWrapper(other) {}

  StringRef getArgument() const final { return "lctx-cpu-contraction-codegen"; }
  StringRef getDescription() const final {
    return "Cache-blocked, register-tiled vector loops for f32 linalg "
           "contractions on tensors";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<arith::ArithDialect, linalg::LinalgDialect, scf::SCFDialect,
                    tensor::TensorDialect, vector::VectorDialect>();
    vector::registerBufferizableOpInterfaceExternalModels(registry);
  }

  void runOnOperation() override {
    Tiles t = hostTiles();
    if (mr > 0)
      t.mr = mr;
    if (nr > 0)
      t.nr = nr;
    if (mc > 0)
      t.mc = mc;
    if (nc > 0)
      t.nc = nc;
    if (kc > 0)
      t.kc = kc;
    if (packRows >= 0)
      t.packRows = packRows;
    if (nestedPackRows >= 0)
      t.nestedPackRows = nestedPackRows;
    Threading threads;
    threads.minFlops = parallelFlops;
    if (parallelChunks > 0)
      threads.chunks = parallelChunks;
    std::vector<Plan> plans;
    getOperation().walk([&](linalg::LinalgOp op) {
      FailureOr<Plan> p = analyze(op);
      if (succeeded(p))
        plans.push_back(*p);
    });
    IRRewriter rewriter(&getContext());
    for (const Plan &p : plans)
      rewrite(rewriter, p, t, threads);
  }

  Option<int64_t> mr{*this, "mr",
                     llvm::cl::desc("Register tile rows (0: host default)"),
                     llvm::cl::init(0)};
  Option<int64_t> nr{
      *this, "nr",
      llvm::cl::desc("Register tile columns, the vector length (0: host "
                     "default)"),
      llvm::cl::init(0)};
  Option<int64_t> mc{*this, "mc", llvm::cl::desc("Cache block rows (0: 120)"),
                     llvm::cl::init(0)};
  Option<int64_t> nc{*this, "nc",
                     llvm::cl::desc("Cache block columns (0: 128)"),
                     llvm::cl::init(0)};
  Option<int64_t> kc{*this, "kc", llvm::cl::desc("Cache block depth (0: 256)"),
                     llvm::cl::init(0)};
  Option<int64_t> packRows{
      *this, "pack-rows",
      llvm::cl::desc("Pack each Kc x Nc block of B when at least this many "
                     "rows of C use it (-1: 24; 0: never)"),
      llvm::cl::init(-1)};
  Option<int64_t> nestedPackRows{
      *this, "nested-pack-rows",
      llvm::cl::desc("The same for a contraction inside another scf.forall, "
                     "at least pack-rows (-1: 64)"),
      llvm::cl::init(-1)};
  Option<int64_t> parallelFlops{
      *this, "parallel-flops",
      llvm::cl::desc("Minimum FLOPs of a contraction for scf.foralls over "
                     "blocks of C (regions below 1/16 of it stay "
                     "sequential); 0 never"),
      llvm::cl::init(Threading().minFlops)};
  Option<int64_t> parallelChunks{
      *this, "parallel-chunks",
      llvm::cl::desc("Forall iterations to aim at before M is split as well "
                     "as N (0: 16)"),
      llvm::cl::init(0)};
};

} // namespace

std::unique_ptr<Pass> mlir::lctx::createCPUContractionCodegenPass() {
  return std::make_unique<CPUContractionCodegenPass>();
}

int64_t mlir::lctx::hostF32VectorLanes() { return hostTiles().vl; }

void mlir::lctx::registerCPUContractionCodegenPass() {
  PassRegistration<CPUContractionCodegenPass>();
}
