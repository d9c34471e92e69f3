// A malformed integer list after `permutation =` (linalg.transpose) or
// `dimensions =` (linalg.broadcast, linalg.reduce) must give a located
// error. MLIR 19's custom parsers of these ops store the null attribute
// that a failed list parse returns and crash on it (found by
// fuzz/lctx-fuzz-mlir; reproducers in fuzz/regressions/open/mlir/).
// Expected to fail until lctx-opt screens these lists before parsing; an
// unexpected pass means the crash is gone and this XFAIL can be removed.
// XFAIL: *
// RUN: not lctx-opt %s --split-input-file 2>&1 | FileCheck %s

// CHECK: error: custom op 'linalg.transpose' expected integer value
func.func @transpose(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %0 = linalg.transpose ins(%a : tensor<2x3xf32>) outs(%b : tensor<3x2xf32>) permutation = [1 0]
  return %0 : tensor<3x2xf32>
}

// -----

// CHECK: error: custom op 'linalg.broadcast' expected integer value
func.func @broadcast(%a: tensor<3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = linalg.broadcast ins(%a : tensor<3xf32>) outs(%b : tensor<2x3xf32>) dimensions = [x]
  return %0 : tensor<2x3xf32>
}
