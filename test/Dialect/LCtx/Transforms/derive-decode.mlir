// RUN: lctx-opt %s -split-input-file --lctx-derive-decode | FileCheck %s

// lctx-derive-decode writes a one-token decode entry point from a prefill.
// Numerics of the derived entries (every position against the PyTorch
// references) are checked by test/Models/model_test.py.

// Causal attention over the whole context: a KV cache of T = 16 slots,
// written at slot pos; q and k rotated once; `pos` added (the prefill has
// none) and advanced by one; window = 16 recorded in lctx.model.

// CHECK: module attributes {lctx.model = {arch = "test", window = 16 : i64}}
// CHECK-LABEL: func.func @prefill(
// CHECK-NOT: lctx.decode
// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x1x8xf32> {lctx.input = "x"}
// CHECK-SAME: %[[W:[^:]*]]: tensor<8x8xf32> {lctx.weight = "w"}
// CHECK-SAME: %[[POS:[^:]*]]: tensor<1xi64> {lctx.state = "pos"}
// CHECK-SAME: %[[KC:[^:]*]]: tensor<2x2x16x4xf32> {lctx.state = "attention.0.k"}
// CHECK-SAME: %[[VC:[^:]*]]: tensor<2x2x16x4xf32> {lctx.state = "attention.0.v"}
// CHECK-SAME: -> (tensor<2x1x8xf32> {lctx.output = "y"}, tensor<1xi64> {lctx.state = "pos"}, tensor<2x2x16x4xf32> {lctx.state = "attention.0.k"}, tensor<2x2x16x4xf32> {lctx.state = "attention.0.v"})
// CHECK: %[[P:.*]] = tensor.extract %[[POS]]
// CHECK: lctx.linear {{.*}} : tensor<2x1x8xf32>, tensor<8x8xf32>
// CHECK: %[[SLOT:.*]] = arith.index_cast %[[P]] : i64 to index
// CHECK: %[[QP:.*]] = linalg.fill ins(%[[P]] : i64) {{.*}} -> tensor<2x1xi64>
// CHECK: %[[KP:.*]] = linalg.generic {{.*}} outs({{.*}} : tensor<2x16xi64>)
// CHECK: arith.cmpi sle, %{{.*}}, %[[P]]
// CHECK: %[[QR:.*]] = lctx.rope %{{.*}}, %[[QP]] :
// CHECK: %[[KR:.*]] = lctx.rope %{{.*}}, %[[QP]] :
// CHECK: %[[K1:.*]] = tensor.insert_slice %[[KR]] into %[[KC]][0, 0, %[[SLOT]], 0] [2, 2, 1, 4]
// CHECK: %[[V1:.*]] = tensor.insert_slice %{{.*}} into %[[VC]][0, 0, %[[SLOT]], 0] [2, 2, 1, 4]
// CHECK: %[[O:.*]] = lctx.attention %[[QR]], %[[K1]], %[[V1]] positions(%[[QP]], %[[KP]])
// CHECK-NOT: rope_theta
// CHECK-SAME: : tensor<2x2x1x4xf32>, tensor<2x2x16x4xf32>, tensor<2x2x16x4xf32>, tensor<2x1xi64>, tensor<2x16xi64>
// CHECK: %[[N:.*]] = arith.addi %[[P]], %c1_i64
// CHECK: %[[NP:.*]] = tensor.from_elements %[[N]]
// CHECK: return %{{.*}}, %[[NP]], %[[K1]], %[[V1]]
module attributes {lctx.model = {arch = "test"}} {
  func.func @prefill(%x: tensor<2x16x8xf32> {lctx.input = "x"},
                     %w: tensor<8x8xf32> {lctx.weight = "w"})
      -> (tensor<2x16x8xf32> {lctx.output = "y"})
      attributes {lctx.decode = "step"} {
    %h = lctx.linear %x, %w : tensor<2x16x8xf32>, tensor<8x8xf32>
    %h4 = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [2, 16, 2, 4]
        : tensor<2x16x8xf32> into tensor<2x16x2x4xf32>
    %e = tensor.empty() : tensor<2x2x16x4xf32>
    %q = linalg.transpose ins(%h4 : tensor<2x16x2x4xf32>)
        outs(%e : tensor<2x2x16x4xf32>) permutation = [0, 2, 1, 3]
    %o = lctx.attention %q, %q, %q {rope_theta = 10000.0 : f32}
        : tensor<2x2x16x4xf32>, tensor<2x2x16x4xf32>, tensor<2x2x16x4xf32>
    %e2 = tensor.empty() : tensor<2x16x2x4xf32>
    %ot = linalg.transpose ins(%o : tensor<2x2x16x4xf32>)
        outs(%e2 : tensor<2x16x2x4xf32>) permutation = [0, 2, 1, 3]
    %y = tensor.collapse_shape %ot [[0], [1], [2, 3]]
        : tensor<2x16x2x4xf32> into tensor<2x16x8xf32>
    %r = arith.addf %x, %y : tensor<2x16x8xf32>
    return %r : tensor<2x16x8xf32>
  }
}

