// A running sum with runtime-owned state: y = h + x, h' = h + x, for
// pieces of 2 and 3 steps of a [1, T, 4] stream (the sum over T is carried).
func.func @p2(%x: tensor<1x2x4xf32> {lctx.input = "x"},
              %h: tensor<1x4xf32> {lctx.state = "sum"})
    -> (tensor<1x4xf32> {lctx.output = "y"}, tensor<1x4xf32> {lctx.state = "sum"}) {
  %z = arith.constant dense<0.0> : tensor<1x4xf32>
  %s = linalg.reduce ins(%x : tensor<1x2x4xf32>) outs(%z : tensor<1x4xf32>) dimensions = [1]
    (%a: f32, %b: f32) { %r = arith.addf %a, %b : f32
                         linalg.yield %r : f32 }
  %n = arith.addf %h, %s : tensor<1x4xf32>
  return %n, %n : tensor<1x4xf32>, tensor<1x4xf32>
}
func.func @p3(%x: tensor<1x3x4xf32> {lctx.input = "x"},
              %h: tensor<1x4xf32> {lctx.state = "sum"})
    -> (tensor<1x4xf32> {lctx.output = "y"}, tensor<1x4xf32> {lctx.state = "sum"}) {
  %z = arith.constant dense<0.0> : tensor<1x4xf32>
  %s = linalg.reduce ins(%x : tensor<1x3x4xf32>) outs(%z : tensor<1x4xf32>) dimensions = [1]
    (%a: f32, %b: f32) { %r = arith.addf %a, %b : f32
                         linalg.yield %r : f32 }
  %n = arith.addf %h, %s : tensor<1x4xf32>
  return %n, %n : tensor<1x4xf32>, tensor<1x4xf32>
}
