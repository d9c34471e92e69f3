// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.memory.update: key/value ranks, element types and
// dims, the memory state against the key and value, the rule keyword, f32
// state (ODS).

// The key must be [B, H, N, Dk].
func.func @key_rank(%k: tensor<2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>,
                    %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{expects key of rank 4 [B, H, N, Dk], got 'tensor<2x8x16xf32>'}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The value must be [B, H, N, Dv].
func.func @value_rank(%k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16x1xf32>,
                      %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{expects value of rank 4 [B, H, N, Dv], got 'tensor<1x2x8x16x1xf32>'}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16x1xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// Key and value share the element type.
func.func @value_element_type(%k: tensor<1x2x8x16xbf16>, %v: tensor<1x2x8x16xf32>,
                              %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{expects value to have the element type 'bf16' of key, got 'f32'}}
  %0:2 = lctx.memory.update delta %k, %v, %m, %z
      : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// Key and value share the batch.
func.func @value_batch(%k: tensor<1x2x8x16xf32>, %v: tensor<2x2x8x16xf32>,
                       %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{batch mismatch: value dim 0 is 2 but key dim 0 is 1}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// Key and value share the head count.
func.func @value_heads(%k: tensor<1x2x8x16xf32>, %v: tensor<1x4x8x16xf32>,
                       %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{head count mismatch: value dim 1 is 4 but key dim 1 is 2}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// Key and value share the segment length N.
func.func @segment_length(%k: tensor<1x2x8x16xf32>, %v: tensor<1x2x6x16xf32>,
                          %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{segment length mismatch: value dim 2 is 6 but key dim 2 is 8}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x6x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The memory state is checked against the key: memory rows are Dk.
func.func @memory_key_dim(%k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>,
                          %m: tensor<1x2x8x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{key dim mismatch: memory dim 2 is 8 but key dim 3 is 16}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The memory state is checked against the key: norm rank.
func.func @norm_rank(%k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>,
                     %z: tensor<2x16xf32>) {
  // expected-error @+1 {{expects norm of rank 3 [B, H, Dk], got 'tensor<2x16xf32>'}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<2x16xf32>
  return
}

// -----

// The memory columns are the value head dim Dv.
func.func @memory_value_dim(%k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x32xf32>,
                            %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{value dim mismatch: memory dim 3 is 16 but the value head dim is 32}}
  %0:2 = lctx.memory.update delta %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x8x32xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The rule is linear or delta.
func.func @unknown_rule(%k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>,
                        %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'rule' [linear, delta]}}
  %0:2 = lctx.memory.update hebbian %k, %v, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The memory is f32 (ODS constraint).
func.func @memory_f16(%k: tensor<1x2x8x16xf16>, %v: tensor<1x2x8x16xf16>, %m: tensor<1x2x16x16xf16>,
                      %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of 32-bit float values, but got 'tensor<1x2x16x16xf16>'}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x16x16xf16>, tensor<1x2x16xf32>
  return
}

// -----

// Keys and values are floating point (ODS constraint).
func.func @integer_key(%k: tensor<1x2x8x16xi32>, %v: tensor<1x2x8x16xf32>,
                       %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<1x2x8x16xi32>'}}
  %0:2 = lctx.memory.update linear %k, %v, %m, %z
      : tensor<1x2x8x16xi32>, tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}
