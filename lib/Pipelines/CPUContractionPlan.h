//===- CPUContractionPlan.h - How a contraction maps onto tiles -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Private to lib/Pipelines: the analysis half of
// lctx-cpu-contraction-codegen (CPUContractionPlan.cpp: which linalg ops
// are contractions, their M, N, K and outer dims, the host's tile sizes);
// CPUContractions.cpp emits the loops.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_LIB_PIPELINES_CPUCONTRACTIONPLAN_H
#define LCTX_LIB_PIPELINES_CPUCONTRACTIONPLAN_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/AffineMap.h"

#include <optional>

namespace mlir::lctx::cpu {

/// ceil(a / b) for a >= 0, b > 0.
inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Register and cache tile sizes and the native vector length, in
/// elements.
struct Tiles {
  int64_t mr = 6, nr = 64, mc = 120, nc = 128, kc = 256, vl = 16;
  /// Rows of C (per region or forall iteration) from which each Kc x Nc
  /// block of B is packed before use; 0 never.
  int64_t packRows = 24;
  /// The same for a contraction inside another scf.forall (one block of a
  /// parallel loop: attention's 64-row query tiles, whose full 6-row tiles
  /// cover 60 rows, lctx-moe-grouped's expert blocks), whose copy of B
  /// serves only that block's rows. A Switch layer's 48-row blocks on
  /// [256, 512] expert weights ran 15% slower packed (3.0 vs 2.55 ms per
  /// layer, 1024 tokens, 8 experts); whole prefills (1 thread, median of 5
  /// rounds) at 24 / 48 / 64 here: Switch 48.8 / 48.4 / 47.2 ms, Infini
  /// 43.8 / 43.6 / 42.6 ms.
  int64_t nestedPackRows = 64;
};

/// Tiles for the host. AVX-512 (32 registers): 6 x 64, i.e. 24 accumulator
/// registers, 4 for B and one broadcast (measured best on Zen 5 among 8x32,
/// 8x48, 12x32, 6x64). AVX2 (16 registers): 6 x 16, 12 accumulators.
Tiles hostTiles();

/// How a contraction maps onto the kernel.
struct Plan {
  linalg::LinalgOp op;
  unsigned aIdx = 0, bIdx = 1;
  AffineMap aMap, bMap, cMap;
  std::optional<unsigned> mDim;
  unsigned nDim = 0, kDim = 0;
  /// Every other loop dim, outermost first.
  SmallVector<unsigned> outerDims;
  SmallVector<int64_t> extents;
  /// Permutation for linalg.transpose of B when its last dim is not N.
  SmallVector<int64_t> bPerm;
  /// The scalar C starts as, when the init is a linalg.fill: the
  /// accumulators then start from it and the fill is skipped.
  Value fillValue;
  /// Whether every outer dim is parallel and indexes C, so that the
  /// iterations over them (and over blocks of M and N) are independent.
  bool parallelizable = false;
};

constexpr int64_t kRegionFlopsDivisor = 16;

/// When and how contractions run on several threads.
struct Threading {
  /// Minimum FLOPs (2 x the iteration space) of a contraction for
  /// scf.foralls (and 1/kRegionFlopsDivisor of it of each region that gets
  /// one; smaller remainder strips stay sequential); <= 0 never.
  int64_t minFlops = int64_t(1) << 24;
  /// Iterations a forall aims at before M is split too.
  int64_t chunks = 16;
};

/// The plan of `op` when it is an f32 contraction the codegen handles.
FailureOr<Plan> analyze(linalg::LinalgOp op);

} // namespace mlir::lctx::cpu

#endif // LCTX_LIB_PIPELINES_CPUCONTRACTIONPLAN_H
