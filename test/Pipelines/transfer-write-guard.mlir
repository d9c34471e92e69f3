// RUN: lctx-opt %s --lctx-guard-partial-transfer-writes | FileCheck %s --check-prefix=GUARD
// RUN: lctx-opt %s --lctx-guard-partial-transfer-writes --one-shot-bufferize="bufferize-function-boundaries" --lctx-fold-unit-transfer-writes | FileCheck %s --check-prefix=BUF

// MLIR 19's bufferization takes a vector<16xf32> written at [0, 0] of a
// tensor<2x16xf32> for a write of the whole tensor (it zips 2 with 16), so
// when the write must go out of place the copy of the old contents is
// dropped and row 1 of the new buffer is garbage. The guard gives the write
// a full-rank vector; after bufferization the copy is there and the write
// is the 1-D one again.
// GUARD-LABEL: func.func @partial
// GUARD:         %[[W:.*]] = vector.shape_cast %{{.*}} : vector<16xf32> to vector<1x16xf32>
// GUARD:         vector.transfer_write %[[W]], %{{.*}}[%{{.*}}, %{{.*}}] {in_bounds = [true, true]} : vector<1x16xf32>, tensor<2x16xf32>
// BUF-LABEL:   func.func @partial
// BUF:           %[[ALLOC:.*]] = memref.alloc()
// BUF-NEXT:      memref.copy %{{.*}}, %[[ALLOC]]
// BUF-NEXT:      vector.transfer_write %{{.*}}, %[[ALLOC]][%{{.*}}, %{{.*}}] {in_bounds = [true]} : vector<16xf32>, memref<2x16xf32>
func.func @partial(%v: vector<16xf32>, %t: tensor<2x16xf32>) -> (tensor<2x16xf32>, tensor<2x16xf32>) {
  %c0 = arith.constant 0 : index
  %w = vector.transfer_write %v, %t[%c0, %c0] {in_bounds = [true]} : vector<16xf32>, tensor<2x16xf32>
  return %w, %t : tensor<2x16xf32>, tensor<2x16xf32>
}

// Writes that do cover the destination, or whose indices are not all
// constant zeros, are left alone.
// GUARD-LABEL: func.func @untouched
// GUARD-NOT:     vector.shape_cast
// GUARD:         vector.transfer_write %{{.*}} : vector<16xf32>, tensor<1x16xf32>
// GUARD:         vector.transfer_write %{{.*}} : vector<16xf32>, tensor<2x16xf32>
func.func @untouched(%v: vector<16xf32>, %t: tensor<1x16xf32>, %u: tensor<2x16xf32>, %i: index) -> (tensor<1x16xf32>, tensor<2x16xf32>) {
  %c0 = arith.constant 0 : index
  %w = vector.transfer_write %v, %t[%c0, %c0] {in_bounds = [true]} : vector<16xf32>, tensor<1x16xf32>
  %x = vector.transfer_write %v, %u[%i, %c0] {in_bounds = [true]} : vector<16xf32>, tensor<2x16xf32>
  return %w, %x : tensor<1x16xf32>, tensor<2x16xf32>
}
