// RUN: lctx-opt %s --lctx-dealloc-forall-locals | FileCheck %s

// MLIR 19's ownership-based deallocation leaves a buffer allocated directly
// in an scf.forall body without a dealloc, so every iteration leaked it
// (whole-model prefills grew by 20-40 MB per call). The pass frees it
// before the body's terminator.
// CHECK-LABEL: func.func @local
// CHECK:         scf.forall
// CHECK:           %[[A:.*]] = memref.alloc() : memref<16xf32>
// CHECK:           %[[B:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK:           linalg.copy
// CHECK-NEXT:      memref.dealloc %[[A]]
// CHECK-NEXT:      memref.dealloc %[[B]]
func.func @local(%out: memref<4x16xf32>, %n: index) {
  %cst = arith.constant 1.0 : f32
  scf.forall (%i) in (4) {
    %a = memref.alloc() : memref<16xf32>
    %b = memref.alloc(%n) : memref<?xf32>
    linalg.fill ins(%cst : f32) outs(%b : memref<?xf32>)
    %v = memref.subview %a[0] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1]>>
    linalg.fill ins(%cst : f32) outs(%v : memref<8xf32, strided<[1]>>)
    %row = memref.subview %out[%i, 0] [1, 16] [1, 1] : memref<4x16xf32> to memref<16xf32, strided<[1], offset: ?>>
    linalg.copy ins(%a : memref<16xf32>) outs(%row : memref<16xf32, strided<[1], offset: ?>>)
  }
  return
}

// Left alone: a buffer already freed, one carried by a loop (it may be
// freed or escape there), and a buffer outside any forall.
// CHECK-LABEL: func.func @untouched
// CHECK-COUNT-1: memref.dealloc
// CHECK-NOT:     memref.dealloc
func.func @untouched(%out: memref<4x16xf32>, %n: index) {
  %cst = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %outer = memref.alloc() : memref<16xf32>
  linalg.fill ins(%cst : f32) outs(%outer : memref<16xf32>)
  scf.forall (%i) in (4) {
    %a = memref.alloc() : memref<16xf32>
    linalg.fill ins(%cst : f32) outs(%a : memref<16xf32>)
    memref.dealloc %a : memref<16xf32>
    %b = memref.alloc() : memref<16xf32>
    %r = scf.for %j = %c0 to %n step %c1 iter_args(%it = %b) -> memref<16xf32> {
      scf.yield %it : memref<16xf32>
    }
    %row = memref.subview %out[%i, 0] [1, 16] [1, 1] : memref<4x16xf32> to memref<16xf32, strided<[1], offset: ?>>
    linalg.copy ins(%r : memref<16xf32>) outs(%row : memref<16xf32, strided<[1], offset: ?>>)
  }
  return
}
