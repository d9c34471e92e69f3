// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.layer_norm: weight and bias, weight only, neither;
// default and explicit epsilon, dynamic dims, bf16. The bias-only form is in
// layer_norm.bias_only.mlir.

// Weight and bias, default epsilon (elided when printed).
// CHECK-LABEL: func.func @weight_and_bias
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xf32>, %[[G:[^:]+]]: tensor<64xf32>, %[[B:[^:]+]]: tensor<64xf32>)
// CHECK: %[[R:.+]] = lctx.layer_norm %[[X]] weight(%[[G]] : tensor<64xf32>) bias(%[[B]] : tensor<64xf32>) : tensor<2x16x64xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x16x64xf32>
func.func @weight_and_bias(%x: tensor<2x16x64xf32>, %g: tensor<64xf32>,
                           %b: tensor<64xf32>) -> tensor<2x16x64xf32> {
  %0 = lctx.layer_norm %x weight(%g : tensor<64xf32>) bias(%b : tensor<64xf32>) : tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// Weight only.
// CHECK-LABEL: func.func @weight_only
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xf32>, %[[G:[^:]+]]: tensor<64xf32>)
// CHECK: %[[R:.+]] = lctx.layer_norm %[[X]] weight(%[[G]] : tensor<64xf32>) : tensor<2x16x64xf32>{{$}}
// CHECK: return %[[R]]
func.func @weight_only(%x: tensor<2x16x64xf32>, %g: tensor<64xf32>) -> tensor<2x16x64xf32> {
  %0 = lctx.layer_norm %x weight(%g : tensor<64xf32>) : tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// Neither parameter, explicit epsilon, bf16.
// CHECK-LABEL: func.func @no_affine_epsilon
// CHECK-SAME: (%[[X:[^:]+]]: tensor<4x32xbf16>)
// CHECK: %[[R:.+]] = lctx.layer_norm %[[X]] {epsilon = 9.99999997E-7 : f32} : tensor<4x32xbf16>{{$}}
// CHECK: return %[[R]] : tensor<4x32xbf16>
func.func @no_affine_epsilon(%x: tensor<4x32xbf16>) -> tensor<4x32xbf16> {
  %0 = lctx.layer_norm %x {epsilon = 1.0e-6 : f32} : tensor<4x32xbf16>
  return %0 : tensor<4x32xbf16>
}

// An explicit epsilon equal to the default (1e-5) is elided.
// CHECK-LABEL: func.func @default_epsilon_elided
// CHECK: lctx.layer_norm %{{[^ ]+}} : tensor<4x32xf32>{{$}}
func.func @default_epsilon_elided(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %0 = lctx.layer_norm %x {epsilon = 1.0e-5 : f32} : tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// Dynamic dims with dynamic parameters (f16).
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.layer_norm %{{[^ ]+}} weight(%{{[^ ]+}} : tensor<?xf16>) bias(%{{[^ ]+}} : tensor<?xf16>) : tensor<?x?x?xf16>{{$}}
// CHECK: return %[[R]] : tensor<?x?x?xf16>
func.func @dynamic_dims(%x: tensor<?x?x?xf16>, %g: tensor<?xf16>,
                        %b: tensor<?xf16>) -> tensor<?x?x?xf16> {
  %0 = lctx.layer_norm %x weight(%g : tensor<?xf16>) bias(%b : tensor<?xf16>) : tensor<?x?x?xf16>
  return %0 : tensor<?x?x?xf16>
}
