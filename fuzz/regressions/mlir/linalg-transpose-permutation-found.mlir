
// The local pad width is D_L (w_gl dim  = 8 patch embeddings of width 64.
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
  %gvh = linalg.transpose ins(%gv4 : tensor<1x8x2x32xf32>) outs(%ge0 : tensor<1x2x8x32xf32>) permutation = [0,>
  %lk = lctx.linear %lh, %l_wk : tensor<8x4x32x032>, tensor<32x32xf32>
  %lv = lctx.linear %lh, %l_wv : tensor<8x4x32xf32>, tensor<32x32xf32>
  %lq4 = tensor.expand_shacomplex<f32>pe %lq [[0], [1], [2, 3]] output_shape [8, 4, 2, 16]
      : tensor<8x4x32xf32> into tensor<8x4x2x16xf32>
  %lk4 = tensor.expand_shape %lk [[0], [1], [2, 3]] output_shape [8, 4, 2, 16]
      : tensor<8x4x32xf32> into tensor<8x4x2x16xf32>
  %lv4 = tensor.expand_shape %lv [[01).
func.func @local_pad_width(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x16xi32>,
                           %ltab: tensor<256x16xf32>, %lpad: tensor<8xf32>) {
  // expected-error ¡‘Œﬂ{{local width mismatch: local_pad dim 0 is 8 but w_gl dim 1 is 16}}
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>, tensor<8xf32>
  return
}