// -----

// Chunked attention: a cache of one chunk, slot pos mod c; the prefill's
// `pos` state is reused and its result replaced by pos + 1; no window.

// CHECK-NOT: window
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %{{.*}}: tensor<1x1xi32> {lctx.input = "ids"}
// CHECK-SAME: %[[POS:[^:]*]]: tensor<1xi64> {lctx.state = "pos"}
// CHECK-SAME: tensor<1x2x4x4xf32> {lctx.state = "attention.0.k"}
// CHECK: %[[P:.*]] = tensor.extract %[[POS]]
// CHECK: lctx.embedding {{.*}} : tensor<10x8xf32>, tensor<1x1xi32>
// CHECK: %[[SLOT:.*]] = arith.remsi %[[P]], %c4_i64
// CHECK: lctx.attention {{.*}} {scale = 5.000000e-01 : f32} : tensor<1x2x1x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x1xi64>, tensor<1x4xi64>
// CHECK: %[[N:.*]] = arith.addi %[[P]], %c1_i64
// CHECK: %[[NP:.*]] = tensor.from_elements %[[N]]
// CHECK: return %{{.*}}, %[[NP]],
func.func @prefill(%ids: tensor<1x12xi32> {lctx.input = "ids"},
                   %emb: tensor<10x8xf32> {lctx.weight = "embed"},
                   %pos: tensor<1xi64> {lctx.state = "pos"})
    -> (tensor<1x12x8xf32> {lctx.output = "y"},
        tensor<1xi64> {lctx.state = "pos"})
    attributes {lctx.decode = "decode"} {
  %x = lctx.embedding %emb, %ids : tensor<10x8xf32>, tensor<1x12xi32>
  %x4 = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 12, 2, 4]
      : tensor<1x12x8xf32> into tensor<1x12x2x4xf32>
  %e = tensor.empty() : tensor<1x2x12x4xf32>
  %q = linalg.transpose ins(%x4 : tensor<1x12x2x4xf32>)
      outs(%e : tensor<1x2x12x4xf32>) permutation = [0, 2, 1, 3]
  %o = lctx.attention %q, %q, %q {chunk_size = 4 : i64, scale = 0.5 : f32}
      : tensor<1x2x12x4xf32>, tensor<1x2x12x4xf32>, tensor<1x2x12x4xf32>
  %e2 = tensor.empty() : tensor<1x12x2x4xf32>
  %ot = linalg.transpose ins(%o : tensor<1x2x12x4xf32>)
      outs(%e2 : tensor<1x12x2x4xf32>) permutation = [0, 2, 1, 3]
  %y = tensor.collapse_shape %ot [[0], [1], [2, 3]]
      : tensor<1x12x2x4xf32> into tensor<1x12x8xf32>
  %c0 = arith.constant 0 : index
  %p = tensor.extract %pos[%c0] : tensor<1xi64>
  %c12 = arith.constant 12 : i64
  %p1 = arith.addi %p, %c12 : i64
  %np = tensor.from_elements %p1 : tensor<1xi64>
  return %y, %np : tensor<1x12x8xf32>, tensor<1xi64>
}

// -----

// Infini-attention: raw-key, rotated-key and value caches of one segment;
// retrieval from the carried memory, the gate, and the update only when
// the segment fills.

