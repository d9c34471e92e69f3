//===- LCtxEnums.td - Enumerations of the lctx dialect ----*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_DIALECT_LCTX_LCTXENUMS_TD
#define LCTX_DIALECT_LCTX_LCTXENUMS_TD

include "mlir/IR/EnumAttr.td"

def LCtx_ActivationRelu : I32EnumAttrCase<"relu", 0>;
def LCtx_ActivationGelu : I32EnumAttrCase<"gelu", 1>;
def LCtx_ActivationSwiglu : I32EnumAttrCase<"swiglu", 2>;
def LCtx_ActivationAttr : I32EnumAttr<"Activation",
    "feed-forward activation: relu, gelu (exact erf form) or swiglu",
    [LCtx_ActivationRelu, LCtx_ActivationGelu, LCtx_ActivationSwiglu]> {
  let cppNamespace = "::mlir::lctx";
}

def LCtx_MemoryRuleLinear : I32EnumAttrCase<"linear", 0>;
def LCtx_MemoryRuleDelta : I32EnumAttrCase<"delta", 1>;
def LCtx_MemoryRuleAttr : I32EnumAttr<"MemoryRule",
    "Infini-attention memory update rule: linear (eq. 8) or delta (eq. 9)",
    [LCtx_MemoryRuleLinear, LCtx_MemoryRuleDelta]> {
  let cppNamespace = "::mlir::lctx";
}

def LCtx_DepthRoutingTopk : I32EnumAttrCase<"topk", 0>;
def LCtx_DepthRoutingCausal : I32EnumAttrCase<"causal", 1>;
def LCtx_DepthRoutingAttr : I32EnumAttr<"DepthRouting",
    "Mixture-of-Depths routing: per-sequence topk, or causal "
    "(sigmoid(router) > 0.5)",
    [LCtx_DepthRoutingTopk, LCtx_DepthRoutingCausal]> {
  let cppNamespace = "::mlir::lctx";
}

#endif // LCTX_DIALECT_LCTX_LCTXENUMS_TD
