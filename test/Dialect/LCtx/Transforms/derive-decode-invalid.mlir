// RUN: lctx-opt %s -split-input-file -verify-diagnostics --lctx-derive-decode

// Prefills whose one-token form is not defined are rejected at the op.

func.func @prefill(%x: tensor<1x8x4xf32> {lctx.input = "x"})
    -> tensor<1x4xf32> attributes {lctx.decode = "decode"} {
  %e = tensor.empty() : tensor<1x4xf32>
  // expected-error @+1 {{has no one-token form: lctx-derive-decode cannot derive a decode step of @prefill through it: it reduces over the tokens}}
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                                        affine_map<(d0, d1, d2) -> (d0, d2)>],
                       iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x : tensor<1x8x4xf32>) outs(%e : tensor<1x4xf32>) {
    ^bb0(%a: f32, %out: f32):
      %r = arith.addf %a, %out : f32
      linalg.yield %r : f32
  } -> tensor<1x4xf32>
  return %s : tensor<1x4xf32>
}

// -----

func.func @prefill(%q: tensor<1x2x8x4xf32> {lctx.input = "q"})
    -> tensor<1x2x8x4xf32> attributes {lctx.decode = "decode"} {
  // expected-error @+1 {{non-causal attention sees later tokens}}
  %o = lctx.attention %q, %q, %q {causal = false}
      : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>
  return %o : tensor<1x2x8x4xf32>
}

// -----

func.func @prefill(%x: tensor<1x8x8xf32> {lctx.input = "x"},
                   %p: tensor<1x8xi64> {lctx.weight = "p"})
    -> tensor<1x2x8x4xf32> attributes {lctx.decode = "decode"} {
  %x4 = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 8, 2, 4]
      : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %e = tensor.empty() : tensor<1x2x8x4xf32>
  %q = linalg.transpose ins(%x4 : tensor<1x8x2x4xf32>)
      outs(%e : tensor<1x2x8x4xf32>) permutation = [0, 2, 1, 3]
  // expected-error @+1 {{explicit positions have a cached form only when queries and keys share them (the tokens a router selected) and the attention is not chunked}}
  %o = lctx.attention %q, %q, %q positions(%p, %p)
      : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>,
        tensor<1x8xi64>, tensor<1x8xi64>
  return %o : tensor<1x2x8x4xf32>
}

// -----

func.func @prefill(%x: tensor<1x8x4xf32> {lctx.input = "x"})
    -> tensor<1x2x4x4xf32> attributes {lctx.decode = "decode"} {
  // expected-error @+1 {{it splits or merges the token dimension}}
  %p = tensor.expand_shape %x [[0], [1, 2], [3]] output_shape [1, 2, 4, 4]
      : tensor<1x8x4xf32> into tensor<1x2x4x4xf32>
  return %p : tensor<1x2x4x4xf32>
}

// -----

func.func @prefill(%x: tensor<1x8x4xf32> {lctx.input = "x"})
    -> tensor<1x4x4xf32> attributes {lctx.decode = "decode"} {
  // expected-error @+1 {{it reads a value that depends on the tokens}}
  %s = tensor.extract_slice %x[0, 0, 0] [1, 4, 4] [1, 1, 1]
      : tensor<1x8x4xf32> to tensor<1x4x4xf32>
  return %s : tensor<1x4x4xf32>
}

// -----

// A patch model steps at two rates: the global model's input and the local
// model's (patch.to_local) must both be there.
// expected-error @+1 {{a two-rate decode needs exactly one 'lctx.patch.to_local', found 0}}
func.func @prefill(%ids: tensor<1x16xi32> {lctx.input = "ids"},
                   %tab: tensor<256x32xf32> {lctx.weight = "embed"},
                   %pad: tensor<4x32xf32> {lctx.weight = "pad"})
    -> tensor<1x4x128xf32> attributes {lctx.decode = "decode"} {
  %g = lctx.patch.embed %ids, %tab, %pad {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x32xf32>, tensor<4x32xf32>
  return %g : tensor<1x4x128xf32>
}

// -----

// expected-error @+1 {{has no token input to derive a decode step from}}
func.func @prefill(%x: tensor<8xf32> {lctx.input = "x"}) -> tensor<8xf32>
    attributes {lctx.decode = "decode"} {
  return %x : tensor<8xf32>
}

// -----

// expected-error @+1 {{cannot derive @decode: the module already defines it}}
func.func @prefill(%x: tensor<1x8x4xf32> {lctx.input = "x"}) -> tensor<1x8x4xf32>
    attributes {lctx.decode = "decode"} {
  return %x : tensor<1x8x4xf32>
}
// expected-note @+1 {{defined here}}
func.func @decode(%x: tensor<1x1x4xf32>) -> tensor<1x1x4xf32> {
  return %x : tensor<1x1x4xf32>
}

// -----

// expected-error @+1 {{'lctx.decode' must name the decode entry point (a non-empty string), got 3 : i64}}
func.func @prefill(%x: tensor<1x8x4xf32> {lctx.input = "x"}) -> tensor<1x8x4xf32>
    attributes {lctx.decode = 3 : i64} {
  return %x : tensor<1x8x4xf32>
}

// -----

// expected-error @+1 {{'lctx.decode' is only allowed on a function}}
module attributes {lctx.decode = "decode"} {
}

// -----

// expected-error @+1 {{argument 1 is state 'attention.0.k', the name of a cache @decode needs: rename that state}}
func.func @prefill(%x: tensor<1x8x8xf32> {lctx.input = "x"},
                   %s: tensor<4xf32> {lctx.state = "attention.0.k"})
    -> (tensor<1x2x8x4xf32> {lctx.output = "y"},
        tensor<4xf32> {lctx.state = "attention.0.k"})
    attributes {lctx.decode = "decode"} {
  %x4 = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 8, 2, 4]
      : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %e = tensor.empty() : tensor<1x2x8x4xf32>
  %q = linalg.transpose ins(%x4 : tensor<1x8x2x4xf32>)
      outs(%e : tensor<1x2x8x4xf32>) permutation = [0, 2, 1, 3]
  %o = lctx.attention %q, %q, %q
      : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>
  return %o, %s : tensor<1x2x8x4xf32>, tensor<4xf32>
}

