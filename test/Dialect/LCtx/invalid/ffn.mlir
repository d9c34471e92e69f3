// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.ffn: w_gate presence per activation, weight ranks
// (plain and grouped), element types, feature/hidden/expert dims, w_gate
// shape, and the ODS constraints.

// swiglu needs w_gate.
func.func @swiglu_without_gate(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>,
                               %w_out: tensor<256x64xf32>) {
  // expected-error @+1 {{expects a w_gate operand with swiglu}}
  %0 = lctx.ffn swiglu %x, %w_in, %w_out
      : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>
  return
}

// -----

// relu takes no w_gate.
func.func @relu_with_gate(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>,
                          %w_out: tensor<256x64xf32>, %w_gate: tensor<64x256xf32>) {
  // expected-error @+1 {{expects no w_gate operand with relu}}
  %0 = lctx.ffn relu %x, %w_in, %w_out, %w_gate
      : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<64x256xf32>
  return
}

// -----

// gelu takes no w_gate.
func.func @gelu_with_gate(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>,
                          %w_out: tensor<256x64xf32>, %w_gate: tensor<64x256xf32>) {
  // expected-error @+1 {{expects no w_gate operand with gelu}}
  %0 = lctx.ffn gelu %x, %w_in, %w_out, %w_gate
      : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<64x256xf32>
  return
}

// -----

// w_in is [D, F] or, grouped, [E, D, F].
func.func @w_in_rank(%x: tensor<2x16x64xf32>, %w_in: tensor<64xf32>, %w_out: tensor<256x64xf32>) {
  // expected-error @+1 {{expects w_in of rank 2 [D, F] or 3 [E, D, F] (grouped), got 'tensor<64xf32>'}}
  %0 = lctx.ffn relu %x, %w_in, %w_out : tensor<2x16x64xf32>, tensor<64xf32>, tensor<256x64xf32>
  return
}

// -----

// w_out has w_in's rank: [F, Do] for a plain FFN.
func.func @w_out_rank(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>,
                      %w_out: tensor<1x256x64xf32>) {
  // expected-error @+1 {{expects w_out of rank 2 [F, Do], got 'tensor<1x256x64xf32>'}}
  %0 = lctx.ffn relu %x, %w_in, %w_out
      : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<1x256x64xf32>
  return
}

// -----

// w_out has w_in's rank: [E, F, Do] for a grouped FFN.
func.func @w_out_rank_grouped(%x: tensor<8x32x64xf32>, %w_in: tensor<8x64x128xf32>,
                              %w_out: tensor<128x64xf32>) {
  // expected-error @+1 {{expects w_out of rank 3 [E, F, Do], got 'tensor<128x64xf32>'}}
  %0 = lctx.ffn relu %x, %w_in, %w_out
      : tensor<8x32x64xf32>, tensor<8x64x128xf32>, tensor<128x64xf32>
  return
}

// -----

// w_in has the input's element type.
func.func @w_in_element_type(%x: tensor<2x16x64xbf16>, %w_in: tensor<64x256xf32>,
                             %w_out: tensor<256x64xbf16>) {
  // expected-error @+1 {{expects w_in to have the element type 'bf16' of input, got 'f32'}}
  %0 = lctx.ffn gelu %x, %w_in, %w_out
      : tensor<2x16x64xbf16>, tensor<64x256xf32>, tensor<256x64xbf16>
  return
}

// -----

// w_out has the input's element type.
func.func @w_out_element_type(%x: tensor<2x16x64xbf16>, %w_in: tensor<64x256xbf16>,
                              %w_out: tensor<256x64xf16>) {
  // expected-error @+1 {{expects w_out to have the element type 'bf16' of input, got 'f16'}}
  %0 = lctx.ffn gelu %x, %w_in, %w_out
      : tensor<2x16x64xbf16>, tensor<64x256xbf16>, tensor<256x64xf16>
  return
}

// -----

// w_in's D matches the input's last dim.
func.func @input_feature(%x: tensor<2x16x64xf32>, %w_in: tensor<32x256xf32>,
                         %w_out: tensor<256x64xf32>) {
  // expected-error @+1 {{input feature mismatch: w_in dim 0 is 32 but input dim 2 is 64}}
  %0 = lctx.ffn relu %x, %w_in, %w_out : tensor<2x16x64xf32>, tensor<32x256xf32>, tensor<256x64xf32>
  return
}

// -----

// w_out's F matches w_in's F.
func.func @hidden_feature(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>,
                          %w_out: tensor<128x64xf32>) {
  // expected-error @+1 {{hidden feature mismatch: w_out dim 0 is 128 but w_in dim 1 is 256}}
  %0 = lctx.ffn relu %x, %w_in, %w_out : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<128x64xf32>
  return
}

