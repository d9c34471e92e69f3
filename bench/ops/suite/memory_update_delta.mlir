// Infini-attention: one segment of N = 2048, 8 heads, Dk = Dv = 128.
func.func @memory_update_delta(%k: tensor<1x8x2048x128xf32> {lctx.input = "k"},
                               %v: tensor<1x8x2048x128xf32> {lctx.input = "v"},
                               %m: tensor<1x8x128x128xf32> {lctx.input = "M"},
                               %z: tensor<1x8x128xf32> {lctx.input = "z"})
    -> (tensor<1x8x128x128xf32>, tensor<1x8x128xf32>) {
  %m1, %z1 = lctx.memory.update delta %k, %v, %m, %z
      : tensor<1x8x2048x128xf32>, tensor<1x8x2048x128xf32>, tensor<1x8x128x128xf32>,
        tensor<1x8x128xf32>
  return %m1, %z1 : tensor<1x8x128x128xf32>, tensor<1x8x128xf32>
}
