//===- RouteOps.td - Switch experts and Mixture-of-Depths --*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Switch Transformer (arXiv 2101.03961): fp32 top-1 router, capacity,
// dropping, dispatch, grouped expert FFNs, combine. Mixture-of-Depths (arXiv
// 2404.02258): per-sequence top-k (or causal) token routing around a block.
// Each batch row is one routing group, so results never depend on batch
// composition.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_ROUTEOPS_TD
#define LCTX_DIALECT_LCTX_ROUTEOPS_TD

include "CommonOps.td"

//===----------------------------------------------------------------------===//
// Switch
//===----------------------------------------------------------------------===//

def LCtx_RouteExpertsOp : LCtx_PureOp<"route.experts"> {
  let summary = "Switch top-1 router with capacity, dropping and aux loss";
  let description = [{
    For `x : [B, S, D]` and the fp32 router `router : [D, E]`, in fp32:

    ```
    p[b,s,:]     = softmax(x[b,s] router)
    expert[b,s]  = argmax_e p[b,s,e]            (lowest e on ties)
    gate[b,s]    = p[b,s,expert[b,s]]
    C            = dropless ? S : max(1, floor(S * capacity_factor / E))
    pos[b,s]     = #{s' < s : expert[b,s'] == expert[b,s]}   (sequence order)
    slot[b,s]    = pos[b,s] < C ? pos[b,s] : -1  (dropped)
    aux_loss     = aux_loss_coef * E * sum_e f_e P_e
    ```

    with `f_e` the fraction of all tokens whose argmax is `e` and `P_e` the
    mean router probability of `e`, over the whole batch; at uniform
    routing `aux_loss == aux_loss_coef`. A dropped token (`slot = -1`) gets
    an exact zero from the expert branch. Results: `expert` and `slot`
    (i32, `[B, S]`), `gate` (f32, `[B, S]`) and `aux_loss` (f32 scalar).

    ```mlir
    %e, %g, %s, %aux = lctx.route.experts %x, %wr {capacity_factor = 1.25 : f64}
        : tensor<2x64x32xf32>, tensor<32x8xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input, LCtx_F32Tensor:$router,
                       DefaultValuedAttr<F64Attr, "1.0">:$capacity_factor,
                       UnitAttr:$dropless,
                       DefaultValuedAttr<F64Attr, "0.01">:$aux_loss_coef);
  let results = (outs LCtx_I32Tensor:$expert, LCtx_F32Tensor:$gate,
                      LCtx_I32Tensor:$slot, LCtx_F32Scalar:$aux_loss);
  let assemblyFormat = [{
    $input `,` $router attr-dict `:` type($input) `,` type($router)
  }];
  let extraClassDeclaration = [{
    /// The per-group capacity C for a group of `groupSize` tokens, or
    /// ShapedType::kDynamic when the group size is dynamic.
    int64_t getCapacity(int64_t groupSize);
    /// The number of experts E (dynamic when the router's dim 1 is).
    int64_t getNumExperts();
  }];
}

def LCtx_RouteDispatchOp : LCtx_Op<"route.dispatch", [Pure]> {
  let summary = "Scatter tokens into per-expert capacity buffers";
  let description = [{
    `out[e, b*C + c, :] = x[b, s, :]` for every token with `expert[b,s] = e`
    and `slot[b,s] = c`; unused slots are zero. Tokens with a slot outside
    `[0, C)` or an expert outside `[0, E)` are dropped. The result type
    `[E, B*C, D]` gives `E` and `C`.

    ```mlir
    %buf = lctx.route.dispatch %x, %e, %s
        : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<8x32x32xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input, LCtx_I32Tensor:$expert,
                       LCtx_I32Tensor:$slot);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $expert `,` $slot attr-dict `:` type($input) `,` type($expert)
    `,` type($slot) `->` type($result)
  }];
  let hasVerifier = 1;
}

