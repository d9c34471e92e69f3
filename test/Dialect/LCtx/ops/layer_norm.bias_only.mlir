// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.layer_norm with a bias and no weight: each optional
// operand carries its own type, so the bias type cannot bind to the weight
// (regression test: the printed bias-only form once failed to parse back).

// Bias only: the bias type must bind to the bias operand, not the weight.
// CHECK-LABEL: func.func @bias_only
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xf32>, %[[B:[^:]+]]: tensor<64xf32>)
// CHECK: %[[R:.+]] = lctx.layer_norm %[[X]] bias(%[[B]] : tensor<64xf32>) : tensor<2x16x64xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x16x64xf32>
func.func @bias_only(%x: tensor<2x16x64xf32>, %b: tensor<64xf32>) -> tensor<2x16x64xf32> {
  %0 = lctx.layer_norm %x bias(%b : tensor<64xf32>) : tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// Bias only with an explicit epsilon, bf16.
// CHECK-LABEL: func.func @bias_only_epsilon
// CHECK: %[[R:.+]] = lctx.layer_norm %{{[^ ]+}} bias(%{{[^ ]+}} : tensor<32xbf16>) {epsilon = 9.99999997E-7 : f32} : tensor<4x32xbf16>{{$}}
// CHECK: return %[[R]] : tensor<4x32xbf16>
func.func @bias_only_epsilon(%x: tensor<4x32xbf16>, %b: tensor<32xbf16>) -> tensor<4x32xbf16> {
  %0 = lctx.layer_norm %x bias(%b : tensor<32xbf16>) {epsilon = 1.0e-6 : f32} : tensor<4x32xbf16>
  return %0 : tensor<4x32xbf16>
}
