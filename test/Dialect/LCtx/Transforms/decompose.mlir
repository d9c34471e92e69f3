// RUN: lctx-opt %s -split-input-file -lctx-decompose -verify-diagnostics | FileCheck %s
// RUN: lctx-opt %s -split-input-file -lctx-decompose="ops=route.moe" -verify-diagnostics | FileCheck %s --check-prefix=MOE-ONLY

// Tests of lctx-decompose: composite ops become exactly the primitive ops of
// their definition.

// T = 10, N = 4: a loop over the two full segments carrying (out, M, z), then
// a peeled static tail of 2 that starts from the loop's memory.
// CHECK-LABEL: func.func @memory_attention_tail
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<1x2x10x8xf32>, %[[K:[^:]+]]: tensor<1x2x10x8xf32>, %[[V:[^:]+]]: tensor<1x2x10x4xf32>, %[[M:[^:]+]]: tensor<1x2x8x4xf32>, %[[Z:[^:]+]]: tensor<1x2x8xf32>, %[[B:[^:]+]]: tensor<2xf32>)
// CHECK-NOT: lctx.memory.attention
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[N:.+]] = arith.constant 4 : index
// CHECK-DAG: %[[INIT:.+]] = tensor.empty() : tensor<1x2x10x4xf32>
// CHECK: %[[LOOP:.+]]:3 = scf.for %[[S:.+]] = %[[C0]] to %[[C2]] step %[[C1]] iter_args(%[[ACC:.+]] = %[[INIT]], %[[MI:.+]] = %[[M]], %[[ZI:.+]] = %[[Z]])
// CHECK:   %[[OFF:.+]] = arith.muli %[[S]], %[[N]]
// CHECK:   %[[QS:.+]] = tensor.extract_slice %[[Q]][0, 0, %[[OFF]], 0] [1, 2, 4, 8] [1, 1, 1, 1]
// CHECK:   %[[KS:.+]] = tensor.extract_slice %[[K]][0, 0, %[[OFF]], 0] [1, 2, 4, 8]
// CHECK:   %[[VS:.+]] = tensor.extract_slice %[[V]][0, 0, %[[OFF]], 0] [1, 2, 4, 4]
// CHECK:   %[[DOT:.+]] = lctx.attention %[[QS]], %[[KS]], %[[VS]] {rope_theta = 1.000000e+04 : f32, scale = 5.000000e-01 : f32}
// CHECK:   %[[MEM:.+]] = lctx.memory.retrieve %[[QS]], %[[MI]], %[[ZI]]
// CHECK:   %[[GATED:.+]] = lctx.memory.gate %[[MEM]], %[[DOT]], %[[B]]
// CHECK:   %[[NM:.+]], %[[NZ:.+]] = lctx.memory.update linear %[[KS]], %[[VS]], %[[MI]], %[[ZI]]
// CHECK:   %[[INS:.+]] = tensor.insert_slice %[[GATED]] into %[[ACC]][0, 0, %[[OFF]], 0] [1, 2, 4, 4]
// CHECK:   scf.yield %[[INS]], %[[NM]], %[[NZ]]
// CHECK: %[[QT:.+]] = tensor.extract_slice %[[Q]][0, 0, 8, 0] [1, 2, 2, 8]
// CHECK: lctx.attention %[[QT]]
// CHECK: lctx.memory.retrieve %[[QT]], %[[LOOP]]#1, %[[LOOP]]#2
// CHECK: lctx.memory.gate
// CHECK: %[[FM:.+]], %[[FZ:.+]] = lctx.memory.update linear {{.*}}, %[[LOOP]]#1, %[[LOOP]]#2
// CHECK: %[[OUT:.+]] = tensor.insert_slice {{.*}} into %[[LOOP]]#0[0, 0, 8, 0] [1, 2, 2, 4]
// CHECK: return %[[OUT]], %[[FM]], %[[FZ]]
func.func @memory_attention_tail(%q: tensor<1x2x10x8xf32>, %k: tensor<1x2x10x8xf32>,
                                 %v: tensor<1x2x10x4xf32>, %m: tensor<1x2x8x4xf32>,
                                 %z: tensor<1x2x8xf32>, %beta: tensor<2xf32>)
    -> (tensor<1x2x10x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8xf32>) {
  %o, %m1, %z1 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta
      {segment_size = 4 : i64, scale = 0.5 : f32, rope_theta = 10000.0 : f32}
      : tensor<1x2x10x8xf32>, tensor<1x2x10x8xf32>, tensor<1x2x10x4xf32>,
        tensor<1x2x8x4xf32>, tensor<1x2x8xf32>, tensor<2xf32>
  return %o, %m1, %z1 : tensor<1x2x10x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8xf32>
}

