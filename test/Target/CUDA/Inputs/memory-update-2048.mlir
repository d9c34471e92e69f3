// An Infini memory update over 2048 tokens of 8 heads (test/Target/CUDA/host.test).
func.func @update(%k: tensor<1x8x2048x64xf32>, %v: tensor<1x8x2048x64xf32>, %m: tensor<1x8x64x64xf32>, %z: tensor<1x8x64xf32>) -> (tensor<1x8x64x64xf32>, tensor<1x8x64xf32>) {
  %m1, %z1 = lctx.memory.update linear %k, %v, %m, %z : tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>, tensor<1x8x64x64xf32>, tensor<1x8x64xf32>
  return %m1, %z1 : tensor<1x8x64x64xf32>, tensor<1x8x64xf32>
}
