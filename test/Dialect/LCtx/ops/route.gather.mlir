// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.route.gather: x [B, S, D] and
// indices [B, k] give [B, k, D] in x's element type.

// i64 indices from route.depth: [2, 64, 32] gathered to [2, 8, 32].
// CHECK-LABEL: func.func @i64_indices
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[I:[^:]+]]: tensor<2x8xi64>) -> tensor<2x8x32xf32>
// CHECK: %[[R:.+]] = lctx.route.gather %[[X]], %[[I]] : tensor<2x64x32xf32>, tensor<2x8xi64>{{$}}
// CHECK: return %[[R]] : tensor<2x8x32xf32>
func.func @i64_indices(%x: tensor<2x64x32xf32>, %idx: tensor<2x8xi64>) -> tensor<2x8x32xf32> {
  %0 = lctx.route.gather %x, %idx : tensor<2x64x32xf32>, tensor<2x8xi64>
  return %0 : tensor<2x8x32xf32>
}

// i32 indices and bf16 activations; k may exceed S (padding entries).
// CHECK-LABEL: func.func @i32_indices_bf16
// CHECK: %[[R:.+]] = lctx.route.gather %{{[^ ]+}}, %{{[^ ]+}} : tensor<1x4x16xbf16>, tensor<1x6xi32>{{$}}
// CHECK: return %[[R]] : tensor<1x6x16xbf16>
func.func @i32_indices_bf16(%x: tensor<1x4x16xbf16>, %idx: tensor<1x6xi32>) -> tensor<1x6x16xbf16> {
  %0 = lctx.route.gather %x, %idx : tensor<1x4x16xbf16>, tensor<1x6xi32>
  return %0 : tensor<1x6x16xbf16>
}

// Dynamic batch and k.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.route.gather %{{[^ ]+}}, %{{[^ ]+}} : tensor<?x64x32xf16>, tensor<?x?xi64>{{$}}
// CHECK: return %[[R]] : tensor<?x?x32xf16>
func.func @dynamic_dims(%x: tensor<?x64x32xf16>, %idx: tensor<?x?xi64>) -> tensor<?x?x32xf16> {
  %0 = lctx.route.gather %x, %idx : tensor<?x64x32xf16>, tensor<?x?xi64>
  return %0 : tensor<?x?x32xf16>
}
