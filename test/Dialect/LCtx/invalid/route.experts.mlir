// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.route.experts: input [B, S, D], router [D, E] with
// E > 0, capacity_factor > 0, aux_loss_coef >= 0, and the fp32 router (ODS).

// The input must be [B, S, D].
func.func @input_rank(%x: tensor<64x32xf32>, %wr: tensor<32x8xf32>) {
  // expected-error @+1 {{expects input of rank 3 [B, S, D], got 'tensor<64x32xf32>'}}
  %0:4 = lctx.route.experts %x, %wr
      : tensor<64x32xf32>, tensor<32x8xf32>
  return
}

// -----

// The router must be [D, E].
func.func @router_rank(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>) {
  // expected-error @+1 {{expects router of rank 2 [D, E], got 'tensor<32xf32>'}}
  %0:4 = lctx.route.experts %x, %wr
      : tensor<2x64x32xf32>, tensor<32xf32>
  return
}

// -----

// The router rows are the model width D.
func.func @router_width(%x: tensor<2x64x32xf32>, %wr: tensor<16x8xf32>) {
  // expected-error @+1 {{model width mismatch: router dim 0 is 16 but input dim 2 is 32}}
  %0:4 = lctx.route.experts %x, %wr
      : tensor<2x64x32xf32>, tensor<16x8xf32>
  return
}

// -----

// capacity_factor must be > 0.
func.func @capacity_factor_zero(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>) {
  // expected-error @+1 {{expects capacity_factor to be finite and > 0, got 0}}
  %0:4 = lctx.route.experts %x, %wr {capacity_factor = 0.0 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>
  return
}

// -----

// capacity_factor must be finite.
func.func @capacity_factor_inf(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>) {
  // expected-error @+1 {{expects capacity_factor to be finite and > 0, got INF}}
  %0:4 = lctx.route.experts %x, %wr {capacity_factor = 0x7FF0000000000000 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>
  return
}

// -----

// aux_loss_coef must be >= 0.
func.func @aux_loss_coef_negative(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>) {
  // expected-error @+1 {{expects aux_loss_coef to be finite and >= 0, got -1.000000e-02}}
  %0:4 = lctx.route.experts %x, %wr {aux_loss_coef = -1.0e-2 : f64}
      : tensor<2x64x32xf32>, tensor<32x8xf32>
  return
}

// -----

// At least one expert.
func.func @zero_experts(%x: tensor<2x64x32xf32>, %wr: tensor<32x0xf32>) {
  // expected-error @+1 {{expects at least one expert (router dim 1 is 0)}}
  %0:4 = lctx.route.experts %x, %wr
      : tensor<2x64x32xf32>, tensor<32x0xf32>
  return
}

// -----

// The router is fp32: an f16 router is rejected (ODS constraint).
func.func @router_f16(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf16>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit float values, but got 'tensor<32x8xf16>'}}
  %0:4 = lctx.route.experts %x, %wr
      : tensor<2x64x32xf32>, tensor<32x8xf16>
  return
}

// -----

// capacity_factor is an f64 attribute (ODS constraint).
func.func @capacity_factor_f32(%x: tensor<2x64x32xf32>, %wr: tensor<32x8xf32>) {
  // expected-error @+1 {{attribute 'capacity_factor' failed to satisfy constraint: 64-bit float attribute}}
  %0:4 = lctx.route.experts %x, %wr {capacity_factor = 1.0 : f32}
      : tensor<2x64x32xf32>, tensor<32x8xf32>
  return
}

// -----

// The input is floating point (ODS constraint).
func.func @integer_input(%x: tensor<2x64x32xi32>, %wr: tensor<32x8xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<2x64x32xi32>'}}
  %0:4 = lctx.route.experts %x, %wr
      : tensor<2x64x32xi32>, tensor<32x8xf32>
  return
}
