// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.attention: ranks, element types, batch/head/length
// relations, GQA head ratio, positions, causal length, attribute ranges.

// The query must be [B, H, Tq, Dh].
func.func @query_rank(%q: tensor<4x8x32xf32>, %k: tensor<1x4x8x32xf32>, %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects query of rank 4 [B, H, Tq, Dh], got 'tensor<4x8x32xf32>'}}
  %0 = lctx.attention %q, %k, %v : tensor<4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// The key must be [B, Hkv, Tk, Dh].
func.func @key_rank(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32x1xf32>,
                    %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects key of rank 4 [B, Hkv, Tk, Dh]}}
  %0 = lctx.attention %q, %k, %v
      : tensor<1x4x8x32xf32>, tensor<1x4x8x32x1xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// The value must be [B, Hkv, Tk, Dv].
func.func @value_rank(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>, %v: tensor<8x32xf32>) {
  // expected-error @+1 {{expects value of rank 4 [B, Hkv, Tk, Dv]}}
  %0 = lctx.attention %q, %k, %v : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<8x32xf32>
  return
}

// -----

// Key and query share the element type.
func.func @key_element_type(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xbf16>,
                            %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects key to have the element type 'f32' of query, got 'bf16'}}
  %0 = lctx.attention %q, %k, %v : tensor<1x4x8x32xf32>, tensor<1x4x8x32xbf16>, tensor<1x4x8x32xf32>
  return
}

// -----

// Value and query share the element type.
func.func @value_element_type(%q: tensor<1x4x8x32xf16>, %k: tensor<1x4x8x32xf16>,
                              %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects value to have the element type 'f16' of query, got 'f32'}}
  %0 = lctx.attention %q, %k, %v : tensor<1x4x8x32xf16>, tensor<1x4x8x32xf16>, tensor<1x4x8x32xf32>
  return
}

// -----

// Key batch must match the query batch.
func.func @key_batch(%q: tensor<2x4x8x32xf32>, %k: tensor<3x4x8x32xf32>, %v: tensor<3x4x8x32xf32>) {
  // expected-error @+1 {{batch mismatch: key dim 0 is 3 but query dim 0 is 2}}
  %0 = lctx.attention %q, %k, %v : tensor<2x4x8x32xf32>, tensor<3x4x8x32xf32>, tensor<3x4x8x32xf32>
  return
}

// -----

// Value batch must match the query batch.
func.func @value_batch(%q: tensor<2x4x8x32xf32>, %k: tensor<2x4x8x32xf32>,
                       %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{batch mismatch: value dim 0 is 1 but query dim 0 is 2}}
  %0 = lctx.attention %q, %k, %v : tensor<2x4x8x32xf32>, tensor<2x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// Query and key share the head dim Dh.
func.func @head_dim(%q: tensor<1x4x8x64xf32>, %k: tensor<1x4x8x32xf32>, %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{head dim mismatch: key dim 3 is 32 but query dim 3 is 64}}
  %0 = lctx.attention %q, %k, %v : tensor<1x4x8x64xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// Key and value share the head count Hkv.
func.func @kv_heads(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>, %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{key/value head count mismatch: value dim 1 is 2 but key dim 1 is 4}}
  %0 = lctx.attention %q, %k, %v : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>
  return
}

// -----

// Key and value share the length Tk.
func.func @kv_length(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x16x32xf32>,
                     %v: tensor<1x4x12x32xf32>) {
  // expected-error @+1 {{key/value length mismatch: value dim 2 is 12 but key dim 2 is 16}}
  %0 = lctx.attention %q, %k, %v
      : tensor<1x4x8x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x12x32xf32>
  return
}

// -----

// GQA: H must be a multiple of Hkv.
func.func @gqa_ratio(%q: tensor<1x6x8x32xf32>, %k: tensor<1x4x8x32xf32>, %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects the query head count (6) to be a multiple of the key/value head count (4)}}
  %0 = lctx.attention %q, %k, %v : tensor<1x6x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// Zero key/value heads is rejected by the same rule (no division by zero).
func.func @zero_kv_heads(%q: tensor<1x4x8x32xf32>, %k: tensor<1x0x8x32xf32>,
                         %v: tensor<1x0x8x32xf32>) {
  // expected-error @+1 {{to be a multiple of the key/value head count (0)}}
  %0 = lctx.attention %q, %k, %v : tensor<1x4x8x32xf32>, tensor<1x0x8x32xf32>, tensor<1x0x8x32xf32>
  return
}

// -----

// q_positions without k_positions (only expressible in generic form).
func.func @positions_alone(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                           %v: tensor<1x4x8x32xf32>, %p: tensor<1x8xi64>) {
  // expected-error @+1 {{expects q_positions and k_positions to be given together}}
  %0 = "lctx.attention"(%q, %k, %v, %p)
      <{causal = true, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>}>
      : (tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x8xi64>)
      -> tensor<1x4x8x32xf32>
  return
}

// -----

// q_positions must be [B, Tq].
func.func @q_positions_rank(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                            %v: tensor<1x4x8x32xf32>, %qp: tensor<8xi64>, %kp: tensor<1x8xi64>) {
  // expected-error @+1 {{expects q_positions of rank 2 [B, Tq], got 'tensor<8xi64>'}}
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp)
      : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<8xi64>,
        tensor<1x8xi64>
  return
}

// -----

