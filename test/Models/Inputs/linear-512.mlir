// A contraction large enough to run on the thread pool, its packed weight
// blocks allocated inside the parallel region (kernel-out-of-memory.test).
func.func @lin(%x: tensor<1x512x512xf32> {lctx.input = "x"}, %w: tensor<512x512xf32> {lctx.input = "w"}) -> tensor<1x512x512xf32> {
  %0 = lctx.linear %x, %w : tensor<1x512x512xf32>, tensor<512x512xf32>
  return %0 : tensor<1x512x512xf32>
}
