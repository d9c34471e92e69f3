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

func.func @prefill(%q: tensor<1x2x8x4xf32> {lctx.input = "q"},
                   %p: tensor<1x8xi64> {lctx.weight = "p"})
    -> tensor<1x2x8x4xf32> attributes {lctx.decode = "decode"} {
  // expected-error @+1 {{attention with explicit positions (a routed subset of tokens) has no cached form here}}
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

func.func @prefill(%x: tensor<1x8x4xf32> {lctx.input = "x"},
                   %wr: tensor<4xf32> {lctx.weight = "router"})
    -> tensor<1x8x4xf32> attributes {lctx.decode = "decode"} {
  // expected-error @+1 {{'lctx.route.depth' op has no one-token form}}
  %sel:2 = lctx.route.depth topk %x, %wr {capacity = 0.5 : f64}
      : tensor<1x8x4xf32>, tensor<4xf32>
  return %x : tensor<1x8x4xf32>
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
