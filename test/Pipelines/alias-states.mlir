// RUN: lctx-opt %s --lctx-read-only-arguments --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --buffer-results-to-out-params --lctx-alias-states | FileCheck %s

// A state whose next value is its own incoming buffer (one slot of a cache
// written in place) reaches its out-param by a whole copy only when the
// runtime passes two buffers: the copy is guarded by a pointer comparison
// and the state is listed for the manifest's "inplace_states". A state
// computed into a new buffer (`sum`) and the position keep their copies
// and are not listed. Inputs stay read-only: `x` is never written.

// CHECK: module attributes {lctxc.inplace_states = {step = ["cache"]}}
// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[X:[^:]*]]: memref<1x4xf32>, %[[C:[^:]*]]: memref<8x4xf32>, %[[S:[^:]*]]: memref<8x4xf32>, %[[P:[^:]*]]: memref<1xi64>, %[[CO:[^:]*]]: memref<8x4xf32>, %[[SO:[^:]*]]: memref<8x4xf32>, %[[PO:[^:]*]]: memref<1xi64>)
// CHECK-NOT: lctx_state_pairs
// CHECK: %[[SLOT:.*]] = memref.subview %[[C]]
// CHECK: memref.copy %[[X]], %[[SLOT]]
// CHECK: %[[IN:.*]] = memref.extract_aligned_pointer_as_index %[[C]]
// CHECK: %[[OUT:.*]] = memref.extract_aligned_pointer_as_index %[[CO]]
// CHECK: %[[NE:.*]] = arith.cmpi ne, %[[IN]], %[[OUT]]
// CHECK: scf.if %[[NE]] {
// CHECK-NEXT: memref.copy %[[C]], %[[CO]]
// CHECK-NEXT: }
// CHECK-NEXT: memref.copy %{{.*}}, %[[SO]]
// CHECK-NEXT: memref.copy %{{.*}}, %[[PO]]
func.func @step(%x: tensor<1x4xf32> {lctx.input = "x"},
                %c: tensor<8x4xf32> {lctx.state = "cache"},
                %s: tensor<8x4xf32> {lctx.state = "sum"},
                %p: tensor<1xi64> {lctx.state = "pos"})
    -> (tensor<8x4xf32> {lctx.state = "cache"},
        tensor<8x4xf32> {lctx.state = "sum"},
        tensor<1xi64> {lctx.state = "pos"}) {
  %c0 = arith.constant 0 : index
  %i = tensor.extract %p[%c0] : tensor<1xi64>
  %idx = arith.index_cast %i : i64 to index
  %c2 = tensor.insert_slice %x into %c[%idx, 0] [1, 4] [1, 1]
      : tensor<1x4xf32> into tensor<8x4xf32>
  %e = tensor.empty() : tensor<8x4xf32>
  %s2 = linalg.add ins(%s, %c2 : tensor<8x4xf32>, tensor<8x4xf32>)
      outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %one = arith.constant 1 : i64
  %n = arith.addi %i, %one : i64
  %p2 = tensor.from_elements %n : tensor<1xi64>
  return %c2, %s2, %p2 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<1xi64>
}

