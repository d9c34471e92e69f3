//===- MemoryOps.td - Infini-attention compressive memory --*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Infini-attention (arXiv 2404.07143), eqs. 7-10. Per head: M in
// R^{Dk x Dv} and z in R^{Dk}, both fp32 whatever the activation type.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_MEMORYOPS_TD
#define LCTX_DIALECT_LCTX_MEMORYOPS_TD

include "CommonOps.td"

def LCtx_MemoryRetrieveOp : LCtx_PureOp<"memory.retrieve"> {
  let summary = "Read the compressive memory: sigma(Q) M / (sigma(Q) z)";
  let description = [{
    Eq. 7, with `sigma(x) = ELU(x) + 1`:

    ```
    A_mem[b,h,i] = sigma(Q[b,h,i]) M[b,h] / (sigma(Q[b,h,i]) . z[b,h])
    ```

    and `A_mem = 0` wherever the denominator is 0 (the first segment,
    `M = 0, z = 0`). Operands: `query : [B, H, N, Dk]`,
    `memory : [B, H, Dk, Dv]` (f32), `norm : [B, H, Dk]` (f32). The result is
    `[B, H, N, Dv]` in the query's element type. Memory queries carry no
    positional encoding.

    ```mlir
    %a = lctx.memory.retrieve %q, %m, %z
        : tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$query, LCtx_F32Tensor:$memory,
                       LCtx_F32Tensor:$norm);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $memory `,` $norm attr-dict `:` type($query) `,` type($memory)
    `,` type($norm)
  }];
}

def LCtx_MemoryUpdateOp : LCtx_PureOp<"memory.update"> {
  let summary = "Fold one segment's keys and values into the memory";
  let description = [{
    Eq. 8 (`linear`) or eq. 9 (`delta`), for one segment's
    `key : [B, H, N, Dk]` and `value : [B, H, N, Dv]`:

    ```
    linear: M' = M + sigma(K)^T V
    delta:  M' = M + sigma(K)^T (V - sigma(K) M / (sigma(K) z))
    both:   z' = z + sum_t sigma(K_t)
    ```

    In the delta rule the retrieved term is 0 wherever `sigma(K) z = 0`, the
    same convention as `lctx.memory.retrieve`. Accumulation is fp32.

    ```mlir
    %m1, %z1 = lctx.memory.update delta %k, %v, %m, %z
        : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>,
          tensor<1x2x16xf32>
    ```
  }];
  let arguments = (ins LCtx_MemoryRuleAttr:$rule, LCtx_FloatTensor:$key,
                       LCtx_FloatTensor:$value, LCtx_F32Tensor:$memory,
                       LCtx_F32Tensor:$norm);
  let results = (outs LCtx_F32Tensor:$new_memory, LCtx_F32Tensor:$new_norm);
  let assemblyFormat = [{
    $rule $key `,` $value `,` $memory `,` $norm attr-dict `:` type($key) `,`
    type($value) `,` type($memory) `,` type($norm)
  }];
}

def LCtx_MemoryGateOp : LCtx_PureOp<"memory.gate"> {
  let summary = "Per-head sigmoid gate between memory and local attention";
  let description = [{
    Eq. 10, one scalar `beta` per head:
    `A = sigmoid(beta[h]) * A_mem + (1 - sigmoid(beta[h])) * A_dot` for
    `A_mem, A_dot : [B, H, N, Dv]` and `beta : [H]`.

    ```mlir
    %a = lctx.memory.gate %amem, %adot, %beta
        : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<2xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$memory_out,
                       LCtx_FloatTensor:$local_out, LCtx_FloatTensor:$beta);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $memory_out `,` $local_out `,` $beta attr-dict `:` type($memory_out) `,`
    type($local_out) `,` type($beta)
  }];
}

def LCtx_MemoryAttentionOp : LCtx_PureOp<"memory.attention"> {
  let summary = "Infini-attention over a sequence of segments";
  let description = [{
    The fused op: the input `[B, H, T, D*]` is split into segments of
    `segment_size = N` (the last one may be shorter: not an error). For each
    segment `s` in order:

    ```
    A_dot = lctx.attention(Q_s, K_s, V_s) {causal, scale, rope_theta}
    A_mem = lctx.memory.retrieve(Q_s, M_{s-1}, z_{s-1})
    O_s   = lctx.memory.gate(A_mem, A_dot, beta)
    M_s, z_s = lctx.memory.update<rule>(K_s, V_s, M_{s-1}, z_{s-1})
    ```

    Retrieval uses the memory *before* the segment's own update; RoPE (when
    `rope_theta` is set) applies to the local path only. Results: the output
    `[B, H, T, Dv]` and the memory after the last segment. `lctx-decompose`
    rewrites this op into exactly the sequence above.

    ```mlir
    %o, %m1, %z1 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta
        {segment_size = 64 : i64}
        : tensor<1x2x200x16xf32>, tensor<1x2x200x16xf32>, tensor<1x2x200x16xf32>,
          tensor<1x2x16x16xf32>, tensor<1x2x16xf32>, tensor<2xf32>
    ```
  }];
  let arguments = (ins LCtx_MemoryRuleAttr:$rule, LCtx_FloatTensor:$query,
                       LCtx_FloatTensor:$key, LCtx_FloatTensor:$value,
                       LCtx_F32Tensor:$memory, LCtx_F32Tensor:$norm,
                       LCtx_FloatTensor:$beta, I64Attr:$segment_size,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<F32Attr>:$rope_theta);
  let results = (outs LCtx_FloatTensor:$result, LCtx_F32Tensor:$new_memory,
                      LCtx_F32Tensor:$new_norm);
  let assemblyFormat = [{
    $rule $query `,` $key `,` $value `,` $memory `,` $norm `,` $beta attr-dict
    `:` type($query) `,` type($key) `,` type($value) `,` type($memory) `,`
    type($norm) `,` type($beta)
  }];
}

#endif // LCTX_DIALECT_LCTX_MEMORYOPS_TD
