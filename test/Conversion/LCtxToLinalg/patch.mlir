// RUN: lctx-opt %s -split-input-file -convert-lctx-to-linalg | FileCheck %s

// patch.embed copies whole rows straight into the output [B, K, P*D_G]:
// a loop over the embedded bytes (byte t of batch b from table[ids[b, t -
// P]] into out[b, t / P, (t % P) * D_G :+ D_G]), then a loop over the pad
// rows; each row is one vectorizable generic on a [D_G] slice, and no
// reshape follows (the result is the loops' tensor).
// CHECK-LABEL: func.func @embed
// CHECK: %[[E:.+]] = scf.for %{{.+}} = %c0 to %c16 step %c1 iter_args(%{{.+}} = %{{.+}}) -> (tensor<2x3x32xf32>)
// CHECK:   tensor.extract %{{.+}} : tensor<2x12xi32>
// CHECK:   tensor.extract_slice %{{.+}}[%{{.+}}, 0] [1, 8] [1, 1] : tensor<256x8xf32> to tensor<8xf32>
// CHECK:   linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK:   tensor.insert_slice %{{.+}} into %{{.+}}[%{{.+}}, %{{.+}}, %{{.+}}] [1, 1, 8] [1, 1, 1] : tensor<8xf32> into tensor<2x3x32xf32>
// CHECK: %[[P:.+]] = scf.for %{{.+}} = %c0 to %c8 step %c1 iter_args(%{{.+}} = %[[E]])
// CHECK:   tensor.extract_slice %{{.+}}[%{{.+}}, 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<8xf32>
// CHECK: return %[[P]]
func.func @embed(%ids: tensor<2x12xi32>, %t: tensor<256x8xf32>, %pad: tensor<4x8xf32>) -> tensor<2x3x32xf32> {
  %0 = lctx.patch.embed %ids, %t, %pad {patch_size = 4 : i64} : tensor<2x12xi32>, tensor<256x8xf32>, tensor<4x8xf32>
  return %0 : tensor<2x3x32xf32>
}

// -----

// patch.to_local: the one shared projection, slots [B*K*P, D_G] (a
// tensor.reshape of the global output) x w_GL, then one loop writing each
// output row: the previous byte's local embedding from [local_pad;
// local_table] (row 0 at slot 0) plus the projected row.
// CHECK-LABEL: func.func @to_local
// CHECK: %[[SLOTS:.+]] = tensor.reshape %{{.+}}(%{{.+}}) : (tensor<2x3x32xf32>, tensor<2xi64>) -> tensor<24x8xf32>
// CHECK: %[[PROJ:.+]] = linalg.matmul ins(%[[SLOTS]], %{{.+}} : tensor<24x8xf32>, tensor<8x16xf32>) outs(%{{.+}} : tensor<24x16xf32>)
// CHECK: tensor.insert_slice %{{.+}} into %{{.+}}[0, 0] [1, 16] [1, 1] : tensor<1x16xf32> into tensor<257x16xf32>
// CHECK: %[[BOTH:.+]] = tensor.insert_slice %arg3 into %{{.+}}[1, 0] [256, 16] [1, 1] : tensor<256x16xf32> into tensor<257x16xf32>
// CHECK: %[[OUT:.+]] = scf.for %[[R:.+]] = %c0 to %c24 step %c1 iter_args(%{{.+}} = %{{.+}}) -> (tensor<6x4x16xf32>)
// CHECK:   tensor.extract %{{.+}} : tensor<2x12xi32>
// CHECK:   tensor.extract_slice %[[BOTH]][%{{.+}}, 0] [1, 16] [1, 1] : tensor<257x16xf32> to tensor<16xf32>
// CHECK:   tensor.extract_slice %[[PROJ]][%[[R]], 0] [1, 16] [1, 1] : tensor<24x16xf32> to tensor<16xf32>
// CHECK:   linalg.generic
// CHECK:     arith.addf
// CHECK: return %[[OUT]]
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
