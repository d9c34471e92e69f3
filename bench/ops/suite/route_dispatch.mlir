// Switch dispatch: 2048 tokens, D = 512, 8 experts x C = 320 slots.
func.func @route_dispatch(%x: tensor<1x2048x512xf32> {lctx.input = "x"},
                          %e: tensor<1x2048xi32> {lctx.input = "expert"},
                          %s: tensor<1x2048xi32> {lctx.input = "slot"}) -> tensor<8x320x512xf32> {
  %buf = lctx.route.dispatch %x, %e, %s
      : tensor<1x2048x512xf32>, tensor<1x2048xi32>, tensor<1x2048xi32> -> tensor<8x320x512xf32>
  return %buf : tensor<8x320x512xf32>
}
