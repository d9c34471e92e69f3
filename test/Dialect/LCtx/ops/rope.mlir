// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.rope: per-batch [B, T] and shared [T] positions, default
// and explicit theta, dynamic dims, bf16. The result has the input's type.

// Per-batch i64 positions with the default theta (elided when printed).
// CHECK-LABEL: func.func @batch_positions
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x8x16x64xf32>, %[[P:[^:]+]]: tensor<2x16xi64>)
// CHECK: %[[R:.+]] = lctx.rope %[[X]], %[[P]] : tensor<2x8x16x64xf32>, tensor<2x16xi64>{{$}}
// CHECK: return %[[R]] : tensor<2x8x16x64xf32>
func.func @batch_positions(%x: tensor<2x8x16x64xf32>,
                           %pos: tensor<2x16xi64>) -> tensor<2x8x16x64xf32> {
  %0 = lctx.rope %x, %pos : tensor<2x8x16x64xf32>, tensor<2x16xi64>
  return %0 : tensor<2x8x16x64xf32>
}

// An explicit theta equal to the default (10000) is elided too.
// CHECK-LABEL: func.func @default_theta_elided
// CHECK: lctx.rope %{{[^ ]+}}, %{{[^ ]+}} : tensor<1x2x4x8xf32>, tensor<1x4xi64>{{$}}
func.func @default_theta_elided(%x: tensor<1x2x4x8xf32>,
                                %pos: tensor<1x4xi64>) -> tensor<1x2x4x8xf32> {
  %0 = lctx.rope %x, %pos {theta = 1.0e+04 : f32} : tensor<1x2x4x8xf32>, tensor<1x4xi64>
  return %0 : tensor<1x2x4x8xf32>
}

// Positions [T] shared by the batch (i32) and a non-default theta.
// CHECK-LABEL: func.func @shared_positions_theta
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x8x16x64xbf16>, %[[P:[^:]+]]: tensor<16xi32>)
// CHECK: %[[R:.+]] = lctx.rope %[[X]], %[[P]] {theta = 1.000000e+05 : f32} :
// CHECK-SAME: tensor<2x8x16x64xbf16>, tensor<16xi32>
// CHECK: return %[[R]] : tensor<2x8x16x64xbf16>
func.func @shared_positions_theta(%x: tensor<2x8x16x64xbf16>,
                                  %pos: tensor<16xi32>) -> tensor<2x8x16x64xbf16> {
  %0 = lctx.rope %x, %pos {theta = 1.0e+05 : f32} : tensor<2x8x16x64xbf16>, tensor<16xi32>
  return %0 : tensor<2x8x16x64xbf16>
}

// Dynamic batch, length and head dim are accepted (evenness checked at run time).
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.rope %{{[^ ]+}}, %{{[^ ]+}} : tensor<?x4x?x?xf16>, tensor<?x?xi64>
// CHECK: return %[[R]] : tensor<?x4x?x?xf16>
func.func @dynamic_dims(%x: tensor<?x4x?x?xf16>, %pos: tensor<?x?xi64>) -> tensor<?x4x?x?xf16> {
  %0 = lctx.rope %x, %pos : tensor<?x4x?x?xf16>, tensor<?x?xi64>
  return %0 : tensor<?x4x?x?xf16>
}
