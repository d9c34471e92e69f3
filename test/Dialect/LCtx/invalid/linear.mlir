// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.linear: input and weight ranks, element types, the
// input feature and the bias width, in both weight layouts.

// A scalar input has no feature dim.
func.func @scalar_input(%x: tensor<f32>, %w: tensor<64x128xf32>) {
  // expected-error @+1 {{expects input of rank >= 1, got 'tensor<f32>'}}
  %0 = lctx.linear %x, %w : tensor<f32>, tensor<64x128xf32>
  return
}

// -----

// The weight must be [I, O].
func.func @weight_rank(%x: tensor<2x16x64xf32>, %w: tensor<4x64x128xf32>) {
  // expected-error @+1 {{expects weight of rank 2 [I, O], got 'tensor<4x64x128xf32>'}}
  %0 = lctx.linear %x, %w : tensor<2x16x64xf32>, tensor<4x64x128xf32>
  return
}

// -----

// With transpose_weight the message names the [O, I] layout.
func.func @weight_rank_transposed(%x: tensor<2x16x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{expects weight of rank 2 [O, I], got 'tensor<64xf32>'}}
  %0 = lctx.linear %x, %w {transpose_weight} : tensor<2x16x64xf32>, tensor<64xf32>
  return
}

// -----

// The weight has the input's element type.
func.func @weight_element_type(%x: tensor<2x16x64xf32>, %w: tensor<64x128xbf16>) {
  // expected-error @+1 {{expects weight to have the element type 'f32' of input, got 'bf16'}}
  %0 = lctx.linear %x, %w : tensor<2x16x64xf32>, tensor<64x128xbf16>
  return
}

// -----

// [I, O]: the weight's dim 0 is the input feature.
func.func @input_feature(%x: tensor<2x16x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{input feature mismatch: weight dim 0 is 128 but input dim 2 is 64}}
  %0 = lctx.linear %x, %w : tensor<2x16x64xf32>, tensor<128x64xf32>
  return
}

// -----

// [O, I] with transpose_weight: the weight's dim 1 is the input feature.
func.func @input_feature_transposed(%x: tensor<2x16x64xf32>, %w: tensor<64x256xf32>) {
  // expected-error @+1 {{input feature mismatch: weight dim 1 is 256 but input dim 2 is 64}}
  %0 = lctx.linear %x, %w {transpose_weight} : tensor<2x16x64xf32>, tensor<64x256xf32>
  return
}

// -----

// The bias must be [O].
func.func @bias_rank(%x: tensor<2x16x64xf32>, %w: tensor<64x128xf32>, %b: tensor<1x128xf32>) {
  // expected-error @+1 {{expects bias of rank 1 [O], got 'tensor<1x128xf32>'}}
  %0 = lctx.linear %x, %w, %b : tensor<2x16x64xf32>, tensor<64x128xf32>, tensor<1x128xf32>
  return
}

// -----

// The bias has the input's element type.
func.func @bias_element_type(%x: tensor<2x16x64xf16>, %w: tensor<64x128xf16>, %b: tensor<128xf32>) {
  // expected-error @+1 {{expects bias to have the element type 'f16' of input, got 'f32'}}
  %0 = lctx.linear %x, %w, %b : tensor<2x16x64xf16>, tensor<64x128xf16>, tensor<128xf32>
  return
}

// -----

// [I, O]: the bias width is the weight's dim 1.
func.func @bias_width(%x: tensor<2x16x64xf32>, %w: tensor<64x128xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{output feature mismatch: bias dim 0 is 64 but weight dim 1 is 128}}
  %0 = lctx.linear %x, %w, %b : tensor<2x16x64xf32>, tensor<64x128xf32>, tensor<64xf32>
  return
}

// -----

// [O, I] with transpose_weight: the bias width is the weight's dim 0.
func.func @bias_width_transposed(%x: tensor<2x16x64xf32>, %w: tensor<256x64xf32>,
                                 %b: tensor<64xf32>) {
  // expected-error @+1 {{output feature mismatch: bias dim 0 is 64 but weight dim 0 is 256}}
  %0 = lctx.linear %x, %w, %b {transpose_weight}
      : tensor<2x16x64xf32>, tensor<256x64xf32>, tensor<64xf32>
  return
}

// -----

// The input is floating point (ODS constraint).
func.func @integer_input(%x: tensor<2x16x64xi8>, %w: tensor<64x128xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<2x16x64xi8>'}}
  %0 = lctx.linear %x, %w : tensor<2x16x64xi8>, tensor<64x128xf32>
  return
}

// -----

// transpose_weight is a unit attribute (ODS constraint).
func.func @transpose_weight_not_unit(%x: tensor<2x16x64xf32>, %w: tensor<64x64xf32>) {
  // expected-error @+1 {{attribute 'transpose_weight' failed to satisfy constraint: unit attribute}}
  %0 = lctx.linear %x, %w {transpose_weight = true} : tensor<2x16x64xf32>, tensor<64x64xf32>
  return
}
