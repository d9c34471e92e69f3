// The ops the cuda target maps to the GPU grid today, one entry point
// each (test/Target/CUDA/ptx.test).
func.func @rms_norm(%x: tensor<2x8x64xf32>, %w: tensor<64xf32>) -> tensor<2x8x64xf32> {
  %r = lctx.rms_norm %x, %w : tensor<2x8x64xf32>, tensor<64xf32>
  return %r : tensor<2x8x64xf32>
}
func.func @layer_norm(%x: tensor<2x8x64xf32>, %w: tensor<64xf32>) -> tensor<2x8x64xf32> {
  %r = lctx.layer_norm %x weight(%w : tensor<64xf32>) bias(%w : tensor<64xf32>) : tensor<2x8x64xf32>
  return %r : tensor<2x8x64xf32>
}
func.func @linear(%x: tensor<2x8x64xf32>, %w: tensor<64x32xf32>) -> tensor<2x8x32xf32> {
  %r = lctx.linear %x, %w : tensor<2x8x64xf32>, tensor<64x32xf32>
  return %r : tensor<2x8x32xf32>
}
func.func @ffn_swiglu(%x: tensor<2x8x64xf32>, %a: tensor<64x128xf32>, %b: tensor<128x64xf32>) -> tensor<2x8x64xf32> {
  %r = lctx.ffn swiglu %x, %a, %b, %a : tensor<2x8x64xf32>, tensor<64x128xf32>, tensor<128x64xf32>, tensor<64x128xf32>
  return %r : tensor<2x8x64xf32>
}
func.func @ffn_gelu(%x: tensor<2x8x64xf32>, %a: tensor<64x128xf32>, %b: tensor<128x64xf32>) -> tensor<2x8x64xf32> {
  %r = lctx.ffn gelu %x, %a, %b : tensor<2x8x64xf32>, tensor<64x128xf32>, tensor<128x64xf32>
  return %r : tensor<2x8x64xf32>
}
func.func @attention(%q: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %r = lctx.attention %q, %q, %q : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return %r : tensor<1x2x8x16xf32>
}
func.func @memory(%q: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>, %b: tensor<2xf32>) -> tensor<1x2x8x16xf32> {
  %a = lctx.memory.retrieve %q, %m, %z : tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  %r = lctx.memory.gate %a, %q, %b : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<2xf32>
  return %r : tensor<1x2x8x16xf32>
}
