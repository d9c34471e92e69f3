// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.route.combine: expert buffers
// [E, B*C, D] back to tokens [B, S, D] in the buffer's element type.

// E = 8, B = 2, C = 16, S = 64, D = 32: result [2, 64, 32].
// CHECK-LABEL: func.func @capacity16
// CHECK-SAME: (%[[O:[^:]+]]: tensor<8x32x32xf32>, %[[E:[^:]+]]: tensor<2x64xi32>,
// CHECK-SAME: %[[S:[^:]+]]: tensor<2x64xi32>, %[[G:[^:]+]]: tensor<2x64xf32>) -> tensor<2x64x32xf32>
// CHECK: %[[R:.+]] = lctx.route.combine %[[O]], %[[E]], %[[S]], %[[G]] :
// CHECK-SAME: tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<2x64xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x64x32xf32>
func.func @capacity16(%out: tensor<8x32x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x64xi32>,
                      %g: tensor<2x64xf32>) -> tensor<2x64x32xf32> {
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<2x64xf32>
  return %0 : tensor<2x64x32xf32>
}

// bf16 expert outputs with the f32 gate: the result is bf16.
// CHECK-LABEL: func.func @bf16_buffers
// CHECK: %[[R:.+]] = lctx.route.combine %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<4x8x16xbf16>, tensor<1x32xi32>, tensor<1x32xi32>, tensor<1x32xf32>{{$}}
// CHECK: return %[[R]] : tensor<1x32x16xbf16>
func.func @bf16_buffers(%out: tensor<4x8x16xbf16>, %e: tensor<1x32xi32>, %s: tensor<1x32xi32>,
                        %g: tensor<1x32xf32>) -> tensor<1x32x16xbf16> {
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<4x8x16xbf16>, tensor<1x32xi32>, tensor<1x32xi32>, tensor<1x32xf32>
  return %0 : tensor<1x32x16xbf16>
}

// Dynamic token maps give a dynamic [B, S].
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.route.combine %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<8x?x32xf32>, tensor<?x?xi32>, tensor<?x?xi32>, tensor<?x?xf32>{{$}}
// CHECK: return %[[R]] : tensor<?x?x32xf32>
func.func @dynamic_dims(%out: tensor<8x?x32xf32>, %e: tensor<?x?xi32>, %s: tensor<?x?xi32>,
                        %g: tensor<?x?xf32>) -> tensor<?x?x32xf32> {
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x?x32xf32>, tensor<?x?xi32>, tensor<?x?xi32>, tensor<?x?xf32>
  return %0 : tensor<?x?x32xf32>
}
