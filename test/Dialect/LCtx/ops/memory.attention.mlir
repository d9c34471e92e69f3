// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.memory.attention: both rules, the
// optional scale and rope_theta, a ragged last segment, bf16, dynamic dims.

// linear rule, T = 200 in segments of 64 (the last one is shorter): results
// are the output [B, H, T, Dv] and the f32 state.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<1x2x200x16xf32>, %[[K:[^:]+]]: tensor<1x2x200x16xf32>,
// CHECK-SAME: %[[V:[^:]+]]: tensor<1x2x200x16xf32>, %[[M:[^:]+]]: tensor<1x2x16x16xf32>,
// CHECK-SAME: %[[Z:[^:]+]]: tensor<1x2x16xf32>, %[[B:[^:]+]]: tensor<2xf32>)
// CHECK: %[[O:[^ ,]+]], %[[M1:[^ ,]+]], %[[Z1:[^ ,]+]] = lctx.memory.attention linear %[[Q]], %[[K]], %[[V]], %[[M]], %[[Z]], %[[B]] {segment_size = 64 : i64} :
// CHECK-SAME: tensor<1x2x200x16xf32>, tensor<1x2x200x16xf32>, tensor<1x2x200x16xf32>, tensor<1x2x16x16xf32>,
// CHECK-SAME: tensor<1x2x16xf32>, tensor<2xf32>{{$}}
// CHECK: return %[[O]], %[[M1]], %[[Z1]] : tensor<1x2x200x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
func.func @linear(%q: tensor<1x2x200x16xf32>, %k: tensor<1x2x200x16xf32>,
                  %v: tensor<1x2x200x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                  %beta: tensor<2xf32>)
    -> (tensor<1x2x200x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>) {
  %o, %m1, %z1 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 64 : i64}
      : tensor<1x2x200x16xf32>, tensor<1x2x200x16xf32>, tensor<1x2x200x16xf32>,
        tensor<1x2x16x16xf32>, tensor<1x2x16xf32>, tensor<2xf32>
  return %o, %m1, %z1 : tensor<1x2x200x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
}

// delta rule with scale and rope_theta, bf16 activations, Dv = 32 != Dk = 16.
// CHECK-LABEL: func.func @delta_scale_rope_bf16
// CHECK: %[[O:[^ ,]+]], %[[M1:[^ ,]+]], %[[Z1:[^ ,]+]] = lctx.memory.attention delta
// CHECK-SAME: {rope_theta = 1.000000e+04 : f32, scale = 2.500000e-01 : f32, segment_size = 32 : i64} :
// CHECK-SAME: tensor<2x4x128x16xbf16>, tensor<2x4x128x16xbf16>, tensor<2x4x128x32xbf16>,
// CHECK-SAME: tensor<2x4x16x32xf32>, tensor<2x4x16xf32>, tensor<4xbf16>{{$}}
// CHECK: return %[[O]], %[[M1]], %[[Z1]] : tensor<2x4x128x32xbf16>, tensor<2x4x16x32xf32>, tensor<2x4x16xf32>
func.func @delta_scale_rope_bf16(%q: tensor<2x4x128x16xbf16>, %k: tensor<2x4x128x16xbf16>,
                                 %v: tensor<2x4x128x32xbf16>, %m: tensor<2x4x16x32xf32>,
                                 %z: tensor<2x4x16xf32>, %beta: tensor<4xbf16>)
    -> (tensor<2x4x128x32xbf16>, tensor<2x4x16x32xf32>, tensor<2x4x16xf32>) {
  %o, %m1, %z1 = lctx.memory.attention delta %q, %k, %v, %m, %z, %beta
      {segment_size = 32 : i64, scale = 0.25 : f32, rope_theta = 1.0e+04 : f32}
      : tensor<2x4x128x16xbf16>, tensor<2x4x128x16xbf16>, tensor<2x4x128x32xbf16>,
        tensor<2x4x16x32xf32>, tensor<2x4x16xf32>, tensor<4xbf16>
  return %o, %m1, %z1 : tensor<2x4x128x32xbf16>, tensor<2x4x16x32xf32>, tensor<2x4x16xf32>
}

// Dynamic batch and length (f16); a segment longer than T is allowed.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[O:[^ ,]+]], %[[M1:[^ ,]+]], %[[Z1:[^ ,]+]] = lctx.memory.attention linear {{.*}} {segment_size = 2048 : i64} :
// CHECK-SAME: tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>, tensor<?x2x16x16xf32>,
// CHECK-SAME: tensor<?x2x16xf32>, tensor<2xf16>{{$}}
// CHECK: return %[[O]], %[[M1]], %[[Z1]] : tensor<?x2x?x16xf16>, tensor<?x2x16x16xf32>, tensor<?x2x16xf32>
func.func @dynamic_dims(%q: tensor<?x2x?x16xf16>, %k: tensor<?x2x?x16xf16>,
                        %v: tensor<?x2x?x16xf16>, %m: tensor<?x2x16x16xf32>, %z: tensor<?x2x16xf32>,
                        %beta: tensor<2xf16>)
    -> (tensor<?x2x?x16xf16>, tensor<?x2x16x16xf32>, tensor<?x2x16xf32>) {
  %o, %m1, %z1 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 2048 : i64}
      : tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>,
        tensor<?x2x16x16xf32>, tensor<?x2x16xf32>, tensor<2xf16>
  return %o, %m1, %z1 : tensor<?x2x?x16xf16>, tensor<?x2x16x16xf32>, tensor<?x2x16xf32>
}