// -----

// T a multiple of N: a loop and no tail; the delta rule is kept.
// CHECK-LABEL: func.func @memory_attention_exact
// CHECK: scf.for
// CHECK:   lctx.memory.update delta
// CHECK: }
// CHECK-NOT: lctx.attention
// CHECK: return
func.func @memory_attention_exact(%q: tensor<2x1x8x4xf32>, %m: tensor<2x1x4x4xf32>,
                                  %z: tensor<2x1x4xf32>, %beta: tensor<1xf32>)
    -> tensor<2x1x8x4xf32> {
  %o, %m1, %z1 = lctx.memory.attention delta %q, %q, %q, %m, %z, %beta {segment_size = 4 : i64}
      : tensor<2x1x8x4xf32>, tensor<2x1x8x4xf32>, tensor<2x1x8x4xf32>,
        tensor<2x1x4x4xf32>, tensor<2x1x4xf32>, tensor<1xf32>
  return %o : tensor<2x1x8x4xf32>
}

// -----

// A sequence shorter than one segment: straight-line code, no loop.
// CHECK-LABEL: func.func @memory_attention_short
// CHECK-NOT: scf.for
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 0, 0] [1, 1, 3, 4]
// CHECK: lctx.attention
// CHECK: lctx.memory.retrieve
// CHECK: lctx.memory.gate
// CHECK: lctx.memory.update linear
func.func @memory_attention_short(%q: tensor<1x1x3x4xbf16>, %m: tensor<1x1x4x4xf32>,
                                  %z: tensor<1x1x4xf32>, %beta: tensor<1xbf16>)
    -> (tensor<1x1x3x4xbf16>, tensor<1x1x4x4xf32>) {
  %o, %m1, %z1 = lctx.memory.attention linear %q, %q, %q, %m, %z, %beta {segment_size = 4 : i64}
      : tensor<1x1x3x4xbf16>, tensor<1x1x3x4xbf16>, tensor<1x1x3x4xbf16>,
        tensor<1x1x4x4xf32>, tensor<1x1x4xf32>, tensor<1xbf16>
  return %o, %m1 : tensor<1x1x3x4xbf16>, tensor<1x1x4x4xf32>
}

// -----

// Dynamic T: one loop over ceil(T / N) segments whose size is min(N, T - off).
// CHECK-LABEL: func.func @memory_attention_dynamic
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<1x1x?x4xf32>
// CHECK-DAG: %[[N:.+]] = arith.constant 4 : index
// CHECK-DAG: %[[T:.+]] = tensor.dim %[[Q]], %{{.+}} : tensor<1x1x?x4xf32>
// CHECK: %[[CNT:.+]] = arith.ceildivui %[[T]], %[[N]] : index
// CHECK: scf.for %[[S:.+]] = %{{.+}} to %[[CNT]]
// CHECK:   %[[OFF:.+]] = arith.muli %[[S]], %[[N]]
// CHECK:   %[[REST:.+]] = arith.subi %[[T]], %[[OFF]]
// CHECK:   %[[SIZE:.+]] = arith.minsi %[[N]], %[[REST]]
// CHECK:   tensor.extract_slice %[[Q]][0, 0, %[[OFF]], 0] [1, 1, %[[SIZE]], 4]
// CHECK:   lctx.attention {{.*}} : tensor<1x1x?x4xf32>
func.func @memory_attention_dynamic(%q: tensor<1x1x?x4xf32>, %m: tensor<1x1x4x4xf32>,
                                    %z: tensor<1x1x4xf32>, %beta: tensor<1xf32>)
    -> tensor<1x1x?x4xf32> {
  %o, %m1, %z1 = lctx.memory.attention linear %q, %q, %q, %m, %z, %beta {segment_size = 4 : i64}
      : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>,
        tensor<1x1x4x4xf32>, tensor<1x1x4xf32>, tensor<1xf32>
  return %o : tensor<1x1x?x4xf32>
}

