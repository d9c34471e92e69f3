// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.attention: default and explicit attributes, grouped-query
// heads, explicit positions, decode-shaped and dynamic operands, bf16/f16.

// Plain causal MHA: default attributes print as nothing, result is [B, H, Tq, Dv].
// CHECK-LABEL: func.func @mha_defaults
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<1x4x128x32xf32>, %[[K:[^:]+]]: tensor<1x4x128x32xf32>,
// CHECK-SAME: %[[V:[^:]+]]: tensor<1x4x128x32xf32>)
// CHECK: %[[R:.+]] = lctx.attention %[[Q]], %[[K]], %[[V]] :
// CHECK-SAME: tensor<1x4x128x32xf32>, tensor<1x4x128x32xf32>, tensor<1x4x128x32xf32>{{$}}
// CHECK: return %[[R]] : tensor<1x4x128x32xf32>
func.func @mha_defaults(%q: tensor<1x4x128x32xf32>, %k: tensor<1x4x128x32xf32>,
                        %v: tensor<1x4x128x32xf32>) -> tensor<1x4x128x32xf32> {
  %0 = lctx.attention %q, %k, %v
      : tensor<1x4x128x32xf32>, tensor<1x4x128x32xf32>, tensor<1x4x128x32xf32>
  return %0 : tensor<1x4x128x32xf32>
}

// An explicit `causal = true` equals the default and is elided when printed.
// CHECK-LABEL: func.func @causal_true_elided
// CHECK: lctx.attention %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} : tensor<1x2x8x16xf32>
// CHECK-NOT: causal
// CHECK: return
func.func @causal_true_elided(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>,
                              %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %0 = lctx.attention %q, %k, %v {causal = true}
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return %0 : tensor<1x2x8x16xf32>
}

// Every attribute set (Megalodon chunked form): all four are kept.
// CHECK-LABEL: func.func @all_attributes
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<1x4x128x32xf32>, %[[K:[^:]+]]: tensor<1x4x128x32xf32>,
// CHECK-SAME: %[[V:[^:]+]]: tensor<1x4x128x32xf32>)
// CHECK: %[[R:.+]] = lctx.attention %[[Q]], %[[K]], %[[V]]
// CHECK-SAME: {causal = false, chunk_size = 64 : i64, rope_theta = 1.000000e+04 : f32, scale = 1.000000e+00 : f32}
// CHECK: return %[[R]] : tensor<1x4x128x32xf32>
func.func @all_attributes(%q: tensor<1x4x128x32xf32>, %k: tensor<1x4x128x32xf32>,
                          %v: tensor<1x4x128x32xf32>) -> tensor<1x4x128x32xf32> {
  %0 = lctx.attention %q, %k, %v
      {causal = false, chunk_size = 64 : i64, scale = 1.0 : f32, rope_theta = 1.0e+04 : f32}
      : tensor<1x4x128x32xf32>, tensor<1x4x128x32xf32>, tensor<1x4x128x32xf32>
  return %0 : tensor<1x4x128x32xf32>
}

// Grouped-query attention (H = 8, Hkv = 2) with Dv != Dh: result is [1, 8, 16, 24].
// CHECK-LABEL: func.func @gqa_value_dim
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<1x8x16x32xf32>, %[[K:[^:]+]]: tensor<1x2x16x32xf32>,
// CHECK-SAME: %[[V:[^:]+]]: tensor<1x2x16x24xf32>)
// CHECK-SAME: -> tensor<1x8x16x24xf32>
// CHECK: %[[R:.+]] = lctx.attention %[[Q]], %[[K]], %[[V]] :
// CHECK-SAME: tensor<1x8x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16x24xf32>
// CHECK: return %[[R]] : tensor<1x8x16x24xf32>
func.func @gqa_value_dim(%q: tensor<1x8x16x32xf32>, %k: tensor<1x2x16x32xf32>,
                         %v: tensor<1x2x16x24xf32>) -> tensor<1x8x16x24xf32> {
  %0 = lctx.attention %q, %k, %v
      : tensor<1x8x16x32xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16x24xf32>
  return %0 : tensor<1x8x16x24xf32>
}

