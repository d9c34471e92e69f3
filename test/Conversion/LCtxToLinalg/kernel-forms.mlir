// RUN: lctx-opt %s -split-input-file -convert-lctx-to-linalg | FileCheck %s

// cema.scan in chunked parallel form, T = 70 = 2 chunks of 32 + a tail of
// 6, D = 128 in 2 blocks of 64: the kernel tables come from one loop over
// the 32 powers, the transition q^C and q^6 are formed directly, and each
// (batch, channel block) runs its chunks (a state term, the 32 lags in
// groups of 8 over the rows they reach, the write-out, the state update)
// then the static tail, carrying the state. There is no loop over the 70
// time steps.
// CHECK-LABEL: func.func @scan
// CHECK-NOT: lctx.
// CHECK-NOT: scf.for {{.*}} to %c70
// CHECK: scf.for {{.*}} to %c32 {{.*}} -> (tensor<2x4x64xf32>, tensor<2x4x64xf32>, tensor<2x32x4x64xf32>, tensor<2x32x4x64xf32>, tensor<2x4x32x64xf32>, tensor<2x4x32x64xf32>, tensor<2x32x64xf32>)
// CHECK:   tensor.insert_slice {{.*}} into tensor<2x32x64xf32>
// CHECK: math.log1p
// CHECK: math.cos {{.*}} : f64
// CHECK: math.log1p
// CHECK: scf.forall (%{{.+}}) in (4) shared_outs({{.*}}) -> (tensor<2x70x128xf32>, tensor<2x2x4x64xf32>, tensor<2x2x4x64xf32>)
// CHECK:   scf.for {{.*}} to %c2 {{.*}} -> (tensor<70x64xf32>, tensor<4x64xf32>, tensor<4x64xf32>)
// CHECK:     tensor.extract_slice %arg0[{{.*}}] [1, 32, 64] [1, 1, 1]
// CHECK:     linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]
// CHECK:     scf.for {{.*}} = %c0 to %c8 {{.*}} -> (tensor<32x64xf32>)
// CHECK:       linalg.generic {{.*}} ins({{.*}} : tensor<64xf32>, tensor<32x64xf32>)
// CHECK:     scf.for {{.*}} = %c8 to %c16 {{.*}} -> (tensor<24x64xf32>)
// CHECK:     scf.for {{.*}} = %c16 to %c24 {{.*}} -> (tensor<16x64xf32>)
// CHECK:     scf.for {{.*}} = %c24 to %c32 {{.*}} -> (tensor<8x64xf32>)
// CHECK:     tensor.insert_slice {{.*}} [32, 64] [1, 1] : tensor<32x64xf32> into tensor<70x64xf32>
// CHECK:     linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]{{.*}} ins({{.*}} : tensor<4x32x64xf32>, tensor<32x64xf32>)
// CHECK:   tensor.extract_slice %arg0[{{.*}}, 64, {{.*}}] [1, 6, 64] [1, 1, 1]
// CHECK:   scf.for {{.*}} to %c6 {{.*}} -> (tensor<6x64xf32>)
// CHECK:   tensor.extract_slice {{.*}}[0, 26, 0] [4, 6, 64] [1, 1, 1]
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice {{.*}} [1, 70, 64] [1, 1, 1] : tensor<70x64xf32> into tensor<2x70x128xf32>
func.func @scan(%x: tensor<2x70x128xf32>, %alpha: tensor<128x4xf32>, %delta: tensor<128x4xf32>,
                %theta: tensor<128xf32>, %gamma: tensor<128x4xcomplex<f32>>, %omega: tensor<128xf32>,
                %h0: tensor<2x128x4xcomplex<f32>>) -> (tensor<2x70x128xf32>, tensor<2x128x4xcomplex<f32>>) {
  %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<2x70x128xf32>, tensor<128x4xf32>, tensor<128x4xf32>, tensor<128xf32>,
        tensor<128x4xcomplex<f32>>, tensor<128xf32>, tensor<2x128x4xcomplex<f32>>
  return %y, %h : tensor<2x70x128xf32>, tensor<2x128x4xcomplex<f32>>
}

