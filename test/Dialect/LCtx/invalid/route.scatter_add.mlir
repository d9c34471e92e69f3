// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.route.scatter_add: input [B, S, D], updates
// [B, k, D], indices and weights [B, k], element types, and the ODS
// constraints (integer indices, f32 weights).

// The input must be [B, S, D].
func.func @input_rank(%x: tensor<64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<2x8xi64>) {
  // expected-error @+1 {{expects input of rank 3 [B, S, D], got 'tensor<64x32xf32>'}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>
  return
}

// -----

// The updates must be [B, k, D].
func.func @updates_rank(%x: tensor<2x64x32xf32>, %upd: tensor<8x32xf32>, %idx: tensor<2x8xi64>) {
  // expected-error @+1 {{expects updates of rank 3 [B, k, D], got 'tensor<8x32xf32>'}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<8x32xf32>, tensor<2x8xi64>
  return
}

// -----

// The indices must be [B, k].
func.func @indices_rank(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<16xi64>) {
  // expected-error @+1 {{expects indices of rank 2 [B, k], got 'tensor<16xi64>'}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<16xi64>
  return
}

// -----

// The updates have the input's element type.
func.func @updates_element_type(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xbf16>,
                                %idx: tensor<2x8xi64>) {
  // expected-error @+1 {{expects updates to have the element type 'f32' of input, got 'bf16'}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<2x8x32xbf16>, tensor<2x8xi64>
  return
}

// -----

// The updates batch matches the input's.
func.func @updates_batch(%x: tensor<2x64x32xf32>, %upd: tensor<1x8x32xf32>, %idx: tensor<1x8xi64>) {
  // expected-error @+1 {{batch mismatch: updates dim 0 is 1 but input dim 0 is 2}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<1x8x32xf32>, tensor<1x8xi64>
  return
}

// -----

// The updates width is the model width D.
func.func @updates_width(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x16xf32>, %idx: tensor<2x8xi64>) {
  // expected-error @+1 {{model width mismatch: updates dim 2 is 16 but input dim 2 is 32}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<2x8x16xf32>, tensor<2x8xi64>
  return
}

// -----

// The indices batch matches the updates'.
func.func @indices_batch(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<1x8xi64>) {
  // expected-error @+1 {{batch mismatch: indices dim 0 is 1 but updates dim 0 is 2}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<1x8xi64>
  return
}

// -----

// The indices count matches the updates' k.
func.func @indices_count(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<2x4xi64>) {
  // expected-error @+1 {{selected count mismatch: indices dim 1 is 4 but updates dim 1 is 8}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x4xi64>
  return
}

// -----

// The weights must be [B, k].
func.func @weights_rank(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<2x8xi64>,
                        %w: tensor<16xf32>) {
  // expected-error @+1 {{expects weights of rank 2 [B, k], got 'tensor<16xf32>'}}
  %0 = lctx.route.scatter_add %x, %upd, %idx, %w
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>, tensor<16xf32>
  return
}

// -----

// The weights have the indices' shape.
func.func @weights_shape(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<2x8xi64>,
                         %w: tensor<2x4xf32>) {
  // expected-error @+1 {{expects indices and weights to have the same shape, got 'tensor<2x8xi64>' and 'tensor<2x4xf32>'}}
  %0 = lctx.route.scatter_add %x, %upd, %idx, %w
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>, tensor<2x4xf32>
  return
}

// -----

// The weights are f32: bf16 is rejected (ODS constraint).
func.func @weights_bf16(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<2x8xi64>,
                        %w: tensor<2x8xbf16>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of 32-bit float values, but got 'tensor<2x8xbf16>'}}
  %0 = lctx.route.scatter_add %x, %upd, %idx, %w
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xi64>, tensor<2x8xbf16>
  return
}

// -----

// Indices are integers (ODS constraint).
func.func @float_indices(%x: tensor<2x64x32xf32>, %upd: tensor<2x8x32xf32>, %idx: tensor<2x8xf32>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of signless integer values, but got 'tensor<2x8xf32>'}}
  %0 = lctx.route.scatter_add %x, %upd, %idx
      : tensor<2x64x32xf32>, tensor<2x8x32xf32>, tensor<2x8xf32>
  return
}
