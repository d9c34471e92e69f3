// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.cema.scan: input [B, L, D], [D, N] parameters
// (alpha, delta, gamma), [D] parameters (theta, omega), the initial state
// [B, D, N], N > 0, and the fp32 / complex<f32> ODS constraints.

// The input must be [B, L, D].
func.func @input_rank(%x: tensor<64x32xf32>, %alpha: tensor<32x16xf32>, %delta: tensor<32x16xf32>,
                      %theta: tensor<32xf32>, %gamma: tensor<32x16xcomplex<f32>>,
                      %omega: tensor<32xf32>, %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{expects input of rank 3 [B, L, D], got 'tensor<64x32xf32>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// alpha must be [D, N].
func.func @alpha_rank(%x: tensor<1x64x32xf32>, %alpha: tensor<32xf32>, %delta: tensor<32x16xf32>,
                      %theta: tensor<32xf32>, %gamma: tensor<32x16xcomplex<f32>>,
                      %omega: tensor<32xf32>, %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{expects alpha of rank 2 [D, N], got 'tensor<32xf32>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// alpha has one row per channel D.
func.func @alpha_channels(%x: tensor<1x64x32xf32>, %alpha: tensor<16x16xf32>,
                          %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                          %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                          %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{channel mismatch: alpha dim 0 is 16 but input dim 2 is 32}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<16x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// delta must be [D, N].
func.func @delta_rank(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                      %delta: tensor<32x16x1xf32>, %theta: tensor<32xf32>,
                      %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                      %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{expects delta of rank 2 [D, N], got 'tensor<32x16x1xf32>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16x1xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// delta has one row per channel D.
func.func @delta_channels(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                          %delta: tensor<8x16xf32>, %theta: tensor<32xf32>,
                          %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                          %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{channel mismatch: delta dim 0 is 8 but input dim 2 is 32}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<8x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// delta has alpha's state order N.
func.func @delta_order(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>, %delta: tensor<32x8xf32>,
                       %theta: tensor<32xf32>, %gamma: tensor<32x16xcomplex<f32>>,
                       %omega: tensor<32xf32>, %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{state order mismatch: delta dim 1 is 8 but alpha dim 1 is 16}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x8xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// gamma must be [D, N].
func.func @gamma_rank(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>, %delta: tensor<32x16xf32>,
                      %theta: tensor<32xf32>, %gamma: tensor<32xcomplex<f32>>,
                      %omega: tensor<32xf32>, %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{expects gamma of rank 2 [D, N], got 'tensor<32xcomplex<f32>>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// gamma has alpha's state order N.
func.func @gamma_order(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                       %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                       %gamma: tensor<32x4xcomplex<f32>>, %omega: tensor<32xf32>,
                       %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{state order mismatch: gamma dim 1 is 4 but alpha dim 1 is 16}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x4xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// theta must be [D].
func.func @theta_rank(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>, %delta: tensor<32x16xf32>,
                      %theta: tensor<32x1xf32>, %gamma: tensor<32x16xcomplex<f32>>,
                      %omega: tensor<32xf32>, %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{expects theta of rank 1 [D], got 'tensor<32x1xf32>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32x1xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// theta has one entry per channel.
func.func @theta_channels(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                          %delta: tensor<32x16xf32>, %theta: tensor<31xf32>,
                          %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                          %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{channel mismatch: theta dim 0 is 31 but input dim 2 is 32}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<31xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// omega has one entry per channel.
func.func @omega_channels(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                          %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                          %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<64xf32>,
                          %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{channel mismatch: omega dim 0 is 64 but input dim 2 is 32}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<64xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// The initial state must be [B, D, N].
func.func @init_state_rank(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                           %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                           %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                           %h0: tensor<32x16xcomplex<f32>>) {
  // expected-error @+1 {{expects init_state of rank 3 [B, D, N], got 'tensor<32x16xcomplex<f32>>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<32x16xcomplex<f32>>
  return
}

// -----

// The initial state batch matches the input's.
func.func @init_state_batch(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                            %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                            %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                            %h0: tensor<2x32x16xcomplex<f32>>) {
  // expected-error @+1 {{batch mismatch: init_state dim 0 is 2 but input dim 0 is 1}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<2x32x16xcomplex<f32>>
  return
}

// -----

// The initial state has one row per channel.
func.func @init_state_channels(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                               %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                               %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                               %h0: tensor<1x16x16xcomplex<f32>>) {
  // expected-error @+1 {{channel mismatch: init_state dim 1 is 16 but input dim 2 is 32}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x16x16xcomplex<f32>>
  return
}

// -----

// The initial state has alpha's state order N.
func.func @init_state_order(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                            %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                            %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                            %h0: tensor<1x32x8xcomplex<f32>>) {
  // expected-error @+1 {{state order mismatch: init_state dim 2 is 8 but alpha dim 1 is 16}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x8xcomplex<f32>>
  return
}

// -----

// The state order N must be > 0.
func.func @zero_order(%x: tensor<1x64x32xf32>, %alpha: tensor<32x0xf32>, %delta: tensor<32x0xf32>,
                      %theta: tensor<32xf32>, %gamma: tensor<32x0xcomplex<f32>>,
                      %omega: tensor<32xf32>, %h0: tensor<1x32x0xcomplex<f32>>) {
  // expected-error @+1 {{expects a state order N > 0 (alpha dim 1 is 0)}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x0xf32>, tensor<32x0xf32>, tensor<32xf32>,
        tensor<32x0xcomplex<f32>>, tensor<32xf32>, tensor<1x32x0xcomplex<f32>>
  return
}

// -----

// gamma is complex<f32>: a real f32 gamma is rejected (ODS constraint).
func.func @gamma_real(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>, %delta: tensor<32x16xf32>,
                      %theta: tensor<32xf32>, %gamma: tensor<32x16xf32>, %omega: tensor<32xf32>,
                      %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{operand #4 must be ranked tensor of complex type with 32-bit float elements values, but got 'tensor<32x16xf32>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xf32>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}

// -----

// The state is complex<f32>: a real f32 state is rejected (ODS constraint).
func.func @init_state_real(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                           %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                           %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                           %h0: tensor<1x32x16xf32>) {
  // expected-error @+1 {{operand #6 must be ranked tensor of complex type with 32-bit float elements values, but got 'tensor<1x32x16xf32>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xf32>
  return
}

// -----

// The state is complex<f32>, not complex<f64> (ODS constraint).
func.func @init_state_complex_f64(%x: tensor<1x64x32xf32>, %alpha: tensor<32x16xf32>,
                                  %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                                  %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                                  %h0: tensor<1x32x16xcomplex<f64>>) {
  // expected-error @+1 {{operand #6 must be ranked tensor of complex type with 32-bit float elements values, but got 'tensor<1x32x16xcomplex<f64>>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f64>>
  return
}

// -----

// Parameters are fp32 whatever the activation type (ODS constraint).
func.func @alpha_bf16(%x: tensor<1x64x32xbf16>, %alpha: tensor<32x16xbf16>,
                      %delta: tensor<32x16xf32>, %theta: tensor<32xf32>,
                      %gamma: tensor<32x16xcomplex<f32>>, %omega: tensor<32xf32>,
                      %h0: tensor<1x32x16xcomplex<f32>>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit float values, but got 'tensor<32x16xbf16>'}}
  %0:2 = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
      : tensor<1x64x32xbf16>, tensor<32x16xbf16>, tensor<32x16xf32>, tensor<32xf32>,
        tensor<32x16xcomplex<f32>>, tensor<32xf32>, tensor<1x32x16xcomplex<f32>>
  return
}
