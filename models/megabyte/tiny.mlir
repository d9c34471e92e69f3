// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lctx's shipped default model definition: a tiny MEGABYTE byte model
// (paper semantics: lossless patch concat, trainable global pad patch, one
// shared w_GL, trainable local pad, tied output). Prefill over one sequence of
// T = 32 bytes in patches of P = 4 (K = 8 patches).
//   global model: width P*D_G = 4*16 = 64, 1 pre-norm layer, 2 heads of 32
//   local model:  width D_L = 32, 1 pre-norm layer, 2 heads of 16
// Weights are function arguments bound by name with `lctx.weight`.

func.func @prefill(
    %ids: tensor<1x32xi32> {lctx.input = "ids"},
    %g_emb: tensor<256x16xf32> {lctx.weight = "global.embed"},
    %g_pad: tensor<4x16xf32> {lctx.weight = "global.pad"},
    %g_ln1: tensor<64xf32> {lctx.weight = "global.layers.0.norm1"},
    %g_wq: tensor<64x64xf32> {lctx.weight = "global.layers.0.attn.wq"},
    %g_wk: tensor<64x64xf32> {lctx.weight = "global.layers.0.attn.wk"},
    %g_wv: tensor<64x64xf32> {lctx.weight = "global.layers.0.attn.wv"},
    %g_wo: tensor<64x64xf32> {lctx.weight = "global.layers.0.attn.wo"},
    %g_ln2: tensor<64xf32> {lctx.weight = "global.layers.0.norm2"},
    %g_w1: tensor<64x256xf32> {lctx.weight = "global.layers.0.ffn.w_in"},
    %g_w2: tensor<256x64xf32> {lctx.weight = "global.layers.0.ffn.w_out"},
    %g_lnf: tensor<64xf32> {lctx.weight = "global.norm"},
    %w_gl: tensor<16x32xf32> {lctx.weight = "global_to_local"},
    %l_emb: tensor<256x32xf32> {lctx.weight = "local.embed"},
    %l_pad: tensor<32xf32> {lctx.weight = "local.pad"},
    %l_ln1: tensor<32xf32> {lctx.weight = "local.layers.0.norm1"},
    %l_wq: tensor<32x32xf32> {lctx.weight = "local.layers.0.attn.wq"},
    %l_wk: tensor<32x32xf32> {lctx.weight = "local.layers.0.attn.wk"},
    %l_wv: tensor<32x32xf32> {lctx.weight = "local.layers.0.attn.wv"},
    %l_wo: tensor<32x32xf32> {lctx.weight = "local.layers.0.attn.wo"},
    %l_ln2: tensor<32xf32> {lctx.weight = "local.layers.0.norm2"},
    %l_w1: tensor<32x128xf32> {lctx.weight = "local.layers.0.ffn.w_in"},
    %l_w2: tensor<128x32xf32> {lctx.weight = "local.layers.0.ffn.w_out"},
    %l_lnf: tensor<32xf32> {lctx.weight = "local.norm"})
    -> tensor<1x32x256xf32> {
  //===--------------------------------------------------------------------===//
  // Global model over K = 8 patch embeddings of width 64.
  //===--------------------------------------------------------------------===//
  %g0 = lctx.patch.embed %ids, %g_emb, %g_pad {patch_size = 4 : i64}
      : tensor<1x32xi32>, tensor<256x16xf32>, tensor<4x16xf32>
  %gh = lctx.rms_norm %g0, %g_ln1 : tensor<1x8x64xf32>, tensor<64xf32>
  %gq = lctx.linear %gh, %g_wq : tensor<1x8x64xf32>, tensor<64x64xf32>
  %gk = lctx.linear %gh, %g_wk : tensor<1x8x64xf32>, tensor<64x64xf32>
  %gv = lctx.linear %gh, %g_wv : tensor<1x8x64xf32>, tensor<64x64xf32>
  %gq4 = tensor.expand_shape %gq [[0], [1], [2, 3]] output_shape [1, 8, 2, 32]
      : tensor<1x8x64xf32> into tensor<1x8x2x32xf32>
  %gk4 = tensor.expand_shape %gk [[0], [1], [2, 3]] output_shape [1, 8, 2, 32]
      : tensor<1x8x64xf32> into tensor<1x8x2x32xf32>
  %gv4 = tensor.expand_shape %gv [[0], [1], [2, 3]] output_shape [1, 8, 2, 32]
      : tensor<1x8x64xf32> into tensor<1x8x2x32xf32>
  %ge0 = tensor.empty() : tensor<1x2x8x32xf32>
  %gqh = linalg.transpose ins(%gq4 : tensor<1x8x2x32xf32>) outs(%ge0 : tensor<1x2x8x32xf32>) permutation = [0, 2, 1, 3]
  %gkh = linalg.transpose ins(%gk4 : tensor<1x8x2x32xf32>) outs(%ge0 : tensor<1x2x8x32xf32>) permutation = [0, 2, 1, 3]
  %gvh = linalg.transpose ins(%gv4 : tensor<1x8x2x32xf32>) outs(%ge0 : tensor<1x2x8x32xf32>) permutation = [0, 2, 1, 3]
  %ga = lctx.attention %gqh, %gkh, %gvh {rope_theta = 10000.0 : f32}
      : tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32>
  %ge1 = tensor.empty() : tensor<1x8x2x32xf32>
  %gat = linalg.transpose ins(%ga : tensor<1x2x8x32xf32>) outs(%ge1 : tensor<1x8x2x32xf32>) permutation = [0, 2, 1, 3]
  %gac = tensor.collapse_shape %gat [[0], [1], [2, 3]] : tensor<1x8x2x32xf32> into tensor<1x8x64xf32>
  %go = lctx.linear %gac, %g_wo : tensor<1x8x64xf32>, tensor<64x64xf32>
  %g1 = arith.addf %g0, %go : tensor<1x8x64xf32>
  %gh2 = lctx.rms_norm %g1, %g_ln2 : tensor<1x8x64xf32>, tensor<64xf32>
  %gf = lctx.ffn relu %gh2, %g_w1, %g_w2 : tensor<1x8x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>
  %g2 = arith.addf %g1, %gf : tensor<1x8x64xf32>
  %gout = lctx.rms_norm %g2, %g_lnf : tensor<1x8x64xf32>, tensor<64xf32>

  //===--------------------------------------------------------------------===//
  // Local model: 8 patches of 4 bytes, width 32, run independently.
  //===--------------------------------------------------------------------===//
  %l0 = lctx.patch.to_local %gout, %w_gl, %ids, %l_emb, %l_pad {patch_size = 4 : i64}
      : tensor<1x8x64xf32>, tensor<16x32xf32>, tensor<1x32xi32>, tensor<256x32xf32>, tensor<32xf32>
  %lh = lctx.rms_norm %l0, %l_ln1 : tensor<8x4x32xf32>, tensor<32xf32>
  %lq = lctx.linear %lh, %l_wq : tensor<8x4x32xf32>, tensor<32x32xf32>
  %lk = lctx.linear %lh, %l_wk : tensor<8x4x32xf32>, tensor<32x32xf32>
  %lv = lctx.linear %lh, %l_wv : tensor<8x4x32xf32>, tensor<32x32xf32>
  %lq4 = tensor.expand_shape %lq [[0], [1], [2, 3]] output_shape [8, 4, 2, 16]
      : tensor<8x4x32xf32> into tensor<8x4x2x16xf32>
  %lk4 = tensor.expand_shape %lk [[0], [1], [2, 3]] output_shape [8, 4, 2, 16]
      : tensor<8x4x32xf32> into tensor<8x4x2x16xf32>
  %lv4 = tensor.expand_shape %lv [[0], [1], [2, 3]] output_shape [8, 4, 2, 16]
      : tensor<8x4x32xf32> into tensor<8x4x2x16xf32>
  %le0 = tensor.empty() : tensor<8x2x4x16xf32>
  %lqh = linalg.transpose ins(%lq4 : tensor<8x4x2x16xf32>) outs(%le0 : tensor<8x2x4x16xf32>) permutation = [0, 2, 1, 3]
  %lkh = linalg.transpose ins(%lk4 : tensor<8x4x2x16xf32>) outs(%le0 : tensor<8x2x4x16xf32>) permutation = [0, 2, 1, 3]
  %lvh = linalg.transpose ins(%lv4 : tensor<8x4x2x16xf32>) outs(%le0 : tensor<8x2x4x16xf32>) permutation = [0, 2, 1, 3]
  %la = lctx.attention %lqh, %lkh, %lvh {rope_theta = 10000.0 : f32}
      : tensor<8x2x4x16xf32>, tensor<8x2x4x16xf32>, tensor<8x2x4x16xf32>
  %le1 = tensor.empty() : tensor<8x4x2x16xf32>
  %lat = linalg.transpose ins(%la : tensor<8x2x4x16xf32>) outs(%le1 : tensor<8x4x2x16xf32>) permutation = [0, 2, 1, 3]
  %lac = tensor.collapse_shape %lat [[0], [1], [2, 3]] : tensor<8x4x2x16xf32> into tensor<8x4x32xf32>
  %lo = lctx.linear %lac, %l_wo : tensor<8x4x32xf32>, tensor<32x32xf32>
  %l1 = arith.addf %l0, %lo : tensor<8x4x32xf32>
  %lh2 = lctx.rms_norm %l1, %l_ln2 : tensor<8x4x32xf32>, tensor<32xf32>
  %lf = lctx.ffn relu %lh2, %l_w1, %l_w2 : tensor<8x4x32xf32>, tensor<32x128xf32>, tensor<128x32xf32>
  %l2 = arith.addf %l1, %lf : tensor<8x4x32xf32>
  %lout = lctx.rms_norm %l2, %l_lnf : tensor<8x4x32xf32>, tensor<32xf32>

  // Tied output embedding, then patches back to byte order.
  %logits = lctx.linear %lout, %l_emb {transpose_weight}
      : tensor<8x4x32xf32>, tensor<256x32xf32>
  %out = lctx.patch.merge %logits : tensor<8x4x256xf32> -> tensor<1x32x256xf32>
  return %out : tensor<1x32x256xf32>
}
