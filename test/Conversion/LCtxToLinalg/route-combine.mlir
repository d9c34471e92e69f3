// RUN: lctx-opt %s --convert-lctx-to-linalg | FileCheck %s

// route.combine copies one expert-buffer row per token, scaled by its gate
// (0 for a dropped token): batch rows on the thread pool (scf.forall), a
// loop over tokens, and one [D]-wide generic per row; no per-element gather
// of the [E, B*C, D] buffer.
// CHECK-LABEL: func.func @combine
// CHECK: scf.forall (%[[B:.+]]) in (2)
// CHECK: scf.for
// CHECK: tensor.extract_slice %{{.+}}[%{{.+}}, %{{.+}}, 0] [1, 1, 32] [1, 1, 1] : tensor<8x32x32xf32> to tensor<32xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK:   arith.mulf
// CHECK:   arith.select
// CHECK: tensor.parallel_insert_slice
func.func @combine(%out: tensor<8x32x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x64xi32>,
                   %g: tensor<2x64xf32>) -> tensor<2x64x32xf32> {
  %r = lctx.route.combine %out, %e, %s, %g : tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<2x64xf32>
  return %r : tensor<2x64x32xf32>
}
