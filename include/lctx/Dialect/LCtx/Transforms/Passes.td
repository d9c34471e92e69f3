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

//===----------------------------------------------------------------------===//
// Decode derivation
//===----------------------------------------------------------------------===//

def LCtxDeriveDecodePass : Pass<"lctx-derive-decode", "::mlir::ModuleOp"> {
  let summary = "Derive a one-token decode entry point from a prefill";
  let description = [{
    For every function carrying `lctx.decode = "<name>"`, writes the entry
    point `@<name>` that advances the same model by one token, using each
    op's recurrent form, and removes the attribute. The prefill's token
    inputs (`lctx.input` arguments of rank >= 2) are `[B, T, ...]`; the
    derived entry takes `[B, 1, ...]`.

    A time analysis follows the token dimension from the inputs through the
    body. Token-local work (embedding, norms, projections, FFNs, Switch
    experts, elementwise `linalg`/`arith`, reshapes and transposes that keep
    the token dimension whole) is re-typed to one token; ops that already
    carry their state (`lctx.cema.scan`, `lctx.cema.timestep_norm`) run on
    one step with it. Ops that look back at earlier tokens become cached:

    * `lctx.attention` (causal): a KV cache of the context `T` (or of the
      chunk `c` with `chunk_size`, slot `pos mod c`), written at the
      token's slot; q and k are rotated once at the token's position, so
      the cache holds rotated keys. Key slots after the token's are masked
      with position -1.
    * `lctx.memory.attention`: the segment's raw keys, rotated keys and
      values (slot `pos mod N`); retrieval from the carried memory, the
      gate, and `lctx.memory.update` only when the segment fills (an
      `scf.if`), never per token.
    * `lctx.attention` with explicit positions shared by queries and keys
      (the tokens a Mixture-of-Depths router selected, `lctx.route.depth` +
      `lctx.route.gather`): the same cache plus `attention.<i>.kpos`, the
      position + 1 of a routed token's slot and 0 otherwise, so that only
      routed tokens are keys; `lctx.route.depth` routes causally
      (sigmoid(r) > 0.5), top-k needing the future.
    * `lctx.route.moe` routes dropless (a token's output never depends on
      other tokens).

    A patch model (MEGABYTE: `lctx.patch.embed`, the global model,
    `lctx.patch.to_local`, the local model, `lctx.patch.merge`) steps at two
    rates, so two entries are derived: `@<name>_global(patch_ids [B, P])`,
    once per patch, runs the global model on the previous patch's bytes (the
    pad patch at k = 0) over global caches (`global.attention.<i>.*`, slot
    `global.pos`), stores the patch's global output in state `global.out`
    and restarts `local.pos`; `@<name>_local(prev_id [B, 1]) -> logits`,
    once per byte, projects slot `local.pos` of `global.out`, adds the
    previous byte's embedding (the local pad at slot 0) and runs the local
    model over a cache of one patch (`local.attention.<i>.*`). Each entry
    keeps only the arguments it reads.

    The caches become `lctx.state` pairs named `attention.<i>.k`, `.v` (and
    `.k_rotated` for memory), `i` counting the function's attention ops in
    order. The `pos` state (`tensor<1xi64>`, tokens consumed; added when
    the prefill has none) becomes `pos + 1`. When a cache spans the whole
    context, the module's `lctx.model` gets `window = T`: the decode entry
    holds at most `T` positions.

    A function carrying `lctx.extend = {entry = "<e>", tokens = S}` also
    gets `@<e>`: S steps at once over the same caches (slots pos .. pos +
    S - 1, query i at pos + i, `pos + S`); causal routing's compacted
    indices are spread back to each token's row, so every token keeps its
    slot and unrouted ones stay masked (`kpos` 0). On a patch model it is
    `@<e>_global(patch_ids [B, S])` over S / P patches (S a multiple of P),
    which fills the global caches only. A chunked attention or a memory
    attention has no S-step form (its segment may fill inside the block):
    an error at that op.

    Every derived entry whose cache spans the whole prefill gets
    `lctx.advance = {state = "<pos>", steps = n, limit = T}` (T in steps
    of its rate: tokens, patches, or P for the local step): the artifact
    manifest records it and the runtime refuses a call with
    state + n > T.

    Anything whose one-token form is not defined (reductions over tokens,
    other explicit attention positions, slices along the token dimension,
    a patch model without exactly one `patch.embed` and one `patch.to_local`)
    is an error at that op.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // LCTX_DIALECT_LCTX_TRANSFORMS_PASSES_TD
