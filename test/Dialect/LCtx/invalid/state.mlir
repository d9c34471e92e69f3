// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of `lctx.state` (an argument and a result of the same name
// and type: runtime-owned recurrent state) and `lctx.output` (result names).

// A state argument needs the result that carries its next value.
// expected-error @+1 {{state 'h' (argument #0) has no result with lctx.state = "h" carrying its next value}}
func.func private @state_without_result(tensor<4xf32> {lctx.state = "h"}) -> tensor<4xf32>

// -----

// A state result needs the argument that carries its value in.
// expected-error @+1 {{state 'h' (result #0) has no argument with lctx.state = "h" carrying its value in}}
func.func private @state_without_argument(tensor<4xf32>) -> (tensor<4xf32> {lctx.state = "h"})

// -----

// Both halves of a state have one type.
// expected-error @+1 {{state 'h' is 'tensor<4xf32>' as argument #0 but 'tensor<8xf32>' as result #0}}
func.func private @state_type_mismatch(tensor<4xf32> {lctx.state = "h"}) -> (tensor<8xf32> {lctx.state = "h"})

// -----

// A state is a ranked tensor.
// expected-error @+1 {{state 'n' (argument #0) must be a ranked tensor, got 'i64'}}
func.func private @scalar_state(i64 {lctx.state = "n"}) -> (i64 {lctx.state = "n"})

// -----

// An argument is a weight, an input or a state: one of them.
// expected-error @+1 {{argument #0 can have only one of lctx.weight, lctx.input and lctx.state}}
func.func private @state_and_input(tensor<4xf32> {lctx.state = "h", lctx.input = "x"}) -> (tensor<4xf32> {lctx.state = "h"})

// -----

// State and input names share the argument namespace.
// expected-error @+1 {{duplicate argument name 'h' on arguments #0 and #1}}
func.func private @state_input_clash(tensor<4xf32> {lctx.input = "h"}, tensor<4xf32> {lctx.state = "h"}) -> (tensor<4xf32> {lctx.state = "h"})

// -----

// The name must not be empty.
// expected-error @+1 {{'lctx.state' on result #0 must be a non-empty string}}
func.func private @empty_state_result() -> (tensor<4xf32> {lctx.state = ""})

// -----

// Output names are strings.
// expected-error @+1 {{'lctx.output' on result #0 must be a non-empty string}}
func.func private @integer_output_name() -> (tensor<4xf32> {lctx.output = 1 : i64})

// -----

// Result names are unique, outputs and states together.
// expected-error @+1 {{duplicate result name 'y' on results #0 and #1}}
func.func private @duplicate_output(tensor<4xf32> {lctx.state = "y"}) -> (tensor<4xf32> {lctx.output = "y"}, tensor<4xf32> {lctx.state = "y"})

// -----

// A result is an output or a state, not both.
// expected-error @+1 {{result #0 cannot be both an output and a state}}
func.func private @output_and_state(tensor<4xf32> {lctx.state = "h"}) -> (tensor<4xf32> {lctx.output = "h", lctx.state = "h"})

// -----

// lctx.output names results only.
// expected-error @+1 {{'lctx.output' is only allowed on function results, not on argument #0}}
func.func private @output_on_argument(tensor<4xf32> {lctx.output = "y"})

// -----

// Unknown result attributes are rejected.
// expected-error @+1 {{unknown lctx result attribute 'lctx.outputs'}}
func.func private @misspelt_output() -> (tensor<4xf32> {lctx.outputs = "y"})

// -----

// lctx.model describes a module, with string and i64 entries only.
// expected-error @+1 {{'lctx.model' entry 'patch' must be a string or an i64, got 4.000000e+00 : f32}}
module attributes {lctx.model = {arch = "megabyte", patch = 4.0 : f32}} {
}

// -----

// expected-error @+1 {{'lctx.model' must be a dictionary, got "megabyte"}}
module attributes {lctx.model = "megabyte"} {
}

// -----

module {
  // expected-error @+1 {{'lctx.model' is only allowed on a module}}
  func.func private @f() attributes {lctx.model = {arch = "x"}}
}
