// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.rms_norm: with and without the weight, default and
// explicit epsilon, rank-1 and dynamic inputs, f16/bf16.

// With a weight and the default epsilon (elided when printed).
// CHECK-LABEL: func.func @weighted
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xf32>, %[[W:[^:]+]]: tensor<64xf32>)
// CHECK: %[[R:.+]] = lctx.rms_norm %[[X]], %[[W]] : tensor<2x16x64xf32>, tensor<64xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x16x64xf32>
func.func @weighted(%x: tensor<2x16x64xf32>, %w: tensor<64xf32>) -> tensor<2x16x64xf32> {
  %0 = lctx.rms_norm %x, %w : tensor<2x16x64xf32>, tensor<64xf32>
  return %0 : tensor<2x16x64xf32>
}

// Without a weight (no affine, Megalodon per-head form) and with an explicit epsilon.
// CHECK-LABEL: func.func @unweighted_epsilon
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x4x16x32xbf16>)
// CHECK: %[[R:.+]] = lctx.rms_norm %[[X]] {epsilon = 9.99999974E-6 : f32} : tensor<2x4x16x32xbf16>{{$}}
// CHECK: return %[[R]] : tensor<2x4x16x32xbf16>
func.func @unweighted_epsilon(%x: tensor<2x4x16x32xbf16>) -> tensor<2x4x16x32xbf16> {
  %0 = lctx.rms_norm %x {epsilon = 1.0e-5 : f32} : tensor<2x4x16x32xbf16>
  return %0 : tensor<2x4x16x32xbf16>
}

// An explicit epsilon equal to the default (1e-6) is elided.
// CHECK-LABEL: func.func @default_epsilon_elided
// CHECK: lctx.rms_norm %{{[^ ]+}} : tensor<8xf32>{{$}}
func.func @default_epsilon_elided(%x: tensor<8xf32>) -> tensor<8xf32> {
  %0 = lctx.rms_norm %x {epsilon = 1.0e-6 : f32} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// Dynamic dims, including a dynamic feature dim against a static weight (f16).
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.rms_norm %{{[^ ]+}}, %{{[^ ]+}} : tensor<?x?x?xf16>, tensor<64xf16>
// CHECK: return %[[R]] : tensor<?x?x?xf16>
func.func @dynamic_dims(%x: tensor<?x?x?xf16>, %w: tensor<64xf16>) -> tensor<?x?x?xf16> {
  %0 = lctx.rms_norm %x, %w : tensor<?x?x?xf16>, tensor<64xf16>
  return %0 : tensor<?x?x?xf16>
}
