// RUN: lctx-opt %s --lctx-cpu-contraction-codegen="mr=6 nr=16 mc=120 nc=32 kc=64" --canonicalize | FileCheck %s
// RUN: lctx-opt %s --lctx-cpu-contraction-codegen="mr=6 nr=16 mc=120 nc=32 kc=64 nested-pack-rows=24" --canonicalize | FileCheck %s --check-prefix=LOW

// A contraction inside an scf.forall (one block of a parallel loop, e.g. an
// expert block of lctx-moe-grouped) packs its B blocks only from 64 rows
// (nested-pack-rows): a copy of B serves only the block's rows. Outside a
// forall, 48 rows are packed (pack-rows = 24). (The tile rows count: 72
// rows are 12 full 6-row tiles, 64 only 60 and a remainder strip.)
// CHECK-LABEL: func.func @nested48
// CHECK:         scf.forall
// CHECK-NOT:       tensor<2x64x16xf32>
// CHECK:           vector.transfer_read %{{.*}} : tensor<100x48xf32>, vector<16xf32>
// CHECK:           vector.fma
// CHECK:         scf.forall.in_parallel
// LOW-LABEL: func.func @nested48
// LOW:           scf.forall
// LOW:             tensor.empty() : tensor<2x64x16xf32>
// LOW:             vector.fma
func.func @nested48(%a: tensor<2x48x100xf32>, %b: tensor<100x48xf32>) -> tensor<96x48xf32> {
  %z = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<96x48xf32>
  %r = scf.forall (%i) in (2) shared_outs(%o = %init) -> (tensor<96x48xf32>) {
    %ai = tensor.extract_slice %a[%i, 0, 0] [1, 48, 100] [1, 1, 1] : tensor<2x48x100xf32> to tensor<48x100xf32>
    %e = tensor.empty() : tensor<48x48xf32>
    %c = linalg.fill ins(%z : f32) outs(%e : tensor<48x48xf32>) -> tensor<48x48xf32>
    %m = linalg.matmul ins(%ai, %b : tensor<48x100xf32>, tensor<100x48xf32>) outs(%c : tensor<48x48xf32>) -> tensor<48x48xf32>
    %row = affine.apply affine_map<(d0) -> (d0 * 48)>(%i)
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %m into %o[%row, 0] [48, 48] [1, 1] : tensor<48x48xf32> into tensor<96x48xf32>
    }
  }
  return %r : tensor<96x48xf32>
}

// CHECK-LABEL: func.func @nested72
// CHECK:         scf.forall
// CHECK:           tensor.empty() : tensor<2x64x16xf32>
// CHECK:           vector.fma
func.func @nested72(%a: tensor<2x72x100xf32>, %b: tensor<100x48xf32>) -> tensor<144x48xf32> {
  %z = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<144x48xf32>
  %r = scf.forall (%i) in (2) shared_outs(%o = %init) -> (tensor<144x48xf32>) {
    %ai = tensor.extract_slice %a[%i, 0, 0] [1, 72, 100] [1, 1, 1] : tensor<2x72x100xf32> to tensor<72x100xf32>
    %e = tensor.empty() : tensor<72x48xf32>
    %c = linalg.fill ins(%z : f32) outs(%e : tensor<72x48xf32>) -> tensor<72x48xf32>
    %m = linalg.matmul ins(%ai, %b : tensor<72x100xf32>, tensor<100x48xf32>) outs(%c : tensor<72x48xf32>) -> tensor<72x48xf32>
    %row = affine.apply affine_map<(d0) -> (d0 * 72)>(%i)
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %m into %o[%row, 0] [72, 48] [1, 1] : tensor<72x48xf32> into tensor<144x48xf32>
    }
  }
  return %r : tensor<144x48xf32>
}

// CHECK-LABEL: func.func @top48
// CHECK:         tensor.empty() : tensor<2x64x16xf32>
// CHECK:         vector.fma
func.func @top48(%a: tensor<48x100xf32>, %b: tensor<100x48xf32>) -> tensor<48x48xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<48x48xf32>
  %c = linalg.fill ins(%z : f32) outs(%e : tensor<48x48xf32>) -> tensor<48x48xf32>
  %m = linalg.matmul ins(%a, %b : tensor<48x100xf32>, tensor<100x48xf32>) outs(%c : tensor<48x48xf32>) -> tensor<48x48xf32>
  return %m : tensor<48x48xf32>
}
