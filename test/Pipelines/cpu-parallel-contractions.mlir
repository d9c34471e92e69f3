// Multi-threaded contractions: at or above `parallel-flops` FLOPs, the
// register-tiled loops of each large enough region run in an scf.forall
// whose iterations own disjoint blocks of C (extract_slice, then
// parallel_insert_slice); below it, and inside another forall, they stay
// sequential.
// RUN: lctx-opt %s --lctx-cpu-contraction-codegen="mr=6 nr=64 mc=120 nc=128 kc=256" --canonicalize --cse | FileCheck %s
// @big does 2 * 256^3 = 33554432 FLOPs: a forall at exactly that threshold,
// none one FLOP above it or with threads off.
// RUN: lctx-opt %s --lctx-cpu-contraction-codegen="mr=6 nr=64 mc=120 nc=128 kc=256 parallel-flops=33554432" | FileCheck %s --check-prefix=AT
// RUN: lctx-opt %s --lctx-cpu-contraction-codegen="mr=6 nr=64 mc=120 nc=128 kc=256 parallel-flops=33554433" | FileCheck %s --check-prefix=ABOVE
// RUN: lctx-opt %s --lctx-cpu-contraction-codegen="mr=6 nr=64 mc=120 nc=128 kc=256 parallel-flops=0" | FileCheck %s --check-prefix=OFF

// 256 x 256 x 256: rows [0, 252) in 6-row tiles are 2 N blocks x 3 M chunks
// of 120 rows (the last one 12 rows: a dynamic slice); the 4 remainder rows
// are too little work and stay sequential. The zero fill is folded, so the
// forall starts from an empty tensor.
// CHECK-LABEL: func.func @big
// CHECK-NOT:     linalg.matmul
// CHECK:         %[[EMPTY:.*]] = tensor.empty() : tensor<256x256xf32>
// CHECK:         %[[PAR:.*]] = scf.forall (%[[IV:.*]]) in (6) shared_outs(%[[C:.*]] = %[[EMPTY]]) -> (tensor<256x256xf32>) {
// CHECK:           %[[MI:.*]] = arith.remui %[[IV]], %c3
// CHECK:           %[[REST:.*]] = arith.divui %[[IV]], %c3
// CHECK:           %[[NI:.*]] = arith.remui %[[REST]], %c2
// CHECK:           %[[R0:.*]] = arith.muli %[[MI]], %c120
// CHECK:           %[[REND:.*]] = arith.minsi %{{.*}}, %c252
// CHECK:           %[[ROWS:.*]] = arith.subi %[[REND]], %[[R0]]
// CHECK:           %[[C0:.*]] = arith.muli %[[NI]], %c128
// CHECK:           %[[BLOCK:.*]] = tensor.extract_slice %[[C]][%[[R0]], %[[C0]]] [%[[ROWS]], 128] [1, 1] : tensor<256x256xf32> to tensor<?x128xf32>
// CHECK:           scf.for {{.*}} iter_args(%{{.*}} = %[[BLOCK]]) -> (tensor<?x128xf32>)
// CHECK:             vector.fma
// CHECK:             vector.transfer_write {{.*}} : vector<16xf32>, tensor<?x128xf32>
// CHECK:           scf.forall.in_parallel {
// CHECK-NEXT:        tensor.parallel_insert_slice %{{.*}} into %[[C]][%[[R0]], %[[C0]]] [%[[ROWS]], 128] [1, 1] : tensor<?x128xf32> into tensor<256x256xf32>
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[PAR]]) -> (tensor<256x256xf32>)
// CHECK-NOT:     scf.forall (
// CHECK:         return
// AT-LABEL:    func.func @big
// AT:            scf.forall (
// ABOVE-LABEL: func.func @big
// ABOVE-NOT:     scf.forall (
// ABOVE:         return
// OFF-LABEL:   func.func @big
// OFF-NOT:     scf.forall (
func.func @big(%a: tensor<256x256xf32>, %b: tensor<256x256xf32>) -> tensor<256x256xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<256x256xf32>
  %c = linalg.fill ins(%z : f32) outs(%e : tensor<256x256xf32>) -> tensor<256x256xf32>
  %r = linalg.matmul ins(%a, %b : tensor<256x256xf32>, tensor<256x256xf32>) outs(%c : tensor<256x256xf32>) -> tensor<256x256xf32>
  return %r : tensor<256x256xf32>
}

