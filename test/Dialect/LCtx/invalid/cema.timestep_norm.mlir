// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.cema.timestep_norm: num_groups, input [B, L, D],
// weight/bias [D] of the input's type, G | D, count [B], mean/var [B, G],
// epsilon, and the i64 / f32 state constraints (ODS).

// num_groups must be > 0.
func.func @num_groups_zero(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                           %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{expects num_groups > 0, got 0}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 0 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// num_groups is required.
func.func @num_groups_missing(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                              %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{requires attribute 'num_groups'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// The input must be [B, L, D].
func.func @input_rank(%x: tensor<64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                      %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{expects input of rank 3 [B, L, D], got 'tensor<64x32xf32>'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// The weight must be [D].
func.func @weight_rank(%x: tensor<1x64x32xf32>, %w: tensor<1x32xf32>, %b: tensor<32xf32>,
                       %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{expects weight of rank 1 [D], got 'tensor<1x32xf32>'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<1x32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// The weight has the input's element type.
func.func @weight_element_type(%x: tensor<1x64x32xbf16>, %w: tensor<32xf32>, %b: tensor<32xbf16>,
                               %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{expects weight to have the element type 'bf16' of input, got 'f32'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xbf16>, tensor<32xf32>, tensor<32xbf16>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// The weight has one entry per feature.
func.func @weight_features(%x: tensor<1x64x32xf32>, %w: tensor<16xf32>, %b: tensor<32xf32>,
                           %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{feature mismatch: weight dim 0 is 16 but input dim 2 is 32}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<16xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// The bias has the input's element type.
func.func @bias_element_type(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf16>,
                             %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{expects bias to have the element type 'f32' of input, got 'f16'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf16>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// The bias has one entry per feature.
func.func @bias_features(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<64xf32>,
                         %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{feature mismatch: bias dim 0 is 64 but input dim 2 is 32}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<64xf32>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// num_groups must divide D.
func.func @groups_not_dividing(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                               %c: tensor<1xi64>, %m: tensor<1x5xf32>, %v: tensor<1x5xf32>) {
  // expected-error @+1 {{expects num_groups (5) to divide the feature dim (32)}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 5 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x5xf32>, tensor<1x5xf32>
  return
}

// -----

// count must be [B].
func.func @count_rank(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                      %c: tensor<1x1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{expects count of rank 1 [B], got 'tensor<1x1xi64>'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1x1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// count has one entry per batch row.
func.func @count_batch(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                       %c: tensor<2xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{batch mismatch: count dim 0 is 2 but input dim 0 is 1}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<2xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// mean must be [B, G].
func.func @mean_rank(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                     %c: tensor<1xi64>, %m: tensor<4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{expects mean of rank 2 [B, G], got 'tensor<4xf32>'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<4xf32>, tensor<1x4xf32>
  return
}

// -----

// mean has one row per batch row.
func.func @mean_batch(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                      %c: tensor<1xi64>, %m: tensor<3x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{batch mismatch: mean dim 0 is 3 but input dim 0 is 1}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<3x4xf32>, tensor<1x4xf32>
  return
}

// -----

// mean has num_groups columns.
func.func @mean_groups(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                       %c: tensor<1xi64>, %m: tensor<1x8xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{group count mismatch: mean dim 1 is 8 but num_groups is 4}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x8xf32>, tensor<1x4xf32>
  return
}

// -----

// var has num_groups columns.
func.func @var_groups(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                      %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x2xf32>) {
  // expected-error @+1 {{group count mismatch: var dim 1 is 2 but num_groups is 4}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x2xf32>
  return
}

// -----

// epsilon must be > 0.
func.func @epsilon_zero(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                        %c: tensor<1xi64>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{expects epsilon to be finite and > 0, got 0}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64, epsilon = 0.0 : f32}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// count is i64: an i32 count is rejected (ODS constraint).
func.func @count_i32(%x: tensor<1x64x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>,
                     %c: tensor<1xi32>, %m: tensor<1x4xf32>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of 64-bit signless integer values, but got 'tensor<1xi32>'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
        tensor<1xi32>, tensor<1x4xf32>, tensor<1x4xf32>
  return
}

// -----

// Statistics are fp32 whatever the activation type (ODS constraint).
func.func @mean_bf16(%x: tensor<1x64x32xbf16>, %w: tensor<32xbf16>, %b: tensor<32xbf16>,
                     %c: tensor<1xi64>, %m: tensor<1x4xbf16>, %v: tensor<1x4xf32>) {
  // expected-error @+1 {{operand #4 must be ranked tensor of 32-bit float values, but got 'tensor<1x4xbf16>'}}
  %0:4 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v {num_groups = 4 : i64}
      : tensor<1x64x32xbf16>, tensor<32xbf16>, tensor<32xbf16>,
        tensor<1xi64>, tensor<1x4xbf16>, tensor<1x4xf32>
  return
}
