//===- LCtxDialect.cpp - The lctx dialect ---------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/LCtxDialect.h"

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "mlir/IR/BuiltinOps.h"
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

namespace {
/// A non-empty string attribute value, or null.
StringAttr nonEmptyName(NamedAttribute attr) {
  auto name = dyn_cast<StringAttr>(attr.getValue());
  return name && !name.getValue().empty() ? name : StringAttr();
}

/// The index of the result with `lctx.state = name`, if any.
std::optional<unsigned> stateResult(FunctionOpInterface func, StringAttr name) {
  for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
    if (func.getResultAttrOfType<StringAttr>(i,
                                             LCtxDialect::getStateAttrName()) ==
        name)
      return i;
  return std::nullopt;
}

/// The index of the argument with `lctx.state = name`, if any.
std::optional<unsigned> stateArgument(FunctionOpInterface func,
                                      StringAttr name) {
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
    if (func.getArgAttrOfType<StringAttr>(i, LCtxDialect::getStateAttrName()) ==
        name)
      return i;
  return std::nullopt;
}
} // namespace

/// `lctx.weight = "name"` binds a function argument to a named weight
/// tensor, `lctx.input = "name"` names a runtime input, and
/// `lctx.state = "name"` makes the argument the incoming value of a piece of
/// runtime-owned state (paired with a result of the same name and type). The
/// name must be a non-empty string, unique among the function's arguments,
/// on a ranked-tensor argument (a memref once the CPU pipeline has
/// bufferized).
LogicalResult LCtxDialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned regionIndex,
                                                    unsigned argIndex,
                                                    NamedAttribute attr) {
  StringRef attrName = attr.getName().getValue();
  if (attrName != getWeightAttrName() && attrName != getInputAttrName() &&
      attrName != getStateAttrName()) {
    if (attrName == getOutputAttrName())
      return op->emitError() << "'" << attrName
                             << "' is only allowed on function results, not "
                                "on argument #"
                             << argIndex;
    return op->emitError() << "unknown lctx argument attribute '" << attrName
                           << "'";
  }
  StringAttr name = nonEmptyName(attr);
  if (!name)
    return op->emitError() << "'" << attrName << "' on argument #"
                           << argIndex << " must be a non-empty string";
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func || regionIndex != 0)
    return op->emitError() << "'" << attrName
                           << "' is only allowed on function arguments";
  StringRef what = attrName == getWeightAttrName()  ? "weight"
                   : attrName == getInputAttrName() ? "input"
                                                    : "state";
  Type argType = func.getArgumentTypes()[argIndex];
  if (!isa<RankedTensorType, MemRefType>(argType))
    return op->emitError() << what << " '" << name.getValue()
                           << "' (argument #" << argIndex
                           << ") must be a ranked tensor, got " << argType;
  unsigned roles = 0;
  for (StringRef role :
       {getWeightAttrName(), getInputAttrName(), getStateAttrName()})
    roles += func.getArgAttr(argIndex, role) ? 1 : 0;
  if (roles > 1)
    return op->emitError() << "argument #" << argIndex
                           << " can have only one of lctx.weight, lctx.input "
                              "and lctx.state";
  // Report a duplicate once, at its second occurrence.
  for (unsigned i = 0; i < argIndex; ++i)
    for (StringRef other :
         {getWeightAttrName(), getInputAttrName(), getStateAttrName()})
      if (func.getArgAttrOfType<StringAttr>(i, other) == name)
        return op->emitError() << "duplicate argument name '"
                               << name.getValue() << "' on arguments #" << i
                               << " and #" << argIndex;
  if (attrName == getStateAttrName()) {
    std::optional<unsigned> result = stateResult(func, name);
    if (!result)
      return op->emitError()
             << "state '" << name.getValue() << "' (argument #" << argIndex
             << ") has no result with lctx.state = \"" << name.getValue()
             << "\" carrying its next value";
    if (func.getResultTypes()[*result] != argType)
      return op->emitError()
             << "state '" << name.getValue() << "' is " << argType
             << " as argument #" << argIndex << " but "
             << func.getResultTypes()[*result] << " as result #" << *result;
  }
  return success();
}

