// RUN: not lctx-opt %s -convert-lctx-to-linalg 2>&1 | FileCheck %s
// An op without a CPU lowering yet fails the pass with a located message
// naming it, rather than reaching the backend.
// CHECK: unsupported.mlir:[[@LINE+4]]:{{[0-9]+}}: error: convert-lctx-to-linalg: no CPU lowering yet for 'lctx.cema.scan'
func.func @cema(%x: tensor<1x8x4xf32>, %a: tensor<4x2xf32>, %t: tensor<4xf32>,
                %g: tensor<4x2xcomplex<f32>>, %h: tensor<1x4x2xcomplex<f32>>)
    -> tensor<1x8x4xf32> {
  %y, %hn = lctx.cema.scan %x, %a, %a, %t, %g, %t, %h
      : tensor<1x8x4xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4xf32>,
        tensor<4x2xcomplex<f32>>, tensor<4xf32>, tensor<1x4x2xcomplex<f32>>
  return %y : tensor<1x8x4xf32>
}
