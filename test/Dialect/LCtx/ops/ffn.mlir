// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.ffn: relu, gelu and swiglu (with
// w_gate), the grouped rank-3 form, Do != D, dynamic dims, bf16/f16.

// relu: y = relu(x w_in) w_out, result [..., Do].
// CHECK-LABEL: func.func @relu
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xf32>, %[[WI:[^:]+]]: tensor<64x256xf32>,
// CHECK-SAME: %[[WO:[^:]+]]: tensor<256x64xf32>)
// CHECK: %[[R:.+]] = lctx.ffn relu %[[X]], %[[WI]], %[[WO]] :
// CHECK-SAME: tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x16x64xf32>
func.func @relu(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>,
                %w_out: tensor<256x64xf32>) -> tensor<2x16x64xf32> {
  %0 = lctx.ffn relu %x, %w_in, %w_out : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// gelu with an output width Do = 32 different from D = 64.
// CHECK-LABEL: func.func @gelu_narrow_output
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xbf16>, %[[WI:[^:]+]]: tensor<64x128xbf16>,
// CHECK-SAME: %[[WO:[^:]+]]: tensor<128x32xbf16>)
// CHECK: %[[R:.+]] = lctx.ffn gelu %[[X]], %[[WI]], %[[WO]] :
// CHECK-SAME: tensor<2x16x64xbf16>, tensor<64x128xbf16>, tensor<128x32xbf16>{{$}}
// CHECK: return %[[R]] : tensor<2x16x32xbf16>
func.func @gelu_narrow_output(%x: tensor<2x16x64xbf16>, %w_in: tensor<64x128xbf16>,
                              %w_out: tensor<128x32xbf16>) -> tensor<2x16x32xbf16> {
  %0 = lctx.ffn gelu %x, %w_in, %w_out
      : tensor<2x16x64xbf16>, tensor<64x128xbf16>, tensor<128x32xbf16>
  return %0 : tensor<2x16x32xbf16>
}

// swiglu takes the w_gate operand, printed last.
// CHECK-LABEL: func.func @swiglu
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x16x64xf32>, %[[WI:[^:]+]]: tensor<64x256xf32>,
// CHECK-SAME: %[[WO:[^:]+]]: tensor<256x64xf32>, %[[WG:[^:]+]]: tensor<64x256xf32>)
// CHECK: %[[R:.+]] = lctx.ffn swiglu %[[X]], %[[WI]], %[[WO]], %[[WG]] :
// CHECK-SAME: tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<64x256xf32>{{$}}
// CHECK: return %[[R]] : tensor<2x16x64xf32>
func.func @swiglu(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>, %w_out: tensor<256x64xf32>,
                  %w_gate: tensor<64x256xf32>) -> tensor<2x16x64xf32> {
  %0 = lctx.ffn swiglu %x, %w_in, %w_out, %w_gate
      : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<64x256xf32>
  return %0 : tensor<2x16x64xf32>
}

// Grouped relu: rank-3 weights [E, D, F], [E, F, Do] on x [E, N, D].
// CHECK-LABEL: func.func @grouped_relu
// CHECK: %[[R:.+]] = lctx.ffn relu %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<8x32x64xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>{{$}}
// CHECK: return %[[R]] : tensor<8x32x64xf32>
func.func @grouped_relu(%x: tensor<8x32x64xf32>, %w_in: tensor<8x64x128xf32>,
                        %w_out: tensor<8x128x64xf32>) -> tensor<8x32x64xf32> {
  %0 = lctx.ffn relu %x, %w_in, %w_out
      : tensor<8x32x64xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>
  return %0 : tensor<8x32x64xf32>
}

// Grouped swiglu in f16 with a rank-3 w_gate.
// CHECK-LABEL: func.func @grouped_swiglu
// CHECK: %[[R:.+]] = lctx.ffn swiglu %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<4x16x32xf16>, tensor<4x32x96xf16>, tensor<4x96x32xf16>, tensor<4x32x96xf16>{{$}}
// CHECK: return %[[R]] : tensor<4x16x32xf16>
func.func @grouped_swiglu(%x: tensor<4x16x32xf16>, %w_in: tensor<4x32x96xf16>,
                          %w_out: tensor<4x96x32xf16>,
                          %w_gate: tensor<4x32x96xf16>) -> tensor<4x16x32xf16> {
  %0 = lctx.ffn swiglu %x, %w_in, %w_out, %w_gate
      : tensor<4x16x32xf16>, tensor<4x32x96xf16>, tensor<4x96x32xf16>, tensor<4x32x96xf16>
  return %0 : tensor<4x16x32xf16>
}

// Dynamic token dims and hidden width; the result takes w_out's last dim.
// CHECK-LABEL: func.func @dynamic_dims
// CHECK: %[[R:.+]] = lctx.ffn gelu %{{[^ ]+}}, %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<?x?x64xf32>, tensor<64x?xf32>, tensor<?x48xf32>{{$}}
// CHECK: return %[[R]] : tensor<?x?x48xf32>
func.func @dynamic_dims(%x: tensor<?x?x64xf32>, %w_in: tensor<64x?xf32>,
                        %w_out: tensor<?x48xf32>) -> tensor<?x?x48xf32> {
  %0 = lctx.ffn gelu %x, %w_in, %w_out : tensor<?x?x64xf32>, tensor<64x?xf32>, tensor<?x48xf32>
  return %0 : tensor<?x?x48xf32>
}
