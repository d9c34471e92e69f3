// CEMA over 1024 steps: a host loop over chunks that launches kernels
// (test/Target/CUDA/host.test).
func.func @cema(%x: tensor<1x1024x64xf32>, %a: tensor<64x4xf32>, %t: tensor<64xf32>, %g: tensor<64x4xcomplex<f32>>, %h: tensor<1x64x4xcomplex<f32>>) -> tensor<1x1024x64xf32> {
  %y, %h1 = lctx.cema.scan %x, %a, %a, %t, %g, %t, %h : tensor<1x1024x64xf32>, tensor<64x4xf32>, tensor<64x4xf32>, tensor<64xf32>, tensor<64x4xcomplex<f32>>, tensor<64xf32>, tensor<1x64x4xcomplex<f32>>
  return %y : tensor<1x1024x64xf32>
}
