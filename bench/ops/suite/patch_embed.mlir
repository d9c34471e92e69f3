// MEGABYTE global input: T = 8192 bytes, P = 8, D_G = 512 (K = 1024 patches).
func.func @patch_embed(%ids: tensor<1x8192xi32> {lctx.input = "ids"},
                       %table: tensor<256x512xf32> {lctx.input = "table"},
                       %pad: tensor<8x512xf32> {lctx.input = "pad"},
                       %pos: tensor<8192x512xf32> {lctx.input = "pos"}) -> tensor<1x1024x4096xf32> {
  %g = lctx.patch.embed %ids, %table, %pad pos(%pos) {patch_size = 8 : i64}
      : tensor<1x8192xi32>, tensor<256x512xf32>, tensor<8x512xf32>, tensor<8192x512xf32>
  return %g : tensor<1x1024x4096xf32>
}
