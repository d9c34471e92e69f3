// Switch combine: 8 experts x C = 320 slots back to 2048 tokens, D = 512.
func.func @route_combine(%out: tensor<8x320x512xf32> {lctx.input = "expert_out"},
                         %e: tensor<1x2048xi32> {lctx.input = "expert"},
                         %s: tensor<1x2048xi32> {lctx.input = "slot"},
                         %g: tensor<1x2048xf32> {lctx.input = "gate"}) -> tensor<1x2048x512xf32> {
  %y = lctx.route.combine %out, %e, %s, %g
      : tensor<8x320x512xf32>, tensor<1x2048xi32>, tensor<1x2048xi32>, tensor<1x2048xf32>
  return %y : tensor<1x2048x512xf32>
}
