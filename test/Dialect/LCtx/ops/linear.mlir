// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.linear: with and without bias,
// transpose_weight (tied embeddings), rank-1 and dynamic inputs, bf16.

// x [2, 16, 64] W [64, 128] + b [128] gives [2, 16, 128].
// CHECK-LABEL: func.func @with_bias
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xf32>, %[[W:[^:]+]]: tensor<64x128xf32>,
// CHECK-SAME: %[[B:[^:]+]]: tensor<128xf32>)
// CHECK: %[[R:.+]] = lctx.linear %[[X]], %[[W]], %[[B]] :
// CHECK-SAME: tensor<2x16x64xf32>, tensor<64x128xf32>, tensor<128xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x16x128xf32>
func.func @with_bias(%x: tensor<2x16x64xf32>, %w: tensor<64x128xf32>,
                     %b: tensor<128xf32>) -> tensor<2x16x128xf32> {
  %0 = lctx.linear %x, %w, %b : tensor<2x16x64xf32>, tensor<64x128xf32>, tensor<128xf32>
  return %0 : tensor<2x16x128xf32>
}

// No bias.
// CHECK-LABEL: func.func @no_bias
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xbf16>, %[[W:[^:]+]]: tensor<64x32xbf16>)
// CHECK: %[[R:.+]] = lctx.linear %[[X]], %[[W]] : tensor<2x16x64xbf16>, tensor<64x32xbf16>{{$}}
// CHECK: return %[[R]] : tensor<2x16x32xbf16>
func.func @no_bias(%x: tensor<2x16x64xbf16>, %w: tensor<64x32xbf16>) -> tensor<2x16x32xbf16> {
  %0 = lctx.linear %x, %w : tensor<2x16x64xbf16>, tensor<64x32xbf16>
  return %0 : tensor<2x16x32xbf16>
}

// transpose_weight: W is [O, I] = [256, 64], so the output width is 256.
// CHECK-LABEL: func.func @tied_output_embedding
// CHECK-SAME: (%[[H:[^:]+]]: tensor<2x16x64xf32>, %[[E:[^:]+]]: tensor<256x64xf32>)
// CHECK: %[[R:.+]] = lctx.linear %[[H]], %[[E]] {transpose_weight} :
// CHECK-SAME: tensor<2x16x64xf32>, tensor<256x64xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x16x256xf32>
func.func @tied_output_embedding(%h: tensor<2x16x64xf32>,
                                 %emb: tensor<256x64xf32>) -> tensor<2x16x256xf32> {
  %0 = lctx.linear %h, %emb {transpose_weight} : tensor<2x16x64xf32>, tensor<256x64xf32>
  return %0 : tensor<2x16x256xf32>
}

// transpose_weight with a bias of width O.
// CHECK-LABEL: func.func @transposed_with_bias
// CHECK: %[[R:.+]] = lctx.linear %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} {transpose_weight} :
// CHECK-SAME: tensor<8x64xf16>, tensor<32x64xf16>, tensor<32xf16>
// CHECK: return %[[R]] : tensor<8x32xf16>
func.func @transposed_with_bias(%x: tensor<8x64xf16>, %w: tensor<32x64xf16>,
                                %b: tensor<32xf16>) -> tensor<8x32xf16> {
  %0 = lctx.linear %x, %w, %b {transpose_weight}
      : tensor<8x64xf16>, tensor<32x64xf16>, tensor<32xf16>
  return %0 : tensor<8x32xf16>
}

// A rank-1 input is a single vector.
// CHECK-LABEL: func.func @vector_input
// CHECK: %[[R:.+]] = lctx.linear %{{[^ ]+}}, %{{[^ ]+}} : tensor<64xf32>, tensor<64x10xf32>
// CHECK: return %[[R]] : tensor<10xf32>
func.func @vector_input(%x: tensor<64xf32>, %w: tensor<64x10xf32>) -> tensor<10xf32> {
  %0 = lctx.linear %x, %w : tensor<64xf32>, tensor<64x10xf32>
  return %0 : tensor<10xf32>
}

// Dynamic leading dims are kept; a dynamic output width propagates.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.linear %{{[^ ]+}}, %{{[^ ]+}} : tensor<?x?x64xf32>, tensor<64x?xf32>
// CHECK: return %[[R]] : tensor<?x?x?xf32>
func.func @dynamic_dims(%x: tensor<?x?x64xf32>, %w: tensor<64x?xf32>) -> tensor<?x?x?xf32> {
  %0 = lctx.linear %x, %w : tensor<?x?x64xf32>, tensor<64x?xf32>
  return %0 : tensor<?x?x?xf32>
}
