// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.embedding: the result is ids' shape
// followed by D, in the table's element type, for ids of any rank.

// [B, T] i32 ids into a [V, D] table give [B, T, D].
// CHECK-LABEL: func.func @batch_ids
// CHECK-SAME: (%[[T:[^:]+]]: tensor<256x64xf32>, %[[I:[^:]+]]: tensor<2x16xi32>) -> tensor<2x16x64xf32>
// CHECK: %[[R:.+]] = lctx.embedding %[[T]], %[[I]] : tensor<256x64xf32>, tensor<2x16xi32>
// CHECK: return %[[R]] : tensor<2x16x64xf32>
func.func @batch_ids(%table: tensor<256x64xf32>, %ids: tensor<2x16xi32>) -> tensor<2x16x64xf32> {
  %0 = lctx.embedding %table, %ids : tensor<256x64xf32>, tensor<2x16xi32>
  return %0 : tensor<2x16x64xf32>
}

// Rank-1 i64 ids and a bf16 table give [T, D] bf16.
// CHECK-LABEL: func.func @rank1_ids_bf16
// CHECK: %[[R:.+]] = lctx.embedding %{{[^ ]+}}, %{{[^ ]+}} : tensor<1000x32xbf16>, tensor<7xi64>
// CHECK: return %[[R]] : tensor<7x32xbf16>
func.func @rank1_ids_bf16(%table: tensor<1000x32xbf16>, %ids: tensor<7xi64>) -> tensor<7x32xbf16> {
  %0 = lctx.embedding %table, %ids : tensor<1000x32xbf16>, tensor<7xi64>
  return %0 : tensor<7x32xbf16>
}

// A scalar id (rank 0) gives one row [D].
// CHECK-LABEL: func.func @scalar_id
// CHECK: %[[R:.+]] = lctx.embedding %{{[^ ]+}}, %{{[^ ]+}} : tensor<16x8xf16>, tensor<i32>
// CHECK: return %[[R]] : tensor<8xf16>
func.func @scalar_id(%table: tensor<16x8xf16>, %ids: tensor<i32>) -> tensor<8xf16> {
  %0 = lctx.embedding %table, %ids : tensor<16x8xf16>, tensor<i32>
  return %0 : tensor<8xf16>
}

// Dynamic vocabulary, ids dims and width propagate to the result.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.embedding %{{[^ ]+}}, %{{[^ ]+}} : tensor<?x?xf32>, tensor<?x4x?xi8>
// CHECK: return %[[R]] : tensor<?x4x?x?xf32>
func.func @dynamic_dims(%table: tensor<?x?xf32>, %ids: tensor<?x4x?xi8>) -> tensor<?x4x?x?xf32> {
  %0 = lctx.embedding %table, %ids : tensor<?x?xf32>, tensor<?x4x?xi8>
  return %0 : tensor<?x4x?x?xf32>
}
