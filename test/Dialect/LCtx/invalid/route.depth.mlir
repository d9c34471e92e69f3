// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.route.depth: input [B, S, D], router [D], capacity
// in (0, 1], the mode keyword, and the fp32 router (ODS).

// The input must be [B, S, D].
func.func @input_rank(%x: tensor<64x32xf32>, %wr: tensor<32xf32>) {
  // expected-error @+1 {{expects input of rank 3 [B, S, D], got 'tensor<64x32xf32>'}}
  %0:2 = lctx.route.depth topk %x, %wr
      : tensor<64x32xf32>, tensor<32xf32>
  return
}

// -----

// The router must be [D].
func.func @router_rank(%x: tensor<2x64x32xf32>, %wr: tensor<32x1xf32>) {
  // expected-error @+1 {{expects router of rank 1 [D], got 'tensor<32x1xf32>'}}
  %0:2 = lctx.route.depth topk %x, %wr
      : tensor<2x64x32xf32>, tensor<32x1xf32>
  return
}

// -----

// The router length is the model width D.
func.func @router_width(%x: tensor<2x64x32xf32>, %wr: tensor<16xf32>) {
  // expected-error @+1 {{model width mismatch: router dim 0 is 16 but input dim 2 is 32}}
  %0:2 = lctx.route.depth topk %x, %wr
      : tensor<2x64x32xf32>, tensor<16xf32>
  return
}

// -----

// capacity must be > 0.
func.func @capacity_zero(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>) {
  // expected-error @+1 {{expects capacity in (0, 1], got 0}}
  %0:2 = lctx.route.depth topk %x, %wr {capacity = 0.0 : f64}
      : tensor<2x64x32xf32>, tensor<32xf32>
  return
}

// -----

// capacity must be <= 1.
func.func @capacity_above_one(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>) {
  // expected-error @+1 {{expects capacity in (0, 1], got 1.5}}
  %0:2 = lctx.route.depth topk %x, %wr {capacity = 1.5 : f64}
      : tensor<2x64x32xf32>, tensor<32xf32>
  return
}

// -----

// A NaN capacity is rejected.
func.func @capacity_nan(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>) {
  // expected-error @+1 {{expects capacity in (0, 1], got nan}}
  %0:2 = lctx.route.depth topk %x, %wr {capacity = 0x7FF8000000000000 : f64}
      : tensor<2x64x32xf32>, tensor<32xf32>
  return
}

// -----

// The router is fp32: a bf16 router is rejected (ODS constraint).
func.func @router_bf16(%x: tensor<2x64x32xf32>, %wr: tensor<32xbf16>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit float values, but got 'tensor<32xbf16>'}}
  %0:2 = lctx.route.depth topk %x, %wr
      : tensor<2x64x32xf32>, tensor<32xbf16>
  return
}
