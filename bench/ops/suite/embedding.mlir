func.func @embedding(%table: tensor<32000x1024xf32> {lctx.input = "table"},
                     %ids: tensor<1x4096xi32> {lctx.input = "ids"}) -> tensor<1x4096x1024xf32> {
  %e = lctx.embedding %table, %ids : tensor<32000x1024xf32>, tensor<1x4096xi32>
  return %e : tensor<1x4096x1024xf32>
}
