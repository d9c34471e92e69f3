func.func @cema(%x: tensor<1x4096x1024xf32>, %alpha: tensor<1024x16xf32>, %delta: tensor<1024x16xf32>, %theta: tensor<1024xf32>, %gamma: tensor<1024x16xcomplex<f32>>, %omega: tensor<1024xf32>, %h0: tensor<1x1024x16xcomplex<f32>>) -> (tensor<1x4096x1024xf32>, tensor<1x1024x16xcomplex<f32>>) {
  %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0 : tensor<1x4096x1024xf32>, tensor<1024x16xf32>, tensor<1024x16xf32>, tensor<1024xf32>, tensor<1024x16xcomplex<f32>>, tensor<1024xf32>, tensor<1x1024x16xcomplex<f32>>
  return %y, %h : tensor<1x4096x1024xf32>, tensor<1x1024x16xcomplex<f32>>
}
