// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip of lctx.memory.gate: per-head beta [H] between two [B, H, N, Dv]
// outputs; the result has local_out's type. f32, bf16 and dynamic forms.

// f32 outputs, two heads.
// CHECK-LABEL: func.func @f32
// CHECK-SAME: (%[[AM:[^:]+]]: tensor<1x2x8x16xf32>, %[[AD:[^:]+]]: tensor<1x2x8x16xf32>,
// CHECK-SAME: %[[B:[^:]+]]: tensor<2xf32>)
// CHECK: %[[R:.+]] = lctx.memory.gate %[[AM]], %[[AD]], %[[B]] :
// CHECK-SAME: tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<2xf32>{{$}}
// CHECK: return %[[R]] : tensor<1x2x8x16xf32>
func.func @f32(%amem: tensor<1x2x8x16xf32>, %adot: tensor<1x2x8x16xf32>,
               %beta: tensor<2xf32>) -> tensor<1x2x8x16xf32> {
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<2xf32>
  return %0 : tensor<1x2x8x16xf32>
}

// bf16 outputs and beta.
// CHECK-LABEL: func.func @bf16
// CHECK: %[[R:.+]] = lctx.memory.gate %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<2x4x8x32xbf16>, tensor<2x4x8x32xbf16>, tensor<4xbf16>{{$}}
// CHECK: return %[[R]] : tensor<2x4x8x32xbf16>
func.func @bf16(%amem: tensor<2x4x8x32xbf16>, %adot: tensor<2x4x8x32xbf16>,
                %beta: tensor<4xbf16>) -> tensor<2x4x8x32xbf16> {
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<2x4x8x32xbf16>, tensor<2x4x8x32xbf16>, tensor<4xbf16>
  return %0 : tensor<2x4x8x32xbf16>
}

// Dynamic dims on either output are compatible with static ones.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.memory.gate %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<?x2x?x16xf32>, tensor<1x2x8x16xf32>, tensor<?xf32>{{$}}
// CHECK: return %[[R]] : tensor<1x2x8x16xf32>
func.func @dynamic_dims(%amem: tensor<?x2x?x16xf32>, %adot: tensor<1x2x8x16xf32>,
                        %beta: tensor<?xf32>) -> tensor<1x2x8x16xf32> {
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<?x2x?x16xf32>, tensor<1x2x8x16xf32>, tensor<?xf32>
  return %0 : tensor<1x2x8x16xf32>
}
