//===- PatchOps.cpp - MEGABYTE patch ops ----------------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"

#include "ShapeChecks.h"
#include "lctx/Dialect/LCtx/IR/ShapeUtils.h"

using namespace mlir;
using namespace mlir::lctx;
using mlir::lctx::detail::dimOf;
using mlir::lctx::detail::ShapeChecker;

/// The patch size for shape arithmetic: dynamic unless present and positive
/// (inference runs before the verifier, so the attribute may be missing).
static int64_t usablePatch(IntegerAttr attr) {
  if (!attr || attr.getInt() <= 0)
    return ShapedType::kDynamic;
  return attr.getInt();
}

/// T % P == 0 for a static T.
static LogicalResult verifyDivides(Operation *op, int64_t length, int64_t p,
                                   StringRef what) {
  if (ShapedType::isDynamic(length) || length % p == 0)
    return success();
  return op->emitOpError() << "expects patch_size (" << p << ") to divide the "
                           << what << " (" << length << ")";
}

//===----------------------------------------------------------------------===//
// PatchEmbedOp
//===----------------------------------------------------------------------===//

LogicalResult PatchEmbedOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  int64_t p = usablePatch(detail::inferenceAttr(adaptor.getPatchSizeAttr(),
                                              attributes, "patch_size"));
  Type table = adaptor.getTable().getType();
  inferred.push_back(RankedTensorType::get(
      {dimOf(adaptor.getIds(), 0), divDims(dimOf(adaptor.getIds(), 1), p),
       mulDims(p, dimOf(table, 1))},
      getElementTypeOrSelf(table)));
  return success();
}

LogicalResult PatchEmbedOp::verify() {
  ShapeChecker c(*this);
  int64_t p = getPatchSizeAttr().getInt();
  Value ids = getIds(), table = getTable(), pad = getPad();
  if (failed(c.positive("patch_size", p)) ||
      failed(c.rank(ids, "ids", 2, "[B, T]")) ||
      failed(c.rank(table, "table", 2, "[V, D_G]")) ||
      failed(c.rank(pad, "pad", 2, "[P, D_G]")) ||
      failed(c.sameElementType(table, "table", pad, "pad")) ||
      failed(c.dimEquals("patch size", pad, "pad", 0, p, "patch_size")) ||
      failed(c.sameDim("embedding width", pad, "pad", 1, table, "table", 1)) ||
      failed(verifyDivides(*this, dimOf(ids, 1), p, "sequence length")))
    return failure();
  if (Value pos = getPos()) {
    if (failed(c.rank(pos, "pos", 2, "[Tmax, D_G]")) ||
        failed(c.sameElementType(table, "table", pos, "pos")) ||
        failed(c.sameDim("embedding width", pos, "pos", 1, table, "table", 1)))
      return failure();
    int64_t tmax = dimOf(pos, 0), t = dimOf(ids, 1);
    if (!ShapedType::isDynamic(tmax) && !ShapedType::isDynamic(t) && tmax < t)
      return emitOpError() << "expects the positional table to cover the "
                              "sequence: pos has "
                           << tmax << " rows but the sequence length is " << t;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// PatchToLocalOp
//===----------------------------------------------------------------------===//

LogicalResult PatchToLocalOp::inferReturnTypes(
    MLIRContext *, std::optional<Location>, ValueRange operands,
    DictionaryAttr attributes, OpaqueProperties properties, RegionRange regions,
    SmallVectorImpl<Type> &inferred) {
  Adaptor adaptor(operands, attributes, properties, regions);
  int64_t p = usablePatch(detail::inferenceAttr(adaptor.getPatchSizeAttr(),
                                              attributes, "patch_size"));
  Type global = adaptor.getGlobalOut().getType();
  inferred.push_back(RankedTensorType::get(
      {mulDims(dimOf(global, 0), dimOf(global, 1)), p,
       dimOf(adaptor.getWGl(), 1)},
      getElementTypeOrSelf(global)));
  return success();
}

LogicalResult PatchToLocalOp::verify() {
  ShapeChecker c(*this);
  int64_t p = getPatchSizeAttr().getInt();
  Value global = getGlobalOut(), wgl = getWGl(), ids = getIds(),
        table = getLocalTable(), pad = getLocalPad();
  if (failed(c.positive("patch_size", p)) ||
      failed(c.rank(global, "global_out", 3, "[B, K, P*D_G]")) ||
      failed(c.rank(wgl, "w_gl", 2, "[D_G, D_L]")) ||
      failed(c.rank(ids, "ids", 2, "[B, K*P]")) ||
      failed(c.rank(table, "local_table", 2, "[V, D_L]")) ||
      failed(c.rank(pad, "local_pad", 1, "[D_L]")))
    return failure();
  for (auto [v, name] : {std::pair{wgl, "w_gl"}, std::pair{table, "local_table"},
                         std::pair{pad, "local_pad"}})
    if (failed(c.sameElementType(global, "global_out", v, name)))
      return failure();
  if (failed(c.dimEquals("global width", global, "global_out", 2,
                         mulDims(p, dimOf(wgl, 0)),
                         "patch_size x D_G (w_gl dim 0)")) ||
      failed(c.sameDim("batch", ids, "ids", 0, global, "global_out", 0)) ||
      failed(c.dimEquals("sequence length", ids, "ids", 1,
                         mulDims(dimOf(global, 1), p),
                         "patches (global_out dim 1) x patch_size")) ||
      failed(c.sameDim("local width", table, "local_table", 1, wgl, "w_gl",
                       1)) ||
      failed(c.sameDim("local width", pad, "local_pad", 0, wgl, "w_gl", 1)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// PatchMergeOp
//===----------------------------------------------------------------------===//

LogicalResult PatchMergeOp::verify() {
  ShapeChecker c(*this);
  Value in = getInput(), out = getResult();
  if (failed(c.rank(in, "input", 3, "[B*K, P, X]")) ||
      failed(c.rank(out, "result", 3, "[B, T, X]")) ||
      failed(c.sameElementType(in, "input", out, "result")) ||
      failed(c.sameDim("feature", out, "result", 2, in, "input", 2)))
    return failure();
  int64_t bk = dimOf(in, 0), p = dimOf(in, 1);
  int64_t b = dimOf(out, 0), t = dimOf(out, 1);
  if (p == 0)
    return emitOpError("expects a non-empty patch (input dim 1 is 0)");
  if (!ShapedType::isDynamic(p) && !ShapedType::isDynamic(t) && t % p != 0)
    return emitOpError() << "expects the patch length (input dim 1 = " << p
                         << ") to divide the result length (" << t << ")";
  int64_t expected = mulDims(b, divDims(t, p));
  if (!dimsCompatible(bk, expected))
    return emitOpError() << "expects input dim 0 (" << bk
                         << ") to equal batch x patches = " << b << " x "
                         << t / p << " = " << expected;
  return success();
}

OpFoldResult PatchMergeOp::fold(FoldAdaptor) {
  // One patch per sequence: the merge is the identity.
  if (getInput().getType() == getType())
    return getInput();
  return {};
}
