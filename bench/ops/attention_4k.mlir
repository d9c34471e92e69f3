// [1, 4, 4096, 64] causal attention, for the thread-scaling measurement in bench/RESULTS.md.
func.func @att(%q: tensor<1x4x4096x64xf32>, %k: tensor<1x4x4096x64xf32>, %v: tensor<1x4x4096x64xf32>) -> tensor<1x4x4096x64xf32> {
  %0 = lctx.attention %q, %k, %v : tensor<1x4x4096x64xf32>, tensor<1x4x4096x64xf32>, tensor<1x4x4096x64xf32>
  return %0 : tensor<1x4x4096x64xf32>
}