// -----

// A patch model's local step computes the outputs: without an lctx.output
// there is nothing for it to step (found by the IR fuzzer).
// expected-error @+1 {{a two-rate decode needs an lctx.output result computed by the local model (from lctx.patch.to_local)}}
func.func @prefill(%ids: tensor<1x16xi32> {lctx.input = "ids"},
                   %tab: tensor<256x8xf32> {lctx.weight = "embed"},
                   %pad: tensor<4x8xf32> {lctx.weight = "pad"},
                   %wgl: tensor<8x16xf32> {lctx.weight = "wgl"},
                   %ltab: tensor<256x16xf32> {lctx.weight = "ltab"},
                   %lpad: tensor<16xf32> {lctx.weight = "lpad"})
    -> tensor<1x16x16xf32> attributes {lctx.decode = "decode"} {
  %g = lctx.patch.embed %ids, %tab, %pad {patch_size = 4 : i64}
      : tensor<1x16xi32>, tensor<256x8xf32>, tensor<4x8xf32>
  %l = lctx.patch.to_local %g, %wgl, %ids, %ltab, %lpad {patch_size = 4 : i64}
      : tensor<1x4x32xf32>, tensor<8x16xf32>, tensor<1x16xi32>,
        tensor<256x16xf32>, tensor<16xf32>
  %m = lctx.patch.merge %l : tensor<4x4x16xf32> -> tensor<1x16x16xf32>
  return %m : tensor<1x16x16xf32>
}

// -----

// An extend entry over a chunked attention: the chunk's cache restarts
// inside the block.
func.func @prefill(%x: tensor<1x8x8xf32> {lctx.input = "x"})
    -> tensor<1x2x8x4xf32>
    attributes {lctx.extend = {entry = "extend", tokens = 4 : i64}} {
  %x4 = tensor.expand_shape %x [[0], [1], [2, 3]] output_shape [1, 8, 2, 4]
      : tensor<1x8x8xf32> into tensor<1x8x2x4xf32>
  %e = tensor.empty() : tensor<1x2x8x4xf32>
  %q = linalg.transpose ins(%x4 : tensor<1x8x2x4xf32>)
      outs(%e : tensor<1x2x8x4xf32>) permutation = [0, 2, 1, 3]
  // expected-error @+1 {{has no 4-token cached form: a chunked attention's cache restarts inside the block}}
  %o = lctx.attention %q, %q, %q {chunk_size = 4 : i64}
      : tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>
  return %o : tensor<1x2x8x4xf32>
}

// -----

// More tokens than the prefill has.
// expected-error @+1 {{cannot derive @extend over 16 steps: the prefill has 8}}
func.func @prefill(%x: tensor<1x8x8xf32> {lctx.input = "x"},
                   %w: tensor<8x8xf32> {lctx.weight = "w"})
    -> tensor<1x8x8xf32>
    attributes {lctx.extend = {entry = "extend", tokens = 16 : i64}} {
  %h = lctx.linear %x, %w : tensor<1x8x8xf32>, tensor<8x8xf32>
  return %h : tensor<1x8x8xf32>
}

// -----

// expected-error @+1 {{'lctx.extend' must be a function attribute {entry = "<name>", tokens = <n> : i64} with a non-empty name and positive integers, got {entry = "extend", tokens = 0 : i64}}}
func.func @prefill(%q: tensor<1x2x8x4xf32> {lctx.input = "q"})
    -> tensor<1x2x8x4xf32>
    attributes {lctx.extend = {entry = "extend", tokens = 0 : i64}} {
  return %q : tensor<1x2x8x4xf32>
}
