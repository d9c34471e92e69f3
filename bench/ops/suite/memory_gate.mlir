// Infini-attention: one segment of N = 2048, 8 heads, Dv = 128.
func.func @memory_gate(%amem: tensor<1x8x2048x128xf32> {lctx.input = "a_mem"},
                       %adot: tensor<1x8x2048x128xf32> {lctx.input = "a_dot"},
                       %beta: tensor<8xf32> {lctx.input = "beta"}) -> tensor<1x8x2048x128xf32> {
  %a = lctx.memory.gate %amem, %adot, %beta
      : tensor<1x8x2048x128xf32>, tensor<1x8x2048x128xf32>, tensor<8xf32>
  return %a : tensor<1x8x2048x128xf32>
}
