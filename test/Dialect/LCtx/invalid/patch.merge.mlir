// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.patch.merge: input [B*K, P, X] and result [B, T, X]
// ranks, element type, feature dim, P > 0, P | T, and B*K = B x T/P.

// The input must be [B*K, P, X].
func.func @input_rank(%l: tensor<32x256xf32>) {
  // expected-error @+1 {{expects input of rank 3 [B*K, P, X], got 'tensor<32x256xf32>'}}
  %0 = lctx.patch.merge %l : tensor<32x256xf32> -> tensor<2x16x256xf32>
  return
}

// -----

// The result must be [B, T, X].
func.func @result_rank(%l: tensor<8x4x256xf32>) {
  // expected-error @+1 {{expects result of rank 3 [B, T, X], got 'tensor<32x256xf32>'}}
  %0 = lctx.patch.merge %l : tensor<8x4x256xf32> -> tensor<32x256xf32>
  return
}

// -----

// Input and result share the element type.
func.func @element_type(%l: tensor<8x4x256xf32>) {
  // expected-error @+1 {{expects result to have the element type 'f32' of input, got 'bf16'}}
  %0 = lctx.patch.merge %l : tensor<8x4x256xf32> -> tensor<2x16x256xbf16>
  return
}

// -----

// Input and result share the feature dim X.
func.func @feature(%l: tensor<8x4x256xf32>) {
  // expected-error @+1 {{feature mismatch: result dim 2 is 128 but input dim 2 is 256}}
  %0 = lctx.patch.merge %l : tensor<8x4x256xf32> -> tensor<2x16x128xf32>
  return
}

// -----

// An empty patch (P = 0) is rejected.
func.func @empty_patch(%l: tensor<8x0x256xf32>) {
  // expected-error @+1 {{expects a non-empty patch (input dim 1 is 0)}}
  %0 = lctx.patch.merge %l : tensor<8x0x256xf32> -> tensor<2x16x256xf32>
  return
}

// -----

// The patch length P must divide the result length T.
func.func @length_not_divisible(%l: tensor<8x4x256xf32>) {
  // expected-error @+1 {{expects the patch length (input dim 1 = 4) to divide the result length (18)}}
  %0 = lctx.patch.merge %l : tensor<8x4x256xf32> -> tensor<2x18x256xf32>
  return
}

// -----

// The input holds B x T/P patches.
func.func @patch_count(%l: tensor<6x4x256xf32>) {
  // expected-error @+1 {{expects input dim 0 (6) to equal batch x patches = 2 x 4 = 8}}
  %0 = lctx.patch.merge %l : tensor<6x4x256xf32> -> tensor<2x16x256xf32>
  return
}

// -----

// The input is floating point (ODS constraint).
func.func @integer_input(%l: tensor<8x4x256xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<8x4x256xi32>'}}
  %0 = lctx.patch.merge %l : tensor<8x4x256xi32> -> tensor<2x16x256xi32>
  return
}
