// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.route.dispatch: input [B, S, D], expert and slot
// maps [B, S] (i32, ODS), result buffers [E, B*C, D] with E > 0, B | B*C,
// the input's element type and width.

// The input must be [B, S, D].
func.func @input_rank(%x: tensor<64x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x64xi32>) {
  // expected-error @+1 {{expects input of rank 3 [B, S, D], got 'tensor<64x32xf32>'}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<8x32x32xf32>
  return
}

// -----

// The expert map must be [B, S].
func.func @expert_rank(%x: tensor<2x64x32xf32>, %e: tensor<128xi32>, %s: tensor<2x64xi32>) {
  // expected-error @+1 {{expects expert of rank 2 [B, S], got 'tensor<128xi32>'}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<128xi32>, tensor<2x64xi32> -> tensor<8x32x32xf32>
  return
}

// -----

// The expert map batch matches the input's.
func.func @expert_batch(%x: tensor<2x64x32xf32>, %e: tensor<1x64xi32>, %s: tensor<2x64xi32>) {
  // expected-error @+1 {{batch mismatch: expert dim 0 is 1 but input dim 0 is 2}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<1x64xi32>, tensor<2x64xi32> -> tensor<8x32x32xf32>
  return
}

// -----

// The expert map covers every token.
func.func @expert_tokens(%x: tensor<2x64x32xf32>, %e: tensor<2x32xi32>, %s: tensor<2x64xi32>) {
  // expected-error @+1 {{token count mismatch: expert dim 1 is 32 but input dim 1 is 64}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x32xi32>, tensor<2x64xi32> -> tensor<8x32x32xf32>
  return
}

// -----

// The slot map must be [B, S].
func.func @slot_rank(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x64x1xi32>) {
  // expected-error @+1 {{expects slot of rank 2 [B, S], got 'tensor<2x64x1xi32>'}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64x1xi32> -> tensor<8x32x32xf32>
  return
}

// -----

// The slot map covers every token.
func.func @slot_tokens(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x63xi32>) {
  // expected-error @+1 {{token count mismatch: slot dim 1 is 63 but input dim 1 is 64}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x63xi32> -> tensor<8x32x32xf32>
  return
}

// -----

// The result must be [E, B*C, D].
func.func @result_rank(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x64xi32>) {
  // expected-error @+1 {{expects result of rank 3 [E, B*C, D], got 'tensor<256x32xf32>'}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<256x32xf32>
  return
}

// -----

// At least one expert buffer.
func.func @zero_experts(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x64xi32>) {
  // expected-error @+1 {{expects at least one expert (result dim 0 is 0)}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<0x32x32xf32>
  return
}

// -----

// The buffer length is a multiple of B.
func.func @slots_not_batch_multiple(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>,
                                    %s: tensor<2x64xi32>) {
  // expected-error @+1 {{expects result dim 1 (31) to be batch (2) x capacity}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<8x31x32xf32>
  return
}

// -----

// The result has the input's element type.
func.func @result_element_type(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>,
                               %s: tensor<2x64xi32>) {
  // expected-error @+1 {{expects result to have the element type 'f32' of input, got 'bf16'}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<8x32x32xbf16>
  return
}

// -----

// The result keeps the model width D.
func.func @result_width(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x64xi32>) {
  // expected-error @+1 {{model width mismatch: result dim 2 is 64 but input dim 2 is 32}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xi32> -> tensor<8x32x64xf32>
  return
}

// -----

// The expert map is i32: i64 is rejected (ODS constraint).
func.func @expert_i64(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi64>, %s: tensor<2x64xi32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer values, but got 'tensor<2x64xi64>'}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi64>, tensor<2x64xi32> -> tensor<8x32x32xf32>
  return
}

// -----

// The slot map is an integer tensor: f32 is rejected (ODS constraint).
func.func @slot_f32(%x: tensor<2x64x32xf32>, %e: tensor<2x64xi32>, %s: tensor<2x64xf32>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of 32-bit signless integer values, but got 'tensor<2x64xf32>'}}
  %0 = lctx.route.dispatch %x, %e, %s
      : tensor<2x64x32xf32>, tensor<2x64xi32>, tensor<2x64xf32> -> tensor<8x32x32xf32>
  return
}
