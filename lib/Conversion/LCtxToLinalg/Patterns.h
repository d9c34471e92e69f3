//===- Patterns.h - Shared helpers of the lctx-to-linalg lowering -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Builders used by every op-family file of the lowering, and the per-family
// populate functions that LCtxToLinalg.cpp gathers.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_LIB_CONVERSION_LCTXTOLINALG_PATTERNS_H
#define LCTX_LIB_CONVERSION_LCTXTOLINALG_PATTERNS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::lctx::lowering {

/// Every operand and result of `op` is a tensor of static shape (the
/// lowering handles static shapes; dynamic ones are left for later work).
bool hasStaticTensorShapes(Operation *op);

/// Float math of narrow types (f16, bf16) is carried out in f32.
Type computeType(Type elementType);
Value toCompute(OpBuilder &b, Location loc, Value v, Type computeTy);
Value fromCompute(OpBuilder &b, Location loc, Value v, Type elementType);
Value floatConst(OpBuilder &b, Location loc, Type type, double value);
Value indexConst(OpBuilder &b, Location loc, int64_t value);
Value i32Const(OpBuilder &b, Location loc, int64_t value);
Value i64Const(OpBuilder &b, Location loc, int64_t value);

/// For an integer index `idx` (any width) and a bound: the validity bit
/// `0 <= idx < bound`, and `idx` as an index clamped to 0 when invalid (so a
/// load stays in bounds while its result is discarded).
std::pair<Value, Value> clampIndex(OpBuilder &b, Location loc, Value idx,
                                   int64_t bound);

/// table[idx, col] for a [V, D] `table`, or 0 when `idx` is outside [0, V)
/// (the convention of lctx.embedding and the patch ops).
Value lookupRowOrZero(OpBuilder &b, Location loc, Value table, Value idx,
                      Value col);

/// tensor.empty of a static shape.
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType);
/// A static tensor filled with `value`.
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Type elementType, double value);

/// Body callback of `buildGeneric`: receives the block arguments (inputs,
/// then the output accumulator) and returns the value to yield.
using GenericBody = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// One-result linalg.generic over `init` (whose map is `outMap`).
Value buildGeneric(OpBuilder &b, Location loc, Value init, ValueRange inputs,
                   ArrayRef<AffineMap> inputMaps, AffineMap outMap,
                   ArrayRef<utils::IteratorType> iterators, GenericBody body);

/// All-parallel linalg.generic producing a new tensor of `shape` and
/// `elementType` from index computations only (no inputs).
Value buildIndexGeneric(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                        Type elementType,
                        function_ref<Value(OpBuilder &, Location, ValueRange)>
                            body);

/// Affine map of `rank` dims selecting `dims`.
AffineMap selectDims(MLIRContext *ctx, unsigned rank, ArrayRef<unsigned> dims);

constexpr auto kParallel = utils::IteratorType::parallel;
constexpr auto kReduction = utils::IteratorType::reduction;

/// [d0, ..., dn, D] -> [d0*...*dn, D] (rank 1 becomes [1, D]).
Value collapseToMatrix(OpBuilder &b, Location loc, Value x);
/// Inverse of collapseToMatrix: [M, D'] -> `shape` (whose last dim is D').
Value expandFromMatrix(OpBuilder &b, Location loc, Value m,
                       ArrayRef<int64_t> shape);

/// C = A B (or A B^T) with a fresh zero accumulator; A [M, K], B [K, N] or
/// [N, K]; with rank-3 operands a batched matmul. The accumulator and the
/// result have A's element type, or `accType` when given (e.g. f32 for
/// bf16/f16 operands, which the matmul extends before multiplying).
Value buildMatmul(OpBuilder &b, Location loc, Value a, Value bMat,
                  bool transposeB = false, Type accType = {});

/// `t` with every element converted to `elementType` (extf/truncf); `t`
/// itself when it already has that type.
Value convertElements(OpBuilder &b, Location loc, Value t, Type elementType);

/// Rotary embedding of `x` [B, H, T, Dh] at positions `pos` [B, T] (any
/// integer type); with `chunk`, positions are taken modulo the chunk.
Value buildRope(OpBuilder &b, Location loc, Value x, Value pos, double theta,
                std::optional<int64_t> chunk);

/// One row of a buildRowGather: the integer id of the table row (any
/// width; outside [0, V) gives a zero row), where the row goes in `dest`
/// (the indices of its leading dims and, optionally, the column it starts
/// at in the last one), and the row of the addend (ignored without one).
struct RowGatherRow {
  Value id;
  SmallVector<Value> destIdx;
  Value destCol;
  Value addRow;
};

/// Copies `numRows` rows of `table` [V, D] into `dest` [..., >= D] (what
/// `rowFn` does not name keep their contents): dest[destIdx, destCol :
/// destCol + D] = (0 <= id < V ? table[id] : 0) (+ addend[addRow] when
/// `addend` [*, D] is given). A loop over rows whose body is a vectorizable
/// generic on one contiguous row, instead of a per-element gather; writing
/// into the result's own shape needs no reshape (and no copy) after it.
Value buildRowGather(OpBuilder &b, Location loc, Value table, Value dest,
                     Value addend, int64_t numRows,
                     function_ref<RowGatherRow(OpBuilder &, Location, Value)>
                         rowFn);

/// Operands and attributes of a flash-attention computation (the semantics
/// of lctx.attention).
struct FlashAttentionArgs {
  Value query, key, value;
  Value qPositions, kPositions; // both or neither
  bool causal = true;
  std::optional<int64_t> chunkSize;
  double scale = 1.0;
  std::optional<double> ropeTheta;
  Type resultElementType;
  /// Query and key tile (0: whole sequences). lctx.attention's pattern
  /// takes the batched form instead for a tile < 0 (attention-tile=-1).
  int64_t tile = 64;
};

/// Maps one normalized f32 output tile [Bq, Dv] of batch `b`, head `h`
/// (with the matching f32 query tile [Bq, Dh] before RoPE) to the tile of
/// the result's element type that is written out.
using FlashEpilogue = function_ref<Value(OpBuilder &, Location, Value b,
                                         Value h, Value queryTile,
                                         Value outTile)>;

/// Tiled attention with an online softmax (Attention.cpp); `epilogue` may
/// be null (plain conversion to the result type).
Value buildFlashAttention(OpBuilder &b, Location loc,
                          const FlashAttentionArgs &args,
                          FlashEpilogue epilogue);

//===----------------------------------------------------------------------===//
// Per-family pattern sets
//===----------------------------------------------------------------------===//

/// `tile`: the flash form's query and key tile (0: whole sequences).
void populateAttentionPatterns(RewritePatternSet &patterns, int64_t tile = 64);
void populateCemaOpsPatterns(RewritePatternSet &patterns);
void populateCommonOpsPatterns(RewritePatternSet &patterns);
void populateMemoryOpsPatterns(RewritePatternSet &patterns);
void populatePatchOpsPatterns(RewritePatternSet &patterns);
void populateRouteOpsPatterns(RewritePatternSet &patterns);

} // namespace mlir::lctx::lowering

#endif // LCTX_LIB_CONVERSION_LCTXTOLINALG_PATTERNS_H
