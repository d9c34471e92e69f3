// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.route.dispatch: tokens [B, S, D] into expert buffers
// [E, B*C, D] given by the explicit result type; f32, bf16 and dynamic forms.

// E = 8 experts, B = 2, C = 16: buffers [8, 32, 32].
// CHECK-LABEL: func.func @capacity16
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[E:[^:]+]]: tensor<2x64xi32>,
// CHECK-SAME: %[[S:[^:]+]]: tensor<2x64xi32>)
// CHECK: %[[R:.+]] = lctx.route.dispatch %[[X]], %[[E]], %[[S]] :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<8x32x32xf32>
// CHECK: return %[[R]] : tensor<8x32x32xf32>
func.func @capacity16(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>,
                      %s: tensor<2x64xi32>) -> tensor<8x32x32xf32> {
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<8x32x32xf32>
  return %0 : tensor<8x32x32xf32>
}

// Dropless (C = S = 64) in bf16: buffers [4, 128, 16].
// CHECK-LABEL: func.func @dropless_bf16
// CHECK: %[[R:.+]] = lctx.route.dispatch %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<2x64x16xbf16>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<4x128x16xbf16>
// CHECK: return %[[R]] : tensor<4x128x16xbf16>
func.func @dropless_bf16(%x: tensor<2x64x16xbf16>, %e: tensor<2x64xi32>,
                         %s: tensor<2x64xi32>) -> tensor<4x128x16xbf16> {
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x16xbf16>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<4x128x16xbf16>
  return %0 : tensor<4x128x16xbf16>
}

// Dynamic batch, sequence and slot count.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.route.dispatch %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<?x?x32xf16>, tensor<?x?xi32>, tensor<?x?xi32> -> tensor<8x?x32xf16>
// CHECK: return %[[R]] : tensor<8x?x32xf16>
func.func @dynamic_dims(%x: tensor<?x?x32xf16>, %e: tensor<?x?xi32>,
                        %s: tensor<?x?xi32>) -> tensor<8x?x32xf16> {
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<?x?x32xf16>, tensor<?x?xi32>, tensor<?x?xi32> -> tensor<8x?x32xf16>
  return %0 : tensor<8x?x32xf16>
}
