func.func @f(%x: tensor<1x4x2x4xf32>) -> tensor<1x4x8xf32> {
  %f = tensor.collapse_shape %x [[0], [ ], [2, 3]]
      : tensor<1x4x2x4xf32> into tensor<1x4x8xf32>
  return %f : tensor<1x4x8xf32>
}
