// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of `lctx.state` (runtime-owned recurrent state: an argument and
// a result of one name and type) and `lctx.output` (named results).

// CHECK-LABEL: func.func @cema_step
// CHECK-SAME: %{{[^:]+}}: tensor<1x3x4xf32> {lctx.input = "x"}
// CHECK-SAME: %{{[^:]+}}: tensor<1x4x2xcomplex<f32>> {lctx.state = "cema.h"}
// CHECK-SAME: -> (tensor<1x3x4xf32> {lctx.output = "y"}, tensor<1x4x2xcomplex<f32>> {lctx.state = "cema.h"})
func.func @cema_step(%x: tensor<1x3x4xf32> {lctx.input = "x"},
                     %alpha: tensor<4x2xf32> {lctx.weight = "alpha"},
                     %delta: tensor<4x2xf32> {lctx.weight = "delta"},
                     %theta: tensor<4xf32> {lctx.weight = "theta"},
                     %gamma: tensor<4x2xcomplex<f32>> {lctx.weight = "gamma"},
                     %omega: tensor<4xf32> {lctx.weight = "omega"},
                     %h: tensor<1x4x2xcomplex<f32>> {lctx.state = "cema.h"})
    -> (tensor<1x3x4xf32> {lctx.output = "y"}, tensor<1x4x2xcomplex<f32>> {lctx.state = "cema.h"}) {
  %y, %h1 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h
      : tensor<1x3x4xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4xf32>,
        tensor<4x2xcomplex<f32>>, tensor<4xf32>, tensor<1x4x2xcomplex<f32>>
  return %y, %h1 : tensor<1x3x4xf32>, tensor<1x4x2xcomplex<f32>>
}

// The model description on the module survives a round trip.
// CHECK: module attributes {lctx.model = {arch = "megabyte", patch = 4 : i64}}
module attributes {lctx.model = {arch = "megabyte", patch = 4 : i64}} {
}
