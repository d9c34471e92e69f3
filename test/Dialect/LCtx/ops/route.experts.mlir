// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and result types of lctx.route.experts: expert and slot are i32
// [B, S], gate is f32 [B, S], aux_loss is tensor<f32>, for any input type.
// Attributes: capacity_factor, dropless, aux_loss_coef, set and default.

// Default attributes: results i32 / f32 / i32 / tensor<f32>.
// CHECK-LABEL: func.func @defaults
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[WR:[^:]+]]: tensor<32x8xf32>)
// CHECK: %[[E:[^ ,]+]], %[[G:[^ ,]+]], %[[S:[^ ,]+]], %[[AUX:[^ ,]+]] = lctx.route.experts %[[X]], %[[WR]] :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<32x8xf32>{{$}}
// CHECK: return %[[E]], %[[G]], %[[S]], %[[AUX]] : tensor<2x64xi32>, tensor<2x64xf32>, tensor<2x64xi32>, tensor<f32>
func.func @defaults(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>)
    -> (tensor<2x64xi32>, tensor<2x64xf32>, tensor<2x64xi32>, tensor<f32>) {
  %e, %g, %s, %aux = lctx.route.experts %x, %wr : tensor<2x64x32xf32>, tensor<32x8xf32>
  return %e, %g, %s, %aux : tensor<2x64xi32>, tensor<2x64xf32>, tensor<2x64xi32>, tensor<f32>
}

// Explicit values equal to the defaults (1.0, 0.01) are elided.
// CHECK-LABEL: func.func @defaults_elided
// CHECK: lctx.route.experts %{{[^ ]+}}, %{{[^ ]+}} : tensor<2x64x32xf32>, tensor<32x8xf32>{{$}}
func.func @defaults_elided(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>) -> tensor<f32> {
  %e, %g, %s, %aux = lctx.route.experts %x, %wr {capacity_factor = 1.0
      : f64, aux_loss_coef = 0.01 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>
  return %aux : tensor<f32>
}

// Every attribute set; aux_loss_coef = 0 (no auxiliary loss) is allowed.
// CHECK-LABEL: func.func @all_attributes
// CHECK: lctx.route.experts %{{[^ ]+}}, %{{[^ ]+}}
// CHECK-SAME: {aux_loss_coef = 0.000000e+00 : f64, capacity_factor = 1.250000e+00 : f64, dropless} : tensor<2x64x32xf32>,
// CHECK-SAME: tensor<32x8xf32>{{$}}
func.func @all_attributes(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>)
    -> (tensor<2x64xi32>, tensor<2x64xf32>, tensor<2x64xi32>, tensor<f32>) {
  %e, %g, %s, %aux = lctx.route.experts %x, %wr
      {capacity_factor = 1.25 : f64, dropless, aux_loss_coef = 0.0 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>
  return %e, %g, %s, %aux : tensor<2x64xi32>, tensor<2x64xf32>, tensor<2x64xi32>, tensor<f32>
}

// bf16 activations with the fp32 router: the results are still i32 / f32.
// CHECK-LABEL: func.func @bf16_input
// CHECK: %[[E:[^ ,]+]], %[[G:[^ ,]+]], %[[S:[^ ,]+]], %[[AUX:[^ ,]+]] = lctx.route.experts %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<4x16x64xbf16>, tensor<64x4xf32>{{$}}
// CHECK: return %[[E]], %[[G]], %[[S]], %[[AUX]] : tensor<4x16xi32>, tensor<4x16xf32>, tensor<4x16xi32>, tensor<f32>
func.func @bf16_input(%x: tensor<4x16x64xbf16>, %wr: tensor<64x4xf32>)
    -> (tensor<4x16xi32>, tensor<4x16xf32>, tensor<4x16xi32>, tensor<f32>) {
  %e, %g, %s, %aux = lctx.route.experts %x, %wr : tensor<4x16x64xbf16>, tensor<64x4xf32>
  return %e, %g, %s, %aux : tensor<4x16xi32>, tensor<4x16xf32>, tensor<4x16xi32>, tensor<f32>
}

// Dynamic batch and sequence propagate to the per-token results.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[E:[^ ,]+]], %[[G:[^ ,]+]], %[[S:[^ ,]+]], %[[AUX:[^ ,]+]] = lctx.route.experts %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<?x?x32xf16>, tensor<32x?xf32>{{$}}
// CHECK: return %[[E]], %[[G]], %[[S]], %[[AUX]] : tensor<?x?xi32>, tensor<?x?xf32>, tensor<?x?xi32>, tensor<f32>
func.func @dynamic_dims(%x: tensor<?x?x32xf16>, %wr: tensor<32x?xf32>)
    -> (tensor<?x?xi32>, tensor<?x?xf32>, tensor<?x?xi32>, tensor<f32>) {
  %e, %g, %s, %aux = lctx.route.experts %x, %wr : tensor<?x?x32xf16>, tensor<32x?xf32>
  return %e, %g, %s, %aux : tensor<?x?xi32>, tensor<?x?xf32>, tensor<?x?xi32>, tensor<f32>
}
