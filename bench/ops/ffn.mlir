func.func @ffn(%x: tensor<2048x512xf32>, %w1: tensor<512x1408xf32>, %w2: tensor<1408x512xf32>, %wg: tensor<512x1408xf32>) -> tensor<2048x512xf32> {
  %0 = lctx.ffn swiglu %x, %w1, %w2, %wg : tensor<2048x512xf32>, tensor<512x1408xf32>, tensor<1408x512xf32>, tensor<512x1408xf32>
  return %0 : tensor<2048x512xf32>
}
