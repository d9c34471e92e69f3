// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.route.moe: relu, gelu and swiglu (with w_gate) expert
// FFNs, routing attributes set and default, bf16, dynamic dims. Results are
// y (the input's type) and aux_loss (tensor<f32>).

// relu experts with default routing attributes.
// CHECK-LABEL: func.func @relu
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[WR:[^:]+]]: tensor<32x8xf32>,
// CHECK-SAME: %[[W1:[^:]+]]: tensor<8x32x128xf32>, %[[W2:[^:]+]]: tensor<8x128x32xf32>)
// CHECK: %[[Y:[^ ,]+]], %[[AUX:[^ ,]+]] = lctx.route.moe relu %[[X]], %[[WR]], %[[W1]], %[[W2]] :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<32x8xf32>, tensor<8x32x128xf32>, tensor<8x128x32xf32>{{$}}
// CHECK: return %[[Y]], %[[AUX]] : tensor<2x64x32xf32>, tensor<f32>
func.func @relu(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>, %w1: tensor<8x32x128xf32>,
                %w2: tensor<8x128x32xf32>) -> (tensor<2x64x32xf32>, tensor<f32>) {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>, tensor<8x32x128xf32>, tensor<8x128x32xf32>
  return %y, %aux : tensor<2x64x32xf32>, tensor<f32>
}

// gelu experts with every routing attribute set.
// CHECK-LABEL: func.func @gelu_attributes
// CHECK: lctx.route.moe gelu %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}
// CHECK-SAME: {aux_loss_coef = 1.000000e-03 : f64, capacity_factor = 2.000000e+00 : f64, dropless} :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<32x8xf32>, tensor<8x32x128xf32>, tensor<8x128x32xf32>{{$}}
func.func @gelu_attributes(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                           %w1: tensor<8x32x128xf32>,
                           %w2: tensor<8x128x32xf32>) -> (tensor<2x64x32xf32>, tensor<f32>) {
  %y, %aux = lctx.route.moe gelu %x, %wr, %w1, %w2
      {capacity_factor = 2.0 : f64, dropless, aux_loss_coef = 1.0e-3 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>, tensor<8x32x128xf32>, tensor<8x128x32xf32>
  return %y, %aux : tensor<2x64x32xf32>, tensor<f32>
}

// swiglu experts take w_gate [E, D, F], printed last.
// CHECK-LABEL: func.func @swiglu
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[WR:[^:]+]]: tensor<32x8xf32>,
// CHECK-SAME: %[[W1:[^:]+]]: tensor<8x32x128xf32>, %[[W2:[^:]+]]: tensor<8x128x32xf32>,
// CHECK-SAME: %[[WG:[^:]+]]: tensor<8x32x128xf32>)
// CHECK: %[[Y:[^ ,]+]], %[[AUX:[^ ,]+]] = lctx.route.moe swiglu %[[X]], %[[WR]], %[[W1]], %[[W2]], %[[WG]] {capacity_factor = 1.250000e+00 : f64} :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<32x8xf32>, tensor<8x32x128xf32>, tensor<8x128x32xf32>,
// CHECK-SAME: tensor<8x32x128xf32>{{$}}
// CHECK: return %[[Y]], %[[AUX]] : tensor<2x64x32xf32>, tensor<f32>
func.func @swiglu(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>, %w1: tensor<8x32x128xf32>,
                  %w2: tensor<8x128x32xf32>, %wg: tensor<8x32x128xf32>)
    -> (tensor<2x64x32xf32>, tensor<f32>) {
  %y, %aux = lctx.route.moe swiglu %x, %wr, %w1, %w2, %wg {capacity_factor = 1.25 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>, tensor<8x32x128xf32>, tensor<8x128x32xf32>,
        tensor<8x32x128xf32>
  return %y, %aux : tensor<2x64x32xf32>, tensor<f32>
}

// bf16 activations and experts with the fp32 router.
// CHECK-LABEL: func.func @bf16
// CHECK: %[[Y:[^ ,]+]], %[[AUX:[^ ,]+]] = lctx.route.moe relu %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<1x16x64xbf16>, tensor<64x4xf32>, tensor<4x64x256xbf16>, tensor<4x256x64xbf16>{{$}}
// CHECK: return %[[Y]], %[[AUX]] : tensor<1x16x64xbf16>, tensor<f32>
func.func @bf16(%x: tensor<1x16x64xbf16>, %wr: tensor<64x4xf32>, %w1: tensor<4x64x256xbf16>,
                %w2: tensor<4x256x64xbf16>) -> (tensor<1x16x64xbf16>, tensor<f32>) {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<1x16x64xbf16>, tensor<64x4xf32>, tensor<4x64x256xbf16>, tensor<4x256x64xbf16>
  return %y, %aux : tensor<1x16x64xbf16>, tensor<f32>
}

// Dynamic batch, sequence and hidden width.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[Y:[^ ,]+]], %[[AUX:[^ ,]+]] = lctx.route.moe gelu %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<?x?x32xf16>, tensor<32x8xf32>, tensor<8x32x?xf16>, tensor<8x?x32xf16>{{$}}
// CHECK: return %[[Y]], %[[AUX]] : tensor<?x?x32xf16>, tensor<f32>
func.func @dynamic_dims(%x: tensor<?x?x32xf16>, %wr: tensor<32x8xf32>, %w1: tensor<8x32x?xf16>,
                        %w2: tensor<8x?x32xf16>) -> (tensor<?x?x32xf16>, tensor<f32>) {
  %y, %aux = lctx.route.moe gelu %x, %wr, %w1, %w2
      : tensor<?x?x32xf16>, tensor<32x8xf32>, tensor<8x32x?xf16>, tensor<8x?x32xf16>
  return %y, %aux : tensor<?x?x32xf16>, tensor<f32>
}
