// Mixture-of-Depths: B = 2, S = 4096, D = 1024, k = 512 (capacity 12.5%).
func.func @route_gather(%x: tensor<2x4096x1024xf32> {lctx.input = "x"},
                        %idx: tensor<2x512xi64> {lctx.input = "indices"}) -> tensor<2x512x1024xf32> {
  %sel = lctx.route.gather %x, %idx : tensor<2x4096x1024xf32>, tensor<2x512xi64>
  return %sel : tensor<2x512x1024xf32>
}
