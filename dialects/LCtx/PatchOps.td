//===- PatchOps.td - MEGABYTE patch ops --------------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// MEGABYTE (arXiv 2305.07185): bytes grouped into patches of P, a global
// model of width P*D_G over patches, a local model of width D_L inside each
// patch. lctx follows the paper: lossless concatenation, a trainable global
// pad patch, one shared w_GL, a trainable local pad.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_PATCHOPS_TD
#define LCTX_DIALECT_LCTX_PATCHOPS_TD

include "CommonOps.td"

def LCtx_PatchEmbedOp : LCtx_PureOp<"patch.embed"> {
  let summary = "Byte ids to the shifted global input of width P*D_G";
  let description = [{
    MEGABYTE eqs. 1-2. For `ids : [B, T]` (`T = K*P`), the global byte
    embedding `table : [V, D_G]`, the trainable `pad : [P, D_G]` and the
    optional positional table `pos : [Tmax, D_G]` (`Tmax >= T`):

    ```
    e[b,t]           = table[ids[b,t]] (+ pos[t])
    out[b,0,:]       = flatten(pad)
    out[b,k,p*D_G:(p+1)*D_G] = e[b,(k-1)*P+p]       for 1 <= k < K
    ```

    The result `[B, K, P*D_G]` is the input of the global model, shifted
    right by one patch (the last patch's bytes are dropped). `patch_size`
    must equal `P` of `pad` and divide `T`.

    ```mlir
    %g = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
        : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>
    // %g : tensor<1x4x128xf32>
    ```
  }];
  let arguments = (ins LCtx_IntTensor:$ids, LCtx_FloatTensor:$table,
                       LCtx_FloatTensor:$pad,
                       Optional<LCtx_FloatTensor>:$pos,
                       I64Attr:$patch_size);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table `,` $pad (`pos` `(` $pos^ `)`)? attr-dict `:` type($ids)
    `,` type($table) `,` type($pad) (`,` type($pos)^)?
  }];
}

def LCtx_PatchToLocalOp : LCtx_PureOp<"patch.to_local"> {
  let summary = "Global output to the local model's input [B*K, P, D_L]";
  let description = [{
    MEGABYTE eq. 4. Slot `p` of patch `k` takes dims `p*D_G:(p+1)*D_G` of the
    global output, projects them with the one shared `w_gl : [D_G, D_L]`, and
    adds the local embedding of the previous byte (the trainable
    `local_pad : [D_L]` for `p = 0`):

    ```
    out[b*K+k, p] = global_out[b, k, p*D_G:(p+1)*D_G] w_gl
                    + (p == 0 ? local_pad : local_table[ids[b, k*P+p-1]])
    ```

    Operands: `global_out : [B, K, P*D_G]`, `w_gl`, `ids : [B, K*P]`,
    `local_table : [V, D_L]`, `local_pad : [D_L]`.

    ```mlir
    %l = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
        : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>,
          tensor<256x16xf32>, tensor<16xf32>
    // %l : tensor<4x4x16xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$global_out, LCtx_FloatTensor:$w_gl,
                       LCtx_IntTensor:$ids, LCtx_FloatTensor:$local_table,
                       LCtx_FloatTensor:$local_pad, I64Attr:$patch_size);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = [{
    $global_out `,` $w_gl `,` $ids `,` $local_table `,` $local_pad attr-dict
    `:` type($global_out) `,` type($w_gl) `,` type($ids) `,`
    type($local_table) `,` type($local_pad)
  }];
}

def LCtx_PatchMergeOp : LCtx_Op<"patch.merge", [Pure]> {
  let summary = "Per-patch local outputs [B*K, P, X] back to [B, T, X]";
  let description = [{
    `out[b, k*P + p, :] = input[b*K + k, p, :]`: the inverse of the patch
    split, used on the local model's output (logits or hidden states). The
    batch `B` is given by the result type; `T = K*P`.

    ```mlir
    %y = lctx.patch.merge %l : tensor<8x4x256xf32> -> tensor<2x16x256xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input);
  let results = (outs LCtx_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

#endif // LCTX_DIALECT_LCTX_PATCHOPS_TD
