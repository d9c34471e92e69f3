// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.memory.update: both rules (linear, delta), half-precision
// keys and values with the f32 state, dynamic dims. The new state has the
// types of the old one.

// linear rule, f32.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[K:[^:]+]]: tensor<1x2x8x16xf32>, %[[V:[^:]+]]: tensor<1x2x8x16xf32>,
// CHECK-SAME: %[[M:[^:]+]]: tensor<1x2x16x16xf32>, %[[Z:[^:]+]]: tensor<1x2x16xf32>)
// CHECK: %[[M1:[^ ,]+]], %[[Z1:[^ ,]+]] = lctx.memory.update linear %[[K]], %[[V]], %[[M]], %[[Z]] :
// CHECK-SAME: tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>{{$}}
// CHECK: return %[[M1]], %[[Z1]] : tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
func.func @linear(%k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>,
                  %z: tensor<1x2x16xf32>) -> (tensor<1x2x16x16xf32>, tensor<1x2x16xf32>) {
  %m1, %z1 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return %m1, %z1 : tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
}

// delta rule with bf16 keys/values, Dv = 32 != Dk = 16; the state stays f32.
// CHECK-LABEL: func.func @delta_bf16
// CHECK: %[[M1:[^ ,]+]], %[[Z1:[^ ,]+]] = lctx.memory.update delta %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<2x4x8x16xbf16>, tensor<2x4x8x32xbf16>, tensor<2x4x16x32xf32>, tensor<2x4x16xf32>{{$}}
// CHECK: return %[[M1]], %[[Z1]] : tensor<2x4x16x32xf32>, tensor<2x4x16xf32>
func.func @delta_bf16(%k: tensor<2x4x8x16xbf16>, %v: tensor<2x4x8x32xbf16>,
                      %m: tensor<2x4x16x32xf32>,
                      %z: tensor<2x4x16xf32>) -> (tensor<2x4x16x32xf32>, tensor<2x4x16xf32>) {
  %m1, %z1 = lctx.memory.update delta %k, %v, %m, %z
      : tensor<2x4x8x16xbf16>, tensor<2x4x8x32xbf16>, tensor<2x4x16x32xf32>, tensor<2x4x16xf32>
  return %m1, %z1 : tensor<2x4x16x32xf32>, tensor<2x4x16xf32>
}

// Dynamic batch and segment length, f16 keys/values.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[M1:[^ ,]+]], %[[Z1:[^ ,]+]] = lctx.memory.update linear %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>, tensor<?x2x16x16xf32>, tensor<?x2x16xf32>{{$}}
// CHECK: return %[[M1]], %[[Z1]] : tensor<?x2x16x16xf32>, tensor<?x2x16xf32>
func.func @dynamic_dims(%k: tensor<?x2x?x16xf16>, %v: tensor<?x2x?x16xf16>,
                        %m: tensor<?x2x16x16xf32>,
                        %z: tensor<?x2x16xf32>) -> (tensor<?x2x16x16xf32>, tensor<?x2x16xf32>) {
  %m1, %z1 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<?x2x?x16xf16>, tensor<?x2x?x16xf16>, tensor<?x2x16x16xf32>, tensor<?x2x16xf32>
  return %m1, %z1 : tensor<?x2x16x16xf32>, tensor<?x2x16xf32>
}
