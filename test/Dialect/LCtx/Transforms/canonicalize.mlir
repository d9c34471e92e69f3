// RUN: lctx-opt %s -split-input-file -canonicalize | FileCheck %s

// Canonicalization patterns and folders of lctx ops.

// A chunk at least as long as the keys is one chunk: chunk_size is dropped.
// CHECK-LABEL: func.func @attention_single_chunk
// CHECK: lctx.attention
// CHECK-NOT: chunk_size
// CHECK-SAME: {scale = 1.000000e+00 : f32}
func.func @attention_single_chunk(%q: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  %o = lctx.attention %q, %q, %q {chunk_size = 16 : i64, scale = 1.0 : f32}
      : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>
  return %o : tensor<1x2x16x8xf32>
}

// -----

// Keys longer than the chunk: the op is block-diagonal, chunk_size stays.
// CHECK-LABEL: func.func @attention_many_chunks
// CHECK: lctx.attention {{.*}}chunk_size = 8 : i64
func.func @attention_many_chunks(%q: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  %o = lctx.attention %q, %q, %q {chunk_size = 8 : i64}
      : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>
  return %o : tensor<1x2x16x8xf32>
}

// -----

// Explicit positions may lie beyond the chunk: chunk_size stays.
// CHECK-LABEL: func.func @attention_positions_keep_chunk
// CHECK: lctx.attention {{.*}}chunk_size = 64 : i64
func.func @attention_positions_keep_chunk(%q: tensor<1x1x4x8xf32>, %p: tensor<1x4xi64>)
    -> tensor<1x1x4x8xf32> {
  %o = lctx.attention %q, %q, %q positions(%p, %p) {chunk_size = 64 : i64}
      : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x4xi64>, tensor<1x4xi64>
  return %o : tensor<1x1x4x8xf32>
}

// -----

// Dynamic key length: nothing is known, chunk_size stays.
// CHECK-LABEL: func.func @attention_dynamic_keys
// CHECK: lctx.attention {{.*}}chunk_size = 64 : i64
func.func @attention_dynamic_keys(%q: tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32> {
  %o = lctx.attention %q, %q, %q {chunk_size = 64 : i64, causal = false}
      : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  return %o : tensor<1x1x?x8xf32>
}

// -----

// One patch per sequence: patch.merge is the identity.
// CHECK-LABEL: func.func @merge_one_patch
// CHECK-SAME: (%[[X:.+]]: tensor<2x4x8xf32>)
// CHECK-NOT: lctx.patch.merge
// CHECK: return %[[X]]
func.func @merge_one_patch(%x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %y = lctx.patch.merge %x : tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// Several patches: the merge is a real relayout and stays.
// CHECK-LABEL: func.func @merge_patches
// CHECK: lctx.patch.merge
func.func @merge_patches(%x: tensor<8x4x8xf32>) -> tensor<2x16x8xf32> {
  %y = lctx.patch.merge %x : tensor<8x4x8xf32> -> tensor<2x16x8xf32>
  return %y : tensor<2x16x8xf32>
}

// -----

// Top-k at capacity 1 selects every token in order: the gather is the input.
// CHECK-LABEL: func.func @gather_all_tokens
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x8x4xf32>
// CHECK-NOT: lctx.route.gather
// CHECK: return %[[X]]
func.func @gather_all_tokens(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>) -> tensor<2x8x4xf32> {
  %idx, %r = lctx.route.depth topk %x, %w {capacity = 1.0 : f64} : tensor<2x8x4xf32>, tensor<4xf32>
  %g = lctx.route.gather %x, %idx : tensor<2x8x4xf32>, tensor<2x8xi64>
  return %g : tensor<2x8x4xf32>
}

// -----

// Causal routing pads with -1: the gather is not the identity.
// CHECK-LABEL: func.func @gather_causal_kept
// CHECK: lctx.route.gather
func.func @gather_causal_kept(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>) -> tensor<2x8x4xf32> {
  %idx, %r = lctx.route.depth causal %x, %w : tensor<2x8x4xf32>, tensor<4xf32>
  %g = lctx.route.gather %x, %idx : tensor<2x8x4xf32>, tensor<2x8xi64>
  return %g : tensor<2x8x4xf32>
}

// -----

// Capacity below 1 selects a subset: the gather stays.
// CHECK-LABEL: func.func @gather_subset_kept
// CHECK: lctx.route.gather
func.func @gather_subset_kept(%x: tensor<2x8x4xf32>, %w: tensor<4xf32>) -> tensor<2x4x4xf32> {
  %idx, %r = lctx.route.depth topk %x, %w {capacity = 0.5 : f64} : tensor<2x8x4xf32>, tensor<4xf32>
  %g = lctx.route.gather %x, %idx : tensor<2x8x4xf32>, tensor<2x4xi64>
  return %g : tensor<2x4x4xf32>
}

// -----

// Nothing selected (k = floor(0.125 * 7) = 0): the MoD block drops out and
// scatter_add returns its input.
// CHECK-LABEL: func.func @scatter_nothing
// CHECK-SAME: (%[[X:[^:]+]]: tensor<1x7x4xf32>
// CHECK-NOT: lctx.route
// CHECK: return %[[X]]
func.func @scatter_nothing(%x: tensor<1x7x4xf32>, %w: tensor<4xf32>) -> tensor<1x7x4xf32> {
  %idx, %r = lctx.route.depth topk %x, %w : tensor<1x7x4xf32>, tensor<4xf32>
  %g = lctx.route.gather %x, %idx : tensor<1x7x4xf32>, tensor<1x0xi64>
  %y = lctx.route.scatter_add %x, %g, %idx, %r
      : tensor<1x7x4xf32>, tensor<1x0x4xf32>, tensor<1x0xi64>, tensor<1x0xf32>
  return %y : tensor<1x7x4xf32>
}

// -----

// Non-causal with Tq > Tk: the first query sits at position -1, in another
// chunk than every key, so the chunk mask matters and chunk_size stays.
// CHECK-LABEL: func.func @attention_queries_before_zero
// CHECK: lctx.attention {{.*}}chunk_size = 16 : i64
func.func @attention_queries_before_zero(%q: tensor<1x1x5x8xf32>, %k: tensor<1x1x4x8xf32>) -> tensor<1x1x5x8xf32> {
  %o = lctx.attention %q, %k, %k {chunk_size = 16 : i64, causal = false}
      : tensor<1x1x5x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
  return %o : tensor<1x1x5x8xf32>
}
