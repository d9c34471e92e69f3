//===- CommonOps.td - Shared building blocks ---------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Attention, RoPE, norms, embedding, linear and feed-forward: the ops every
// architecture shares.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_COMMONOPS_TD
#define LCTX_DIALECT_LCTX_COMMONOPS_TD

include "LCtxDialect.td"
include "LCtxEnums.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

/// An op whose results are inferred from its operands and which has no side
/// effects: the common case in lctx.
class LCtx_PureOp<string mnemonic, list<Trait> traits = []>
    : LCtx_Op<mnemonic, !listconcat(traits,
          [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>])> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lctx.attention
//===----------------------------------------------------------------------===//

def LCtx_AttentionOp : LCtx_PureOp<"attention", [AttrSizedOperandSegments]> {
  let summary = "Causal softmax attention, optionally chunked and with RoPE";
  let description = [{
    Multi-head scaled dot-product attention over `[B, H, T, Dh]` operands:

    ```
    O[b,h,i] = sum_j softmax_j(s * <rope(Q[b,h,i], pi), rope(K[b,g,j], pj)>
                               + mask(i, j)) * V[b,g,j]
    ```

    with `g = h / (H / Hkv)` (grouped-query attention when `Hkv < H`), scale
    `s` (`scale`, default `1/sqrt(Dh)`), and `rope` applied only when
    `rope_theta` is set (see `lctx.rope`).

    Positions `pi`, `pj`: by default query `i` sits at `Tk - Tq + i` and key
    `j` at `j`, so a query block aligns with the end of the keys (a decode
    step over a KV cache). The optional `q_positions` `[B, Tq]` and
    `k_positions` `[B, Tk]` (both or neither) give explicit positions, as
    Mixture-of-Depths needs for tokens gathered from a longer sequence; a key
    with a negative position is padding and is never attended.

    Masking: with `causal` (the default) key `j` is visible to query `i` iff
    `pj <= pi`. With `chunk_size = c`, attention is block-diagonal in chunks
    of `c` positions (`pi / c == pj / c`) and RoPE positions restart in every
    chunk (`p mod c`), as in Megalodon. A query row that sees no key
    produces zeros.

    ```mlir
    %o = lctx.attention %q, %k, %v {chunk_size = 64 : i64, scale = 1.0 : f32}
        : tensor<1x4x128x32xf32>, tensor<1x4x128x32xf32>, tensor<1x4x128x32xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$query, LCtx_FloatTensor:$key,
                       LCtx_FloatTensor:$value,
                       Optional<LCtx_IntTensor>:$q_positions,
                       Optional<LCtx_IntTensor>:$k_positions,
                       DefaultValuedAttr<BoolAttr, "true">:$causal,
                       OptionalAttr<I64Attr>:$chunk_size,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<F32Attr>:$rope_theta);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`positions` `(` $q_positions^ `,` $k_positions `)`)?
    attr-dict `:` type($query) `,` type($key) `,` type($value)
    (`,` type($q_positions)^ `,` type($k_positions))?
  }];
  let hasCanonicalizer = 1;
  let extraClassDeclaration = [{
    /// The scale applied to the logits: `scale` if set, else 1/sqrt(Dh);
    /// nullopt when neither is known statically.
    std::optional<double> getEffectiveScale();
  }];
}

//===----------------------------------------------------------------------===//
// lctx.rope
//===----------------------------------------------------------------------===//

def LCtx_RopeOp : LCtx_PureOp<"rope"> {
  let summary = "Rotary position embedding";
  let description = [{
    Rotates each pair of dimensions `(2i, 2i+1)` of `x : [B, H, T, Dh]` by the
    angle `p * theta^(-2i/Dh)`, where `p` is the token's position from
    `positions` (`[B, T]`, or `[T]` shared by the batch):

    ```
    y[2i]   = x[2i] cos(a) - x[2i+1] sin(a)
    y[2i+1] = x[2i] sin(a) + x[2i+1] cos(a),   a = p * theta^(-2i/Dh)
    ```

    `Dh` must be even. `theta` defaults to 10000.

    ```mlir
    %y = lctx.rope %x, %pos {theta = 1.0e+05 : f32}
        : tensor<2x8x16x64xf32>, tensor<2x16xi64>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input, LCtx_IntTensor:$positions,
                       DefaultValuedAttr<F32Attr, "10000.0f">:$theta);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions)
  }];
}

//===----------------------------------------------------------------------===//
// lctx.rms_norm / lctx.layer_norm
//===----------------------------------------------------------------------===//

