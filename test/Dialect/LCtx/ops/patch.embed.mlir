// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.patch.embed: [B, T] ids to the
// shifted global input [B, T/P, P*D_G], with and without the pos table.

// MEGABYTE shapes: T = 16, P = 4, D_G = 32 give [1, 4, 128].
// CHECK-LABEL: func.func @megabyte_shapes
// CHECK-SAME: (%[[IDS:[^:]+]]: tensor<1x16xi32>, %[[TAB:[^:]+]]: tensor<256x32xf32>,
// CHECK-SAME: %[[PAD:[^:]+]]: tensor<4x32xf32>) -> tensor<1x4x128xf32>
// CHECK: %[[R:.+]] = lctx.patch.embed %[[IDS]], %[[TAB]], %[[PAD]] {patch_size = 4 : i64} :
// CHECK-SAME: tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>{{$}}
// CHECK: return %[[R]] : tensor<1x4x128xf32>
func.func @megabyte_shapes(%ids: tensor<1x16xi32>, %table: tensor<256x32xf32>,
                           %pad: tensor<4x32xf32>) -> tensor<1x4x128xf32> {
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>
  return %0 : tensor<1x4x128xf32>
}

// With a positional table longer than the sequence (Tmax = 64 >= T = 16).
// CHECK-LABEL: func.func @with_pos
// CHECK-SAME: (%[[IDS:[^:]+]]: tensor<2x16xi64>, %[[TAB:[^:]+]]: tensor<256x32xf32>,
// CHECK-SAME: %[[PAD:[^:]+]]: tensor<4x32xf32>, %[[POS:[^:]+]]: tensor<64x32xf32>)
// CHECK: %[[R:.+]] = lctx.patch.embed %[[IDS]], %[[TAB]], %[[PAD]] pos(%[[POS]]) {patch_size = 4 : i64} :
// CHECK-SAME: tensor<2x16xi64>, tensor<256x32xf32>, tensor<4x32xf32>, tensor<64x32xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x4x128xf32>
func.func @with_pos(%ids: tensor<2x16xi64>, %table: tensor<256x32xf32>, %pad: tensor<4x32xf32>,
                    %pos: tensor<64x32xf32>) -> tensor<2x4x128xf32> {
  %0 = lctx.patch.embed %ids, %table, %pad pos(%pos) {patch_size = 4 : i64}
      : tensor<2x16xi64>, tensor<256x32xf32>, tensor<4x32xf32>, tensor<64x32xf32>
  return %0 : tensor<2x4x128xf32>
}

// bf16 tables, P = 8, D_G = 16: [2, 32] ids give [2, 4, 128] bf16.
// CHECK-LABEL: func.func @bf16_patch8
// CHECK: %[[R:.+]] = lctx.patch.embed %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} {patch_size = 8 : i64} :
// CHECK-SAME: tensor<2x32xi32>, tensor<256x16xbf16>, tensor<8x16xbf16>{{$}}
// CHECK: return %[[R]] : tensor<2x4x128xbf16>
func.func @bf16_patch8(%ids: tensor<2x32xi32>, %table: tensor<256x16xbf16>,
                       %pad: tensor<8x16xbf16>) -> tensor<2x4x128xbf16> {
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 8 : i64}
      : tensor<2x32xi32>, tensor<256x16xbf16>, tensor<8x16xbf16>
  return %0 : tensor<2x4x128xbf16>
}

// Dynamic batch and length: the patch count is dynamic, the width is still P*D_G.
// CHECK-LABEL: func.func @dynamic_sequence
// CHECK: %[[R:.+]] = lctx.patch.embed %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} pos(%{{[^ ]+}}) {patch_size = 4 : i64} :
// CHECK-SAME: tensor<?x?xi32>, tensor<256x32xf16>, tensor<4x32xf16>, tensor<?x32xf16>{{$}}
// CHECK: return %[[R]] : tensor<?x?x128xf16>
func.func @dynamic_sequence(%ids: tensor<?x?xi32>, %table: tensor<256x32xf16>,
                            %pad: tensor<4x32xf16>, %pos: tensor<?x32xf16>) -> tensor<?x?x128xf16> {
  %0 = lctx.patch.embed %ids, %table, %pad pos(%pos) {patch_size = 4 : i64}
      : tensor<?x?xi32>, tensor<256x32xf16>, tensor<4x32xf16>, tensor<?x32xf16>
  return %0 : tensor<?x?x128xf16>
}

// A dynamic embedding width D_G makes the result width dynamic.
// CHECK-LABEL: func.func @dynamic_width
// CHECK: %[[R:.+]] = lctx.patch.embed %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} {patch_size = 2 : i64} :
// CHECK-SAME: tensor<1x6xi32>, tensor<?x?xf32>, tensor<2x?xf32>{{$}}
// CHECK: return %[[R]] : tensor<1x3x?xf32>
func.func @dynamic_width(%ids: tensor<1x6xi32>, %table: tensor<?x?xf32>,
                         %pad: tensor<2x?xf32>) -> tensor<1x3x?xf32> {
  %0 = lctx.patch.embed %ids, %table, %pad {patch_size = 2 : i64}
      : tensor<1x6xi32>, tensor<?x?xf32>, tensor<2x?xf32>
  return %0 : tensor<1x3x?xf32>
}
