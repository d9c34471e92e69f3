//===- CemaOps.td - Megalodon CEMA and TimestepNorm --------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Megalodon (arXiv 2404.08801): complex exponential moving average in the
// official code's parameterization, and timestep normalization with carried
// cumulative statistics. State is fp32 / complex<f32> always.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_CEMAOPS_TD
#define LCTX_DIALECT_LCTX_CEMAOPS_TD

include "CommonOps.td"

def LCtx_CemaScanOp : LCtx_PureOp<"cema.scan"> {
  let summary = "Complex exponential moving average with initial and final state";
  let description = [{
    For `x : [B, L, D]` and order `N` (Megalodon's `cema_ndim`), with raw
    parameters `alpha, delta : [D, N]`, `theta : [D]`, `gamma : [D, N]`
    (complex), `omega : [D]` and the initial state `h0 : [B, D, N]`
    (complex<f32>):

    ```
    p[d,n]     = sigmoid(alpha[d,n])
    theta'[d,n] = sigmoid(theta[d]) * (2 pi / N) * (n + 1)
    q[d,n]     = (1 - sigmoid(alpha[d,n]) sigmoid(delta[d,n])) exp(i theta'[d,n])
    h_t        = p x_t + q h_{t-1}                    (h_{-1} = h0)
    y_t[d]     = Re(sum_n gamma[d,n] / sqrt(N) * h_t[d,n]) + omega[d] x_t[d]
    ```

    Results: `y : [B, L, D]` (x's element type) and the final state
    `h_L : [B, D, N]`. `|q| < 1`, so the scan is stable for any `L`; the
    math is fp32 for any activation type.

    ```mlir
    %y, %h = lctx.cema.scan %x, %alpha, %delta, %theta, %gamma, %omega, %h0
        : tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>,
          tensor<32xf32>, tensor<32x16xcomplex<f32>>, tensor<32xf32>,
          tensor<1x32x16xcomplex<f32>>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input, LCtx_F32Tensor:$alpha,
                       LCtx_F32Tensor:$delta, LCtx_F32Tensor:$theta,
                       LCtx_ComplexF32Tensor:$gamma, LCtx_F32Tensor:$omega,
                       LCtx_ComplexF32Tensor:$init_state);
  let results = (outs LCtx_FloatTensor:$result,
                      LCtx_ComplexF32Tensor:$final_state);
  let assemblyFormat = [{
    $input `,` $alpha `,` $delta `,` $theta `,` $gamma `,` $omega `,`
    $init_state attr-dict `:` type($input) `,` type($alpha) `,` type($delta)
    `,` type($theta) `,` type($gamma) `,` type($omega) `,` type($init_state)
  }];
}

def LCtx_CemaTimestepNormOp : LCtx_PureOp<"cema.timestep_norm"> {
  let summary = "Cumulative group normalization with carried statistics";
  let description = [{
    Megalodon eq. 4. The `D` features of `x : [B, L, D]` form `G` groups of
    `D/G`. At step `t`, `mu_t` and `var_t` are the mean and (biased)
    variance of all elements of the group at steps `<= t`, merged with the
    carried state (`count : [B]` steps seen, `mean, var : [B, G]`):

    ```
    y[b,t,d] = (x[b,t,d] - mu_t[g]) / sqrt(var_t[g] + epsilon) * (weight[d] + 1)
               + bias[d]                                   (g = d / (D/G))
    ```

    Results: `y` and the state after the last step, so that a stream fed in
    pieces gives the same output as one call. The initial state is
    `count = 0, mean = 0, var = 1`. Statistics are fp32 (Welford merges).

    ```mlir
    %y, %c1, %m1, %v1 = lctx.cema.timestep_norm %x, %w, %b, %c, %m, %v
        {num_groups = 4 : i64}
        : tensor<1x64x32xf32>, tensor<32xf32>, tensor<32xf32>,
          tensor<1xi64>, tensor<1x4xf32>, tensor<1x4xf32>
    ```
  }];
  let arguments = (ins LCtx_FloatTensor:$input, LCtx_FloatTensor:$weight,
                       LCtx_FloatTensor:$bias, LCtx_I64Tensor:$count,
                       LCtx_F32Tensor:$mean, LCtx_F32Tensor:$var,
                       I64Attr:$num_groups,
                       DefaultValuedAttr<F32Attr, "1.0e-5f">:$epsilon);
  let results = (outs LCtx_FloatTensor:$result, LCtx_I64Tensor:$new_count,
                      LCtx_F32Tensor:$new_mean, LCtx_F32Tensor:$new_var);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `,` $count `,` $mean `,` $var attr-dict `:`
    type($input) `,` type($weight) `,` type($bias) `,` type($count) `,`
    type($mean) `,` type($var)
  }];
}

#endif // LCTX_DIALECT_LCTX_CEMAOPS_TD
