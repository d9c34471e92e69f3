// RUN: not lctx-opt %s -convert-lctx-to-linalg 2>&1 | FileCheck %s
// A composite op reaching the lowering (without lctx-decompose, which the
// CPU pipeline runs first) fails the pass with a located message.
// CHECK: unsupported.mlir:[[@LINE+4]]:{{[0-9]+}}: error: convert-lctx-to-linalg: composite op 'lctx.route.moe' must be decomposed first (lctx-decompose)
func.func @moe(%x: tensor<1x16x8xf32>, %wr: tensor<8x4xf32>,
               %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> tensor<1x16x8xf32> {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<1x16x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
  return %y : tensor<1x16x8xf32>
}
