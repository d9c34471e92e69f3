// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.route.scatter_add: with and without the optional f32
// weights, i64/i32 indices, bf16, dynamic dims. The result has x's type.

// Without weights (w = 1).
// CHECK-LABEL: func.func @unweighted
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[U:[^:]+]]: tensor<2x8x32xf32>,
// CHECK-SAME: %[[I:[^:]+]]: tensor<2x8xi64>)
// CHECK: %[[R:.+]] = lctx.route.scatter_add %[[X]], %[[U]], %[[I]] :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>{{$}}
// CHECK: return %[[R]] : tensor<2x64x32xf32>
func.func @unweighted(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>,
                      %idx: tensor<2x8xi64>) -> tensor<2x64x32xf32> {
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>
  return %0 : tensor<2x64x32xf32>
}

// With the router weights [B, k].
// CHECK-LABEL: func.func @weighted
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[U:[^:]+]]: tensor<2x8x32xf32>,
// CHECK-SAME: %[[I:[^:]+]]: tensor<2x8xi64>, %[[W:[^:]+]]: tensor<2x8xf32>)
// CHECK: %[[R:.+]] = lctx.route.scatter_add %[[X]], %[[U]], %[[I]], %[[W]] :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>, tensor<2x8xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x64x32xf32>
func.func @weighted(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<2x8xi64>,
                    %w: tensor<2x8xf32>) -> tensor<2x64x32xf32> {
  %0 = lctx.route.scatter_add %x, %upd, %idx, %w
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>, tensor<2x8xf32>
  return %0 : tensor<2x64x32xf32>
}

// bf16 activations with i32 indices and f32 weights.
// CHECK-LABEL: func.func @bf16_i32
// CHECK: %[[R:.+]] = lctx.route.scatter_add %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<1x16x8xbf16>, tensor<1x4x8xbf16>, tensor<1x4xi32>, tensor<1x4xf32>{{$}}
// CHECK: return %[[R]] : tensor<1x16x8xbf16>
func.func @bf16_i32(%x: tensor<1x16x8xbf16>, %upd: tensor<1x4x8xbf16>, %idx: tensor<1x4xi32>,
                    %w: tensor<1x4xf32>) -> tensor<1x16x8xbf16> {
  %0 = lctx.route.scatter_add %x, %upd, %idx, %w
      : tensor<1x16x8xbf16>, tensor<1x4x8xbf16>, tensor<1x4xi32>, tensor<1x4xf32>
  return %0 : tensor<1x16x8xbf16>
}

// Dynamic batch, sequence and k.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.route.scatter_add %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<?x?x32xf16>, tensor<?x?x32xf16>, tensor<?x?xi64>, tensor<?x?xf32>{{$}}
// CHECK: return %[[R]] : tensor<?x?x32xf16>
func.func @dynamic_dims(%x: tensor<?x?x32xf16>, %upd: tensor<?x?x32xf16>, %idx: tensor<?x?xi64>,
                        %w: tensor<?x?xf32>) -> tensor<?x?x32xf16> {
  %0 = lctx.route.scatter_add %x, %upd, %idx, %w
      : tensor<?x?x32xf16>, tensor<?x?x32xf16>, tensor<?x?xi64>, tensor<?x?xf32>
  return %0 : tensor<?x?x32xf16>
}
