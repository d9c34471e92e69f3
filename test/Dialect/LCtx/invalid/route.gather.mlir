// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.route.gather: input [B, S, D], indices [B, k] of
// the input's batch, integer indices (ODS).

// The input must be [B, S, D].
func.func @input_rank(%x: tensor<128x32xf32>, %idx: tensor<2x8xi64>) {
  // expected-error @+1 {{expects input of rank 3 [B, S, D], got 'tensor<128x32xf32>'}}
  %0 = lctx.route.gather %x, %idx
      : tensor<128x32xf32>, tensor<2x8xi64>
  return
}

// -----

// The indices must be [B, k].
func.func @indices_rank(%x: tensor<2x64x32xf32>, %idx: tensor<8xi64>) {
  // expected-error @+1 {{expects indices of rank 2 [B, k], got 'tensor<8xi64>'}}
  %0 = lctx.route.gather %x, %idx
      : tensor<2x64x32xf32>, tensor<8xi64>
  return
}

// -----

// The indices batch matches the input's.
func.func @indices_batch(%x: tensor<2x64x32xf32>, %idx: tensor<4x8xi64>) {
  // expected-error @+1 {{batch mismatch: indices dim 0 is 4 but input dim 0 is 2}}
  %0 = lctx.route.gather %x, %idx
      : tensor<2x64x32xf32>, tensor<4x8xi64>
  return
}

// -----

// Indices are integers (ODS constraint).
func.func @float_indices(%x: tensor<2x64x32xf32>, %idx: tensor<2x8xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of signless integer values, but got 'tensor<2x8xf32>'}}
  %0 = lctx.route.gather %x, %idx
      : tensor<2x64x32xf32>, tensor<2x8xf32>
  return
}
