//===- LCtxDialect.cpp - The lctx dialect ---------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;
using namespace mlir::lctx;

#include "lctx/Dialect/LCtx/IR/LCtxDialect.cpp.inc"
#include "lctx/Dialect/LCtx/IR/LCtxEnums.cpp.inc"

void LCtxDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "lctx/Dialect/LCtx/IR/LCtxOps.cpp.inc"
      >();
}

/// `lctx.weight = "name"` binds a function argument to a named weight
/// tensor: the name must be a non-empty string, unique within the function,
/// on a ranked-tensor argument.
LogicalResult LCtxDialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned regionIndex,
                                                    unsigned argIndex,
                                                    NamedAttribute attr) {
  if (attr.getName() != getWeightAttrName())
    return op->emitError() << "unknown lctx argument attribute '"
                           << attr.getName().getValue() << "'";
  auto name = dyn_cast<StringAttr>(attr.getValue());
  if (!name || name.getValue().empty())
    return op->emitError() << "'" << getWeightAttrName()
                           << "' on argument #" << argIndex
                           << " must be a non-empty string";
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func || regionIndex != 0)
    return op->emitError() << "'" << getWeightAttrName()
                           << "' is only allowed on function arguments";
  Type argType = func.getArgumentTypes()[argIndex];
  if (!isa<RankedTensorType>(argType))
    return op->emitError() << "weight '" << name.getValue() << "' (argument #"
                           << argIndex << ") must be a ranked tensor, got "
                           << argType;
  // Report a duplicate once, at its second occurrence.
  for (unsigned i = 0; i < argIndex; ++i) {
    auto other = func.getArgAttrOfType<StringAttr>(i, getWeightAttrName());
    if (other && other == name)
      return op->emitError() << "duplicate weight name '" << name.getValue()
                             << "' on arguments #" << i << " and #"
                             << argIndex;
  }
  return success();
}

/// lctx defines no attribute for function results: a weight is an input.
LogicalResult LCtxDialect::verifyRegionResultAttribute(Operation *op,
                                                       unsigned regionIndex,
                                                       unsigned resultIndex,
                                                       NamedAttribute attr) {
  if (attr.getName() == getWeightAttrName())
    return op->emitError() << "'" << getWeightAttrName()
                           << "' is only allowed on function arguments, not "
                              "on result #"
                           << resultIndex;
  return op->emitError() << "unknown lctx result attribute '"
                         << attr.getName().getValue() << "'";
}

/// lctx defines no discardable attribute on operations.
LogicalResult LCtxDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  return op->emitError() << "unknown lctx attribute '"
                         << attr.getName().getValue() << "' on operation";
}

#define GET_OP_CLASSES
#include "lctx/Dialect/LCtx/IR/LCtxOps.cpp.inc"
