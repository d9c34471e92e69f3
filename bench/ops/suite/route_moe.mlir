// Switch FFN layer: 2048 tokens, D = 512, F = 2048, 8 experts, capacity factor 1.25.
func.func @route_moe(%x: tensor<1x2048x512xf32> {lctx.input = "x"},
                     %wr: tensor<512x8xf32> {lctx.input = "router"},
                     %w1: tensor<8x512x2048xf32> {lctx.input = "w_in"},
                     %w2: tensor<8x2048x512xf32> {lctx.input = "w_out"})
    -> (tensor<1x2048x512xf32>, tensor<f32>) {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2 {capacity_factor = 1.25 : f64}
      : tensor<1x2048x512xf32>, tensor<512x8xf32>, tensor<8x512x2048xf32>, tensor<8x2048x512xf32>
  return %y, %aux : tensor<1x2048x512xf32>, tensor<f32>
}
