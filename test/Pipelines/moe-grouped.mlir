// RUN: lctx-opt %s --lctx-moe-grouped --canonicalize --cse | FileCheck %s
// RUN: lctx-opt %s --lctx-moe-grouped=block-rows=12 --canonicalize --cse | FileCheck %s --check-prefix=R12
// RUN: lctx-opt %s --lctx-moe-grouped --lctx-decompose=ops=route.moe --convert-lctx-to-linalg --lctx-fuse-elementwise --canonicalize --cse --lctx-cpu-contraction-codegen | FileCheck %s --check-prefix=CODEGEN

// A Switch prefill runs each kept token through its own expert only:
// route, count the kept tokens per expert, lay the experts out in blocks of
// R rows (40 tokens, 4 experts: R = 6, at most ceil(40/6) + 4 - 1 = 10
// blocks), place the tokens (src: row -> token, dest: token -> row, the
// gate of each row), gather the rows in expert order, then one block per
// forall iteration: the FFN of the block's expert on weight slices at a
// dynamic offset, each row scaled by its gate; gather back to token order.
// CHECK-LABEL: func.func @dropless_swiglu
// CHECK-NOT:     lctx.route.moe
// CHECK:         %[[E:.*]], %[[G:.*]], %[[S:.*]], %[[AUX:.*]] = lctx.route.experts %arg0, %arg1 {dropless}
// Counts of the kept (slot >= 0) tokens.
// CHECK:         %[[COUNTS:.*]] = scf.for {{.*}} -> (tensor<4xindex>)
// CHECK:           tensor.extract %[[E]]
// CHECK:           tensor.extract %[[S]]
// CHECK:           arith.cmpi sge
// Blocks: each expert owns ceil(count / 6) of them.
// CHECK:         %[[LAYOUT:.*]]:3 = scf.for {{.*}} -> (tensor<10xi32>, tensor<4xindex>, index)
// CHECK:           tensor.extract %[[COUNTS]]
// CHECK:           arith.ceildivui %{{.*}}, %c6
// CHECK:           scf.for
// CHECK:             tensor.insert
// Placement of the kept tokens.
// CHECK:         %[[PLACED:.*]]:4 = scf.for {{.*}} iter_args({{.*}} = %[[LAYOUT]]#1) -> (tensor<1x60xi64>, tensor<1x40xi64>, tensor<60xf32>, tensor<4xindex>)
// CHECK:           scf.if
// CHECK:             tensor.extract %[[G]]
// CHECK:         %[[GATHERED:.*]] = lctx.route.gather %arg0, %[[PLACED]]#0 : tensor<1x40x8xf32>, tensor<1x60xi64>
// CHECK:         %[[GROUPED:.*]] = tensor.collapse_shape %[[GATHERED]] {{.*}} into tensor<60x8xf32>
// CHECK:         %[[OUT:.*]] = scf.forall (%[[J:.*]]) in (%[[LAYOUT]]#2) shared_outs(%[[ACC:.*]] = %{{.*}}) -> (tensor<60x8xf32>)
// CHECK:           %[[EJ:.*]] = tensor.extract %[[LAYOUT]]#0[%[[J]]] : tensor<10xi32>
// CHECK:           %[[EI:.*]] = arith.index_cast %[[EJ]] : i32 to index
// CHECK:           %[[R0:.*]] = arith.muli %[[J]], %c6
// CHECK:           %[[X:.*]] = tensor.extract_slice %[[GROUPED]][%[[R0]], 0] [6, 8] [1, 1]
// CHECK-DAG:       %[[WG:.*]] = tensor.extract_slice %arg4[%[[EI]], 0, 0] [1, 8, 16] [1, 1, 1] : tensor<4x8x16xf32> to tensor<8x16xf32>
// CHECK-DAG:       %[[W1:.*]] = tensor.extract_slice %arg2[%[[EI]], 0, 0] [1, 8, 16] [1, 1, 1] : tensor<4x8x16xf32> to tensor<8x16xf32>
// CHECK-DAG:       %[[W2:.*]] = tensor.extract_slice %arg3[%[[EI]], 0, 0] [1, 16, 8] [1, 1, 1] : tensor<4x16x8xf32> to tensor<16x8xf32>
// CHECK:           %[[Y:.*]] = lctx.ffn swiglu %[[X]], %[[W1]], %[[W2]], %[[WG]] : tensor<6x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>
// CHECK:           %[[GJ:.*]] = tensor.extract_slice %[[PLACED]]#2[%[[R0]]] [6] [1] : tensor<60xf32> to tensor<6xf32>
// CHECK:           %[[SCALED:.*]] = linalg.generic {{.*}} ins(%[[Y]], %[[GJ]] : tensor<6x8xf32>, tensor<6xf32>)
// CHECK:             arith.mulf
// CHECK:           tensor.parallel_insert_slice %[[SCALED]] into %[[ACC]][%[[R0]], 0] [6, 8] [1, 1]
// CHECK:         %[[OUT3:.*]] = tensor.expand_shape %[[OUT]] {{.*}} : tensor<60x8xf32> into tensor<1x60x8xf32>
// CHECK:         %[[BACK:.*]] = lctx.route.gather %[[OUT3]], %[[PLACED]]#1 : tensor<1x60x8xf32>, tensor<1x40xi64>
// CHECK:         return %[[BACK]], %[[AUX]]
// R12-LABEL: func.func @dropless_swiglu
// R12:         scf.forall
// R12:           lctx.ffn swiglu %{{.*}} : tensor<12x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>
// The block GEMMs are static, so they reach the register-tiled kernel
// (sequential inside the forall: the blocks are the parallel loop).
// CODEGEN-LABEL: func.func @dropless_swiglu
// CODEGEN:         scf.forall
// CODEGEN-NOT:     linalg.matmul
// CODEGEN:           vector.fma
// CODEGEN:           tensor.parallel_insert_slice
func.func @dropless_swiglu(%x: tensor<1x40x8xf32>, %wr: tensor<8x4xf32>, %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>, %wg: tensor<4x8x16xf32>) -> (tensor<1x40x8xf32>, tensor<f32>) {
  %y, %aux = lctx.route.moe swiglu %x, %wr, %w1, %w2, %wg {dropless} : tensor<1x40x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>
  return %y, %aux : tensor<1x40x8xf32>, tensor<f32>
}

