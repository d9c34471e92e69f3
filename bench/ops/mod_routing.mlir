func.func @mod_routing(%x: tensor<2x4096x1024xf32>, %router: tensor<1024xf32>) -> tensor<2x4096x1024xf32> {
  %idx, %r = lctx.route.depth topk %x, %router {capacity = 0.125 : f64} : tensor<2x4096x1024xf32>, tensor<1024xf32>
  %sel = lctx.route.gather %x, %idx : tensor<2x4096x1024xf32>, tensor<2x512xi64>
  %y = lctx.route.scatter_add %x, %sel, %idx, %r : tensor<2x4096x1024xf32>, tensor<2x512x1024xf32>, tensor<2x512xi64>, tensor<2x512xf32>
  return %y : tensor<2x4096x1024xf32>
}
