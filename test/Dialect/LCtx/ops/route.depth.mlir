// RUN: lctx-opt %s | lctx-opt | FileCheck %s
// RUN: lctx-opt %s --mlir-print-op-generic | lctx-opt | FileCheck %s
// Round trip and shape inference of lctx.route.depth: indices i64 [B, k] and
// weights f32 [B, k], with k = floor(capacity * S) for topk and k = S for
// causal; default and explicit capacity, bf16, dynamic S.

// topk with the default capacity 0.125 and S = 64 gives k = 8.
// CHECK-LABEL: func.func @topk_default_capacity
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[WR:[^:]+]]: tensor<32xf32>)
// CHECK: %[[I:[^ ,]+]], %[[W:[^ ,]+]] = lctx.route.depth topk %[[X]], %[[WR]] :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<32xf32>{{$}}
// CHECK: return %[[I]], %[[W]] : tensor<2x8xi64>, tensor<2x8xf32>
func.func @topk_default_capacity(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>)
    -> (tensor<2x8xi64>, tensor<2x8xf32>) {
  %idx, %w = lctx.route.depth topk %x, %wr : tensor<2x64x32xf32>, tensor<32xf32>
  return %idx, %w : tensor<2x8xi64>, tensor<2x8xf32>
}

// An explicit capacity 0.125 equals the default: elided, still k = 8.
// CHECK-LABEL: func.func @topk_explicit_default
// CHECK: %[[I:[^ ,]+]], %[[W:[^ ,]+]] = lctx.route.depth topk %{{[^ ]+}}, %{{[^ ]+}} :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<32xf32>{{$}}
// CHECK: return %[[I]], %[[W]] : tensor<2x8xi64>, tensor<2x8xf32>
func.func @topk_explicit_default(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>)
    -> (tensor<2x8xi64>, tensor<2x8xf32>) {
  %idx, %w = lctx.route.depth topk %x, %wr {capacity = 0.125
      : f64} : tensor<2x64x32xf32>, tensor<32xf32>
  return %idx, %w : tensor<2x8xi64>, tensor<2x8xf32>
}

// topk with capacity 0.25 and S = 64 gives k = 16.
// CHECK-LABEL: func.func @topk_quarter
// CHECK: %[[I:[^ ,]+]], %[[W:[^ ,]+]] = lctx.route.depth topk %{{[^ ]+}}, %{{[^ ]+}} {capacity = 2.500000e-01 : f64} :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<32xf32>{{$}}
// CHECK: return %[[I]], %[[W]] : tensor<2x16xi64>, tensor<2x16xf32>
func.func @topk_quarter(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>)
    -> (tensor<2x16xi64>, tensor<2x16xf32>) {
  %idx, %w = lctx.route.depth topk %x, %wr {capacity = 0.25
      : f64} : tensor<2x64x32xf32>, tensor<32xf32>
  return %idx, %w : tensor<2x16xi64>, tensor<2x16xf32>
}

// topk rounds down: floor(0.3 * 10) = 3.
// CHECK-LABEL: func.func @topk_floor
// CHECK: return %{{[^ ,]+}}, %{{[^ ,]+}} : tensor<1x3xi64>, tensor<1x3xf32>
func.func @topk_floor(%x: tensor<1x10x8xf32>,
                      %wr: tensor<8xf32>) -> (tensor<1x3xi64>, tensor<1x3xf32>) {
  %idx, %w = lctx.route.depth topk %x, %wr {capacity = 0.3
      : f64} : tensor<1x10x8xf32>, tensor<8xf32>
  return %idx, %w : tensor<1x3xi64>, tensor<1x3xf32>
}

// topk with capacity 1.0 selects every token: k = S.
// CHECK-LABEL: func.func @topk_full
// CHECK: lctx.route.depth topk %{{[^ ]+}}, %{{[^ ]+}} {capacity = 1.000000e+00 : f64}
// CHECK: return %{{[^ ,]+}}, %{{[^ ,]+}} : tensor<2x64xi64>, tensor<2x64xf32>
func.func @topk_full(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>)
    -> (tensor<2x64xi64>, tensor<2x64xf32>) {
  %idx, %w = lctx.route.depth topk %x, %wr {capacity = 1.0
      : f64} : tensor<2x64x32xf32>, tensor<32xf32>
  return %idx, %w : tensor<2x64xi64>, tensor<2x64xf32>
}

// causal gives k = S whatever the capacity.
// CHECK-LABEL: func.func @causal
// CHECK-SAME: (%[[X:[^:]+]]: tensor<2x64x32xf32>, %[[WR:[^:]+]]: tensor<32xf32>)
// CHECK: %[[I:[^ ,]+]], %[[W:[^ ,]+]] = lctx.route.depth causal %[[X]], %[[WR]] {capacity = 2.500000e-01 : f64} :
// CHECK-SAME: tensor<2x64x32xf32>, tensor<32xf32>{{$}}
// CHECK: return %[[I]], %[[W]] : tensor<2x64xi64>, tensor<2x64xf32>
func.func @causal(%x: tensor<2x64x32xf32>, %wr: tensor<32xf32>)
    -> (tensor<2x64xi64>, tensor<2x64xf32>) {
  %idx, %w = lctx.route.depth causal %x, %wr {capacity = 0.25
      : f64} : tensor<2x64x32xf32>, tensor<32xf32>
  return %idx, %w : tensor<2x64xi64>, tensor<2x64xf32>
}

// bf16 activations with the fp32 router; the results stay i64 / f32.
// CHECK-LABEL: func.func @bf16_input
// CHECK: lctx.route.depth causal %{{[^ ]+}}, %{{[^ ]+}} : tensor<1x1x64xbf16>, tensor<64xf32>{{$}}
// CHECK: return %{{[^ ,]+}}, %{{[^ ,]+}} : tensor<1x1xi64>, tensor<1x1xf32>
func.func @bf16_input(%x: tensor<1x1x64xbf16>,
                      %wr: tensor<64xf32>) -> (tensor<1x1xi64>, tensor<1x1xf32>) {
  %idx, %w = lctx.route.depth causal %x, %wr : tensor<1x1x64xbf16>, tensor<64xf32>
  return %idx, %w : tensor<1x1xi64>, tensor<1x1xf32>
}

// A dynamic sequence length gives a dynamic k.
// CHECK-LABEL: func.func @dynamic_sequence
// CHECK: lctx.route.depth topk %{{[^ ]+}}, %{{[^ ]+}} : tensor<?x?x32xf32>, tensor<?xf32>{{$}}
// CHECK: return %{{[^ ,]+}}, %{{[^ ,]+}} : tensor<?x?xi64>, tensor<?x?xf32>
func.func @dynamic_sequence(%x: tensor<?x?x32xf32>,
                            %wr: tensor<?xf32>) -> (tensor<?x?xi64>, tensor<?x?xf32>) {
  %idx, %w = lctx.route.depth topk %x, %wr : tensor<?x?x32xf32>, tensor<?xf32>
  return %idx, %w : tensor<?x?xi64>, tensor<?x?xf32>
}
