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
/// tensor and `lctx.input = "name"` names a runtime input: the name must be a
/// non-empty string, unique among the function's weights and inputs, on a
/// ranked-tensor argument (a memref once the CPU pipeline has bufferized).
LogicalResult LCtxDialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned regionIndex,
                                                    unsigned argIndex,
                                                    NamedAttribute attr) {
  StringRef attrName = attr.getName().getValue();
  if (attrName != getWeightAttrName() && attrName != getInputAttrName())
    return op->emitError() << "unknown lctx argument attribute '" << attrName
                           << "'";
  auto name = dyn_cast<StringAttr>(attr.getValue());
  if (!name || name.getValue().empty())
    return op->emitError() << "'" << attrName << "' on argument #"
                           << argIndex << " must be a non-empty string";
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func || regionIndex != 0)
    return op->emitError() << "'" << attrName
                           << "' is only allowed on function arguments";
  Type argType = func.getArgumentTypes()[argIndex];
  if (!isa<RankedTensorType, MemRefType>(argType))
    return op->emitError() << (attrName == getWeightAttrName() ? "weight '"
                                                               : "input '")
                           << name.getValue() << "' (argument #" << argIndex
                           << ") must be a ranked tensor, got " << argType;
  if (func.getArgAttr(argIndex, getWeightAttrName()) &&
      func.getArgAttr(argIndex, getInputAttrName()))
    return op->emitError() << "argument #" << argIndex
                           << " cannot be both a weight and an input";
  // Report a duplicate once, at its second occurrence.
  for (unsigned i = 0; i < argIndex; ++i)
    for (StringRef other : {getWeightAttrName(), getInputAttrName()})
      if (func.getArgAttrOfType<StringAttr>(i, other) == name)
        return op->emitError() << "duplicate weight name '" << name.getValue()
                               << "' on arguments #" << i << " and #"
                               << argIndex;
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
