// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.memory.retrieve: the result is
// [B, H, N, Dv] in the query's element type; memory and norm stay f32.

// f32 query, Dk = Dv = 16.
// CHECK-LABEL: func.func @f32_query
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<1x2x8x16xf32>, %[[M:[^:]+]]: tensor<1x2x16x16xf32>,
// CHECK-SAME: %[[Z:[^:]+]]: tensor<1x2x16xf32>)
// CHECK: %[[R:.+]] = lctx.memory.retrieve %[[Q]], %[[M]], %[[Z]] :
// CHECK-SAME: tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>{{$}}
// CHECK: return %[[R]] : tensor<1x2x8x16xf32>
func.func @f32_query(%q: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>,
                     %z: tensor<1x2x16xf32>) -> tensor<1x2x8x16xf32> {
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return %0 : tensor<1x2x8x16xf32>
}

// bf16 query over the f32 memory with Dv = 32 != Dk = 16: result [2, 4, 8, 32] bf16.
// CHECK-LABEL: func.func @bf16_query_value_dim
// CHECK: %[[R:.+]] = lctx.memory.retrieve %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<2x4x8x16xbf16>, tensor<2x4x16x32xf32>, tensor<2x4x16xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x4x8x32xbf16>
func.func @bf16_query_value_dim(%q: tensor<2x4x8x16xbf16>, %m: tensor<2x4x16x32xf32>,
                                %z: tensor<2x4x16xf32>) -> tensor<2x4x8x32xbf16> {
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<2x4x8x16xbf16>, tensor<2x4x16x32xf32>, tensor<2x4x16xf32>
  return %0 : tensor<2x4x8x32xbf16>
}

// Dynamic batch and segment length; Dv comes from the memory.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.memory.retrieve %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<?x2x?x16xf16>, tensor<?x2x16x?xf32>, tensor<?x2x16xf32>{{$}}
// CHECK: return %[[R]] : tensor<?x2x?x?xf16>
func.func @dynamic_dims(%q: tensor<?x2x?x16xf16>, %m: tensor<?x2x16x?xf32>,
                        %z: tensor<?x2x16xf32>) -> tensor<?x2x?x?xf16> {
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<?x2x?x16xf16>, tensor<?x2x16x?xf32>, tensor<?x2x16xf32>
  return %0 : tensor<?x2x?x?xf16>
}
