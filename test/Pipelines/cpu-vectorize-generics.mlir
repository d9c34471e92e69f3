// RUN: lctx-opt %s --lctx-cpu-vectorize-generics="vl=16" --canonicalize | FileCheck %s

// Elementwise: rows stay a scalar loop; the 20 columns are a vector<16> and a
// vector<4> tail; the row vector b is read contiguously; exp is the
// polynomial approximation (fma and floor as LLVM intrinsics), no math.exp.
// CHECK-LABEL: func.func @elementwise
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     math.exp
// CHECK:         scf.for
// CHECK:           vector.transfer_read %{{.*}} : tensor<3x20xf32>, vector<16xf32>
// CHECK:           vector.transfer_read %{{.*}} : tensor<20xf32>, vector<16xf32>
// CHECK:           llvm.intr.floor
// CHECK:           vector.transfer_write %{{.*}} : vector<16xf32>, tensor<3x20xf32>
// CHECK:           vector.transfer_read %{{.*}} : tensor<3x20xf32>, vector<4xf32>
// CHECK:           vector.transfer_write %{{.*}} : vector<4xf32>, tensor<3x20xf32>
func.func @elementwise(%a: tensor<3x20xf32>, %b: tensor<20xf32>) -> tensor<3x20xf32> {
  %e = tensor.empty() : tensor<3x20xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<3x20xf32>, tensor<20xf32>) outs(%e : tensor<3x20xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %0 = math.exp %x : f32
    %1 = arith.mulf %0, %y : f32
    linalg.yield %1 : f32
  } -> tensor<3x20xf32>
  return %r : tensor<3x20xf32>
}

// Masked max along the innermost dim: masked lanes take -inf, lanes are
// combined in a vector accumulator, then reduced and combined with the init.
// CHECK-LABEL: func.func @masked_max
// CHECK-DAG:     %[[NINF:.*]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK:         scf.for
// CHECK:           %[[INIT:.*]] = tensor.extract
// CHECK:           scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[NINF]]) -> (vector<16xf32>)
// CHECK:             %[[OK:.*]] = arith.cmpi sge, %{{.*}} : vector<16xi64>
// CHECK:             %[[X:.*]] = arith.select %[[OK]], %{{.*}}, %[[NINF]] : vector<16xi1>, vector<16xf32>
// CHECK:             arith.maximumf %[[ACC]], %[[X]] : vector<16xf32>
// CHECK:           %[[R:.*]] = vector.reduction <maximumf>
// CHECK:           %[[M:.*]] = arith.maximumf %[[INIT]], %[[R]] : f32
// CHECK:           tensor.insert %[[M]]
func.func @masked_max(%a: tensor<4x64xf32>, %p: tensor<64xi64>, %init: tensor<4xf32>) -> tensor<4xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%a, %p : tensor<4x64xf32>, tensor<64xi64>) outs(%init : tensor<4xf32>) {
  ^bb0(%x: f32, %q: i64, %o: f32):
    %c0 = arith.constant 0 : i64
    %ok = arith.cmpi sge, %q, %c0 : i64
    %1 = arith.maximumf %o, %x : f32
    %2 = arith.select %ok, %1, %o : f32
    linalg.yield %2 : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// The input is not contiguous along the innermost dim: left alone.
// CHECK-LABEL: func.func @transposed
// CHECK:         linalg.generic
func.func @transposed(%a: tensor<8x4xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<8x4xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    linalg.yield %x : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// The second generic's init is only a shape and its input is dead after it:
// it takes the input as its init (one tensor.empty is left), so that
// bufferization updates that buffer in place.
// CHECK-LABEL: func.func @in_place
// CHECK:         tensor.empty
// CHECK-NOT:     tensor.empty
// CHECK:         %[[T:.*]] = scf.for
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[T]])
// CHECK:           scf.for {{.*}} iter_args(%[[C:.*]] = %{{.*}})
// CHECK:             vector.transfer_read %[[C]]
// CHECK:             arith.addf
func.func @in_place(%a: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %e = tensor.empty() : tensor<4x32xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<4x32xf32>) outs(%e : tensor<4x32xf32>) {
  ^bb0(%x: f32, %o: f32):
    %0 = arith.mulf %x, %x : f32
    linalg.yield %0 : f32
  } -> tensor<4x32xf32>
  %e2 = tensor.empty() : tensor<4x32xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%t : tensor<4x32xf32>) outs(%e2 : tensor<4x32xf32>) {
  ^bb0(%x: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %0 = arith.addf %x, %one : f32
    linalg.yield %0 : f32
  } -> tensor<4x32xf32>
  return %r : tensor<4x32xf32>
}