def LCtx_RmsNormOp : LCtx_PureOp<"rms_norm"> {
  let summary = "Root-mean-square normalization over the last dimension";
  let description = [{
    `y = x / sqrt(mean(x^2 over the last dim) + epsilon) * weight`, with the
    optional `weight : [D]` (no affine when absent, as in Megalodon's
    per-head normalization). `epsilon` defaults to 1e-6 and must be > 0.

    ```mlir
    %y = lctx.rms_norm %x, %w : tensor<2x16x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input,
                       Optional<LCtx_FloatTensor>:$weight,
                       DefaultValuedAttr<F32Attr, "1.0e-6f">:$epsilon);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`,` $weight^)? attr-dict `:` type($input) (`,` type($weight)^)?
  }];
}

def LCtx_LayerNormOp : LCtx_PureOp<"layer_norm", [AttrSizedOperandSegments]> {
  let summary = "Layer normalization over the last dimension";
  let description = [{
    `y = (x - mean) / sqrt(var + epsilon) * weight + bias` over the last
    dimension `D` (biased variance). `weight` and `bias` (`[D]`) are each
    optional. `epsilon` defaults to 1e-5 and must be > 0.

    ```mlir
    %y = lctx.layer_norm %x weight(%g : tensor<64xf32>)
        bias(%b : tensor<64xf32>) : tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input,
                       Optional<LCtx_FloatTensor>:$weight,
                       Optional<LCtx_FloatTensor>:$bias,
                       DefaultValuedAttr<F32Attr, "1.0e-5f">:$epsilon);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`weight` `(` $weight^ `:` type($weight) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict `:` type($input)
  }];
}

//===----------------------------------------------------------------------===//
// lctx.embedding / lctx.linear / lctx.ffn
//===----------------------------------------------------------------------===//

def LCtx_EmbeddingOp : LCtx_PureOp<"embedding"> {
  let summary = "Embedding table lookup";
  let description = [{
    `y[..., :] = table[ids[...], :]` for `table : [V, D]` and integer `ids` of
    any rank; the result is `ids`' shape followed by `D`. An id outside
    `[0, V)` yields a zero row (the runtime also reports it).

    ```mlir
    %e = lctx.embedding %table, %ids : tensor<256x64xf32>, tensor<2x16xi32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$table, LCtx_IntTensor:$ids);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $ids attr-dict `:` type($table) `,` type($ids)
  }];
}

def LCtx_LinearOp : LCtx_PureOp<"linear"> {
  let summary = "Affine projection of the last dimension";
  let description = [{
    `y = x W + b` for `x : [..., I]`, `W : [I, O]` and the optional bias
    `b : [O]`. With `transpose_weight`, `W` is stored `[O, I]` and
    `y = x W^T + b`, which is how tied output embeddings are written.

    ```mlir
    %y = lctx.linear %x, %w, %b : tensor<2x16x64xf32>, tensor<64x128xf32>, tensor<128xf32>
    %logits = lctx.linear %h, %emb {transpose_weight}
        : tensor<2x16x64xf32>, tensor<256x64xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input, LCtx_FloatTensor:$weight,
                       Optional<LCtx_FloatTensor>:$bias,
                       UnitAttr:$transpose_weight);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)?
  }];
}

def LCtx_FfnOp : LCtx_PureOp<"ffn"> {
  let summary = "Position-wise feed-forward network (relu, gelu or swiglu)";
  let description = [{
    For `x : [..., D]`, `w_in : [D, F]`, `w_out : [F, Do]`:

    ```
    relu:   y = relu(x w_in) w_out
    gelu:   y = gelu(x w_in) w_out          (exact erf form)
    swiglu: y = (silu(x w_gate) * (x w_in)) w_out,   w_gate : [D, F]
    ```

    `w_gate` is required by, and only allowed with, `swiglu`.

    **Grouped form.** With rank-3 weights `[E, D, F]`, `[E, F, Do]` the op
    applies expert `e`'s FFN to slice `e` of `x : [E, N, D]`; this is the
    grouped GEMM of a mixture-of-experts layer after dispatch.

    ```mlir
    %y = lctx.ffn swiglu %x, %w_in, %w_out, %w_gate
        : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<64x256xf32>
    ```
  }];
  let arguments = (ins LCtx_ActivationAttr:$activation,
                       LCtx_FloatTensor:$input, LCtx_FloatTensor:$w_in,
                       LCtx_FloatTensor:$w_out,
                       Optional<LCtx_FloatTensor>:$w_gate);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $activation $input `,` $w_in `,` $w_out (`,` $w_gate^)? attr-dict `:`
    type($input) `,` type($w_in) `,` type($w_out) (`,` type($w_gate)^)?
  }];
}

#endif // LCTX_DIALECT_LCTX_COMMONOPS_TD
