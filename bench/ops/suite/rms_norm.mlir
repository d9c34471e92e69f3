func.func @rms_norm(%x: tensor<1x4096x1024xf32> {lctx.input = "x"},
                    %w: tensor<1024xf32> {lctx.input = "w"}) -> tensor<1x4096x1024xf32> {
  %y = lctx.rms_norm %x, %w : tensor<1x4096x1024xf32>, tensor<1024xf32>
  return %y : tensor<1x4096x1024xf32>
}
