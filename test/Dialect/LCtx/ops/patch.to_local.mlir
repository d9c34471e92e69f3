// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.patch.to_local: the global output
// [B, K, P*D_G] becomes the local input [B*K, P, D_L].

// MEGABYTE shapes: B = 1, K = 4, P = 4, D_G = 32, D_L = 16 give [4, 4, 16].
// CHECK-LABEL: func.func @megabyte_shapes
// CHECK-SAME: (%[[G:[^:]+]]: tensor<1x4x128xf32>, %[[WGL:[^:]+]]: tensor<32x16xf32>,
// CHECK-SAME: %[[IDS:[^:]+]]: tensor<1x16xi32>, %[[LTAB:[^:]+]]: tensor<256x16xf32>,
// CHECK-SAME: %[[LPAD:[^:]+]]: tensor<16xf32>) -> tensor<4x4x16xf32>
// CHECK: %[[R:.+]] = lctx.patch.to_local %[[G]], %[[WGL]], %[[IDS]], %[[LTAB]], %[[LPAD]] {patch_size = 4 : i64} :
// CHECK-SAME: tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>, tensor<256x16xf32>,
// CHECK-SAME: tensor<16xf32>{{$}}
// CHECK: return %[[R]] : tensor<4x4x16xf32>
func.func @megabyte_shapes(%g: tensor<1x4x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<1x16xi32>,
                           %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) -> tensor<4x4x16xf32> {
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x128xf32>, tensor<32x16xf32>, tensor<1x16xi32>,
        tensor<256x16xf32>, tensor<16xf32>
  return %0 : tensor<4x4x16xf32>
}

// Batch 2 in bf16 with i64 ids: B*K = 2*8 = 16 local sequences of P = 2.
// CHECK-LABEL: func.func @batch2_bf16
// CHECK: %[[R:.+]] = lctx.patch.to_local %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} {patch_size = 2 : i64} :
// CHECK-SAME: tensor<2x8x64xbf16>, tensor<32x24xbf16>, tensor<2x16xi64>, tensor<256x24xbf16>,
// CHECK-SAME: tensor<24xbf16>{{$}}
// CHECK: return %[[R]] : tensor<16x2x24xbf16>
func.func @batch2_bf16(%g: tensor<2x8x64xbf16>, %wgl: tensor<32x24xbf16>, %ids: tensor<2x16xi64>,
                       %ltab: tensor<256x24xbf16>, %lpad: tensor<24xbf16>) -> tensor<16x2x24xbf16> {
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 2 : i64}
      : tensor<2x8x64xbf16>, tensor<32x24xbf16>, tensor<2x16xi64>,
        tensor<256x24xbf16>, tensor<24xbf16>
  return %0 : tensor<16x2x24xbf16>
}

// Dynamic batch and patch count: B*K is dynamic, P and D_L stay static.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.patch.to_local {{.*}} {patch_size = 4 : i64} :
// CHECK-SAME: tensor<?x?x128xf32>, tensor<32x16xf32>, tensor<?x?xi32>, tensor<256x16xf32>,
// CHECK-SAME: tensor<16xf32>{{$}}
// CHECK: return %[[R]] : tensor<?x4x16xf32>
func.func @dynamic_dims(%g: tensor<?x?x128xf32>, %wgl: tensor<32x16xf32>, %ids: tensor<?x?xi32>,
                        %ltab: tensor<256x16xf32>, %lpad: tensor<16xf32>) -> tensor<?x4x16xf32> {
  %0 = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<?x?x128xf32>, tensor<32x16xf32>, tensor<?x?xi32>,
        tensor<256x16xf32>, tensor<16xf32>
  return %0 : tensor<?x4x16xf32>
}
