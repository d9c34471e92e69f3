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
func.func @embedding(%t: tensor<256x32xf32>, %i: tensor<1x8xi32>) -> tensor<1x8x32xf32> {
  %r = lctx.embedding %t, %i : tensor<256x32xf32>, tensor<1x8xi32>
  return %r : tensor<1x8x32xf32>
}
func.func @rope_attention(%q: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %r = lctx.attention %q, %q, %q {rope_theta = 10000.0 : f32, chunk_size = 4 : i64} : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return %r : tensor<1x2x8x16xf32>
}
func.func @cema(%x: tensor<1x8x32xf32>, %a: tensor<32x4xf32>, %t: tensor<32xf32>, %g: tensor<32x4xcomplex<f32>>, %h: tensor<1x32x4xcomplex<f32>>) -> tensor<1x8x32xf32> {
  %y, %h1 = lctx.cema.scan %x, %a, %a, %t, %g, %t, %h : tensor<1x8x32xf32>, tensor<32x4xf32>, tensor<32x4xf32>, tensor<32xf32>, tensor<32x4xcomplex<f32>>, tensor<32xf32>, tensor<1x32x4xcomplex<f32>>
  return %y : tensor<1x8x32xf32>
}
func.func @memory_update(%k: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) -> (tensor<1x2x16x16xf32>, tensor<1x2x16xf32>) {
  %a, %b = lctx.memory.update delta %k, %k, %m, %z : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return %a, %b : tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
}
func.func @patches(%ids: tensor<1x16xi32>, %tab: tensor<256x8xf32>, %pad: tensor<4x8xf32>, %wgl: tensor<8x16xf32>, %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) -> tensor<1x16x16xf32> {
  %g = lctx.patch.embed %ids, %tab, %pad {patch_size = 4 : i64} : tensor<1x16xi32>, tensor<256x8xf32>, tensor<4x8xf32>
  %l = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64} : tensor<1x4x32xf32>, tensor<8x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>, tensor<16xf32>
  %m = lctx.patch.merge %l : tensor<4x4x16xf32> -> tensor<1x16x16xf32>
  return %m : tensor<1x16x16xf32>
}
