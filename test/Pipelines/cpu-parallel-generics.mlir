// Multi-threaded generics: with at least `parallel-work` scalar operations
// (iteration points x body ops), the leading parallel dims that index the
// result become an scf.forall whose iterations own slices of the result;
// below it, with a leading reduction, or inside another forall, the loops
// stay sequential.
// RUN: lctx-opt %s --lctx-cpu-vectorize-generics="vl=16" --canonicalize --cse | FileCheck %s
// @scale does 1024 x 512 x 1 = 524288 operations: a forall at exactly that
// threshold, none one above it or with threads off.
// RUN: lctx-opt %s --lctx-cpu-vectorize-generics="vl=16 parallel-work=524288" | FileCheck %s --check-prefix=AT
// RUN: lctx-opt %s --lctx-cpu-vectorize-generics="vl=16 parallel-work=524289" | FileCheck %s --check-prefix=ABOVE
// RUN: lctx-opt %s --lctx-cpu-vectorize-generics="vl=16 parallel-work=0" | FileCheck %s --check-prefix=OFF

// 64 chunks of 16 rows; each iteration loops over its rows and writes them
// in its slice (row index relative to the slice).
// CHECK-LABEL: func.func @scale
// CHECK-NOT:     linalg.generic
// CHECK:         %[[PAR:.*]] = scf.forall (%[[IV:.*]]) in (64) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<1024x512xf32>) {
// CHECK:           %[[CHUNK:.*]] = arith.remui %[[IV]], %c64
// CHECK:           %[[R0:.*]] = arith.muli %[[CHUNK]], %c16
// CHECK:           %[[R1:.*]] = arith.addi %[[R0]], %c16
// CHECK:           %[[SLICE:.*]] = tensor.extract_slice %[[OUT]][%[[R0]], 0] [16, 512] [1, 1] : tensor<1024x512xf32> to tensor<16x512xf32>
// CHECK:           scf.for %[[I:.*]] = %[[R0]] to %[[R1]] step %c1 iter_args(%{{.*}} = %[[SLICE]]) -> (tensor<16x512xf32>)
// CHECK:             scf.for %[[J:.*]] = %c0 to %c512 step %c16
// CHECK:               vector.transfer_read %{{.*}}[%[[I]], %[[J]]]{{.*}} : tensor<1024x512xf32>, vector<16xf32>
// CHECK:               %[[LOCAL:.*]] = arith.subi %[[I]], %[[R0]]
// CHECK:               vector.transfer_write %{{.*}}, %{{.*}}[%[[LOCAL]], %[[J]]] {{.*}} : vector<16xf32>, tensor<16x512xf32>
// CHECK:           scf.forall.in_parallel {
// CHECK-NEXT:        tensor.parallel_insert_slice %{{.*}} into %[[OUT]][%[[R0]], 0] [16, 512] [1, 1] : tensor<16x512xf32> into tensor<1024x512xf32>
// CHECK:         return %[[PAR]]
// AT-LABEL:    func.func @scale
// AT:            scf.forall (
// ABOVE-LABEL: func.func @scale
// ABOVE-NOT:     scf.forall (
// ABOVE:         return
// OFF-LABEL:   func.func @scale
// OFF-NOT:     scf.forall (
func.func @scale(%a: tensor<1024x512xf32>, %b: tensor<512xf32>) -> tensor<1024x512xf32> {
  %e = tensor.empty() : tensor<1024x512xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<1024x512xf32>, tensor<512xf32>) outs(%e : tensor<1024x512xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %1 = arith.mulf %x, %y : f32
    linalg.yield %1 : f32
  } -> tensor<1024x512xf32>
  return %r : tensor<1024x512xf32>
}

// Too little work: plain loops.
// CHECK-LABEL: func.func @small
// CHECK-NOT:     scf.forall (
// CHECK:         return
func.func @small(%a: tensor<32x64xf32>, %b: tensor<64xf32>) -> tensor<32x64xf32> {
  %e = tensor.empty() : tensor<32x64xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<32x64xf32>, tensor<64xf32>) outs(%e : tensor<32x64xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %1 = arith.mulf %x, %y : f32
    linalg.yield %1 : f32
  } -> tensor<32x64xf32>
  return %r : tensor<32x64xf32>
}

