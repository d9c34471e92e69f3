// Causal attention at 8 heads x 2048 tokens (test/Target/CUDA/host.test).
func.func @attention(%q: tensor<1x8x2048x64xf32>, %k: tensor<1x8x2048x64xf32>, %v: tensor<1x8x2048x64xf32>) -> tensor<1x8x2048x64xf32> {
  %r = lctx.attention %q, %k, %v {causal = true} : tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>
  return %r : tensor<1x8x2048x64xf32>
}