// -----

// Grouped: D and F sit at dims 1 and 2 of the weights.
func.func @grouped_hidden_feature(%x: tensor<8x32x64xf32>, %w_in: tensor<8x64x128xf32>,
                                  %w_out: tensor<8x96x64xf32>) {
  // expected-error @+1 {{hidden feature mismatch: w_out dim 1 is 96 but w_in dim 2 is 128}}
  %0 = lctx.ffn relu %x, %w_in, %w_out
      : tensor<8x32x64xf32>, tensor<8x64x128xf32>, tensor<8x96x64xf32>
  return
}

// -----

// Grouped weights need the input [E, N, D].
func.func @grouped_input_rank(%x: tensor<8x2x32x64xf32>, %w_in: tensor<8x64x128xf32>,
                              %w_out: tensor<8x128x64xf32>) {
  // expected-error @+1 {{expects input of rank 3 [E, N, D] (grouped), got 'tensor<8x2x32x64xf32>'}}
  %0 = lctx.ffn relu %x, %w_in, %w_out
      : tensor<8x2x32x64xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>
  return
}

// -----

// Grouped: w_in's expert count matches the input's.
func.func @grouped_w_in_experts(%x: tensor<8x32x64xf32>, %w_in: tensor<4x64x128xf32>,
                                %w_out: tensor<4x128x64xf32>) {
  // expected-error @+1 {{expert count mismatch: w_in dim 0 is 4 but input dim 0 is 8}}
  %0 = lctx.ffn relu %x, %w_in, %w_out
      : tensor<8x32x64xf32>, tensor<4x64x128xf32>, tensor<4x128x64xf32>
  return
}

// -----

// Grouped: w_out's expert count matches the input's.
func.func @grouped_w_out_experts(%x: tensor<8x32x64xf32>, %w_in: tensor<8x64x128xf32>,
                                 %w_out: tensor<2x128x64xf32>) {
  // expected-error @+1 {{expert count mismatch: w_out dim 0 is 2 but input dim 0 is 8}}
  %0 = lctx.ffn relu %x, %w_in, %w_out
      : tensor<8x32x64xf32>, tensor<8x64x128xf32>, tensor<2x128x64xf32>
  return
}

// -----

// A plain FFN needs an input of rank >= 1.
func.func @scalar_input(%x: tensor<f32>, %w_in: tensor<64x256xf32>, %w_out: tensor<256x64xf32>) {
  // expected-error @+1 {{expects input of rank >= 1, got 'tensor<f32>'}}
  %0 = lctx.ffn relu %x, %w_in, %w_out : tensor<f32>, tensor<64x256xf32>, tensor<256x64xf32>
  return
}

// -----

// w_gate has the input's element type.
func.func @w_gate_element_type(%x: tensor<2x16x64xf16>, %w_in: tensor<64x256xf16>,
                               %w_out: tensor<256x64xf16>, %w_gate: tensor<64x256xf32>) {
  // expected-error @+1 {{expects w_gate to have the element type 'f16' of input, got 'f32'}}
  %0 = lctx.ffn swiglu %x, %w_in, %w_out, %w_gate
      : tensor<2x16x64xf16>, tensor<64x256xf16>, tensor<256x64xf16>, tensor<64x256xf32>
  return
}

// -----

// w_gate has w_in's shape.
func.func @w_gate_shape(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>,
                        %w_out: tensor<256x64xf32>, %w_gate: tensor<64x128xf32>) {
  // expected-error @+1 {{expects w_in and w_gate to have the same shape, got 'tensor<64x256xf32>' and 'tensor<64x128xf32>'}}
  %0 = lctx.ffn swiglu %x, %w_in, %w_out, %w_gate
      : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<64x128xf32>
  return
}

// -----

// The activation is one of relu, gelu, swiglu.
func.func @unknown_activation(%x: tensor<2x16x64xf32>, %w_in: tensor<64x256xf32>,
                              %w_out: tensor<256x64xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'activation' [relu, gelu, swiglu]}}
  %0 = lctx.ffn silu %x, %w_in, %w_out : tensor<2x16x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>
  return
}

// -----

// The input is floating point (ODS constraint).
func.func @integer_input(%x: tensor<2x16x64xi32>, %w_in: tensor<64x256xf32>,
                         %w_out: tensor<256x64xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<2x16x64xi32>'}}
  %0 = lctx.ffn relu %x, %w_in, %w_out : tensor<2x16x64xi32>, tensor<64x256xf32>, tensor<256x64xf32>
  return
}
