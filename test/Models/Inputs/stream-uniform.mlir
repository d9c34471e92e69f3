// A token-decoded byte model whose decode predicts the uniform distribution
// (all logits 0), with a window of 4 positions: lctx-run's token schedule
// must score exactly 8 bits per byte, and greedy generation picks byte 0.
// Used by test/Models/stream-errors.test.
module attributes {lctx.model = {arch = "uniform", decode = "token", vocab = 256 : i64, batch = 1 : i64, window = 4 : i64}} {
  func.func @decode(%id: tensor<1x1xi32> {lctx.input = "id"}) -> (tensor<1x1x256xf32> {lctx.output = "logits"}) {
    %0 = arith.constant dense<0.0> : tensor<1x1x256xf32>
    return %0 : tensor<1x1x256xf32>
  }
}