// -----

// route.moe: router, dispatch into [E, B*C, D] with C = max(1, floor(64*1.25/8))
// = 10 per row, the grouped FFN, and the gate-weighted combine; aux_loss comes
// from the router.
// CHECK-LABEL: func.func @route_moe
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[WR:[^:]+]]: tensor<32x8xf32>, %[[W1:[^:]+]]: tensor<8x32x128xf32>, %[[W2:[^:]+]]: tensor<8x128x32xf32>, %[[WG:[^:]+]]: tensor<8x32x128xf32>)
// CHECK: %[[E:.+]], %[[G:.+]], %[[S:.+]], %[[AUX:.+]] = lctx.route.experts %[[X]], %[[WR]] {aux_loss_coef = 1.000000e-03 : f64, capacity_factor = 1.250000e+00 : f64}
// CHECK: %[[BUF:.+]] = lctx.route.dispatch %[[X]], %[[E]], %[[S]] : {{.*}} -> tensor<8x20x32xf32>
// CHECK: %[[Y:.+]] = lctx.ffn swiglu %[[BUF]], %[[W1]], %[[W2]], %[[WG]]
// CHECK: %[[OUT:.+]] = lctx.route.combine %[[Y]], %[[E]], %[[S]], %[[G]]
// CHECK: return %[[OUT]], %[[AUX]]
// MOE-ONLY-LABEL: func.func @route_moe
// MOE-ONLY: lctx.route.experts
// MOE-ONLY: lctx.route.combine
func.func @route_moe(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>, %w1: tensor<8x32x128xf32>,
                     %w2: tensor<8x128x32xf32>, %wg: tensor<8x32x128xf32>)
    -> (tensor<2x64x32xf32>, tensor<f32>) {
  %y, %aux = lctx.route.moe swiglu %x, %wr, %w1, %w2, %wg
      {capacity_factor = 1.25 : f64, aux_loss_coef = 0.001 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>, tensor<8x32x128xf32>,
        tensor<8x128x32xf32>, tensor<8x32x128xf32>
  return %y, %aux : tensor<2x64x32xf32>, tensor<f32>
}

// -----

// Dropless: capacity is the whole row, so the buffer is [E, B*S, D].
// CHECK-LABEL: func.func @route_moe_dropless
// CHECK: lctx.route.experts {{.*}} {dropless}
// CHECK: lctx.route.dispatch {{.*}} -> tensor<4x16x8xf32>
// CHECK: lctx.ffn relu
func.func @route_moe_dropless(%x: tensor<1x16x8xf32>, %wr: tensor<8x4xf32>,
                              %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> tensor<1x16x8xf32> {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2 {dropless}
      : tensor<1x16x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
  return %y : tensor<1x16x8xf32>
}

// -----

// A dynamic token count leaves no static expert buffer size: the op stays
// fused and the pass says why.
// CHECK-LABEL: func.func @route_moe_dynamic
// CHECK: lctx.route.moe
func.func @route_moe_dynamic(%x: tensor<1x?x8xf32>, %wr: tensor<8x4xf32>,
                             %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
    -> tensor<1x?x8xf32> {
  // expected-remark @+1 {{left lctx.route.moe fused}}
  %y, %aux = lctx.route.moe gelu %x, %wr, %w1, %w2
      : tensor<1x?x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
  return %y : tensor<1x?x8xf32>
}

// -----

// With ops=route.moe, memory.attention is left alone.
// MOE-ONLY-LABEL: func.func @only_selected
// MOE-ONLY: lctx.memory.attention
func.func @only_selected(%q: tensor<1x1x8x4xf32>, %m: tensor<1x1x4x4xf32>,
                         %z: tensor<1x1x4xf32>, %beta: tensor<1xf32>)
    -> tensor<1x1x8x4xf32> {
  %o, %m1, %z1 = lctx.memory.attention linear %q, %q, %q, %m, %z, %beta {segment_size = 4 : i64}
      : tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x1x8x4xf32>,
        tensor<1x1x4x4xf32>, tensor<1x1x4xf32>, tensor<1xf32>
  return %o : tensor<1x1x8x4xf32>
}
