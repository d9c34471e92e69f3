// Infini-attention: one segment of N = 2048, 8 heads, Dk = Dv = 128.
func.func @memory_retrieve(%q: tensor<1x8x2048x128xf32> {lctx.input = "q"},
                           %m: tensor<1x8x128x128xf32> {lctx.input = "M"},
                           %z: tensor<1x8x128xf32> {lctx.input = "z"}) -> tensor<1x8x2048x128xf32> {
  %a = lctx.memory.retrieve %q, %m, %z
      : tensor<1x8x2048x128xf32>, tensor<1x8x128x128xf32>, tensor<1x8x128xf32>
  return %a : tensor<1x8x2048x128xf32>
}
