// RUN: lctx-opt %s -split-input-file -convert-lctx-to-linalg | FileCheck %s

// patch.embed copies whole rows: a loop over the embedded bytes (row
// (b, t) of the [B*T, D_G] rows from table[ids[b, t - P]]), then a loop over
// the pad rows; each row is one vectorizable generic on a [D_G] slice.
// CHECK-LABEL: func.func @embed
// CHECK: scf.for %{{.+}} = %c0 to %c16 step %c1 iter_args(%{{.+}} = %{{.+}}) -> (tensor<24x8xf32>)
// CHECK:   tensor.extract %{{.+}} : tensor<2x12xi32>
// CHECK:   tensor.extract_slice %{{.+}}[%{{.+}}, 0] [1, 8] [1, 1] : tensor<256x8xf32> to tensor<8xf32>
// CHECK:   linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK:   tensor.insert_slice %{{.+}} into %{{.+}}[%{{.+}}, 0] [1, 8] [1, 1] : tensor<8xf32> into tensor<24x8xf32>
// CHECK: scf.for %{{.+}} = %c0 to %c8 step %c1
// CHECK:   tensor.extract_slice %{{.+}}[%{{.+}}, 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<8xf32>
// CHECK: tensor.collapse_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] : tensor<2x3x4x8xf32> into tensor<2x3x32xf32>
func.func @embed(%ids: tensor<2x12xi32>, %t: tensor<256x8xf32>, %pad: tensor<4x8xf32>) -> tensor<2x3x32xf32> {
  %0 = lctx.patch.embed %ids, %t, %pad {patch_size = 4 : i64} : tensor<2x12xi32>, tensor<256x8xf32>, tensor<4x8xf32>
  return %0 : tensor<2x3x32xf32>
}

// -----

// patch.to_local: the previous byte's local embedding (local_pad at slot 0,
// from the [0; local_pad] addend rows) is gathered row by row into the
// accumulator of the one shared projection, slots [B*K*P, D_G] x w_GL; the
// reshapes are tensor.reshape, so the matmul keeps its [B*K*P, D_L] rows.
// CHECK-LABEL: func.func @to_local
// CHECK: %[[SLOTS:.+]] = tensor.reshape %{{.+}}(%{{.+}}) : (tensor<2x3x32xf32>, tensor<2xi64>) -> tensor<24x8xf32>
// CHECK: %[[PREV:.+]] = scf.for %{{.+}} = %c0 to %c24 step %c1
// CHECK:   tensor.extract %{{.+}} : tensor<2x12xi32>
// CHECK:   tensor.extract_slice %{{.+}} : tensor<256x16xf32> to tensor<16xf32>
// CHECK:   tensor.extract_slice %{{.+}} : tensor<2x16xf32> to tensor<16xf32>
// CHECK:   linalg.generic
// CHECK:     arith.addf
// CHECK: %[[PROJ:.+]] = linalg.matmul ins(%[[SLOTS]], %{{.+}} : tensor<24x8xf32>, tensor<8x16xf32>) outs(%[[PREV]] : tensor<24x16xf32>)
// CHECK: tensor.reshape %[[PROJ]](%{{.+}}) : (tensor<24x16xf32>, tensor<3xi64>) -> tensor<6x4x16xf32>
func.func @to_local(%g: tensor<2x3x32xf32>, %w: tensor<8x16xf32>, %ids: tensor<2x12xi32>,
                    %t: tensor<256x16xf32>, %p: tensor<16xf32>) -> tensor<6x4x16xf32> {
  %0 = lctx.patch.to_local %g, %w, %ids, %t, %p {patch_size = 4 : i64}
      : tensor<2x3x32xf32>, tensor<8x16xf32>, tensor<2x12xi32>, tensor<256x16xf32>, tensor<16xf32>
  return %0 : tensor<6x4x16xf32>
}

// -----

// patch.merge is a pure reshape.
// CHECK-LABEL: func.func @merge
// CHECK: tensor.collapse_shape %{{.+}} {{\[\[}}0, 1], [2]] : tensor<6x4x16xf32> into tensor<24x16xf32>
// CHECK: tensor.expand_shape %{{.+}} {{\[\[}}0, 1], [2]] output_shape [2, 12, 16]
// CHECK-NOT: linalg.generic
func.func @merge(%x: tensor<6x4x16xf32>) -> tensor<2x12x16xf32> {
  %0 = lctx.patch.merge %x : tensor<6x4x16xf32> -> tensor<2x12x16xf32>
  return %0 : tensor<2x12x16xf32>
}
