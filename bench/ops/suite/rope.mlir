func.func @rope(%x: tensor<1x8x4096x128xf32> {lctx.input = "x"},
                %pos: tensor<4096xi64> {lctx.input = "pos"}) -> tensor<1x8x4096x128xf32> {
  %y = lctx.rope %x, %pos : tensor<1x8x4096x128xf32>, tensor<4096xi64>
  return %y : tensor<1x8x4096x128xf32>
}
