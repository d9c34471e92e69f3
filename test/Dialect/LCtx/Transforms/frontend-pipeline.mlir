// RUN: lctx-opt %s -lctx-frontend-pipeline | FileCheck %s
// RUN: lctx-opt %s -lctx-frontend-pipeline='decompose=false' | FileCheck %s --check-prefix=FUSED

// lctx-frontend-pipeline: decomposition followed by canonicalization and CSE.
// With q == k == v the three segment slices are one value after CSE, and a
// single full segment (T == N) needs no loop.
// CHECK-LABEL: func.func @self_attention_one_segment
// CHECK-SAME: (%[[X:[^:]+]]: tensor<1x2x8x4xf32>
// CHECK-NOT: scf.for
// CHECK-NOT: tensor.extract_slice
// CHECK: %[[DOT:.+]] = lctx.attention %[[X]], %[[X]], %[[X]] :
// CHECK: %[[MEM:.+]] = lctx.memory.retrieve %[[X]],
// CHECK: %[[OUT:.+]] = lctx.memory.gate %[[MEM]], %[[DOT]],
// CHECK: %[[M:.+]], %[[Z:.+]] = lctx.memory.update linear %[[X]], %[[X]],
// CHECK: return %[[OUT]], %[[M]], %[[Z]]
// FUSED-LABEL: func.func @self_attention_one_segment
// FUSED: lctx.memory.attention linear
func.func @self_attention_one_segment(%x: tensor<1x2x8x4xf32>, %m: tensor<1x2x4x4xf32>,
                                      %z: tensor<1x2x4xf32>, %beta: tensor<2xf32>)
    -> (tensor<1x2x8x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4xf32>) {
  %o, %m1, %z1 = lctx.memory.attention linear %x, %x, %x, %m, %z, %beta {segment_size = 8 : i64}
      : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>,
        tensor<1x2x4x4xf32>, tensor<1x2x4xf32>, tensor<2xf32>
  return %o, %m1, %z1 : tensor<1x2x8x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4xf32>
}

// Dead results of a pure op are removed: only the routing survives when the
// MoE output is unused but the aux loss is returned.
// CHECK-LABEL: func.func @moe_only_aux_used
// CHECK: %{{.+}}, %{{.+}}, %{{.+}}, %[[AUX:.+]] = lctx.route.experts
// CHECK-NOT: lctx.route.dispatch
// CHECK-NOT: lctx.ffn
// CHECK: return %[[AUX]]
func.func @moe_only_aux_used(%x: tensor<1x16x8xf32>, %wr: tensor<8x4xf32>,
                             %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> tensor<f32> {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<1x16x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
  return %aux : tensor<f32>
}
