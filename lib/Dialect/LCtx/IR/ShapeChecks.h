//===- ShapeChecks.h - Verifier helpers for lctx ops ------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Uniform verifier messages for the shape relations of lctx ops. Every check
// accepts dynamic dims and reports the operand names and dims involved, e.g.
//   'lctx.attention' op head dim mismatch: key dim 3 is 32 but query dim 3
//   is 64
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_LIB_DIALECT_LCTX_IR_SHAPECHECKS_H
#define LCTX_LIB_DIALECT_LCTX_IR_SHAPECHECKS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/TypeUtilities.h"

#include <optional>

namespace mlir::lctx::detail {

/// Returns dim `i` of `v`'s ranked type (negative `i` counts from the back),
/// or ShapedType::kDynamic when `v` has no such dim.
int64_t dimOf(Type type, int64_t i);
inline int64_t dimOf(Value v, int64_t i) { return dimOf(v.getType(), i); }

/// An inherent attribute during shape inference. Inference runs on the
/// parser's state, where attributes written in the attr-dict are not yet
/// stored in the properties, so look in both; null when absent or of the
/// wrong kind (the verifier reports those).
template <typename AttrT>
AttrT inferenceAttr(AttrT fromProperties, DictionaryAttr attributes,
                    StringRef name) {
  if (fromProperties)
    return fromProperties;
  return attributes ? dyn_cast_or_null<AttrT>(attributes.get(name)) : AttrT();
}

/// Verifier helper bound to one op; every method emits an op error and
/// returns failure on a violation.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  /// `v` (called `name`) must have rank `rank`; `layout` names the dims for
  /// the message, e.g. "[B, H, T, Dh]".
  LogicalResult rank(Value v, StringRef name, int64_t rank, StringRef layout);

  /// `v` must have rank at least `rank`.
  LogicalResult rankAtLeast(Value v, StringRef name, int64_t rank);

  /// Dim `i` of `a` must equal dim `j` of `b` (`what` names the quantity).
  LogicalResult sameDim(StringRef what, Value a, StringRef aName, int64_t i,
                        Value b, StringRef bName, int64_t j);

  /// Dim `i` of `a` must equal `expected` (a derived quantity described by
  /// `expectedDesc`).
  LogicalResult dimEquals(StringRef what, Value a, StringRef aName, int64_t i,
                          int64_t expected, StringRef expectedDesc);

  /// `a` and `b` must have the same element type.
  LogicalResult sameElementType(Value a, StringRef aName, Value b,
                                StringRef bName);

  /// `a` and `b` must have the same (compatible) shape.
  LogicalResult sameShape(Value a, StringRef aName, Value b, StringRef bName);

  /// An integer attribute that must be > 0.
  LogicalResult positive(StringRef attrName, int64_t value);

  /// A float attribute that must be finite and > 0 (or >= 0 with
  /// `allowZero`).
  LogicalResult positive(StringRef attrName, double value,
                         bool allowZero = false);

  /// The Infini memory state: memory [B, H, Dk, Dv], norm [B, H, Dk],
  /// consistent with an activation `ref` [B, H, N, Dk] (dims 0, 1, 3), and
  /// `valueDim` as Dv when known.
  LogicalResult memoryState(Value memory, Value norm, Value ref,
                            StringRef refName,
                            std::optional<int64_t> valueDim);

private:
  Operation *op;
};

} // namespace mlir::lctx::detail

#endif // LCTX_LIB_DIALECT_LCTX_IR_SHAPECHECKS_H
