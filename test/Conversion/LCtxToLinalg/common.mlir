// RUN: lctx-opt %s -split-input-file -convert-lctx-to-linalg | FileCheck %s

// Structure of the lowering of the shared ops: matmul-class work becomes
// named linalg ops, reductions and elementwise math linalg.generic.

// RMS norm: one reduction of x^2 over the last dim, 1 / sqrt(mean + eps)
// once per row, then one elementwise normalize-and-scale (multiplies only).
// CHECK-LABEL: func.func @rms_norm
// CHECK-NOT: lctx.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK:   math.sqrt
// CHECK:   arith.divf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK-NOT: math.sqrt
// CHECK-NOT: arith.divf
// CHECK: linalg.yield
func.func @rms_norm(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  %0 = lctx.rms_norm %x, %w : tensor<2x8xf32>, tensor<8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

// Linear on a rank-3 input: collapse to a matrix, matmul with the transposed
// weight, bias, expand back.
// CHECK-LABEL: func.func @linear_transposed
// CHECK: %[[M:.+]] = tensor.collapse_shape %{{.+}} {{\[\[}}0, 1], [2]] : tensor<2x3x8xf32> into tensor<6x8xf32>
// CHECK: %[[P:.+]] = linalg.matmul_transpose_b ins(%[[M]], %{{.+}} : tensor<6x8xf32>, tensor<16x8xf32>)
// CHECK: %[[B:.+]] = linalg.generic {{.*}} ins(%[[P]], %{{.+}} : tensor<6x16xf32>, tensor<16xf32>)
// CHECK: tensor.expand_shape %[[B]] {{\[\[}}0, 1], [2]] output_shape [2, 3, 16]
func.func @linear_transposed(%x: tensor<2x3x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<2x3x16xf32> {
  %0 = lctx.linear %x, %w, %b {transpose_weight} : tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  return %0 : tensor<2x3x16xf32>
}

// -----

// Grouped FFN (experts): batched matmuls; swiglu computes silu(g) * h.
// CHECK-LABEL: func.func @ffn_grouped_swiglu
// CHECK: linalg.batch_matmul
// CHECK: linalg.batch_matmul
// CHECK: linalg.generic
// CHECK:   math.exp
// CHECK: linalg.batch_matmul
func.func @ffn_grouped_swiglu(%x: tensor<4x6x8xf32>, %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>,
                              %wg: tensor<4x8x16xf32>) -> tensor<4x6x8xf32> {
  %0 = lctx.ffn swiglu %x, %w1, %w2, %wg
      : tensor<4x6x8xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>
  return %0 : tensor<4x6x8xf32>
}

// -----

// bf16 models accumulate in f32: the matmuls read bf16 operands into f32
// accumulators, the hidden activation stays f32, and the result is
// truncated once at the end.
// CHECK-LABEL: func.func @gelu_bf16
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<3x8xbf16>, tensor<8x16xbf16>) outs(%{{.+}} : tensor<3x16xf32>)
// CHECK: linalg.generic
// CHECK:   math.erf %{{.+}} : f32
// CHECK: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<3x16xf32>, tensor<16x8xbf16>) outs(%{{.+}} : tensor<3x8xf32>)
// CHECK: linalg.generic
// CHECK:   arith.truncf %{{.+}} : f32 to bf16
func.func @gelu_bf16(%x: tensor<3x8xbf16>, %w1: tensor<8x16xbf16>, %w2: tensor<16x8xbf16>) -> tensor<3x8xbf16> {
  %0 = lctx.ffn gelu %x, %w1, %w2 : tensor<3x8xbf16>, tensor<8x16xbf16>, tensor<16x8xbf16>
  return %0 : tensor<3x8xbf16>
}

// -----

// Attention is tiled with an online softmax: a parallel loop (scf.forall)
// over (batch, head, query tile), an inner loop over key tiles with the GQA
// head g = h / 2, per-tile score matmuls, and no [B, H, Tq, Tk] scores.
// CHECK-LABEL: func.func @attention_gqa
// CHECK-NOT: tensor<1x4x5x5xf32>
// CHECK: scf.forall
// CHECK:   arith.divui %{{.+}}, %c2
// CHECK:   scf.for
// CHECK:     linalg.matmul_transpose_b ins(%{{.+}}, %{{.+}} : tensor<5x8xf32>, tensor<5x8xf32>)
// CHECK:     arith.maximumf
// CHECK:     math.exp
// CHECK:     linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<5x5xf32>, tensor<5x8xf32>)
// CHECK:   arith.divf
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice
func.func @attention_gqa(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x8xf32>) -> tensor<1x4x5x8xf32> {
  %0 = lctx.attention %q, %k, %v : tensor<1x4x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
  return %0 : tensor<1x4x5x8xf32>
}

// -----

// A few queries over a cache (a decode step: Tq = 1 <= 4) take the
// whole-row form: no tiles, no per-tile transposes; the scores are one
// contraction over the head dim with the keys read in place, then the
// masked row max, exp, row sum and P V.
// CHECK-LABEL: func.func @attention_decode
// CHECK-NOT: scf.forall
// CHECK-NOT: linalg.matmul_transpose_b
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<1x4x1x8xf32>, tensor<1x2x16x8xf32>) outs(%{{.*}} : tensor<1x4x1x16xf32>)
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x4x1x16xf32>, tensor<1x2x16x8xf32>) outs(%{{.*}} : tensor<1x4x1x8xf32>)
// CHECK: arith.divf
func.func @attention_decode(%q: tensor<1x4x1x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x4x1x8xf32> {
  %o = lctx.attention %q, %k, %v : tensor<1x4x1x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>
  return %o : tensor<1x4x1x8xf32>
}

// -----

// Long sequences are padded to whole 64-wide tiles (padded keys at position
// -1) and the result is sliced back.
// CHECK-LABEL: func.func @attention_padded
// CHECK: tensor.pad %{{.+}} low[0, 0, 0, 0] high[0, 0, 58, 0]
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 0, 0] [1, 1, 70, 8] [1, 1, 1, 1] : tensor<1x1x128x8xf32> to tensor<1x1x70x8xf32>
func.func @attention_padded(%q: tensor<1x1x70x8xf32>) -> tensor<1x1x70x8xf32> {
  %0 = lctx.attention %q, %q, %q : tensor<1x1x70x8xf32>, tensor<1x1x70x8xf32>, tensor<1x1x70x8xf32>
  return %0 : tensor<1x1x70x8xf32>
}

