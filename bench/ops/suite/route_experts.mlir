// Switch router: 2048 tokens, D = 512, 8 experts, capacity factor 1.25 (C = 320).
func.func @route_experts(%x: tensor<1x2048x512xf32> {lctx.input = "x"},
                         %wr: tensor<512x8xf32> {lctx.input = "router"})
    -> (tensor<1x2048xi32>, tensor<1x2048xf32>, tensor<1x2048xi32>, tensor<f32>) {
  %e, %g, %s, %aux = lctx.route.experts %x, %wr {capacity_factor = 1.25 : f64}
      : tensor<1x2048x512xf32>, tensor<512x8xf32>
  return %e, %g, %s, %aux : tensor<1x2048xi32>, tensor<1x2048xf32>, tensor<1x2048xi32>, tensor<f32>
}
