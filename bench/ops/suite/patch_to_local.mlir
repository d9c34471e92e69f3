// MEGABYTE global -> local: K = 1024 patches of P = 8, D_G = 512, D_L = 512.
func.func @patch_to_local(%g: tensor<1x1024x4096xf32> {lctx.input = "g"},
                          %wgl: tensor<512x512xf32> {lctx.input = "w_gl"},
                          %ids: tensor<1x8192xi32> {lctx.input = "ids"},
                          %ltab: tensor<256x512xf32> {lctx.input = "local_table"},
                          %lpad: tensor<512xf32> {lctx.input = "local_pad"}) -> tensor<1024x8x512xf32> {
  %l = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 8 : i64}
      : tensor<1x1024x4096xf32>, tensor<512x512xf32>, tensor<1x8192xi32>,
        tensor<256x512xf32>, tensor<512xf32>
  return %l : tensor<1024x8x512xf32>
}
