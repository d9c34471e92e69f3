// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of the `lctx.weight` function-argument attribute: names bind
// ranked-tensor arguments to weights; activations stay unannotated.

// Named weights next to an unannotated activation, used by lctx ops.
// CHECK-LABEL: func.func @named_weights
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xf32>,
// CHECK-SAME: %[[W:[^:]+]]: tensor<64x128xf32> {lctx.weight = "layers.0.w_in"},
// CHECK-SAME: %[[B:[^:]+]]: tensor<128xf32> {lctx.weight = "layers.0.b_in"})
// CHECK: lctx.linear %[[X]], %[[W]], %[[B]]
func.func @named_weights(%x: tensor<2x16x64xf32>,
                         %w: tensor<64x128xf32> {lctx.weight = "layers.0.w_in"},
                         %b: tensor<128xf32> {lctx.weight = "layers.0.b_in"})
    -> tensor<2x16x128xf32> {
  %0 = lctx.linear %x, %w, %b : tensor<2x16x64xf32>, tensor<64x128xf32>, tensor<128xf32>
  return %0 : tensor<2x16x128xf32>
}

// A weight may have dynamic dims, any element type and rank 0.
// CHECK-LABEL: func.func @weight_types
// CHECK-SAME: (%{{[^:]+}}: tensor<?x64xbf16> {lctx.weight = "embed"},
// CHECK-SAME: %{{[^:]+}}: tensor<f32> {lctx.weight = "scale"},
// CHECK-SAME: %{{[^:]+}}: tensor<4x32x16xcomplex<f32>> {lctx.weight = "cema.gamma"})
func.func @weight_types(%e: tensor<?x64xbf16> {lctx.weight = "embed"},
                        %s: tensor<f32> {lctx.weight = "scale"},
                        %g: tensor<4x32x16xcomplex<f32>> {lctx.weight = "cema.gamma"}) {
  return
}

// Names are unique per function: another function may reuse "embed".
// CHECK-LABEL: func.func @same_name_other_function
// CHECK-SAME: (%{{[^:]+}}: tensor<256x64xf32> {lctx.weight = "embed"})
func.func @same_name_other_function(%e: tensor<256x64xf32> {lctx.weight = "embed"}) {
  return
}

// External declarations carry weight names too.
// CHECK-LABEL: func.func private @external
// CHECK-SAME: (tensor<8x8xf32> {lctx.weight = "w.a"}, tensor<8xf32> {lctx.weight = "w.b"})
func.func private @external(tensor<8x8xf32> {lctx.weight = "w.a"},
                            tensor<8xf32> {lctx.weight = "w.b"})

// Inputs are named with lctx.input.
// CHECK-LABEL: func.func private @named_input
// CHECK-SAME: {lctx.input = "ids"}
func.func private @named_input(tensor<1x8xi32> {lctx.input = "ids"}, tensor<4xf32> {lctx.weight = "w"})
