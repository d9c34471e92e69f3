// RUN: lctx-opt %s --lctx-moe-tokenwise | FileCheck %s

// A Switch layer over one token per row runs each token through its own
// expert only: the expert index picks slices of the expert weights; the
// decomposed form would run every expert.
// CHECK-LABEL: func.func @decode
// CHECK:         %[[E:.*]], %[[G:.*]], %{{.*}}, %[[AUX:.*]] = lctx.route.experts %arg0, %arg1 {dropless}
// CHECK-COUNT-2: tensor.extract %[[E]]
// CHECK-NOT:     lctx.route.moe
// CHECK:         %[[W:.*]] = tensor.extract_slice %arg2[%{{.*}}, 0, 0] [1, 8, 16] [1, 1, 1] : tensor<4x8x16xf32> to tensor<8x16xf32>
// CHECK:         lctx.ffn gelu %{{.*}}, %[[W]], %{{.*}} : tensor<1x1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>
// CHECK:         return %{{.*}}, %[[AUX]]
func.func @decode(%x: tensor<2x1x8xf32>, %wr: tensor<8x4xf32>, %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> (tensor<2x1x8xf32>, tensor<f32>) {
  %y, %aux = lctx.route.moe gelu %x, %wr, %w1, %w2 {dropless} : tensor<2x1x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
  return %y, %aux : tensor<2x1x8xf32>, tensor<f32>
}

// Left alone: many tokens (the capacity form computes them as GEMMs), and
// tokens that capacity may drop.
// CHECK-LABEL: func.func @prefill
// CHECK-COUNT-2: lctx.route.moe
func.func @prefill(%x: tensor<1x16x8xf32>, %wr: tensor<8x4xf32>, %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>, %x2: tensor<1x2x8xf32>) -> (tensor<1x16x8xf32>, tensor<1x2x8xf32>) {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2 {dropless} : tensor<1x16x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
  %y2, %aux2 = lctx.route.moe relu %x2, %wr, %w1, %w2 {capacity_factor = 1.0 : f64} : tensor<1x2x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
  return %y, %y2 : tensor<1x16x8xf32>, tensor<1x2x8xf32>
}
