// MEGABYTE local logits [B*K, P, V] back to [B, T, V]: K = 1024, P = 8, V = 256.
func.func @patch_merge(%l: tensor<1024x8x256xf32> {lctx.input = "x"}) -> tensor<1x8192x256xf32> {
  %y = lctx.patch.merge %l : tensor<1024x8x256xf32> -> tensor<1x8192x256xf32>
  return %y : tensor<1x8192x256xf32>
}
