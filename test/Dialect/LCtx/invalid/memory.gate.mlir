// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.memory.gate: local_out rank, both outputs of one
// type and shape, beta [H] of the same element type and head count.

// local_out must be [B, H, N, Dv].
func.func @local_rank(%amem: tensor<2x8x16xf32>, %adot: tensor<2x8x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects local_out of rank 4 [B, H, N, Dv], got 'tensor<2x8x16xf32>'}}
  %0 = lctx.memory.gate %amem, %adot, %beta : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2xf32>
  return
}

// -----

// memory_out has local_out's element type.
func.func @element_type(%amem: tensor<1x2x8x16xf32>, %adot: tensor<1x2x8x16xbf16>,
                        %beta: tensor<2xbf16>) {
  // expected-error @+1 {{expects memory_out to have the element type 'bf16' of local_out, got 'f32'}}
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xbf16>, tensor<2xbf16>
  return
}

// -----

// memory_out has local_out's shape.
func.func @shape(%amem: tensor<1x2x8x32xf32>, %adot: tensor<1x2x8x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects memory_out and local_out to have the same shape, got 'tensor<1x2x8x32xf32>' and 'tensor<1x2x8x16xf32>'}}
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<1x2x8x32xf32>, tensor<1x2x8x16xf32>, tensor<2xf32>
  return
}

// -----

// A rank mismatch between the outputs is a shape mismatch.
func.func @memory_rank(%amem: tensor<2x8x16xf32>, %adot: tensor<1x2x8x16xf32>,
                       %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects memory_out and local_out to have the same shape, got 'tensor<2x8x16xf32>' and 'tensor<1x2x8x16xf32>'}}
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<2xf32>
  return
}

// -----

// beta must be [H].
func.func @beta_rank(%amem: tensor<1x2x8x16xf32>, %adot: tensor<1x2x8x16xf32>,
                     %beta: tensor<1x2xf32>) {
  // expected-error @+1 {{expects beta of rank 1 [H], got 'tensor<1x2xf32>'}}
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2xf32>
  return
}

// -----

// beta has the outputs' element type.
func.func @beta_element_type(%amem: tensor<1x2x8x16xbf16>, %adot: tensor<1x2x8x16xbf16>,
                             %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects beta to have the element type 'bf16' of local_out, got 'f32'}}
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<2xf32>
  return
}

// -----

// beta has one entry per head.
func.func @beta_heads(%amem: tensor<1x2x8x16xf32>, %adot: tensor<1x2x8x16xf32>,
                      %beta: tensor<4xf32>) {
  // expected-error @+1 {{head count mismatch: beta dim 0 is 4 but local_out dim 1 is 2}}
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<4xf32>
  return
}

// -----

// The outputs are floating point (ODS constraint).
func.func @integer_output(%amem: tensor<1x2x8x16xi32>, %adot: tensor<1x2x8x16xf32>,
                          %beta: tensor<2xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<1x2x8x16xi32>'}}
  %0 = lctx.memory.gate %amem, %adot, %beta
      : tensor<1x2x8x16xi32>, tensor<1x2x8x16xf32>, tensor<2xf32>
  return
}
