// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.patch.merge: [B*K, P, X] back to [B, T, X], the result
// type written explicitly; static, dynamic and half-precision forms.

// Logits of 8 local sequences of 4 bytes back to [2, 16, 256].
// CHECK-LABEL: func.func @logits
// CHECK-SAME: (%[[L:[^:]+]]: tensor<8x4x256xf32>) -> tensor<2x16x256xf32>
// CHECK: %[[R:.+]] = lctx.patch.merge %[[L]] : tensor<8x4x256xf32> -> tensor<2x16x256xf32>
// CHECK: return %[[R]] : tensor<2x16x256xf32>
func.func @logits(%l: tensor<8x4x256xf32>) -> tensor<2x16x256xf32> {
  %0 = lctx.patch.merge %l : tensor<8x4x256xf32> -> tensor<2x16x256xf32>
  return %0 : tensor<2x16x256xf32>
}

// Hidden states in bf16, batch 1.
// CHECK-LABEL: func.func @hidden_bf16
// CHECK: %[[R:.+]] = lctx.patch.merge %{{[^ ]+}} : tensor<4x8x64xbf16> -> tensor<1x32x64xbf16>
// CHECK: return %[[R]] : tensor<1x32x64xbf16>
func.func @hidden_bf16(%h: tensor<4x8x64xbf16>) -> tensor<1x32x64xbf16> {
  %0 = lctx.patch.merge %h : tensor<4x8x64xbf16> -> tensor<1x32x64xbf16>
  return %0 : tensor<1x32x64xbf16>
}

// Dynamic batch and length on either side.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.patch.merge %{{[^ ]+}} : tensor<?x4x256xf16> -> tensor<?x?x256xf16>
// CHECK: return %[[R]] : tensor<?x?x256xf16>
func.func @dynamic_dims(%l: tensor<?x4x256xf16>) -> tensor<?x?x256xf16> {
  %0 = lctx.patch.merge %l : tensor<?x4x256xf16> -> tensor<?x?x256xf16>
  return %0 : tensor<?x?x256xf16>
}

// A dynamic patch length with a static result is accepted.
// CHECK-LABEL: func.func @dynamic_patch
// CHECK: %[[R:.+]] = lctx.patch.merge %{{[^ ]+}} : tensor<4x?x32xf32> -> tensor<2x16x32xf32>
// CHECK: return %[[R]] : tensor<2x16x32xf32>
func.func @dynamic_patch(%l: tensor<4x?x32xf32>) -> tensor<2x16x32xf32> {
  %0 = lctx.patch.merge %l : tensor<4x?x32xf32> -> tensor<2x16x32xf32>
  return %0 : tensor<2x16x32xf32>
}