// CHECK-LABEL: func.func @decode(
// CHECK-SAME: tensor<1x2x4x4xf32> {lctx.state = "attention.0.k"}
// CHECK-SAME: tensor<1x2x4x4xf32> {lctx.state = "attention.0.k_rotated"}
// CHECK-SAME: tensor<1x2x4x4xf32> {lctx.state = "attention.0.v"}
// CHECK: %[[SLOT:.*]] = arith.remsi %{{.*}}, %c4_i64
// CHECK: %[[KRAW:.*]] = tensor.insert_slice
// CHECK: %[[QR:.*]] = lctx.rope
// CHECK: %[[KR:.*]] = lctx.rope
// CHECK: %[[KROT:.*]] = tensor.insert_slice %[[KR]]
// CHECK: %[[VC:.*]] = tensor.insert_slice
// CHECK: %[[LOCAL:.*]] = lctx.attention %[[QR]], %[[KROT]], %[[VC]] positions
// CHECK: %[[MEM:.*]] = lctx.memory.retrieve %[[Q:[^,]*]], %[[M:[^,]*]], %[[Z:[^ ]*]] :
// CHECK: lctx.memory.gate %[[MEM]], %[[LOCAL]]
// CHECK: %[[FULL:.*]] = arith.cmpi eq, %[[SLOT]], %c3_i64
// CHECK: %[[NEW:.*]]:2 = scf.if %[[FULL]]
// CHECK:   lctx.memory.update delta %[[KRAW]], %[[VC]], %[[M]], %[[Z]]
// CHECK: } else {
// CHECK:   scf.yield %[[M]], %[[Z]]
// CHECK: return {{.*}}, %[[NEW]]#0, %[[NEW]]#1, %from_elements, %[[KRAW]], %[[KROT]], %[[VC]]
func.func @prefill(%x: tensor<1x8x8xf32> {lctx.input = "x"},
                   %m: tensor<1x2x4x4xf32> {lctx.state = "memory"},
                   %z: tensor<1x2x4xf32> {lctx.state = "norm"},
                   %beta: tensor<2xf32> {lctx.weight = "beta"})
    -> (tensor<1x2x8x4xf32> {lctx.output = "y"},
        tensor<1x2x4x4xf32> {lctx.state = "memory"},
        tensor<1x2x4xf32> {lctx.state = "norm"})
    attributes {lctx.decode = "decode"} {
  %x4 = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 8, 2, 4]
      : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %e = tensor.empty() : tensor<1x2x8x4xf32>
  %q = linalg.transpose ins(%x4 : tensor<1x8x2x4xf32>)
      outs(%e : tensor<1x2x8x4xf32>) permutation = [0, 2, 1, 3]
  %o:3 = lctx.memory.attention delta %q, %q, %q, %m, %z, %beta
      {segment_size = 4 : i64, rope_theta = 10000.0 : f32}
      : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>,
        tensor<1x2x4x4xf32>, tensor<1x2x4xf32>, tensor<2xf32>
  return %o#0, %o#1, %o#2
      : tensor<1x2x8x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4xf32>
}

// -----

// State-carrying ops run one step with their state; a Switch layer routes
// dropless; elementwise generics (with linalg.index on the token loop) are
// re-typed to one token.

