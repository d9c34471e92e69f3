// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.route.combine: expert map [B, S], buffers
// [E, B*C, D] with E > 0 and B | B*C, slot and gate of the expert map's
// shape, i32 maps and an f32 gate (ODS).

// The expert map must be [B, S].
func.func @expert_rank(%out: tensor<8x32x32xf32>, %e: tensor<128xi32>,
                       %s: tensor<2x64xi32>, %g: tensor<2x64xf32>) {
  // expected-error @+1 {{expects expert of rank 2 [B, S], got 'tensor<128xi32>'}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x32x32xf32>, tensor<128xi32>, tensor<2x64xi32>, tensor<2x64xf32>
  return
}

// -----

// The buffers must be [E, B*C, D].
func.func @buffer_rank(%out: tensor<256x32xf32>, %e: tensor<2x64xi32>,
                       %s: tensor<2x64xi32>, %g: tensor<2x64xf32>) {
  // expected-error @+1 {{expects expert_out of rank 3 [E, B*C, D], got 'tensor<256x32xf32>'}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<256x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<2x64xf32>
  return
}

// -----

// At least one expert buffer.
func.func @zero_experts(%out: tensor<0x32x32xf32>, %e: tensor<2x64xi32>,
                        %s: tensor<2x64xi32>, %g: tensor<2x64xf32>) {
  // expected-error @+1 {{expects at least one expert (expert_out dim 0 is 0)}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<0x32x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<2x64xf32>
  return
}

// -----

// The buffer length is a multiple of B.
func.func @slots_not_batch_multiple(%out: tensor<8x33x32xf32>, %e: tensor<2x64xi32>,
                                    %s: tensor<2x64xi32>, %g: tensor<2x64xf32>) {
  // expected-error @+1 {{expects expert_out dim 1 (33) to be batch (2) x capacity}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x33x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<2x64xf32>
  return
}

// -----

// The slot map must be [B, S].
func.func @slot_rank(%out: tensor<8x32x32xf32>, %e: tensor<2x64xi32>,
                     %s: tensor<2x64x1xi32>, %g: tensor<2x64xf32>) {
  // expected-error @+1 {{expects slot of rank 2 [B, S], got 'tensor<2x64x1xi32>'}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x64x1xi32>, tensor<2x64xf32>
  return
}

// -----

// The slot map has the expert map's shape.
func.func @slot_shape(%out: tensor<8x32x32xf32>, %e: tensor<2x64xi32>,
                      %s: tensor<2x32xi32>, %g: tensor<2x64xf32>) {
  // expected-error @+1 {{expects expert and slot to have the same shape, got 'tensor<2x64xi32>' and 'tensor<2x32xi32>'}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x32xi32>, tensor<2x64xf32>
  return
}

// -----

// The gate must be [B, S].
func.func @gate_rank(%out: tensor<8x32x32xf32>, %e: tensor<2x64xi32>,
                     %s: tensor<2x64xi32>, %g: tensor<128xf32>) {
  // expected-error @+1 {{expects gate of rank 2 [B, S], got 'tensor<128xf32>'}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<128xf32>
  return
}

// -----

// The gate has the expert map's shape.
func.func @gate_shape(%out: tensor<8x32x32xf32>, %e: tensor<2x64xi32>,
                      %s: tensor<2x64xi32>, %g: tensor<1x64xf32>) {
  // expected-error @+1 {{expects expert and gate to have the same shape, got 'tensor<2x64xi32>' and 'tensor<1x64xf32>'}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<1x64xf32>
  return
}

// -----

// The gate is f32: a bf16 gate is rejected (ODS constraint).
func.func @gate_bf16(%out: tensor<8x32x32xf32>, %e: tensor<2x64xi32>,
                     %s: tensor<2x64xi32>, %g: tensor<2x64xbf16>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of 32-bit float values, but got 'tensor<2x64xbf16>'}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x32x32xf32>, tensor<2x64xi32>, tensor<2x64xi32>, tensor<2x64xbf16>
  return
}

// -----

// The expert map is i32: i64 is rejected (ODS constraint).
func.func @expert_i64(%out: tensor<8x32x32xf32>, %e: tensor<2x64xi64>,
                      %s: tensor<2x64xi32>, %g: tensor<2x64xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer values, but got 'tensor<2x64xi64>'}}
  %0 = lctx.route.combine %out, %e, %s, %g
      : tensor<8x32x32xf32>, tensor<2x64xi64>, tensor<2x64xi32>, tensor<2x64xf32>
  return
}