// -----

// Embedding: a loop over the ids, each copying one table row (a
// vectorizable generic on a [D] slice; zero row for an id out of range)
// straight into the result's shape (no reshape after the loop).
// CHECK-LABEL: func.func @embedding_rows
// CHECK: %[[Y:.+]] = scf.for %{{.+}} = %c0 to %c6 step %c1 iter_args(%{{.+}} = %{{.+}}) -> (tensor<2x3x8xf32>)
// CHECK:   arith.remui %{{.+}}, %c3
// CHECK:   arith.divui %{{.+}}, %c3
// CHECK:   tensor.extract %arg1[%{{.+}}, %{{.+}}] : tensor<2x3xi64>
// CHECK:   arith.cmpi slt, %{{.+}}, %c32_i64
// CHECK:   tensor.extract_slice %arg0[%{{.+}}, 0] [1, 8] [1, 1] : tensor<32x8xf32> to tensor<8xf32>
// CHECK:   linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK:     arith.select
// CHECK:   tensor.insert_slice %{{.+}} into %{{.+}}[%{{.+}}, %{{.+}}, 0] [1, 1, 8] [1, 1, 1]
// CHECK: return %[[Y]]
func.func @embedding_rows(%t: tensor<32x8xf32>, %ids: tensor<2x3xi64>) -> tensor<2x3x8xf32> {
  %e = lctx.embedding %t, %ids : tensor<32x8xf32>, tensor<2x3xi64>
  return %e : tensor<2x3x8xf32>
}

// -----

// RoPE: inv_freq [Dh/2], then cos and sin tables [T, Dh/2] in f64 (one
// transcendental pair per position and frequency), then the rotation reads
// them; no transcendental per element of x.
// CHECK-LABEL: func.func @rope_tables
// CHECK: %[[INV:.+]] = linalg.generic {{.*}}outs(%{{.+}} : tensor<4xf64>)
// CHECK:   math.exp
// CHECK: %[[COS:.+]] = linalg.generic {{.*}}ins(%arg1, %[[INV]] : tensor<4xi32>, tensor<4xf64>) outs(%{{.+}} : tensor<4x4xf64>)
// CHECK:   math.cos
// CHECK: %[[SIN:.+]] = linalg.generic {{.*}}ins(%arg1, %[[INV]] : tensor<4xi32>, tensor<4xf64>) outs(%{{.+}} : tensor<4x4xf64>)
// CHECK:   math.sin
// CHECK: linalg.generic {{.*}}outs(%{{.+}} : tensor<1x2x4x8xf32>)
// CHECK-NOT: math.
// CHECK:   tensor.extract %[[COS]]
// CHECK:   tensor.extract %[[SIN]]
// CHECK-NOT: math.
// CHECK: return
func.func @rope_tables(%x: tensor<1x2x4x8xf32>, %pos: tensor<4xi32>) -> tensor<1x2x4x8xf32> {
  %0 = lctx.rope %x, %pos : tensor<1x2x4x8xf32>, tensor<4xi32>
  return %0 : tensor<1x2x4x8xf32>
}
