// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// GPU op benchmark (bench/gpu/bench.py): one entry point per op at the
// shapes of a long-context layer. Activations are runtime inputs
// (lctx.input); parameters, and the Infini memory read by the memory ops,
// are weights (lctx.weight, named <entry>.<operand>: weight names are global
// to the artifact), bound once per session so that a run does not
// copy them to the device. bench/gpu/prepare.sh compiles this file with
// --target=cuda --gpu-arch=sm_90 and writes the inputs and weights.

// Causal attention, B=1 H=8 T=2048 Dh=64, scale 1/sqrt(64).
func.func @attention_causal(
    %q: tensor<1x8x2048x64xf32> {lctx.input = "q"},
    %k: tensor<1x8x2048x64xf32> {lctx.input = "k"},
    %v: tensor<1x8x2048x64xf32> {lctx.input = "v"})
    -> (tensor<1x8x2048x64xf32> {lctx.output = "out"}) {
  %o = lctx.attention %q, %k, %v {causal = true} : tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>
  return %o : tensor<1x8x2048x64xf32>
}

// Chunked causal attention (Megalodon-style blocks of 512), same shape.
func.func @attention_chunked(
    %q: tensor<1x8x2048x64xf32> {lctx.input = "q"},
    %k: tensor<1x8x2048x64xf32> {lctx.input = "k"},
    %v: tensor<1x8x2048x64xf32> {lctx.input = "v"})
    -> (tensor<1x8x2048x64xf32> {lctx.output = "out"}) {
  %o = lctx.attention %q, %k, %v {causal = true, chunk_size = 512 : i64} : tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>
  return %o : tensor<1x8x2048x64xf32>
}

// RMSNorm over [1, 4096, 512] (epsilon 1e-6).
func.func @rms_norm(
    %x: tensor<1x4096x512xf32> {lctx.input = "x"},
    %w: tensor<512xf32> {lctx.weight = "rms_norm.w"})
    -> (tensor<1x4096x512xf32> {lctx.output = "out"}) {
  %y = lctx.rms_norm %x, %w : tensor<1x4096x512xf32>, tensor<512xf32>
  return %y : tensor<1x4096x512xf32>
}

// Linear [1, 4096, 512] x [512, 2048].
func.func @linear(
    %x: tensor<1x4096x512xf32> {lctx.input = "x"},
    %w: tensor<512x2048xf32> {lctx.weight = "linear.w"})
    -> (tensor<1x4096x2048xf32> {lctx.output = "out"}) {
  %y = lctx.linear %x, %w : tensor<1x4096x512xf32>, tensor<512x2048xf32>
  return %y : tensor<1x4096x2048xf32>
}

// SwiGLU FFN, T=4096, 512 -> 1376 -> 512: (silu(x w_gate) * (x w_in)) w_out.
func.func @ffn_swiglu(
    %x: tensor<1x4096x512xf32> {lctx.input = "x"},
    %w_in: tensor<512x1376xf32> {lctx.weight = "ffn_swiglu.w_in"},
    %w_out: tensor<1376x512xf32> {lctx.weight = "ffn_swiglu.w_out"},
    %w_gate: tensor<512x1376xf32> {lctx.weight = "ffn_swiglu.w_gate"})
    -> (tensor<1x4096x512xf32> {lctx.output = "out"}) {
  %y = lctx.ffn swiglu %x, %w_in, %w_out, %w_gate : tensor<1x4096x512xf32>, tensor<512x1376xf32>, tensor<1376x512xf32>, tensor<512x1376xf32>
  return %y : tensor<1x4096x512xf32>
}