// Decode step: one causal query over a 256-entry KV cache (Tq < Tk is fine).
// CHECK-LABEL: func.func @decode_step
// CHECK: %[[R:.+]] = lctx.attention {{.*}} :
// CHECK-SAME: tensor<2x4x1x64xf16>, tensor<2x4x256x64xf16>, tensor<2x4x256x64xf16>
// CHECK: return %[[R]] : tensor<2x4x1x64xf16>
func.func @decode_step(%q: tensor<2x4x1x64xf16>, %k: tensor<2x4x256x64xf16>,
                       %v: tensor<2x4x256x64xf16>) -> tensor<2x4x1x64xf16> {
  %0 = lctx.attention %q, %k, %v
      : tensor<2x4x1x64xf16>, tensor<2x4x256x64xf16>, tensor<2x4x256x64xf16>
  return %0 : tensor<2x4x1x64xf16>
}

// Explicit positions (i64) print in the positions(...) group with their types last.
// CHECK-LABEL: func.func @explicit_positions
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<2x4x8x32xbf16>, %[[K:[^:]+]]: tensor<2x4x64x32xbf16>,
// CHECK-SAME: %[[V:[^:]+]]: tensor<2x4x64x32xbf16>, %[[QP:[^:]+]]: tensor<2x8xi64>,
// CHECK-SAME: %[[KP:[^:]+]]: tensor<2x64xi64>)
// CHECK: %[[R:.+]] = lctx.attention %[[Q]], %[[K]], %[[V]] positions(%[[QP]], %[[KP]]) {rope_theta = 5.000000e+05 : f32} :
// CHECK-SAME: tensor<2x4x8x32xbf16>, tensor<2x4x64x32xbf16>, tensor<2x4x64x32xbf16>, tensor<2x8xi64>,
// CHECK-SAME: tensor<2x64xi64>
// CHECK: return %[[R]] : tensor<2x4x8x32xbf16>
func.func @explicit_positions(%q: tensor<2x4x8x32xbf16>, %k: tensor<2x4x64x32xbf16>,
                              %v: tensor<2x4x64x32xbf16>, %qp: tensor<2x8xi64>,
                              %kp: tensor<2x64xi64>) -> tensor<2x4x8x32xbf16> {
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp) {rope_theta = 5.0e+05 : f32}
      : tensor<2x4x8x32xbf16>, tensor<2x4x64x32xbf16>, tensor<2x4x64x32xbf16>,
        tensor<2x8xi64>, tensor<2x64xi64>
  return %0 : tensor<2x4x8x32xbf16>
}

// With explicit (i32) positions a causal query block may be longer than the keys.
// CHECK-LABEL: func.func @positions_longer_queries
// CHECK: lctx.attention %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} positions(%{{[^ ]+}}, %{{[^ ]+}}) :
// CHECK-SAME: tensor<1x2x32x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x32xi32>,
// CHECK-SAME: tensor<1x8xi32>
func.func @positions_longer_queries(%q: tensor<1x2x32x16xf32>, %k: tensor<1x2x8x16xf32>,
                                   %v: tensor<1x2x8x16xf32>, %qp: tensor<1x32xi32>,
                                   %kp: tensor<1x8xi32>) -> tensor<1x2x32x16xf32> {
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp)
      : tensor<1x2x32x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>,
        tensor<1x32xi32>, tensor<1x8xi32>
  return %0 : tensor<1x2x32x16xf32>
}

// Non-causal attention allows Tq > Tk without positions.
// CHECK-LABEL: func.func @non_causal_longer_queries
// CHECK: lctx.attention {{.*}} {causal = false} :
// CHECK-SAME: tensor<1x2x32x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
func.func @non_causal_longer_queries(%q: tensor<1x2x32x16xf32>, %k: tensor<1x2x8x16xf32>,
                                     %v: tensor<1x2x8x16xf32>) -> tensor<1x2x32x16xf32> {
  %0 = lctx.attention %q, %k, %v {causal = false}
      : tensor<1x2x32x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return %0 : tensor<1x2x32x16xf32>
}

// Dynamic batch, lengths and head dim: the result keeps q's dims 0-2 and v's dim 3.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.attention {{.*}} {rope_theta = 1.000000e+04 : f32} :
// CHECK-SAME: tensor<?x4x?x?xf32>, tensor<?x2x?x?xf32>, tensor<?x2x?x48xf32>
// CHECK: return %[[R]] : tensor<?x4x?x48xf32>
func.func @dynamic_dims(%q: tensor<?x4x?x?xf32>, %k: tensor<?x2x?x?xf32>,
                        %v: tensor<?x2x?x48xf32>) -> tensor<?x4x?x48xf32> {
  %0 = lctx.attention %q, %k, %v {rope_theta = 1.0e+04 : f32}
      : tensor<?x4x?x?xf32>, tensor<?x2x?x?xf32>, tensor<?x2x?x48xf32>
  return %0 : tensor<?x4x?x48xf32>
}
