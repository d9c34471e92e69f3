// Infini-attention layer core: T = 8192 as 4 segments of N = 2048, 8 heads,
// Dk = Dv = 128, linear memory update.
func.func @memory_attention(%q: tensor<1x8x8192x128xf32> {lctx.input = "q"},
                            %k: tensor<1x8x8192x128xf32> {lctx.input = "k"},
                            %v: tensor<1x8x8192x128xf32> {lctx.input = "v"},
                            %m: tensor<1x8x128x128xf32> {lctx.input = "M"},
                            %z: tensor<1x8x128xf32> {lctx.input = "z"},
                            %beta: tensor<8xf32> {lctx.input = "beta"})
    -> (tensor<1x8x8192x128xf32>, tensor<1x8x128x128xf32>, tensor<1x8x128xf32>) {
  %o, %m1, %z1 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 2048 : i64}
      : tensor<1x8x8192x128xf32>, tensor<1x8x8192x128xf32>, tensor<1x8x8192x128xf32>,
        tensor<1x8x128x128xf32>, tensor<1x8x128xf32>, tensor<8xf32>
  return %o, %m1, %z1 : tensor<1x8x8192x128xf32>, tensor<1x8x128x128xf32>, tensor<1x8x128xf32>
}