// CHECK-LABEL: func.func @decode(
// CHECK-NOT: "pos"
// CHECK-SAME: {
// CHECK: lctx.cema.timestep_norm {{.*}} : tensor<1x1x8xf32>
// CHECK: lctx.cema.scan {{.*}} : tensor<1x1x8xf32>
// CHECK: lctx.route.moe relu {{.*}}dropless
// CHECK-SAME: : tensor<1x1x8xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x8xf32>)
func.func @prefill(%x: tensor<1x6x8xf32> {lctx.input = "x"},
                   %w: tensor<8xf32> {lctx.weight = "w"},
                   %c: tensor<1xi64> {lctx.state = "count"},
                   %mu: tensor<1x2xf32> {lctx.state = "mean"},
                   %var: tensor<1x2xf32> {lctx.state = "var"},
                   %alpha: tensor<8x2xf32> {lctx.weight = "alpha"},
                   %theta: tensor<8xf32> {lctx.weight = "theta"},
                   %gamma: tensor<8x2xcomplex<f32>> {lctx.weight = "gamma"},
                   %h: tensor<1x8x2xcomplex<f32>> {lctx.state = "h"},
                   %wr: tensor<8x2xf32> {lctx.weight = "router"},
                   %w1: tensor<2x8x16xf32> {lctx.weight = "w1"},
                   %w2: tensor<2x16x8xf32> {lctx.weight = "w2"})
    -> (tensor<1x6x8xf32> {lctx.output = "y"},
        tensor<1xi64> {lctx.state = "count"},
        tensor<1x2xf32> {lctx.state = "mean"},
        tensor<1x2xf32> {lctx.state = "var"},
        tensor<1x8x2xcomplex<f32>> {lctx.state = "h"})
    attributes {lctx.decode = "decode"} {
  %t:4 = lctx.cema.timestep_norm %x, %w, %w, %c, %mu, %var {num_groups = 2 : i64}
      : tensor<1x6x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<1xi64>,
        tensor<1x2xf32>, tensor<1x2xf32>
  %s:2 = lctx.cema.scan %t#0, %alpha, %alpha, %theta, %gamma, %theta, %h
      : tensor<1x6x8xf32>, tensor<8x2xf32>, tensor<8x2xf32>, tensor<8xf32>,
        tensor<8x2xcomplex<f32>>, tensor<8xf32>, tensor<1x8x2xcomplex<f32>>
  %m:2 = lctx.route.moe relu %s#0, %wr, %w1, %w2 {capacity_factor = 1.0 : f64}
      : tensor<1x6x8xf32>, tensor<8x2xf32>, tensor<2x8x16xf32>, tensor<2x16x8xf32>
  %e = tensor.empty() : tensor<1x6x8xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                                        affine_map<(d0, d1, d2) -> (d2)>,
                                        affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                       iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%m#0, %w : tensor<1x6x8xf32>, tensor<8xf32>)
      outs(%e : tensor<1x6x8xf32>) {
    ^bb0(%a: f32, %b: f32, %out: f32):
      %r = arith.mulf %a, %b : f32
      linalg.yield %r : f32
  } -> tensor<1x6x8xf32>
  return %g, %t#1, %t#2, %t#3, %s#1
      : tensor<1x6x8xf32>, tensor<1xi64>, tensor<1x2xf32>, tensor<1x2xf32>,
        tensor<1x8x2xcomplex<f32>>
}

// -----

// Mixture-of-Depths: the router decides per token (top-k routing becomes
// causal); queries and keys at the routed positions: the cache of the
// routed layer keeps `kpos` (position + 1 of a routed token, 0 otherwise).

// CHECK: window = 8 : i64
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: tensor<1x8xi64> {lctx.state = "attention.0.kpos"}
// CHECK-SAME: tensor<1x2x8x4xf32> {lctx.state = "attention.0.k"}
// CHECK: %[[IDX:[^,]*]], %{{.*}} = lctx.route.depth causal {{.*}} : tensor<1x1x8xf32>
// CHECK: lctx.route.gather {{.*}}, %[[IDX]] : tensor<1x1x8xf32>, tensor<1x1xi64>
// CHECK: %[[QA:.*]] = linalg.generic {{.*}} ins(%[[IDX]] : tensor<1x1xi64>)
// CHECK: arith.cmpi sge
// CHECK: %[[ENTRY:.*]] = linalg.generic {{.*}} ins(%[[IDX]] : tensor<1x1xi64>)
// CHECK: %[[KPOS:.*]] = tensor.insert_slice %[[ENTRY]] into %{{.*}}[0, %{{.*}}] [1, 1] [1, 1] : tensor<1x1xi64> into tensor<1x8xi64>
// CHECK: %[[KP:.*]] = linalg.generic {{.*}} ins(%[[KPOS]] : tensor<1x8xi64>)
// CHECK: arith.subi
// CHECK: lctx.attention {{.*}} positions(%[[QA]], %[[KP]])
// CHECK: lctx.route.scatter_add {{.*}} : tensor<1x1x8xf32>, tensor<1x1x8xf32>, tensor<1x1xi64>, tensor<1x1xf32>
func.func @prefill(%x: tensor<1x8x8xf32> {lctx.input = "x"},
                   %wr: tensor<8xf32> {lctx.weight = "router"})
    -> (tensor<1x8x8xf32> {lctx.output = "y"})
    attributes {lctx.decode = "decode"} {
  %idx, %w = lctx.route.depth topk %x, %wr {capacity = 0.5 : f64}
      : tensor<1x8x8xf32>, tensor<8xf32>
  %sel = lctx.route.gather %x, %idx : tensor<1x8x8xf32>, tensor<1x4xi64>
  %s4 = tensor.expand_shape %sel [[0], [1], [2, 3]] output_shape [1, 4, 2, 4]
      : tensor<1x4x8xf32> into tensor<1x4x2x4xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %q = linalg.transpose ins(%s4 : tensor<1x4x2x4xf32>)
      outs(%e : tensor<1x2x4x4xf32>) permutation = [0, 2, 1, 3]
  %o = lctx.attention %q, %q, %q positions(%idx, %idx) {rope_theta = 10000.0 : f32}
      : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>,
        tensor<1x4xi64>, tensor<1x4xi64>
  %e2 = tensor.empty() : tensor<1x4x2x4xf32>
  %ot = linalg.transpose ins(%o : tensor<1x2x4x4xf32>)
      outs(%e2 : tensor<1x4x2x4xf32>) permutation = [0, 2, 1, 3]
  %f = tensor.collapse_shape %ot [[0], [1], [2, 3]]
      : tensor<1x4x2x4xf32> into tensor<1x4x8xf32>
  %y = lctx.route.scatter_add %x, %f, %idx, %w
      : tensor<1x8x8xf32>, tensor<1x4x8xf32>, tensor<1x4xi64>, tensor<1x4xf32>
  return %y : tensor<1x8x8xf32>
}

