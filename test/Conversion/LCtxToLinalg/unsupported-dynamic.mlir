// RUN: not lctx-opt %s -convert-lctx-to-linalg 2>&1 | FileCheck %s
// Dynamic shapes are not lowered yet: a located error says so.
// CHECK: unsupported-dynamic.mlir:[[@LINE+2]]:{{[0-9]+}}: error: convert-lctx-to-linalg: no CPU lowering yet for 'lctx.rms_norm' with dynamic shapes
func.func @dynamic_left(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = lctx.rms_norm %x : tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}
