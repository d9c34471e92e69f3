// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of the `lctx.weight` function-argument attribute: a
// non-empty string, on a ranked-tensor argument, unique in the function; and
// no other `lctx.*` argument attribute.

// The name must not be empty.
// expected-error @+1 {{'lctx.weight' on argument #0 must be a non-empty string}}
func.func @empty_name(%w: tensor<4xf32> {lctx.weight = ""}) {
  return
}

// -----

// The name must be a string, not an integer.
// expected-error @+1 {{'lctx.weight' on argument #1 must be a non-empty string}}
func.func @integer_name(%x: tensor<4xf32>, %w: tensor<4xf32> {lctx.weight = 3 : i64}) {
  return
}

// -----

// The name must be a string, not a symbol reference.
// expected-error @+1 {{'lctx.weight' on argument #0 must be a non-empty string}}
func.func @symbol_name(%w: tensor<4xf32> {lctx.weight = @w}) {
  return
}

// -----

// A weight is a ranked tensor: a scalar f32 argument is rejected.
// expected-error @+1 {{weight 'scale' (argument #0) must be a ranked tensor, got 'f32'}}
func.func @scalar_argument(%s: f32 {lctx.weight = "scale"}) {
  return
}

// -----

// A weight is a ranked tensor: an unranked tensor is rejected.
// expected-error @+1 {{weight 'w' (argument #0) must be a ranked tensor, got 'tensor<*xf32>'}}
func.func @unranked_argument(%w: tensor<*xf32> {lctx.weight = "w"}) {
  return
}

// -----

// Names are unique within a function (reported at the second occurrence).
// expected-error @+1 {{duplicate argument name 'w_q' on arguments #0 and #2}}
func.func @duplicate_name(%a: tensor<4xf32> {lctx.weight = "w_q"}, %x: tensor<4xf32>,
                          %b: tensor<4xf32> {lctx.weight = "w_q"}) {
  return
}

// -----

// The duplicate check also covers external declarations.
// expected-error @+1 {{duplicate argument name 'w' on arguments #0 and #1}}
func.func private @duplicate_in_declaration(tensor<4xf32> {lctx.weight = "w"},
                                            tensor<8xf32> {lctx.weight = "w"})

// -----

// lctx.weight, lctx.input and lctx.state are the only lctx argument
// attributes.
// expected-error @+1 {{unknown lctx argument attribute 'lctx.foo'}}
func.func @unknown_attribute(%w: tensor<4xf32> {lctx.foo = "w"}) {
  return
}

// -----

// A misspelt weight attribute is unknown too.
// expected-error @+1 {{unknown lctx argument attribute 'lctx.weights'}}
func.func @misspelt_attribute(%w: tensor<4xf32> {lctx.weights = "w"}) {
  return
}

// -----

// A weight is an input: lctx.weight on a function result is rejected.
// expected-error @+1 {{'lctx.weight' is only allowed on function arguments, not on result #0}}
func.func private @weight_on_result() -> (tensor<4xf32> {lctx.weight = "w"})

// -----

// lctx defines no discardable attribute on operations.
func.func @unknown_op_attr(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{unknown lctx attribute 'lctx.foo' on operation}}
  %0 = arith.addf %x, %x {lctx.foo} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// An argument is a weight or an input, not both.
// expected-error @+1 {{argument #0 can have only one of lctx.weight, lctx.input and lctx.state}}
func.func private @weight_and_input(tensor<4xf32> {lctx.weight = "w", lctx.input = "x"})

// -----

// Input and weight names share one namespace.
// expected-error @+1 {{duplicate argument name 'x' on arguments #0 and #1}}
func.func private @input_weight_clash(tensor<4xf32> {lctx.input = "x"}, tensor<4xf32> {lctx.weight = "x"})
