//===- Passes.td - Transformations on the lctx dialect -----*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// File organization: passes are grouped under banners, alphabetical within a
// group. Every CLI name starts with `lctx-`.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_TRANSFORMS_PASSES_TD
#define LCTX_DIALECT_LCTX_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Decomposition
//===----------------------------------------------------------------------===//

def LCtxDecomposePass : Pass<"lctx-decompose"> {
  let summary = "Rewrite composite lctx ops into primitive lctx ops";
  let description = [{
    Expands the fused ops of the dialect into the primitive ops that define
    them, so that a backend without a fused kernel (or a test) can use the
    reference composition:

    * `lctx.memory.attention` becomes a loop over segments of
      `lctx.attention` + `lctx.memory.retrieve` + `lctx.memory.gate` +
      `lctx.memory.update`, carrying `M` and `z` through `scf.for`
      iter_args; a short last segment is peeled with static shapes.
    * `lctx.route.moe` becomes `lctx.route.experts` + `lctx.route.dispatch`
      + grouped `lctx.ffn` + `lctx.route.combine`.

    Before:
    ```mlir
    %o, %m1, %z1 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta
        {segment_size = 4 : i64} : ...  // T = 8
    ```
    After (schematically):
    ```mlir
    %r:3 = scf.for %s = %c0 to %c2 step %c1 iter_args(%acc = %init, %mi = %m, %zi = %z) {
      %qs = tensor.extract_slice %q[...] ...
      %dot = lctx.attention %qs, %ks, %vs ...
      %mem = lctx.memory.retrieve %qs, %mi, %zi ...
      %a = lctx.memory.gate %mem, %dot, %beta ...
      %mn, %zn = lctx.memory.update linear %ks, %vs, %mi, %zi ...
      %ins = tensor.insert_slice %a into %acc[...]
      scf.yield %ins, %mn, %zn
    }
    ```

    The ops listed in `ops` are decomposed; by default all composite ops.
  }];
  let options = [
    ListOption<"ops", "ops", "std::string",
               "Composite ops to decompose (memory.attention, route.moe); "
               "all when empty">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // LCTX_DIALECT_LCTX_TRANSFORMS_PASSES_TD
