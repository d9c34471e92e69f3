// RUN: lctx-opt %s -split-input-file -convert-lctx-to-linalg | FileCheck %s

// memory.attention lowers fused: a loop over whole segments and a static
// tail, each running the tiled attention whose epilogue computes the memory
// retrieval (sigma(Q) M on the query tile) and the gate; no separate
// retrieve/gate ops and no full A_dot tensor are produced.
// CHECK-LABEL: func.func @fused
// CHECK-NOT: lctx.
// CHECK: scf.for {{.*}} to %c2
// CHECK:   tensor.extract_slice %{{.+}}[0, 0, %{{.+}}, 0] [1, 2, 4, 8]
// CHECK:   scf.for
// CHECK:     scf.for
// CHECK:       linalg.matmul_transpose_b
// CHECK:     math.exp
// CHECK:     linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<4x8xf32>, tensor<8x8xf32>)
// CHECK:     tensor.insert_slice
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 8, 0] [1, 2, 2, 8]
func.func @fused(%q: tensor<1x2x10x8xf32>, %m: tensor<1x2x8x8xf32>, %z: tensor<1x2x8xf32>,
                 %beta: tensor<2xf32>) -> (tensor<1x2x10x8xf32>, tensor<1x2x8x8xf32>) {
  %o, %m1, %z1 = lctx.memory.attention delta %q, %q, %q, %m, %z, %beta {segment_size = 4 : i64}
      : tensor<1x2x10x8xf32>, tensor<1x2x10x8xf32>, tensor<1x2x10x8xf32>,
        tensor<1x2x8x8xf32>, tensor<1x2x8xf32>, tensor<2xf32>
  return %o, %m1 : tensor<1x2x10x8xf32>, tensor<1x2x8x8xf32>
}
