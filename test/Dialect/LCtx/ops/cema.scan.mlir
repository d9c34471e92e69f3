// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.cema.scan: results are y (the input's type) and the
// final complex<f32> state (the initial state's type); f32, bf16, decode-step
// and dynamic forms.

// Megalodon shapes: x [1, 64, 32], order N = 16.
// CHECK-LABEL: func.func @f32
// CHECK-SAME: (%[[X:[^:]+]]: tensor<1x64x32xf32>, %[[A:[^:]+]]: tensor<32x16xf32>,
// CHECK-SAME: %[[D:[^:]+]]: tensor<32x16xf32>, %[[T:[^:]+]]: tensor<32xf32>,
// CHECK-SAME: %[[G:[^:]+]]: tensor<32x16xcomplex<f32>>, %[[W:[^:]+]]: tensor<32xf32>,
// CHECK-SAME: %[[H0:[^:]+]]: tensor<1x32x16xcomplex<f32>>)
// CHECK: %[[Y:[^ ,]+]], %[[H:[^ ,]+]] = lctx.cema.scan %[[X]], %[[A]], %[[D]], %[[T]], %[[G]], %[[W]], %[[H0]] :
// CHECK-SAME: tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
// CHECK-SAME: tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>{{$}}
// CHECK: return %[[Y]], %[[H]] : tensor<1x64x32xf32>, tensor<1x32x16xcomplex<f32>>
func.func @f32(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>, %delta: tensor<32x16xf32>,
               %theta: tensor<32xf32>, %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
               %h0: tensor<1x32x16xcomplex<f32>>)
    -> (tensor<1x64x32xf32>, tensor<1x32x16xcomplex<f32>>) {
  %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return %y, %h : tensor<1x64x32xf32>, tensor<1x32x16xcomplex<f32>>
}

// bf16 activations with fp32 parameters and complex<f32> state; y is bf16.
// CHECK-LABEL: func.func @bf16_input
// CHECK: %[[Y:[^ ,]+]], %[[H:[^ ,]+]] = lctx.cema.scan {{.*}} :
// CHECK-SAME: tensor<2x128x8xbf16>, tensor<8x2xf32>, tensor<8x2xf32>, tensor<8xf32>,
// CHECK-SAME: tensor<8x2xcomplex<f32>>, tensor<8xf32>, tensor<2x8x2xcomplex<f32>>{{$}}
// CHECK: return %[[Y]], %[[H]] : tensor<2x128x8xbf16>, tensor<2x8x2xcomplex<f32>>
func.func @bf16_input(%x: tensor<2x128x8xbf16>, %alpha: tensor<8x2xf32>, %delta: tensor<8x2xf32>,
                      %theta: tensor<8xf32>, %gamma: tensor<8x2xcomplex<f32>>,
                      %omega: tensor<8xf32>, %h0: tensor<2x8x2xcomplex<f32>>)
    -> (tensor<2x128x8xbf16>, tensor<2x8x2xcomplex<f32>>) {
  %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<2x128x8xbf16>, tensor<8x2xf32>, tensor<8x2xf32>, tensor<8xf32>,
        tensor<8x2xcomplex<f32>>, tensor<8xf32>, tensor<2x8x2xcomplex<f32>>
  return %y, %h : tensor<2x128x8xbf16>, tensor<2x8x2xcomplex<f32>>
}

// A decode step (L = 1) in f16 carrying the state.
// CHECK-LABEL: func.func @decode_step
// CHECK: %[[Y:[^ ,]+]], %[[H:[^ ,]+]] = lctx.cema.scan {{.*}} : tensor<1x1x32xf16>,
// CHECK: return %[[Y]], %[[H]] : tensor<1x1x32xf16>, tensor<1x32x16xcomplex<f32>>
func.func @decode_step(%x: tensor<1x1x32xf16>, %alpha: tensor<32x16xf32>, %delta: tensor<32x16xf32>,
                       %theta: tensor<32xf32>, %gamma: tensor<32x16xcomplex<f32>>,
                       %omega: tensor<32xf32>, %h0: tensor<1x32x16xcomplex<f32>>)
    -> (tensor<1x1x32xf16>, tensor<1x32x16xcomplex<f32>>) {
  %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x1x32xf16>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return %y, %h : tensor<1x1x32xf16>, tensor<1x32x16xcomplex<f32>>
}

// Dynamic batch and length; dynamic dims are compatible with static ones.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[Y:[^ ,]+]], %[[H:[^ ,]+]] = lctx.cema.scan {{.*}} :
// CHECK-SAME: tensor<?x?x32xf32>, tensor<32x?xf32>, tensor<32x16xf32>, tensor<?xf32>,
// CHECK-SAME: tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<?x32x16xcomplex<f32>>{{$}}
// CHECK: return %[[Y]], %[[H]] : tensor<?x?x32xf32>, tensor<?x32x16xcomplex<f32>>
func.func @dynamic_dims(%x: tensor<?x?x32xf32>, %alpha: tensor<32x?xf32>, %delta: tensor<32x16xf32>,
                        %theta: tensor<?xf32>, %gamma: tensor<32x16xcomplex<f32>>,
                        %omega: tensor<32xf32>, %h0: tensor<?x32x16xcomplex<f32>>)
    -> (tensor<?x?x32xf32>, tensor<?x32x16xcomplex<f32>>) {
  %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<?x?x32xf32>, tensor<32x?xf32>, tensor<32x16xf32>, tensor<?xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<?x32x16xcomplex<f32>>
  return %y, %h : tensor<?x?x32xf32>, tensor<?x32x16xcomplex<f32>>
}
