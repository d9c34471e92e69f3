//===- TimeAnalysis.h - Token dimensions of a prefill -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The analysis half of lctx-derive-decode (DeriveDecode.cpp): which
/// dimension of every value of a prefill walks the tokens, or which op has
/// no one-token form.
///
//===----------------------------------------------------------------------===//

#ifndef LCTX_LIB_DIALECT_LCTX_TRANSFORMS_TIMEANALYSIS_H
#define LCTX_LIB_DIALECT_LCTX_TRANSFORMS_TIMEANALYSIS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::lctx::derive {

constexpr int64_t kNoTime = -1;

/// `type` with `steps` tokens in its token dimension `dim`.
inline RankedTensorType withTime(Type type, int64_t dim, int64_t steps) {
  auto t = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(t.getShape());
  shape[dim] = steps;
  return RankedTensorType::get(shape, t.getElementType(), t.getEncoding());
}

/// What a derived entry steps: one token of a token model, or one of the
/// two rates of a patch model (MEGABYTE): a patch of the global model, a
/// byte of the local model.
enum class Rate { Token, Global, Local };

/// The token dimension of every value of a prefill body.
class TimeAnalysis {
public:
  TimeAnalysis(func::FuncOp func, Rate rate) : func(func), rate(rate) {}

  LogicalResult run();

  int64_t of(Value v) const {
    auto it = dims.find(v);
    return it == dims.end() ? kNoTime : it->second;
  }
  /// T, the prefill's number of tokens (of patches at the global rate, of
  /// bytes per patch at the local rate).
  int64_t length() const { return tokens; }
  /// At the local rate, values of the local model carry the patches of the
  /// sequence as batch (dimension 0, B*K); one step has batch B.
  bool isLocal(Value v) const { return local.contains(v); }
  int64_t stepBatch() const { return batch; }

private:
  LogicalResult visit(Operation *op);
  LogicalResult visitLinalg(linalg::LinalgOp op);
  LogicalResult visitReshape(Operation *op, Value src, Value result,
                             ArrayRef<ReassociationIndices> groups,
                             bool expand);
  void set(Value v, int64_t d) {
    if (d != kNoTime)
      dims[v] = d;
  }
  InFlightDiagnostic unsupported(Operation *op) {
    return op->emitOpError()
           << "has no one-token form: lctx-derive-decode cannot derive "
              "a decode step of @"
           << func.getSymName() << " through it";
  }

  LogicalResult seedPatches();
  LogicalResult propagateLocal(Operation *op);

  func::FuncOp func;
  Rate rate;
  DenseMap<Value, int64_t> dims;
  DenseSet<Value> local;
  int64_t tokens = 0;
  int64_t batch = 0, localBatch = 0;
};

/// The patch ops of a MEGABYTE prefill: one patch.embed and one
/// patch.to_local.
} // namespace mlir::lctx::derive

#endif // LCTX_LIB_DIALECT_LCTX_TRANSFORMS_TIMEANALYSIS_H
