func.func @layer_norm(%x: tensor<1x4096x1024xf32> {lctx.input = "x"},
                      %w: tensor<1024xf32> {lctx.input = "w"},
                      %b: tensor<1024xf32> {lctx.input = "b"}) -> tensor<1x4096x1024xf32> {
  %y = lctx.layer_norm %x weight(%w : tensor<1024xf32>) bias(%b : tensor<1024xf32>)
      : tensor<1x4096x1024xf32>
  return %y : tensor<1x4096x1024xf32>
}
