// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.cema.timestep_norm: four results (y, count, mean, var)
// with the types of the operands they update; default and explicit epsilon,
// bf16, one group and one group per feature, dynamic dims.

// G = 4 groups of D = 32, default epsilon (elided when printed).
// CHECK-LABEL: func.func @groups4
// CHECK-SAME: (%[[X:[^:]+]]: tensor<1x64x32xf32>, %[[W:[^:]+]]: tensor<32xf32>, %[[B:[^:]+]]: tensor<32xf32>,
// CHECK-SAME: %[[C:[^:]+]]: tensor<1xi64>, %[[M:[^:]+]]: tensor<1x4xf32>, %[[V:[^:]+]]: tensor<1x4xf32>)
// CHECK: %[[Y:[^ ,]+]], %[[C1:[^ ,]+]], %[[M1:[^ ,]+]], %[[V1:[^ ,]+]] = lctx.cema.timestep_norm %[[X]], %[[W]], %[[B]], %[[C]], %[[M]], %[[V]] {num_groups = 4 : i64} :
// CHECK-SAME: tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<1xi64>, tensor<1x4xf32>,
// CHECK-SAME: tensor<1x4xf32>{{$}}
// CHECK: return %[[Y]], %[[C1]], %[[M1]], %[[V1]] : tensor<1x64x32xf32>, tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
func.func @groups4(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                   %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>)
    -> (tensor<1x64x32xf32>, tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>) {
  %y, %c1, %m1, %v1 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<1xi64>,
        tensor<1x4xf32>, tensor<1x4xf32>
  return %y, %c1, %m1, %v1 : tensor<1x64x32xf32>, tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
}

// An explicit epsilon equal to the default (1e-5) is elided.
// CHECK-LABEL: func.func @default_epsilon_elided
// CHECK: lctx.cema.timestep_norm {{.*}} {num_groups = 4 : i64} : tensor<1x64x32xf32>,
func.func @default_epsilon_elided(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                                  %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>)
    -> tensor<1x64x32xf32> {
  %y, %c1, %m1, %v1 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v
      {num_groups = 4 : i64, epsilon = 1.0e-5 : f32}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<1xi64>,
        tensor<1x4xf32>, tensor<1x4xf32>
  return %y : tensor<1x64x32xf32>
}

// bf16 activations and affine parameters, f32 statistics, explicit epsilon, one group.
// CHECK-LABEL: func.func @bf16_one_group
// CHECK: %[[Y:[^ ,]+]], %[[C1:[^ ,]+]], %[[M1:[^ ,]+]], %[[V1:[^ ,]+]] = lctx.cema.timestep_norm
// CHECK-SAME: {epsilon = 9.99999997E-7 : f32, num_groups = 1 : i64} :
// CHECK-SAME: tensor<2x16x8xbf16>, tensor<8xbf16>, tensor<8xbf16>, tensor<2xi64>, tensor<2x1xf32>,
// CHECK-SAME: tensor<2x1xf32>{{$}}
// CHECK: return %[[Y]], %[[C1]], %[[M1]], %[[V1]] : tensor<2x16x8xbf16>, tensor<2xi64>, tensor<2x1xf32>, tensor<2x1xf32>
func.func @bf16_one_group(%x: tensor<2x16x8xbf16>, %w: tensor<8xbf16>, %b: tensor<8xbf16>,
                          %c: tensor<2xi64>, %m: tensor<2x1xf32>, %v: tensor<2x1xf32>)
    -> (tensor<2x16x8xbf16>, tensor<2xi64>, tensor<2x1xf32>, tensor<2x1xf32>) {
  %y, %c1, %m1, %v1 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v
      {num_groups = 1 : i64, epsilon = 1.0e-6 : f32}
      : tensor<2x16x8xbf16>, tensor<8xbf16>, tensor<8xbf16>, tensor<2xi64>,
        tensor<2x1xf32>, tensor<2x1xf32>
  return %y, %c1, %m1, %v1 : tensor<2x16x8xbf16>, tensor<2xi64>, tensor<2x1xf32>, tensor<2x1xf32>
}

// One group per feature (G = D = 8) with dynamic batch and length.
// CHECK-LABEL: func.func @dynamic_per_feature
// CHECK: %[[Y:[^ ,]+]], %[[C1:[^ ,]+]], %[[M1:[^ ,]+]], %[[V1:[^ ,]+]] = lctx.cema.timestep_norm {{.*}} {num_groups = 8 : i64} :
// CHECK-SAME: tensor<?x?x8xf16>, tensor<8xf16>, tensor<8xf16>, tensor<?xi64>, tensor<?x8xf32>,
// CHECK-SAME: tensor<?x8xf32>{{$}}
// CHECK: return %[[Y]], %[[C1]], %[[M1]], %[[V1]] : tensor<?x?x8xf16>, tensor<?xi64>, tensor<?x8xf32>, tensor<?x8xf32>
func.func @dynamic_per_feature(%x: tensor<?x?x8xf16>, %w: tensor<8xf16>, %b: tensor<8xf16>,
                               %c: tensor<?xi64>, %m: tensor<?x8xf32>, %v: tensor<?x8xf32>)
    -> (tensor<?x?x8xf16>, tensor<?xi64>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %y, %c1, %m1, %v1 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 8 : i64}
      : tensor<?x?x8xf16>, tensor<8xf16>, tensor<8xf16>, tensor<?xi64>,
        tensor<?x8xf32>, tensor<?x8xf32>
  return %y, %c1, %m1, %v1 : tensor<?x?x8xf16>, tensor<?xi64>, tensor<?x8xf32>, tensor<?x8xf32>
}
