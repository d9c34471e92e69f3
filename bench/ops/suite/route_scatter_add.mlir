// Mixture-of-Depths: B = 2, S = 4096, D = 1024, k = 512 (capacity 12.5%).
func.func @route_scatter_add(%x: tensor<2x4096x1024xf32> {lctx.input = "x"},
                             %upd: tensor<2x512x1024xf32> {lctx.input = "updates"},
                             %idx: tensor<2x512xi64> {lctx.input = "indices"},
                             %w: tensor<2x512xf32> {lctx.input = "weights"}) -> tensor<2x4096x1024xf32> {
  %y = lctx.route.scatter_add %x, %upd, %idx, %w
      : tensor<2x4096x1024xf32>, tensor<2x512x1024xf32>, tensor<2x512xi64>, tensor<2x512xf32>
  return %y : tensor<2x4096x1024xf32>
}