/// `lctx.output = "name"` names an output and `lctx.state = "name"` makes a
/// result the next value of the state argument of the same name; names are
/// non-empty and unique among the results.
LogicalResult LCtxDialect::verifyRegionResultAttribute(Operation *op,
                                                       unsigned regionIndex,
                                                       unsigned resultIndex,
                                                       NamedAttribute attr) {
  StringRef attrName = attr.getName().getValue();
  if (attrName == getWeightAttrName() || attrName == getInputAttrName())
    return op->emitError() << "'" << attrName
                           << "' is only allowed on function arguments, not "
                              "on result #"
                           << resultIndex;
  if (attrName != getOutputAttrName() && attrName != getStateAttrName())
    return op->emitError() << "unknown lctx result attribute '" << attrName
                           << "'";
  StringAttr name = nonEmptyName(attr);
  if (!name)
    return op->emitError() << "'" << attrName << "' on result #"
                           << resultIndex << " must be a non-empty string";
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func || regionIndex != 0)
    return op->emitError() << "'" << attrName
                           << "' is only allowed on function results";
  if (func.getResultAttr(resultIndex, getOutputAttrName()) &&
      func.getResultAttr(resultIndex, getStateAttrName()))
    return op->emitError() << "result #" << resultIndex
                           << " cannot be both an output and a state";
  for (unsigned i = 0; i < resultIndex; ++i)
    for (StringRef other : {getOutputAttrName(), getStateAttrName()})
      if (func.getResultAttrOfType<StringAttr>(i, other) == name)
        return op->emitError() << "duplicate result name '"
                               << name.getValue() << "' on results #" << i
                               << " and #" << resultIndex;
  if (attrName == getStateAttrName() && !stateArgument(func, name))
    return op->emitError() << "state '" << name.getValue() << "' (result #"
                           << resultIndex
                           << ") has no argument with lctx.state = \""
                           << name.getValue() << "\" carrying its value in";
  return success();
}

/// Two discardable lctx attributes exist on operations. `lctx.model` on a
/// module describes the model for the tools that drive it (recorded in the
/// artifact manifest's "model"): a dictionary of string and integer
/// entries, e.g. {arch = "megabyte", patch = 4 : i64}. `lctx.decode` on a
/// function names the decode entry point `lctx-derive-decode` derives from
/// it.
LogicalResult LCtxDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  if (attr.getName() == getDecodeAttrName()) {
    if (!isa<FunctionOpInterface>(op))
      return op->emitError() << "'" << getDecodeAttrName()
                             << "' is only allowed on a function";
    auto name = dyn_cast<StringAttr>(attr.getValue());
    if (!name || name.getValue().empty())
      return op->emitError() << "'" << getDecodeAttrName()
                             << "' must name the decode entry point (a "
                                "non-empty string), got "
                             << attr.getValue();
    return success();
  }
  if (attr.getName() == getExtendAttrName() ||
      attr.getName() == getAdvanceAttrName()) {
    bool extend = attr.getName() == getExtendAttrName();
    StringRef what = extend ? "{entry = \"<name>\", tokens = <n> : i64}"
                            : "{state = \"<name>\", steps = <n> : i64, "
                              "limit = <n> : i64}";
    auto fail = [&]() {
      return op->emitError() << "'" << attr.getName().getValue()
                             << "' must be a function attribute " << what
                             << " with a non-empty name and positive "
                                "integers, got "
                             << attr.getValue();
    };
    auto dict = dyn_cast<DictionaryAttr>(attr.getValue());
    if (!isa<FunctionOpInterface>(op) || !dict ||
        dict.size() != (extend ? 2u : 3u))
      return fail();
    auto name = dict.getAs<StringAttr>(extend ? "entry" : "state");
    if (!name || name.getValue().empty())
      return fail();
    static const StringRef kExtendKeys[] = {"tokens"};
    static const StringRef kAdvanceKeys[] = {"steps", "limit"};
    for (StringRef key : extend ? ArrayRef<StringRef>(kExtendKeys)
                                : ArrayRef<StringRef>(kAdvanceKeys)) {
      auto n = dict.getAs<IntegerAttr>(key);
      if (!n || !n.getType().isSignlessInteger(64) || n.getInt() < 1)
        return fail();
    }
    return success();
  }
  if (attr.getName() != getModelAttrName())
    return op->emitError() << "unknown lctx attribute '"
                           << attr.getName().getValue() << "' on operation";
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << getModelAttrName()
                           << "' is only allowed on a module";
  auto dict = dyn_cast<DictionaryAttr>(attr.getValue());
  if (!dict)
    return op->emitError() << "'" << getModelAttrName()
                           << "' must be a dictionary, got " << attr.getValue();
  for (NamedAttribute entry : dict) {
    if (auto s = dyn_cast<StringAttr>(entry.getValue()))
      continue;
    if (auto i = dyn_cast<IntegerAttr>(entry.getValue());
        i && i.getType().isSignlessInteger(64))
      continue;
    return op->emitError() << "'" << getModelAttrName() << "' entry '"
                           << entry.getName().getValue()
                           << "' must be a string or an i64, got "
                           << entry.getValue();
  }
  return success();
}

#define GET_OP_CLASSES
#include "lctx/Dialect/LCtx/IR/LCtxOps.cpp.inc"
