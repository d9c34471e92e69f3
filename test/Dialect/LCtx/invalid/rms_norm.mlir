// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.rms_norm: input rank, the optional [D] weight (rank,
// element type, width), epsilon, and the ODS element-type constraints.

// A scalar has no last dimension to normalize over.
func.func @scalar_input(%x: tensor<f32>) {
  // expected-error @+1 {{expects input of rank >= 1, got 'tensor<f32>'}}
  %0 = lctx.rms_norm %x : tensor<f32>
  return
}

// -----

// The weight must be [D].
func.func @weight_rank(%x: tensor<2x16x64xf32>, %w: tensor<1x64xf32>) {
  // expected-error @+1 {{expects weight of rank 1 [D], got 'tensor<1x64xf32>'}}
  %0 = lctx.rms_norm %x, %w : tensor<2x16x64xf32>, tensor<1x64xf32>
  return
}

// -----

// The weight has the input's element type.
func.func @weight_element_type(%x: tensor<2x16x64xbf16>, %w: tensor<64xf32>) {
  // expected-error @+1 {{expects weight to have the element type 'bf16' of input, got 'f32'}}
  %0 = lctx.rms_norm %x, %w : tensor<2x16x64xbf16>, tensor<64xf32>
  return
}

// -----

// The weight width matches the last input dim.
func.func @weight_width(%x: tensor<2x16x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{feature mismatch: weight dim 0 is 32 but input dim 2 is 64}}
  %0 = lctx.rms_norm %x, %w : tensor<2x16x64xf32>, tensor<32xf32>
  return
}

// -----

// epsilon must be > 0 (zero is rejected).
func.func @epsilon_zero(%x: tensor<2x16x64xf32>) {
  // expected-error @+1 {{expects epsilon to be finite and > 0, got 0}}
  %0 = lctx.rms_norm %x {epsilon = 0.0 : f32} : tensor<2x16x64xf32>
  return
}

// -----

// epsilon must be finite (NaN is rejected).
func.func @epsilon_nan(%x: tensor<2x16x64xf32>) {
  // expected-error @+1 {{expects epsilon to be finite and > 0, got nan}}
  %0 = lctx.rms_norm %x {epsilon = 0x7FC00000 : f32} : tensor<2x16x64xf32>
  return
}

// -----

// The input is floating point (ODS constraint).
func.func @integer_input(%x: tensor<2x16x64xi8>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<2x16x64xi8>'}}
  %0 = lctx.rms_norm %x : tensor<2x16x64xi8>
  return
}

// -----

// The weight is floating point (ODS constraint).
func.func @integer_weight(%x: tensor<2x16x64xf32>, %w: tensor<64xi32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of floating-point values, but got 'tensor<64xi32>'}}
  %0 = lctx.rms_norm %x, %w : tensor<2x16x64xf32>, tensor<64xi32>
  return
}
