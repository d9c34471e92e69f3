// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.route.moe: the Switch router (input, router,
// capacity_factor, aux_loss_coef, E > 0), w_gate per activation, grouped
// expert weights (ranks, element types, E/D/F dims), w_gate, fp32 router.

// The input must be [B, S, D].
func.func @input_rank(%x: tensor<64x32xf32>, %wr: tensor<32x8xf32>,
                      %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{expects input of rank 3 [B, S, D], got 'tensor<64x32xf32>'}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// The router must be [D, E].
func.func @router_rank(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>,
                       %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{expects router of rank 2 [D, E], got 'tensor<32xf32>'}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// The router rows are the model width D.
func.func @router_width(%x: tensor<2x64x32xf32>, %wr: tensor<64x8xf32>,
                        %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{model width mismatch: router dim 0 is 64 but input dim 2 is 32}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<64x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// capacity_factor must be > 0.
func.func @capacity_factor_negative(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                                    %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{expects capacity_factor to be finite and > 0, got -1}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2 {capacity_factor = -1.0 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// aux_loss_coef must be finite.
func.func @aux_loss_coef_nan(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                             %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{expects aux_loss_coef to be finite and >= 0, got nan}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2 {aux_loss_coef = 0x7FF8000000000000 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// At least one expert.
func.func @zero_experts(%x: tensor<2x64x32xf32>, %wr: tensor<32x0xf32>,
                        %w1: tensor<0x32x128xf32>, %w2: tensor<0x128x32xf32>) {
  // expected-error @+1 {{expects at least one expert (router dim 1 is 0)}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x0xf32>,
        tensor<0x32x128xf32>, tensor<0x128x32xf32>
  return
}

// -----

// swiglu needs w_gate.
func.func @swiglu_without_gate(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                               %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{expects a w_gate operand with swiglu}}
  %0:2 = lctx.route.moe swiglu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// relu takes no w_gate.
func.func @relu_with_gate(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>, %w1: tensor<8x32x128xf32>,
                          %w2: tensor<8x128x32xf32>, %wg: tensor<8x32x128xf32>) {
  // expected-error @+1 {{expects no w_gate operand with relu}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2, %wg
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>, tensor<8x32x128xf32>
  return
}

// -----

// gelu takes no w_gate.
func.func @gelu_with_gate(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>, %w1: tensor<8x32x128xf32>,
                          %w2: tensor<8x128x32xf32>, %wg: tensor<8x32x128xf32>) {
  // expected-error @+1 {{expects no w_gate operand with gelu}}
  %0:2 = lctx.route.moe gelu %x, %wr, %w1, %w2, %wg
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>, tensor<8x32x128xf32>
  return
}

// -----

// Expert weights are grouped: w_in must be [E, D, F].
func.func @w_in_rank(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                     %w1: tensor<32x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{expects w_in of rank 3 [E, D, F], got 'tensor<32x128xf32>'}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<32x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// Expert weights are grouped: w_out must be [E, F, D].
func.func @w_out_rank(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                      %w1: tensor<8x32x128xf32>, %w2: tensor<128x32xf32>) {
  // expected-error @+1 {{expects w_out of rank 3 [E, F, D], got 'tensor<128x32xf32>'}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<128x32xf32>
  return
}

// -----

// w_in has the input's element type.
func.func @w_in_element_type(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                             %w1: tensor<8x32x128xbf16>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{expects w_in to have the element type 'f32' of input, got 'bf16'}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xbf16>, tensor<8x128x32xf32>
  return
}

// -----

// w_out has the input's element type.
func.func @w_out_element_type(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                              %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x32xf16>) {
  // expected-error @+1 {{expects w_out to have the element type 'f32' of input, got 'f16'}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf16>
  return
}

// -----

// w_in has one slice per router expert.
func.func @w_in_experts(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                        %w1: tensor<4x32x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{expert count mismatch: w_in dim 0 is 4 but router dim 1 is 8}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<4x32x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// w_out has one slice per router expert.
func.func @w_out_experts(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                         %w1: tensor<8x32x128xf32>, %w2: tensor<16x128x32xf32>) {
  // expected-error @+1 {{expert count mismatch: w_out dim 0 is 16 but router dim 1 is 8}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<16x128x32xf32>
  return
}

// -----

// w_in's D is the model width.
func.func @w_in_width(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                      %w1: tensor<8x64x128xf32>, %w2: tensor<8x128x32xf32>) {
  // expected-error @+1 {{model width mismatch: w_in dim 1 is 64 but input dim 2 is 32}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x64x128xf32>, tensor<8x128x32xf32>
  return
}

// -----

// w_out's F matches w_in's F.
func.func @hidden_feature(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                          %w1: tensor<8x32x128xf32>, %w2: tensor<8x64x32xf32>) {
  // expected-error @+1 {{hidden feature mismatch: w_out dim 1 is 64 but w_in dim 2 is 128}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x64x32xf32>
  return
}

// -----

// w_out maps back to the model width (Do = D).
func.func @w_out_width(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                       %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x16xf32>) {
  // expected-error @+1 {{model width mismatch: w_out dim 2 is 16 but input dim 2 is 32}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x16xf32>
  return
}

// -----

// w_gate has the input's element type.
func.func @w_gate_element_type(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>,
                               %w1: tensor<8x32x128xf32>, %w2: tensor<8x128x32xf32>,
                               %wg: tensor<8x32x128xbf16>) {
  // expected-error @+1 {{expects w_gate to have the element type 'f32' of input, got 'bf16'}}
  %0:2 = lctx.route.moe swiglu %x, %wr, %w1, %w2, %wg
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>, tensor<8x32x128xbf16>
  return
}

// -----

// w_gate has w_in's shape.
func.func @w_gate_shape(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>, %w1: tensor<8x32x128xf32>,
                        %w2: tensor<8x128x32xf32>, %wg: tensor<8x32x64xf32>) {
  // expected-error @+1 {{expects w_in and w_gate to have the same shape, got 'tensor<8x32x128xf32>' and 'tensor<8x32x64xf32>'}}
  %0:2 = lctx.route.moe swiglu %x, %wr, %w1, %w2, %wg
      : tensor<2x64x32xf32>, tensor<32x8xf32>,
        tensor<8x32x128xf32>, tensor<8x128x32xf32>, tensor<8x32x64xf32>
  return
}

// -----

// The router is fp32: an f16 router is rejected (ODS constraint).
func.func @router_f16(%x: tensor<2x64x32xf16>, %wr: tensor<32x8xf16>,
                      %w1: tensor<8x32x128xf16>, %w2: tensor<8x128x32xf16>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit float values, but got 'tensor<32x8xf16>'}}
  %0:2 = lctx.route.moe relu %x, %wr, %w1, %w2
      : tensor<2x64x32xf16>, tensor<32x8xf16>,
        tensor<8x32x128xf16>, tensor<8x128x32xf16>
  return
}
