// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.layer_norm: input rank, the optional [D] weight and
// bias (rank, element type, width), epsilon, ODS element-type constraints.

// A scalar has no last dimension to normalize over.
func.func @scalar_input(%x: tensor<f16>) {
  // expected-error @+1 {{expects input of rank >= 1, got 'tensor<f16>'}}
  %0 = lctx.layer_norm %x : tensor<f16>
  return
}

// -----

// The weight must be [D].
func.func @weight_rank(%x: tensor<2x16x64xf32>, %g: tensor<16x64xf32>) {
  // expected-error @+1 {{expects weight of rank 1 [D], got 'tensor<16x64xf32>'}}
  %0 = lctx.layer_norm %x weight(%g : tensor<16x64xf32>) : tensor<2x16x64xf32>
  return
}

// -----

// The weight has the input's element type.
func.func @weight_element_type(%x: tensor<2x16x64xf32>, %g: tensor<64xf16>) {
  // expected-error @+1 {{expects weight to have the element type 'f32' of input, got 'f16'}}
  %0 = lctx.layer_norm %x weight(%g : tensor<64xf16>) : tensor<2x16x64xf32>
  return
}

// -----

// The weight width matches the last input dim.
func.func @weight_width(%x: tensor<2x16x64xf32>, %g: tensor<65xf32>) {
  // expected-error @+1 {{feature mismatch: weight dim 0 is 65 but input dim 2 is 64}}
  %0 = lctx.layer_norm %x weight(%g : tensor<65xf32>) : tensor<2x16x64xf32>
  return
}

// -----

// The bias must be [D].
func.func @bias_rank(%x: tensor<2x16x64xf32>, %g: tensor<64xf32>, %b: tensor<1x64xf32>) {
  // expected-error @+1 {{expects bias of rank 1 [D], got 'tensor<1x64xf32>'}}
  %0 = lctx.layer_norm %x weight(%g : tensor<64xf32>) bias(%b : tensor<1x64xf32>) : tensor<2x16x64xf32>
  return
}

// -----

// The bias has the input's element type.
func.func @bias_element_type(%x: tensor<2x16x64xbf16>, %g: tensor<64xbf16>, %b: tensor<64xf32>) {
  // expected-error @+1 {{expects bias to have the element type 'bf16' of input, got 'f32'}}
  %0 = lctx.layer_norm %x weight(%g : tensor<64xbf16>) bias(%b : tensor<64xf32>) : tensor<2x16x64xbf16>
  return
}

// -----

// The bias width matches the last input dim.
func.func @bias_width(%x: tensor<2x16x64xf32>, %g: tensor<64xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{feature mismatch: bias dim 0 is 16 but input dim 2 is 64}}
  %0 = lctx.layer_norm %x weight(%g : tensor<64xf32>) bias(%b : tensor<16xf32>) : tensor<2x16x64xf32>
  return
}

// -----

// epsilon must be > 0.
func.func @epsilon_negative(%x: tensor<2x16x64xf32>) {
  // expected-error @+1 {{expects epsilon to be finite and > 0, got -1.000000e-07}}
  %0 = lctx.layer_norm %x {epsilon = -1.0e-7 : f32} : tensor<2x16x64xf32>
  return
}

// -----

// The input is floating point (ODS constraint).
func.func @integer_input(%x: tensor<2x16x64xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<2x16x64xi32>'}}
  %0 = lctx.layer_norm %x : tensor<2x16x64xi32>
  return
}
