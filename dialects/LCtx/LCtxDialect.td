//===- LCtxDialect.td - The lctx dialect and its op base class -*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_LCTXDIALECT_TD
#define LCTX_DIALECT_LCTX_LCTXDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def LCtx_Dialect : Dialect {
  let name = "lctx";
  let cppNamespace = "::mlir::lctx";
  let summary = "First-class ops for long-context model architectures";
  let description = [{
    The `lctx` dialect gives each mechanism of a long-context architecture an
    op of its own, on ranked tensors with value semantics:

    * **patch** (MEGABYTE): byte patches, a global model over patch embeddings
      and a local model inside each patch;
    * **memory** (Infini-attention): per-head compressive memory retrieved
      with sigma(Q) = ELU(Q) + 1 and updated once per segment;
    * **cema** (Megalodon): complex exponential moving average and timestep
      normalization with carried statistics;
    * **route** (Switch Transformer, Mixture-of-Depths): top-1 experts with
      capacity, and top-k / causal token routing around a block;
    * shared building blocks: attention, RoPE, norms, embedding, linear, FFN.

    Recurrent state (compressive memory `M` and `z`, the CEMA hidden state,
    TimestepNorm statistics, KV caches) is always an explicit SSA operand and
    result, never a hidden side effect: every op is `Pure`. This is what lets
    the compiler derive a streaming decode step from a prefill definition.

    Conventions (see `docs/conventions.md`): activations are `[B, T, D]`,
    attention operands `[B, H, T, Dh]`; Infini memory `M`/`z` and CEMA state
    are fp32 / complex<f32> whatever the activation type; routers are fp32.
  }];
  let useDefaultAttributePrinterParser = 0;
  let hasConstantMaterializer = 0;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Name of the function-argument attribute that binds an argument to a
    /// named weight tensor (`{lctx.weight = "layers.0.w_q"}`).
    static constexpr ::llvm::StringLiteral getWeightAttrName() {
      return ::llvm::StringLiteral("lctx.weight");
    }
    /// Name of the function-argument attribute that names a runtime input
    /// (`{lctx.input = "ids"}`); unnamed inputs are `input<i>`.
    static constexpr ::llvm::StringLiteral getInputAttrName() {
      return ::llvm::StringLiteral("lctx.input");
    }
    /// Name of the function-result attribute that names an output
    /// (`{lctx.output = "logits"}`); unnamed outputs are `result<i>`.
    static constexpr ::llvm::StringLiteral getOutputAttrName() {
      return ::llvm::StringLiteral("lctx.output");
    }
    /// Name of the attribute that makes an argument and a result of the
    /// same type one piece of runtime-owned recurrent state
    /// (`{lctx.state = "layers.0.cema.h"}` on both): the runtime passes the
    /// state it holds as the argument and keeps the result for the next
    /// call.
    static constexpr ::llvm::StringLiteral getStateAttrName() {
      return ::llvm::StringLiteral("lctx.state");
    }
    /// Name of the module attribute describing the model for the tools that
    /// drive it (`{lctx.model = {arch = "megabyte", patch = 4 : i64}}`),
    /// copied into the artifact manifest's "model".
    static constexpr ::llvm::StringLiteral getModelAttrName() {
      return ::llvm::StringLiteral("lctx.model");
    }
    /// Name of the function attribute that asks `lctx-derive-decode` to
    /// derive a one-token decode entry point, named by the attribute's
    /// string, from the function (`{lctx.decode = "decode"}` on a prefill).
    static constexpr ::llvm::StringLiteral getDecodeAttrName() {
      return ::llvm::StringLiteral("lctx.decode");
    }
    /// Name of the function attribute that asks `lctx-derive-decode` to
    /// derive an extend entry point from the function: the same model
    /// advanced by `tokens` tokens at once over the decode caches
    /// (`{lctx.extend = {entry = "extend", tokens = 64 : i64}}`).
    static constexpr ::llvm::StringLiteral getExtendAttrName() {
      return ::llvm::StringLiteral("lctx.extend");
    }
    /// Name of the function attribute on a derived entry whose caches hold
    /// a window of positions: `{state = "pos", steps = 1 : i64, limit = T :
    /// i64}` (the call needs state[0] + steps <= limit; the manifest
    /// records it and the runtime checks it before the call).
    static constexpr ::llvm::StringLiteral getAdvanceAttrName() {
      return ::llvm::StringLiteral("lctx.advance");
    }
  }];
}

/// Base class of every lctx op.
class LCtx_Op<string mnemonic, list<Trait> traits = []>
    : Op<LCtx_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def LCtx_FloatTensor : RankedTensorOf<[AnyFloat]>;
def LCtx_F32Tensor : RankedTensorOf<[F32]>;
def LCtx_IntTensor : RankedTensorOf<[AnySignlessInteger]>;
def LCtx_I32Tensor : RankedTensorOf<[I32]>;
def LCtx_I64Tensor : RankedTensorOf<[I64]>;
def LCtx_ComplexF32Tensor : RankedTensorOf<[Complex<F32>]>;
def LCtx_F32Scalar : 0DTensorOf<[F32]>;

#endif // LCTX_DIALECT_LCTX_LCTXDIALECT_TD