// 2 * 64^3 FLOPs is below the default threshold: plain loops.
// CHECK-LABEL: func.func @small
// CHECK-NOT:     scf.forall (
// CHECK:         return
func.func @small(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %r : tensor<64x64xf32>
}

// Batch x N blocks (4 x 2, the last N block 64 wide); every iteration owns
// one batch index, all 96 rows, and reads C (no fill) from its slice.
// CHECK-LABEL: func.func @batch
// CHECK:         scf.forall (%[[IV:.*]]) in (8) shared_outs(%[[C:.*]] = %{{.*}}) -> (tensor<4x96x192xf32>) {
// CHECK:           %[[NI:.*]] = arith.remui %[[IV]], %c2
// CHECK:           %[[REST:.*]] = arith.divui %[[IV]], %c2
// CHECK:           %[[BI:.*]] = arith.remui %[[REST]], %c4
// CHECK:           %[[N0:.*]] = arith.muli %[[NI]], %c128
// CHECK:           %[[NEND:.*]] = arith.minsi %{{.*}}, %c192
// CHECK:           %[[COLS:.*]] = arith.subi %[[NEND]], %[[N0]]
// CHECK:           %[[BLOCK:.*]] = tensor.extract_slice %[[C]][%[[BI]], 0, %[[N0]]] [1, 96, %[[COLS]]] [1, 1, 1] : tensor<4x96x192xf32> to tensor<1x96x?xf32>
// CHECK:           scf.for {{.*}} iter_args(%{{.*}} = %[[BLOCK]]) -> (tensor<1x96x?xf32>)
// CHECK:             vector.transfer_read %{{.*}}[%c0, %{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x96x?xf32>, vector<16xf32>
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %[[C]][%[[BI]], 0, %[[N0]]] [1, 96, %[[COLS]]] [1, 1, 1]
func.func @batch(%a: tensor<4x96x128xf32>, %b: tensor<4x128x192xf32>, %c: tensor<4x96x192xf32>) -> tensor<4x96x192xf32> {
  %r = linalg.batch_matmul ins(%a, %b : tensor<4x96x128xf32>, tensor<4x128x192xf32>) outs(%c : tensor<4x96x192xf32>) -> tensor<4x96x192xf32>
  return %r : tensor<4x96x192xf32>
}

// Inside a forall (attention's tiles), no nested forall.
// OFF-LABEL:   func.func @nested
// CHECK-LABEL: func.func @nested
// CHECK:         scf.forall (
// CHECK-NOT:     scf.forall (
// CHECK:         return
func.func @nested(%a: tensor<2x256x256xf32>, %b: tensor<256x256xf32>, %init: tensor<2x256x256xf32>) -> tensor<2x256x256xf32> {
  %r = scf.forall (%i) in (2) shared_outs(%o = %init) -> (tensor<2x256x256xf32>) {
    %x = tensor.extract_slice %a[%i, 0, 0] [1, 256, 256] [1, 1, 1] : tensor<2x256x256xf32> to tensor<256x256xf32>
    %y = tensor.extract_slice %o[%i, 0, 0] [1, 256, 256] [1, 1, 1] : tensor<2x256x256xf32> to tensor<256x256xf32>
    %m = linalg.matmul ins(%x, %b : tensor<256x256xf32>, tensor<256x256xf32>) outs(%y : tensor<256x256xf32>) -> tensor<256x256xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %m into %o[%i, 0, 0] [1, 256, 256] [1, 1, 1] : tensor<256x256xf32> into tensor<2x256x256xf32>
    }
  }
  return %r : tensor<2x256x256xf32>
}
