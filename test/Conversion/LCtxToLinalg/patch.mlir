// RUN: lctx-opt %s -split-input-file -convert-lctx-to-linalg | FileCheck %s

// patch.embed is an index-driven gather (pad patch at k = 0).
// CHECK-LABEL: func.func @embed
// CHECK: linalg.generic {{.*}}outs(%{{.+}} : tensor<2x3x32xf32>)
// CHECK:   linalg.index 2
// CHECK:   arith.divui
// CHECK:   tensor.extract %{{.+}} : tensor<2x12xi32>
// CHECK:   tensor.extract %{{.+}} : tensor<4x8xf32>
func.func @embed(%ids: tensor<2x12xi32>, %t: tensor<256x8xf32>, %pad: tensor<4x8xf32>) -> tensor<2x3x32xf32> {
  %0 = lctx.patch.embed %ids, %t, %pad {patch_size = 4 : i64} : tensor<2x12xi32>, tensor<256x8xf32>, tensor<4x8xf32>
  return %0 : tensor<2x3x32xf32>
}

// -----

// patch.to_local: slots [B*K*P, D_G] through the one shared w_GL, then the
// previous byte's local embedding.
// CHECK-LABEL: func.func @to_local
// CHECK: tensor.expand_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] output_shape [2, 3, 4, 8]
// CHECK: tensor.collapse_shape %{{.+}} {{\[\[}}0, 1, 2], [3]] : tensor<2x3x4x8xf32> into tensor<24x8xf32>
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<24x8xf32>, tensor<8x16xf32>)
// CHECK: tensor.expand_shape %{{.+}} {{\[\[}}0, 1], [2]] output_shape [6, 4, 16]
// CHECK: linalg.generic
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
