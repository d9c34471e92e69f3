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

// -----

// memory.update delta: sigma(K) once as a tensor of its own (three users, so
// elementwise fusion keeps it); the retrieval's numerator and denominator
// and M' are generics with plain multiply-add bodies (register-tiled
// contractions); the target V - retrieved is a named linalg.sub, which
// fusion does not fold into M'; z' sums along n with Dk innermost.
// CHECK-LABEL: func.func @update_delta
// CHECK: %[[SK:.+]] = linalg.generic {{.*}}ins(%arg0 : tensor<1x2x8x4xf32>)
// CHECK:   math.exp
// CHECK: linalg.generic {{.*}}ins(%[[SK]], %arg2 : {{.*}}) outs(%{{.+}} : tensor<1x2x8x6xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT:   arith.mulf
// CHECK-NEXT:   arith.addf
// CHECK-NEXT:   linalg.yield
// CHECK: linalg.generic {{.*}}ins(%[[SK]], %arg3 : {{.*}}) outs(%{{.+}} : tensor<1x2x8xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT:   arith.mulf
// CHECK-NEXT:   arith.addf
// CHECK: %[[T:.+]] = linalg.sub ins(%arg1, %{{.+}} : tensor<1x2x8x6xf32>, tensor<1x2x8x6xf32>)
// CHECK: %[[M:.+]] = linalg.generic {{.*}}ins(%[[SK]], %[[T]] : {{.*}}) outs(%arg2 : tensor<1x2x4x6xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT:   arith.mulf
// CHECK-NEXT:   arith.addf
// CHECK-NEXT:   linalg.yield
// CHECK: %[[Z:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%[[SK]] : {{.*}}) outs(%arg3 : tensor<1x2x4xf32>)
// CHECK: return %[[M]], %[[Z]]
func.func @update_delta(%k: tensor<1x2x8x4xf32>, %v: tensor<1x2x8x6xf32>, %m: tensor<1x2x4x6xf32>,
                        %z: tensor<1x2x4xf32>) -> (tensor<1x2x4x6xf32>, tensor<1x2x4xf32>) {
  %m1, %z1 = lctx.memory.update delta %k, %v, %m, %z
      : tensor<1x2x8x4xf32>, tensor<1x2x8x6xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>
  return %m1, %z1 : tensor<1x2x4x6xf32>, tensor<1x2x4xf32>
}

// -----

// memory.retrieve: sigma(Q) once, shared by the numerator and denominator
// contractions, then the guarded division.
// CHECK-LABEL: func.func @retrieve
// CHECK: %[[SQ:.+]] = linalg.generic {{.*}}ins(%arg0 : tensor<1x2x8x4xf32>)
// CHECK: linalg.generic {{.*}}ins(%[[SQ]], %arg1 : {{.*}})
// CHECK-NEXT: ^bb0
// CHECK-NEXT:   arith.mulf
// CHECK-NEXT:   arith.addf
// CHECK: linalg.generic {{.*}}ins(%[[SQ]], %arg2 : {{.*}})
// CHECK: arith.divf
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @retrieve(%q: tensor<1x2x8x4xf32>, %m: tensor<1x2x4x6xf32>,
                    %z: tensor<1x2x4xf32>) -> tensor<1x2x8x6xf32> {
  %a = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x4xf32>, tensor<1x2x4x6xf32>, tensor<1x2x4xf32>
  return %a : tensor<1x2x8x6xf32>
}