// Capacity-limited, two sequences: the tokens of the whole batch share the
// blocks (flattened to [1, B S, D] and back); a token that lctx.route.experts
// drops (slot -1) is in no block and its dest row is -1, which the gather
// back turns into an exact zero row.
// CHECK-LABEL: func.func @capacity
// CHECK:         %[[E:.*]], %[[G:.*]], %[[S:.*]], %[[AUX:.*]] = lctx.route.experts %arg0, %arg1 {capacity_factor = 1.250000e+00 : f64}
// CHECK:         scf.for
// CHECK:         %[[PLACED:.*]]:4 = scf.for
// CHECK:           %[[SL:.*]] = tensor.extract %[[S]]
// CHECK:           %[[KEPT:.*]] = arith.cmpi sge, %[[SL]], %c0_i32
// CHECK:           %[[DEST:.*]] = arith.select %[[KEPT]], %{{.*}}, %c-1_i64 : i64
// CHECK:           tensor.insert %[[DEST]]
// CHECK:           scf.if %[[KEPT]]
// CHECK:         tensor.collapse_shape %arg0 {{.*}} into tensor<32x8xf32>
// CHECK:         tensor.expand_shape {{.*}} into tensor<1x32x8xf32>
// CHECK:         scf.forall
// CHECK:           lctx.ffn relu %{{.*}} : tensor<6x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>
// CHECK:         %[[BACK:.*]] = lctx.route.gather %{{.*}}, %[[PLACED]]#1 : tensor<1x54x8xf32>, tensor<1x32xi64>
// CHECK:         tensor.collapse_shape %[[BACK]]
// CHECK:         %[[Y:.*]] = tensor.expand_shape {{.*}} into tensor<2x16x8xf32>
// CHECK:         return %[[Y]], %[[AUX]]
func.func @capacity(%x: tensor<2x16x8xf32>, %wr: tensor<8x4xf32>, %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>) -> (tensor<2x16x8xf32>, tensor<f32>) {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2 {capacity_factor = 1.25 : f64} : tensor<2x16x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
  return %y, %aux : tensor<2x16x8xf32>, tensor<f32>
}

// Left alone: not f32 (the contraction kernel is f32 only; the decomposed
// form handles it).
// CHECK-LABEL: func.func @bf16
// CHECK:         lctx.route.moe
func.func @bf16(%x: tensor<1x16x8xbf16>, %wr: tensor<8x4xf32>, %w1: tensor<4x8x16xbf16>, %w2: tensor<4x16x8xbf16>) -> tensor<1x16x8xbf16> {
  %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2 {dropless} : tensor<1x16x8xbf16>, tensor<8x4xf32>, tensor<4x8x16xbf16>, tensor<4x16x8xbf16>
  return %y : tensor<1x16x8xbf16>
}