// k_positions must be [B, Tk].
func.func @k_positions_rank(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                            %v: tensor<1x4x8x32xf32>, %qp: tensor<1x8xi64>,
                            %kp: tensor<1x1x8xi64>) {
  // expected-error @+1 {{expects k_positions of rank 2 [B, Tk], got 'tensor<1x1x8xi64>'}}
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp)
      : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x8xi64>,
        tensor<1x1x8xi64>
  return
}

// -----

// q_positions batch must match the query batch.
func.func @q_positions_batch(%q: tensor<2x4x8x32xf32>, %k: tensor<2x4x8x32xf32>,
                             %v: tensor<2x4x8x32xf32>, %qp: tensor<1x8xi64>, %kp: tensor<2x8xi64>) {
  // expected-error @+1 {{batch mismatch: q_positions dim 0 is 1 but query dim 0 is 2}}
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp)
      : tensor<2x4x8x32xf32>, tensor<2x4x8x32xf32>, tensor<2x4x8x32xf32>, tensor<1x8xi64>,
        tensor<2x8xi64>
  return
}

// -----

// q_positions length must match Tq.
func.func @q_positions_length(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x16x32xf32>,
                              %v: tensor<1x4x16x32xf32>, %qp: tensor<1x16xi64>,
                              %kp: tensor<1x16xi64>) {
  // expected-error @+1 {{query length mismatch: q_positions dim 1 is 16 but query dim 2 is 8}}
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp)
      : tensor<1x4x8x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x16xi64>,
        tensor<1x16xi64>
  return
}

// -----

// k_positions batch must match the key batch.
func.func @k_positions_batch(%q: tensor<2x4x8x32xf32>, %k: tensor<2x4x8x32xf32>,
                             %v: tensor<2x4x8x32xf32>, %qp: tensor<2x8xi64>, %kp: tensor<4x8xi64>) {
  // expected-error @+1 {{batch mismatch: k_positions dim 0 is 4 but key dim 0 is 2}}
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp)
      : tensor<2x4x8x32xf32>, tensor<2x4x8x32xf32>, tensor<2x4x8x32xf32>, tensor<2x8xi64>,
        tensor<4x8xi64>
  return
}

// -----

// k_positions length must match Tk.
func.func @k_positions_length(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x16x32xf32>,
                              %v: tensor<1x4x16x32xf32>, %qp: tensor<1x8xi64>,
                              %kp: tensor<1x8xi64>) {
  // expected-error @+1 {{key length mismatch: k_positions dim 1 is 8 but key dim 2 is 16}}
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp)
      : tensor<1x4x8x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x8xi64>,
        tensor<1x8xi64>
  return
}

// -----

// Positions are integers (ODS constraint).
func.func @float_positions(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                           %v: tensor<1x4x8x32xf32>, %qp: tensor<1x8xf32>, %kp: tensor<1x8xf32>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of signless integer values, but got 'tensor<1x8xf32>'}}
  %0 = lctx.attention %q, %k, %v positions(%qp, %kp)
      : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x8xf32>,
        tensor<1x8xf32>
  return
}

// -----

// Without positions, a causal query block cannot be longer than the keys.
func.func @causal_long_queries(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x8x32xf32>,
                               %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects a causal query block no longer than the keys without explicit positions, got Tq = 16 > Tk = 8}}
  %0 = lctx.attention %q, %k, %v : tensor<1x4x16x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// chunk_size must be > 0.
func.func @chunk_size_zero(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                           %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects chunk_size > 0, got 0}}
  %0 = lctx.attention %q, %k, %v {chunk_size = 0 : i64}
      : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// scale must be finite and > 0.
func.func @scale_negative(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                          %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects scale to be finite and > 0, got -1}}
  %0 = lctx.attention %q, %k, %v {scale = -1.0 : f32}
      : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// rope_theta must be finite and > 0 (infinity is rejected).
func.func @rope_theta_inf(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                          %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{expects rope_theta to be finite and > 0, got INF}}
  %0 = lctx.attention %q, %k, %v {rope_theta = 0x7F800000 : f32}
      : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// RoPE rotates dimension pairs: Dh must be even when rope_theta is set.
func.func @rope_odd_head_dim(%q: tensor<1x4x8x33xf32>, %k: tensor<1x4x8x33xf32>,
                             %v: tensor<1x4x8x33xf32>) {
  // expected-error @+1 {{expects an even head dim for RoPE, got 33}}
  %0 = lctx.attention %q, %k, %v {rope_theta = 1.0e+04 : f32}
      : tensor<1x4x8x33xf32>, tensor<1x4x8x33xf32>, tensor<1x4x8x33xf32>
  return
}

// -----

// Activations are floating point (ODS constraint).
func.func @integer_query(%q: tensor<1x4x8x32xi32>, %k: tensor<1x4x8x32xf32>,
                         %v: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values}}
  %0 = lctx.attention %q, %k, %v : tensor<1x4x8x32xi32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>
  return
}

// -----

// A generic-form result type that differs from the inferred one is rejected.
func.func @wrong_result_type(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                             %v: tensor<1x4x8x16xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<1x4x8x16xf32>' are incompatible with return type(s) of operation 'tensor<1x4x8x32xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = "lctx.attention"(%q, %k, %v)
      <{causal = true, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}>
      : (tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x16xf32>) -> tensor<1x4x8x32xf32>
  return
}
