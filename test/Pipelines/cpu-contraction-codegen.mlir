// RUN: lctx-opt %s --lctx-cpu-contraction-codegen="mr=4 nr=16 mc=8 nc=32 kc=64 pack-rows=0" --canonicalize | FileCheck %s
// RUN: lctx-opt %s --lctx-cpu-contraction-codegen="mr=4 nr=16 mc=8 nc=32 kc=64" --canonicalize | FileCheck %s --check-prefix=PACK

// A matmul becomes cache-block loops around 4 x 16 register tiles whose
// accumulators are loop-carried vectors; the zero fill becomes their start
// value in the first K block.
// CHECK-LABEL: func.func @matmul
// CHECK-NOT:     linalg.matmul
// CHECK-NOT:     linalg.fill
// CHECK:         %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK:         scf.for
// CHECK:           scf.if
// CHECK-NEXT:        scf.yield %[[ZERO]], %[[ZERO]], %[[ZERO]], %[[ZERO]]
// CHECK-NEXT:      } else {
// CHECK:             vector.transfer_read {{.*}} : tensor<64x48xf32>, vector<16xf32>
// CHECK:           scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK:             vector.transfer_read %{{.*}} : tensor<100x48xf32>, vector<16xf32>
// CHECK:             tensor.extract %{{.*}} : tensor<64x100xf32>
// CHECK:             vector.fma
// CHECK:           vector.transfer_write {{.*}} : vector<16xf32>, tensor<64x48xf32>
// With 64 rows (>= the default pack-rows), each 64 x 32 block of B is first
// copied panel by panel into a 2 x 64 x 16 tensor, P[j / 16, k, :] =
// B[k, j : j + 16], which the K loop reads instead of B.
// PACK-LABEL: func.func @matmul
// PACK:         scf.for %[[JC:.*]] = %c0 to %c48 step %c32
// PACK:           scf.for %[[KC:.*]] = %c0 to %c100 step %c64
// PACK:             %[[EMPTY:.*]] = tensor.empty() : tensor<2x64x16xf32>
// PACK:             %[[PACKED:.*]] = scf.for %[[K:.*]] = %[[KC]] to %{{.*}} step %c1 iter_args(%{{.*}} = %[[EMPTY]])
// PACK:               %[[KL:.*]] = arith.subi %[[K]], %[[KC]]
// PACK:               scf.for %[[J:.*]] = %[[JC]] to %{{.*}} step %c16
// PACK:                 %[[JL:.*]] = arith.subi %[[J]], %[[JC]]
// PACK:                 %[[P:.*]] = arith.divui %[[JL]], %c16
// PACK:                 %[[V:.*]] = vector.transfer_read %arg1[%[[K]], %[[J]]]{{.*}} : tensor<100x48xf32>, vector<16xf32>
// PACK:                 vector.transfer_write %[[V]], %{{.*}}[%[[P]], %[[KL]], %c0] {{.*}} : vector<16xf32>, tensor<2x64x16xf32>
// PACK:             scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// PACK:               vector.transfer_read %[[PACKED]][%{{.*}}, %{{.*}}, %c0]{{.*}} : tensor<2x64x16xf32>, vector<16xf32>
// PACK-NOT:           tensor<100x48xf32>
// PACK:               vector.fma
// PACK:         return
func.func @matmul(%a: tensor<64x100xf32>, %b: tensor<100x48xf32>) -> tensor<64x48xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x48xf32>
  %c = linalg.fill ins(%z : f32) outs(%e : tensor<64x48xf32>) -> tensor<64x48xf32>
  %r = linalg.matmul ins(%a, %b : tensor<64x100xf32>, tensor<100x48xf32>) outs(%c : tensor<64x48xf32>) -> tensor<64x48xf32>
  return %r : tensor<64x48xf32>
}

// B indexed [n, k] is transposed first so that N is contiguous; remainder
// columns (N = 20 = 16 + 4) use shorter vectors.
// CHECK-LABEL: func.func @transpose_b
// CHECK:         linalg.transpose ins(%{{.*}} : tensor<20x8xf32>) outs(%{{.*}} : tensor<8x20xf32>) permutation = [1, 0]
// CHECK-DAG:     vector<16xf32>
// CHECK-DAG:     vector<4xf32>
// CHECK-NOT:     linalg.matmul_transpose_b
func.func @transpose_b(%a: tensor<5x8xf32>, %b: tensor<20x8xf32>, %c: tensor<5x20xf32>) -> tensor<5x20xf32> {
  %r = linalg.matmul_transpose_b ins(%a, %b : tensor<5x8xf32>, tensor<20x8xf32>) outs(%c : tensor<5x20xf32>) -> tensor<5x20xf32>
  return %r : tensor<5x20xf32>
}

// A few rows (M <= 4) against a B whose contiguous dimension is K (a decode
// step's q . k[j], or logits against a tied embedding): left to the generic
// vectorizer (dot products along K), not transposed.
// CHECK-LABEL: func.func @few_rows_transpose_b
// CHECK-NOT:     linalg.transpose
// CHECK:         linalg.matmul_transpose_b
func.func @few_rows_transpose_b(%a: tensor<4x8xf32>, %b: tensor<20x8xf32>, %c: tensor<4x20xf32>) -> tensor<4x20xf32> {
  %r = linalg.matmul_transpose_b ins(%a, %b : tensor<4x8xf32>, tensor<20x8xf32>) outs(%c : tensor<4x20xf32>) -> tensor<4x20xf32>
  return %r : tensor<4x20xf32>
}

// Not a plain mul-add body: left alone.
// CHECK-LABEL: func.func @not_mul_add
// CHECK:         linalg.generic
func.func @not_mul_add(%a: tensor<4x8xf32>, %b: tensor<8x16xf32>, %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<4x8xf32>, tensor<8x16xf32>) outs(%c : tensor<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.maximumf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// f64 is left to the loop lowering.
// CHECK-LABEL: func.func @f64_matmul
// CHECK:         linalg.matmul
func.func @f64_matmul(%a: tensor<4x8xf64>, %b: tensor<8x16xf64>, %c: tensor<4x16xf64>) -> tensor<4x16xf64> {
  %r = linalg.matmul ins(%a, %b : tensor<4x8xf64>, tensor<8x16xf64>) outs(%c : tensor<4x16xf64>) -> tensor<4x16xf64>
  return %r : tensor<4x16xf64>
}