def LCtx_RouteCombineOp : LCtx_PureOp<"route.combine"> {
  let summary = "Gather expert outputs back to token order, scaled by the gate";
  let description = [{
    The inverse of `lctx.route.dispatch`:
    `y[b, s, :] = gate[b,s] * expert_out[expert[b,s], b*C + slot[b,s], :]`,
    and exactly 0 for a dropped token. `expert_out : [E, B*C, D]`.

    ```mlir
    %y = lctx.route.combine %out, %e, %s, %g
        : tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<2x64xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$expert_out, LCtx_I32Tensor:$expert,
                       LCtx_I32Tensor:$slot, LCtx_F32Tensor:$gate);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $expert_out `,` $expert `,` $slot `,` $gate attr-dict `:` type($expert_out)
    `,` type($expert) `,` type($slot) `,` type($gate)
  }];
}

def LCtx_RouteMoeOp : LCtx_PureOp<"route.moe"> {
  let summary = "Switch mixture-of-experts layer: route, dispatch, FFN, combine";
  let description = [{
    The fused Switch FFN: `lctx.route.experts`, then each expert's FFN
    (`w_in : [E, D, F]`, `w_out : [E, F, D]`, `w_gate : [E, D, F]` for
    swiglu) on the tokens it kept, then the gate-weighted combine:
    `y = gate * FFN_expert(x)` for kept tokens, `0` for dropped ones (the
    residual is the caller's). Results: `y : [B, S, D]` and `aux_loss`.
    `lctx-decompose` rewrites it into route.experts + route.dispatch +
    grouped lctx.ffn + route.combine.

    ```mlir
    %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2 {capacity_factor = 1.0 : f64}
        : tensor<2x64x32xf32>, tensor<32x8xf32>, tensor<8x32x128xf32>,
          tensor<8x128x32xf32>
    ```
  }];
  let arguments = (ins LCtx_ActivationAttr:$activation,
                       LCtx_FloatTensor:$input, LCtx_F32Tensor:$router,
                       LCtx_FloatTensor:$w_in, LCtx_FloatTensor:$w_out,
                       Optional<LCtx_FloatTensor>:$w_gate,
                       DefaultValuedAttr<F64Attr, "1.0">:$capacity_factor,
                       UnitAttr:$dropless,
                       DefaultValuedAttr<F64Attr, "0.01">:$aux_loss_coef);
  let results = (outs LCtx_FloatTensor:$result, LCtx_F32Scalar:$aux_loss);
  let assemblyFormat = [{
    $activation $input `,` $router `,` $w_in `,` $w_out (`,` $w_gate^)?
    attr-dict `:` type($input) `,` type($router) `,` type($w_in) `,`
    type($w_out) (`,` type($w_gate)^)?
  }];
}

//===----------------------------------------------------------------------===//
// Mixture-of-Depths
//===----------------------------------------------------------------------===//

def LCtx_RouteDepthOp : LCtx_PureOp<"route.depth"> {
  let summary = "Mixture-of-Depths token selection: top-k or causal";
  let description = [{
    Router logits `r[b,s] = x[b,s] . router` (fp32) for `x : [B, S, D]` and
    `router : [D]`.

    * `topk` (training form): the `k = floor(capacity * S)` tokens with the
      largest `r` in each row (lowest index on ties), with `indices`
      **sorted ascending** so causal order holds among them.
    * `causal` (generation form): token `s` is routed iff
      `sigmoid(r[b,s]) > 0.5`; `k = S`, the routed indices come first in
      ascending order and the remaining entries are `-1` (padding).

    `weights[b,j] = r[b, indices[b,j]]` (0 for padding): a routed token
    becomes `x + r * f(x)`. Results: `indices : [B, k]` (i64) and
    `weights : [B, k]` (f32). `capacity` must be in (0, 1].

    ```mlir
    %idx, %w = lctx.route.depth topk %x, %wr {capacity = 0.125 : f64}
        : tensor<2x64x32xf32>, tensor<32xf32>
    ```
  }];
  let arguments = (ins LCtx_DepthRoutingAttr:$mode, LCtx_FloatTensor:$input,
                       LCtx_F32Tensor:$router,
                       DefaultValuedAttr<F64Attr, "0.125">:$capacity);
  let results = (outs LCtx_I64Tensor:$indices, LCtx_F32Tensor:$weights);
  let assemblyFormat = [{
    $mode $input `,` $router attr-dict `:` type($input) `,` type($router)
  }];
  let extraClassDeclaration = [{
    /// The number of selected entries k for a row of `seqLen` tokens.
    int64_t getNumSelected(int64_t seqLen);
  }];
}

def LCtx_RouteGatherOp : LCtx_PureOp<"route.gather"> {
  let summary = "Gather the selected tokens of each row";
  let description = [{
    `y[b, j, :] = x[b, indices[b,j], :]` for `x : [B, S, D]` and
    `indices : [B, k]`; an index outside `[0, S)` (such as the `-1` padding
    of causal routing) yields a zero row.

    ```mlir
    %sel = lctx.route.gather %x, %idx : tensor<2x64x32xf32>, tensor<2x8xi64>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input, LCtx_IntTensor:$indices);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $indices attr-dict `:` type($input) `,` type($indices)
  }];
  let hasFolder = 1;
}

def LCtx_RouteScatterAddOp : LCtx_PureOp<"route.scatter_add"> {
  let summary = "Add (optionally scaled) rows back at the selected tokens";
  let description = [{
    `y = x`, then `y[b, indices[b,j], :] += w[b,j] * updates[b,j,:]` for each
    `j` with an index in `[0, S)` (`w = 1` when `weights` is absent;
    repeated indices accumulate). `x : [B, S, D]`, `updates : [B, k, D]`,
    `indices`, `weights : [B, k]`.

    ```mlir
    %y = lctx.route.scatter_add %x, %upd, %idx, %w
        : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>, tensor<2x8xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input, LCtx_FloatTensor:$updates,
                       LCtx_IntTensor:$indices,
                       Optional<LCtx_F32Tensor>:$weights);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $updates `,` $indices (`,` $weights^)? attr-dict `:`
    type($input) `,` type($updates) `,` type($indices) (`,` type($weights)^)?
  }];
  let hasFolder = 1;
}

#endif // LCTX_DIALECT_LCTX_ROUTEOPS_TD