// -----

// Shorter than one chunk: the chunk is the sequence (powers up to 5 only).
// CHECK-LABEL: func.func @short
// CHECK: scf.for {{.*}} to %c5 {{.*}} -> (tensor<1x2x6xf32>, tensor<1x2x6xf32>, tensor<1x5x2x6xf32>
// CHECK: scf.forall (%{{.+}}) in (1)
// CHECK-NOT: to %c32
func.func @short(%x: tensor<1x5x6xf32>, %alpha: tensor<6x2xf32>, %delta: tensor<6x2xf32>,
                 %theta: tensor<6xf32>, %gamma: tensor<6x2xcomplex<f32>>, %omega: tensor<6xf32>,
                 %h0: tensor<1x6x2xcomplex<f32>>) -> (tensor<1x5x6xf32>, tensor<1x6x2xcomplex<f32>>) {
  %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x5x6xf32>, tensor<6x2xf32>, tensor<6x2xf32>, tensor<6xf32>,
        tensor<6x2xcomplex<f32>>, tensor<6xf32>, tensor<1x6x2xcomplex<f32>>
  return %y, %h : tensor<1x5x6xf32>, tensor<1x6x2xcomplex<f32>>
}

// -----

// MoD top-k: per row (on the thread pool), four radix passes over the
// ordered keys (a histogram of the 40 tokens, a scan of the 256 bins), then
// one ascending scan that writes the k = 10 indices; no S x S ranking.
// gather and scatter_add visit the 10 selected rows only.
// CHECK-LABEL: func.func @topk
// CHECK: tensor.collapse_shape {{.*}} : tensor<2x40x1xf32> into tensor<2x40xf32>
// CHECK-NOT: "reduction"
// CHECK: scf.forall (%{{.+}}) in (2) {{.*}} -> (tensor<2x10xi64>)
// CHECK-COUNT-4: scf.for {{.*}} to %c256
// CHECK: scf.for {{.*}} to %c40 {{.*}} -> (tensor<10xi64>, index, i32)
// CHECK: tensor.parallel_insert_slice {{.*}} : tensor<10xi64> into tensor<2x10xi64>
// CHECK: scf.forall (%{{.+}}) in (2) {{.*}} -> (tensor<2x10x8xf32>)
// CHECK:   scf.for {{.*}} to %c10
// CHECK: scf.forall (%{{.+}}) in (2) {{.*}} -> (tensor<2x40x8xf32>)
// CHECK:   scf.for {{.*}} to %c10
// CHECK:     scf.if
func.func @topk(%x: tensor<2x40x8xf32>, %w: tensor<8xf32>) -> (tensor<2x10xi64>, tensor<2x10xf32>, tensor<2x40x8xf32>) {
  %idx, %r = lctx.route.depth topk %x, %w {capacity = 0.25 : f64} : tensor<2x40x8xf32>, tensor<8xf32>
  %g = lctx.route.gather %x, %idx : tensor<2x40x8xf32>, tensor<2x10xi64>
  %y = lctx.route.scatter_add %x, %g, %idx, %r : tensor<2x40x8xf32>, tensor<2x10x8xf32>, tensor<2x10xi64>, tensor<2x10xf32>
  return %idx, %r, %y : tensor<2x10xi64>, tensor<2x10xf32>, tensor<2x40x8xf32>
}

// -----

// k = S: every token in order, no selection loops.
// CHECK-LABEL: func.func @all
// CHECK-NOT: scf.for
// CHECK: return
func.func @all(%x: tensor<1x6x8xf32>, %w: tensor<8xf32>) -> (tensor<1x6xi64>, tensor<1x6xf32>) {
  %idx, %r = lctx.route.depth topk %x, %w {capacity = 1.0 : f64} : tensor<1x6x8xf32>, tensor<8xf32>
  return %idx, %r : tensor<1x6xi64>, tensor<1x6xf32>
}
