// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.memory.attention: segment_size, ranks, element
// types and dims of q/k/v (no GQA), the memory state against the query and
// value, beta, scale, rope_theta and RoPE's even head dim, f32 state (ODS).

// segment_size must be > 0.
func.func @segment_size_zero(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                             %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>,
                             %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects segment_size > 0, got 0}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 0 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// segment_size is required.
func.func @segment_size_missing(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                                %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>,
                                %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{requires attribute 'segment_size'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The query must be [B, H, T, Dk].
func.func @query_rank(%q: tensor<2x64x16xf32>, %k: tensor<1x2x64x16xf32>, %v: tensor<1x2x64x16xf32>,
                      %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects query of rank 4 [B, H, T, Dk], got 'tensor<2x64x16xf32>'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The key must be [B, H, T, Dk].
func.func @key_rank(%q: tensor<1x2x64x16xf32>, %k: tensor<2x64x16xf32>, %v: tensor<1x2x64x16xf32>,
                    %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects key of rank 4 [B, H, T, Dk], got 'tensor<2x64x16xf32>'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The value must be [B, H, T, Dv].
func.func @value_rank(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>, %v: tensor<2x64x16xf32>,
                      %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects value of rank 4 [B, H, T, Dv], got 'tensor<2x64x16xf32>'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The key has the query's element type.
func.func @key_element_type(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xbf16>,
                            %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>,
                            %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects key to have the element type 'f32' of query, got 'bf16'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xbf16>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The value has the query's element type.
func.func @value_element_type(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                              %v: tensor<1x2x64x16xf16>, %m: tensor<1x2x16x16xf32>,
                              %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects value to have the element type 'f32' of query, got 'f16'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf16>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The key batch matches the query's.
func.func @key_batch(%q: tensor<1x2x64x16xf32>, %k: tensor<2x2x64x16xf32>,
                     %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                     %beta: tensor<2xf32>) {
  // expected-error @+1 {{batch mismatch: key dim 0 is 2 but query dim 0 is 1}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<2x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The key head count matches the query's (no grouped heads).
func.func @key_heads(%q: tensor<1x2x64x16xf32>, %k: tensor<1x1x64x16xf32>,
                     %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                     %beta: tensor<2xf32>) {
  // expected-error @+1 {{head count mismatch: key dim 1 is 1 but query dim 1 is 2}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x1x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The key length matches the query's.
func.func @key_length(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x32x16xf32>,
                      %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                      %beta: tensor<2xf32>) {
  // expected-error @+1 {{sequence length mismatch: key dim 2 is 32 but query dim 2 is 64}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The value batch matches the query's.
func.func @value_batch(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                       %v: tensor<3x2x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                       %beta: tensor<2xf32>) {
  // expected-error @+1 {{batch mismatch: value dim 0 is 3 but query dim 0 is 1}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<3x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The value head count matches the query's.
func.func @value_heads(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                       %v: tensor<1x4x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                       %beta: tensor<2xf32>) {
  // expected-error @+1 {{head count mismatch: value dim 1 is 4 but query dim 1 is 2}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x4x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The value length matches the query's.
func.func @value_length(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                        %v: tensor<1x2x48x16xf32>, %m: tensor<1x2x16x16xf32>,
                        %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{sequence length mismatch: value dim 2 is 48 but query dim 2 is 64}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x48x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// Query and key share the head dim Dk.
func.func @head_dim(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x16xf32>,
                    %m: tensor<1x2x32x16xf32>, %z: tensor<1x2x32xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{head dim mismatch: key dim 3 is 32 but query dim 3 is 16}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x16xf32>, tensor<1x2x32x16xf32>,
        tensor<1x2x32xf32>, tensor<2xf32>
  return
}

// -----

// The memory state matches the query: memory rows are Dk.
func.func @memory_key_dim(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                          %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x8x16xf32>,
                          %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{key dim mismatch: memory dim 2 is 8 but query dim 3 is 16}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x8x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The memory state matches the query: norm batch.
func.func @norm_batch(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                      %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<2x2x16xf32>,
                      %beta: tensor<2xf32>) {
  // expected-error @+1 {{batch mismatch: norm dim 0 is 2 but query dim 0 is 1}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<2x2x16xf32>, tensor<2xf32>
  return
}

// -----

// The memory columns are the value head dim Dv.
func.func @memory_value_dim(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                            %v: tensor<1x2x64x32xf32>, %m: tensor<1x2x16x16xf32>,
                            %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{value dim mismatch: memory dim 3 is 16 but the value head dim is 32}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x32xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// beta must be [H].
func.func @beta_rank(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                     %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                     %beta: tensor<2x1xf32>) {
  // expected-error @+1 {{expects beta of rank 1 [H], got 'tensor<2x1xf32>'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2x1xf32>
  return
}

// -----

// beta has the query's element type.
func.func @beta_element_type(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                             %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>,
                             %z: tensor<1x2x16xf32>, %beta: tensor<2xf16>) {
  // expected-error @+1 {{expects beta to have the element type 'f32' of query, got 'f16'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf16>
  return
}

// -----

// beta has one entry per head.
func.func @beta_heads(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                      %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                      %beta: tensor<3xf32>) {
  // expected-error @+1 {{head count mismatch: beta dim 0 is 3 but query dim 1 is 2}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<3xf32>
  return
}

// -----

// scale must be finite and > 0.
func.func @scale_zero(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                      %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>,
                      %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects scale to be finite and > 0, got 0}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16
      : i64, scale = 0.0 : f32}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// rope_theta must be finite and > 0.
func.func @rope_theta_negative(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                               %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xf32>,
                               %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects rope_theta to be finite and > 0, got -1.000000e+04}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16
      : i64, rope_theta = -1.0e+04 : f32}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xf32>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}

// -----

// RoPE needs an even head dim.
func.func @rope_odd_head_dim(%q: tensor<1x2x64x15xf32>, %k: tensor<1x2x64x15xf32>,
                             %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x15x16xf32>,
                             %z: tensor<1x2x15xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{expects an even head dim for RoPE, got 15}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16
      : i64, rope_theta = 1.0e+04 : f32}
      : tensor<1x2x64x15xf32>, tensor<1x2x64x15xf32>, tensor<1x2x64x16xf32>, tensor<1x2x15x16xf32>,
        tensor<1x2x15xf32>, tensor<2xf32>
  return
}

// -----

// The memory is f32 whatever the activation type (ODS constraint).
func.func @memory_bf16(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>,
                       %v: tensor<1x2x64x16xf32>, %m: tensor<1x2x16x16xbf16>,
                       %z: tensor<1x2x16xf32>, %beta: tensor<2xf32>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of 32-bit float values, but got 'tensor<1x2x16x16xbf16>'}}
  %0:3 = lctx.memory.attention linear %q, %k, %v, %m, %z, %beta {segment_size = 16 : i64}
      : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x16x16xbf16>,
        tensor<1x2x16xf32>, tensor<2xf32>
  return
}