// -----

// An extend entry (`lctx.extend`): the same model advanced by S = 4 tokens
// at once over the decode caches. The S keys go to slots pos .. pos + 3,
// query i sits at pos + i, and the entry records that its cache holds 16
// positions (the runtime refuses pos + 4 > 16). The decode entry records
// the same bound for one step.

// CHECK-LABEL: func.func @step(
// CHECK-SAME: attributes {lctx.advance = {limit = 16 : i64, state = "pos", steps = 1 : i64}}
// CHECK-LABEL: func.func @extend(
// CHECK-SAME: %{{[^:]*}}: tensor<2x4x8xf32> {lctx.input = "x"}
// CHECK-SAME: %[[POS:[^:]*]]: tensor<1xi64> {lctx.state = "pos"}
// CHECK-SAME: %[[KC:[^:]*]]: tensor<2x2x16x4xf32> {lctx.state = "attention.0.k"}
// CHECK-SAME: -> (tensor<2x4x8xf32> {lctx.output = "y"}, tensor<1xi64> {lctx.state = "pos"}
// CHECK-SAME: attributes {lctx.advance = {limit = 16 : i64, state = "pos", steps = 4 : i64}}
// CHECK: %[[P:.*]] = tensor.extract %[[POS]]
// CHECK: %[[SLOT:.*]] = arith.index_cast %[[P]] : i64 to index
// CHECK: %[[QP:.*]] = linalg.generic {{.*}} outs({{.*}} : tensor<2x4xi64>)
// CHECK: linalg.index 1
// CHECK: arith.addi %[[P]]
// CHECK: %[[LAST:.*]] = arith.addi %[[P]], %c3_i64
// CHECK: %[[KP:.*]] = linalg.generic {{.*}} outs({{.*}} : tensor<2x16xi64>)
// CHECK: arith.cmpi sle, %{{.*}}, %[[LAST]]
// CHECK: %[[K1:.*]] = tensor.insert_slice %{{.*}} into %[[KC]][0, 0, %[[SLOT]], 0] [2, 2, 4, 4]
// CHECK: lctx.attention %{{.*}}, %[[K1]], %{{.*}} positions(%[[QP]], %[[KP]])
// CHECK-SAME: : tensor<2x2x4x4xf32>, tensor<2x2x16x4xf32>, tensor<2x2x16x4xf32>, tensor<2x4xi64>, tensor<2x16xi64>
// CHECK: arith.addi %[[P]], %c4_i64
func.func @prefill(%x: tensor<2x16x8xf32> {lctx.input = "x"},
                   %w: tensor<8x8xf32> {lctx.weight = "w"})
    -> (tensor<2x16x8xf32> {lctx.output = "y"})
    attributes {lctx.decode = "step",
                lctx.extend = {entry = "extend", tokens = 4 : i64}} {
  %h = lctx.linear %x, %w : tensor<2x16x8xf32>, tensor<8x8xf32>
  %h4 = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [2, 16, 2, 4]
      : tensor<2x16x8xf32> into tensor<2x16x2x4xf32>
  %e = tensor.empty() : tensor<2x2x16x4xf32>
  %q = linalg.transpose ins(%h4 : tensor<2x16x2x4xf32>)
      outs(%e : tensor<2x2x16x4xf32>) permutation = [0, 2, 1, 3]
  %o = lctx.attention %q, %q, %q {rope_theta = 10000.0 : f32}
      : tensor<2x2x16x4xf32>, tensor<2x2x16x4xf32>, tensor<2x2x16x4xf32>
  %e2 = tensor.empty() : tensor<2x16x2x4xf32>
  %ot = linalg.transpose ins(%o : tensor<2x2x16x4xf32>)
      outs(%e2 : tensor<2x16x2x4xf32>) permutation = [0, 2, 1, 3]
  %y = tensor.collapse_shape %ot [[0], [1], [2, 3]]
      : tensor<2x16x2x4xf32> into tensor<2x16x8xf32>
  return %y : tensor<2x16x8xf32>
}

