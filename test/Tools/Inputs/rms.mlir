func.func @rms(%x: tensor<2x8xf32> {lctx.input = "x"}, %w: tensor<8xf32> {lctx.weight = "norm.w"}) -> tensor<2x8xf32> {
  %0 = lctx.rms_norm %x, %w : tensor<2x8xf32>, tensor<8xf32>
  return %0 : tensor<2x8xf32>
}