// CEMA scan, B=1 L=8192 D=512 N=16, from an initial state.
func.func @cema(
    %x: tensor<1x8192x512xf32> {lctx.input = "x"},
    %alpha: tensor<512x16xf32> {lctx.weight = "cema.alpha"},
    %delta: tensor<512x16xf32> {lctx.weight = "cema.delta"},
    %theta: tensor<512xf32> {lctx.weight = "cema.theta"},
    %gamma: tensor<512x16xcomplex<f32>> {lctx.weight = "cema.gamma"},
    %omega: tensor<512xf32> {lctx.weight = "cema.omega"},
    %h0: tensor<1x512x16xcomplex<f32>> {lctx.weight = "cema.h0"})
    -> (tensor<1x8192x512xf32> {lctx.output = "y"}, tensor<1x512x16xcomplex<f32>> {lctx.output = "h"}) {
  %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0 : tensor<1x8192x512xf32>, tensor<512x16xf32>, tensor<512x16xf32>, tensor<512xf32>, tensor<512x16xcomplex<f32>>, tensor<512xf32>, tensor<1x512x16xcomplex<f32>>
  return %y, %h : tensor<1x8192x512xf32>, tensor<1x512x16xcomplex<f32>>
}

// Infini memory read and gate, [1, 8, 2048, 64]:
// sigmoid(beta) * sigma(Q) M / (sigma(Q) z) + (1 - sigmoid(beta)) * A_dot.
func.func @memory_retrieve_gate(
    %q: tensor<1x8x2048x64xf32> {lctx.input = "q"},
    %adot: tensor<1x8x2048x64xf32> {lctx.input = "adot"},
    %m: tensor<1x8x64x64xf32> {lctx.weight = "memory_retrieve_gate.m"},
    %z: tensor<1x8x64xf32> {lctx.weight = "memory_retrieve_gate.z"},
    %beta: tensor<8xf32> {lctx.weight = "memory_retrieve_gate.beta"})
    -> (tensor<1x8x2048x64xf32> {lctx.output = "out"}) {
  %a = lctx.memory.retrieve %q, %m, %z : tensor<1x8x2048x64xf32>, tensor<1x8x64x64xf32>, tensor<1x8x64xf32>
  %r = lctx.memory.gate %a, %adot, %beta : tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>, tensor<8xf32>
  return %r : tensor<1x8x2048x64xf32>
}

// Infini memory update (linear rule) with a 2048-token segment.
func.func @memory_update_linear(
    %k: tensor<1x8x2048x64xf32> {lctx.input = "k"},
    %v: tensor<1x8x2048x64xf32> {lctx.input = "v"},
    %m: tensor<1x8x64x64xf32> {lctx.weight = "memory_update_linear.m"},
    %z: tensor<1x8x64xf32> {lctx.weight = "memory_update_linear.z"})
    -> (tensor<1x8x64x64xf32> {lctx.output = "m_next"}, tensor<1x8x64xf32> {lctx.output = "z_next"}) {
  %m1, %z1 = lctx.memory.update linear %k, %v, %m, %z : tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>, tensor<1x8x64x64xf32>, tensor<1x8x64xf32>
  return %m1, %z1 : tensor<1x8x64x64xf32>, tensor<1x8x64xf32>
}

// Infini memory update (delta rule), same shape.
func.func @memory_update_delta(
    %k: tensor<1x8x2048x64xf32> {lctx.input = "k"},
    %v: tensor<1x8x2048x64xf32> {lctx.input = "v"},
    %m: tensor<1x8x64x64xf32> {lctx.weight = "memory_update_delta.m"},
    %z: tensor<1x8x64xf32> {lctx.weight = "memory_update_delta.z"})
    -> (tensor<1x8x64x64xf32> {lctx.output = "m_next"}, tensor<1x8x64xf32> {lctx.output = "z_next"}) {
  %m1, %z1 = lctx.memory.update delta %k, %v, %m, %z : tensor<1x8x2048x64xf32>, tensor<1x8x2048x64xf32>, tensor<1x8x64x64xf32>, tensor<1x8x64xf32>
  return %m1, %z1 : tensor<1x8x64x64xf32>, tensor<1x8x64xf32>
}
