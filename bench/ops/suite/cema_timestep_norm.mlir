// Megalodon TimestepNorm: B = 1, L = 4096, D = 1024, G = 32 (mega200M), mid-stream state.
func.func @cema_timestep_norm(%x: tensor<1x4096x1024xf32> {lctx.input = "x"},
                              %w: tensor<1024xf32> {lctx.input = "w"},
                              %b: tensor<1024xf32> {lctx.input = "b"},
                              %c: tensor<1xi64> {lctx.input = "count"},
                              %m: tensor<1x32xf32> {lctx.input = "mean"},
                              %v: tensor<1x32xf32> {lctx.input = "var"})
    -> (tensor<1x4096x1024xf32>, tensor<1xi64>, tensor<1x32xf32>, tensor<1x32xf32>) {
  %y, %c1, %m1, %v1 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 32 : i64}
      : tensor<1x4096x1024xf32>, tensor<1024xf32>, tensor<1024xf32>, tensor<1xi64>,
        tensor<1x32xf32>, tensor<1x32xf32>
  return %y, %c1, %m1, %v1 : tensor<1x4096x1024xf32>, tensor<1xi64>, tensor<1x32xf32>, tensor<1x32xf32>
}