// -----

// Mixture-of-Depths extended by S = 4 tokens: causal routing lists the
// routed tokens first; the entry spreads indices and weights back to each
// token's own row (s if routed, else -1 and weight 0), so every token keeps
// its cache slot and the unrouted ones are masked (kpos 0).

// CHECK-LABEL: func.func @extend(
// CHECK-SAME: tensor<1x8xi64> {lctx.state = "attention.0.kpos"}
// CHECK: %[[IDX:[^,]*]], %[[WT:.*]] = lctx.route.depth causal {{.*}} : tensor<1x4x8xf32>
// CHECK: %[[SPREAD:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[IDX]], %[[WT]] : tensor<1x4xi64>, tensor<1x4xf32>)
// CHECK: arith.cmpi eq
// CHECK: lctx.route.gather {{.*}}, %[[SPREAD]]#0 : tensor<1x4x8xf32>, tensor<1x4xi64>
// CHECK: tensor.insert_slice {{.*}} [1, 4] [1, 1] : tensor<1x4xi64> into tensor<1x8xi64>
// CHECK: lctx.route.scatter_add {{.*}}, %[[SPREAD]]#0, %[[SPREAD]]#1 : tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4xi64>, tensor<1x4xf32>
func.func @prefill(%x: tensor<1x8x8xf32> {lctx.input = "x"},
                   %wr: tensor<8xf32> {lctx.weight = "router"})
    -> (tensor<1x8x8xf32> {lctx.output = "y"})
    attributes {lctx.extend = {entry = "extend", tokens = 4 : i64}} {
  %idx, %w = lctx.route.depth topk %x, %wr {capacity = 0.5 : f64}
      : tensor<1x8x8xf32>, tensor<8xf32>
  %sel = lctx.route.gather %x, %idx : tensor<1x8x8xf32>, tensor<1x4xi64>
  %s4 = tensor.expand_shape %sel [[0], [1], [2, 3]] output_shape [1, 4, 2, 4]
      : tensor<1x4x8xf32> into tensor<1x4x2x4xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %q = linalg.transpose ins(%s4 : tensor<1x4x2x4xf32>)
      outs(%e : tensor<1x2x4x4xf32>) permutation = [0, 2, 1, 3]
  %o = lctx.attention %q, %q, %q positions(%idx, %idx) {rope_theta = 10000.0 : f32}
      : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>,
        tensor<1x4xi64>, tensor<1x4xi64>
  %e2 = tensor.empty() : tensor<1x4x2x4xf32>
  %ot = linalg.transpose ins(%o : tensor<1x2x4x4xf32>)
      outs(%e2 : tensor<1x4x2x4xf32>) permutation = [0, 2, 1, 3]
  %f = tensor.collapse_shape %ot [[0], [1], [2, 3]]
      : tensor<1x4x2x4xf32> into tensor<1x4x8xf32>
  %y = lctx.route.scatter_add %x, %f, %idx, %w
      : tensor<1x8x8xf32>, tensor<1x4x8xf32>, tensor<1x4xi64>, tensor<1x4xf32>
  return %y : tensor<1x8x8xf32>
}