// Row sums: the batch dim (2) gives too few iterations, so the forall is
// over (batch, chunk of 10 rows); each row's reduction stays in one
// iteration.
// CHECK-LABEL: func.func @row_sum
// CHECK:         scf.forall (%[[IV:.*]]) in (60) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<2x300xf32>) {
// CHECK:           %[[CHUNK:.*]] = arith.remui %[[IV]], %c30
// CHECK:           %[[REST:.*]] = arith.divui %[[IV]], %c30
// CHECK:           %[[B:.*]] = arith.remui %[[REST]], %c2
// CHECK:           %[[R0:.*]] = arith.muli %[[CHUNK]], %c10
// CHECK:           %[[SLICE:.*]] = tensor.extract_slice %[[OUT]][%[[B]], %[[R0]]] [1, 10] [1, 1] : tensor<2x300xf32> to tensor<1x10xf32>
// CHECK:           scf.for %[[I:.*]] = %[[R0]] to %{{.*}} step %c1 iter_args(%[[ACC:.*]] = %[[SLICE]])
// CHECK:             %[[LOCAL:.*]] = arith.subi %[[I]], %[[R0]]
// CHECK:             tensor.extract %[[ACC]][%c0, %[[LOCAL]]] : tensor<1x10xf32>
// CHECK:             scf.for {{.*}} -> (vector<16xf32>)
// CHECK:               vector.transfer_read %{{.*}}[%[[B]], %[[I]], %{{.*}}]
// CHECK:             vector.reduction <add>
// CHECK:             tensor.insert %{{.*}} into %[[ACC]][%c0, %[[LOCAL]]] : tensor<1x10xf32>
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %[[OUT]][%[[B]], %[[R0]]] [1, 10] [1, 1] : tensor<1x10xf32> into tensor<2x300xf32>
func.func @row_sum(%a: tensor<2x300x1000xf32>, %init: tensor<2x300xf32>) -> tensor<2x300xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a : tensor<2x300x1000xf32>) outs(%init : tensor<2x300xf32>) {
  ^bb0(%x: f32, %o: f32):
    %1 = arith.addf %o, %x : f32
    linalg.yield %1 : f32
  } -> tensor<2x300xf32>
  return %r : tensor<2x300xf32>
}

// 301 rows in chunks of 5: the last chunk has one row, a dynamic slice.
// CHECK-LABEL: func.func @ragged
// CHECK:         scf.forall (%{{.*}}) in (61)
// CHECK:           %[[END:.*]] = arith.minsi %{{.*}}, %c301
// CHECK:           %[[ROWS:.*]] = arith.subi %[[END]], %[[R0:.*]] :
// CHECK:           tensor.extract_slice %{{.*}}[%[[R0]], 0] [%[[ROWS]], 1000] [1, 1] : tensor<301x1000xf32> to tensor<?x1000xf32>
func.func @ragged(%a: tensor<301x1000xf32>) -> tensor<301x1000xf32> {
  %e = tensor.empty() : tensor<301x1000xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<301x1000xf32>) outs(%e : tensor<301x1000xf32>) {
  ^bb0(%x: f32, %o: f32):
    %1 = math.exp %x : f32
    linalg.yield %1 : f32
  } -> tensor<301x1000xf32>
  return %r : tensor<301x1000xf32>
}

// The leading dim is a reduction (column sums): sequential.
// CHECK-LABEL: func.func @column_sum
// CHECK-NOT:     scf.forall (
// CHECK:         return
func.func @column_sum(%a: tensor<1000x600xf32>, %init: tensor<600xf32>) -> tensor<600xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>], iterator_types = ["reduction", "parallel"]}
      ins(%a : tensor<1000x600xf32>) outs(%init : tensor<600xf32>) {
  ^bb0(%x: f32, %o: f32):
    %1 = arith.addf %o, %x : f32
    linalg.yield %1 : f32
  } -> tensor<600xf32>
  return %r : tensor<600xf32>
}

// Inside a forall: no nested forall.
// OFF-LABEL:   func.func @nested
// CHECK-LABEL: func.func @nested
// CHECK:         scf.forall (
// CHECK-NOT:     scf.forall (
// CHECK:         return
func.func @nested(%a: tensor<2x1024x512xf32>, %init: tensor<2x1024x512xf32>) -> tensor<2x1024x512xf32> {
  %r = scf.forall (%i) in (2) shared_outs(%o = %init) -> (tensor<2x1024x512xf32>) {
    %x = tensor.extract_slice %a[%i, 0, 0] [1, 1024, 512] [1, 1, 1] : tensor<2x1024x512xf32> to tensor<1024x512xf32>
    %e = tensor.empty() : tensor<1024x512xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
        ins(%x : tensor<1024x512xf32>) outs(%e : tensor<1024x512xf32>) {
    ^bb0(%v: f32, %w: f32):
      %1 = arith.mulf %v, %v : f32
      linalg.yield %1 : f32
    } -> tensor<1024x512xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %y into %o[%i, 0, 0] [1, 1024, 512] [1, 1, 1] : tensor<1024x512xf32> into tensor<2x1024x512xf32>
    }
  }
  return %r : tensor<2x1024x512xf32>
}
