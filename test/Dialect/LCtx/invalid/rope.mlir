// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.rope: input rank, positions rank and dims, even head
// dim, theta, and the ODS element-type constraints.

// The input must be [B, H, T, Dh].
func.func @input_rank(%x: tensor<2x16x64xf32>, %pos: tensor<2x16xi64>) {
  // expected-error @+1 {{expects input of rank 4 [B, H, T, Dh], got 'tensor<2x16x64xf32>'}}
  %0 = lctx.rope %x, %pos : tensor<2x16x64xf32>, tensor<2x16xi64>
  return
}

// -----

// [B, T] positions: the batch must match the input's.
func.func @positions_batch(%x: tensor<2x8x16x64xf32>, %pos: tensor<3x16xi64>) {
  // expected-error @+1 {{batch mismatch: positions dim 0 is 3 but input dim 0 is 2}}
  %0 = lctx.rope %x, %pos : tensor<2x8x16x64xf32>, tensor<3x16xi64>
  return
}

// -----

// [B, T] positions: the length must match the input's T.
func.func @positions_length_2d(%x: tensor<2x8x16x64xf32>, %pos: tensor<2x32xi64>) {
  // expected-error @+1 {{sequence length mismatch: positions dim 1 is 32 but input dim 2 is 16}}
  %0 = lctx.rope %x, %pos : tensor<2x8x16x64xf32>, tensor<2x32xi64>
  return
}

// -----

// [T] positions: the length must match the input's T.
func.func @positions_length_1d(%x: tensor<2x8x16x64xf32>, %pos: tensor<8xi32>) {
  // expected-error @+1 {{sequence length mismatch: positions dim 0 is 8 but input dim 2 is 16}}
  %0 = lctx.rope %x, %pos : tensor<2x8x16x64xf32>, tensor<8xi32>
  return
}

// -----

// Positions of rank 3 are neither [T] nor [B, T].
func.func @positions_rank3(%x: tensor<2x8x16x64xf32>, %pos: tensor<2x8x16xi64>) {
  // expected-error @+1 {{expects positions of rank 1 [T] or 2 [B, T], got 'tensor<2x8x16xi64>'}}
  %0 = lctx.rope %x, %pos : tensor<2x8x16x64xf32>, tensor<2x8x16xi64>
  return
}

// -----

// A scalar position (rank 0) is rejected by the same rule.
func.func @positions_rank0(%x: tensor<2x8x16x64xf32>, %pos: tensor<i64>) {
  // expected-error @+1 {{expects positions of rank 1 [T] or 2 [B, T], got 'tensor<i64>'}}
  %0 = lctx.rope %x, %pos : tensor<2x8x16x64xf32>, tensor<i64>
  return
}

// -----

// RoPE rotates dimension pairs: Dh must be even.
func.func @odd_head_dim(%x: tensor<2x8x16x63xf32>, %pos: tensor<16xi64>) {
  // expected-error @+1 {{expects an even head dim, got 63}}
  %0 = lctx.rope %x, %pos : tensor<2x8x16x63xf32>, tensor<16xi64>
  return
}

// -----

// theta must be finite and > 0.
func.func @theta_zero(%x: tensor<2x8x16x64xf32>, %pos: tensor<16xi64>) {
  // expected-error @+1 {{expects theta to be finite and > 0, got 0}}
  %0 = lctx.rope %x, %pos {theta = 0.0 : f32} : tensor<2x8x16x64xf32>, tensor<16xi64>
  return
}

// -----

// Positions are integers (ODS constraint).
func.func @float_positions(%x: tensor<2x8x16x64xf32>, %pos: tensor<16xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of signless integer values, but got 'tensor<16xf32>'}}
  %0 = lctx.rope %x, %pos : tensor<2x8x16x64xf32>, tensor<16xf32>
  return
}

// -----

// The input is floating point (ODS constraint).
func.func @integer_input(%x: tensor<2x8x16x64xi32>, %pos: tensor<16xi64>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<2x8x16x64xi32>'}}
  %0 = lctx.rope %x, %pos : tensor<2x8x16x64xi32>, tensor<16xi64>
  return
}
