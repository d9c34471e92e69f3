// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.memory.retrieve: query [B, H, N, Dk], memory
// [B, H, Dk, Dv] and norm [B, H, Dk] consistent with it, f32 state (ODS).

// The query must be [B, H, N, Dk].
func.func @query_rank(%q: tensor<2x8x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{expects query of rank 4 [B, H, N, Dk], got 'tensor<2x8x16xf32>'}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The memory must be [B, H, Dk, Dv].
func.func @memory_rank(%q: tensor<1x2x8x16xf32>, %m: tensor<2x16x16xf32>, %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{expects memory of rank 4 [B, H, Dk, Dv], got 'tensor<2x16x16xf32>'}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The norm must be [B, H, Dk].
func.func @norm_rank(%q: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>,
                     %z: tensor<1x2x16x1xf32>) {
  // expected-error @+1 {{expects norm of rank 3 [B, H, Dk], got 'tensor<1x2x16x1xf32>'}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x1xf32>
  return
}

// -----

// The memory batch matches the query's.
func.func @memory_batch(%q: tensor<1x2x8x16xf32>, %m: tensor<2x2x16x16xf32>,
                        %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{batch mismatch: memory dim 0 is 2 but query dim 0 is 1}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<2x2x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The memory head count matches the query's.
func.func @memory_heads(%q: tensor<1x2x8x16xf32>, %m: tensor<1x4x16x16xf32>,
                        %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{head count mismatch: memory dim 1 is 4 but query dim 1 is 2}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x4x16x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The memory rows are the query's key dim Dk.
func.func @memory_key_dim(%q: tensor<1x2x8x16xf32>, %m: tensor<1x2x32x16xf32>,
                          %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{key dim mismatch: memory dim 2 is 32 but query dim 3 is 16}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x32x16xf32>, tensor<1x2x16xf32>
  return
}

// -----

// The norm batch matches the query's.
func.func @norm_batch(%q: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<3x2x16xf32>) {
  // expected-error @+1 {{batch mismatch: norm dim 0 is 3 but query dim 0 is 1}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<3x2x16xf32>
  return
}

// -----

// The norm head count matches the query's.
func.func @norm_heads(%q: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x1x16xf32>) {
  // expected-error @+1 {{head count mismatch: norm dim 1 is 1 but query dim 1 is 2}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x1x16xf32>
  return
}

// -----

// The norm length is the query's key dim Dk.
func.func @norm_key_dim(%q: tensor<1x2x8x16xf32>, %m: tensor<1x2x16x16xf32>,
                        %z: tensor<1x2x8xf32>) {
  // expected-error @+1 {{key dim mismatch: norm dim 2 is 8 but query dim 3 is 16}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x8xf32>
  return
}

// -----

// The memory is f32 whatever the activation type (ODS constraint).
func.func @memory_bf16(%q: tensor<1x2x8x16xbf16>, %m: tensor<1x2x16x16xbf16>,
                       %z: tensor<1x2x16xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit float values, but got 'tensor<1x2x16x16xbf16>'}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xbf16>, tensor<1x2x16x16xbf16>, tensor<1x2x16xf32>
  return
}

// -----

// The norm is f32 whatever the activation type (ODS constraint).
func.func @norm_f16(%q: tensor<1x2x8x16xf16>, %m: tensor<1x2x16x16xf32>, %z: tensor<1x2x16xf16>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of 32-bit float values, but got 'tensor<1x2x16xf16>'}}
  %0 = lctx.memory.retrieve %q, %m, %z
      : tensor<1x2x8x16xf16>, tensor<1x2x16x16xf32>, tensor<1x2x16xf16>
  return
}
