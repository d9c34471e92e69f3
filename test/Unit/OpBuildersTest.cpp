//===- OpBuildersTest.cpp - C++ API tests of the lctx dialect -------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Builds lctx ops through the C++ API (as the decompose pass and future
// frontends do), checks inferred types, verifier diagnostics, op helpers,
// and that the registered pipeline and pass run from their textual names.
//
//===----------------------------------------------------------------------===//

#include "lctx/Dialect/LCtx/IR/LCtxOps.h"
#include "lctx/InitAll.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace mlir;
using namespace mlir::lctx;

namespace {

class LCtxOpsTest : public ::testing::Test {
protected:
  LCtxOpsTest() {
    static bool registered = [] {
      registerAllLCtxPasses();
      return true;
    }();
    (void)registered;
    DialectRegistry registry;
    registerAllLCtxDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// A function whose arguments have `types`; the builder is positioned in
  /// its body.
  func::FuncOp makeFunc(ArrayRef<Type> types) {
    OpBuilder b(&context);
    module = ModuleOp::create(b.getUnknownLoc());
    b.setInsertionPointToEnd(module->getBody());
    auto func = b.create<func::FuncOp>(b.getUnknownLoc(), "f",
                                       b.getFunctionType(types, {}));
    Block *entry = func.addEntryBlock();
    builder = std::make_unique<OpBuilder>(entry, entry->end());
    return func;
  }

  RankedTensorType tensor(ArrayRef<int64_t> shape, Type elt = {}) {
    return RankedTensorType::get(shape, elt ? elt : Float32Type::get(&context));
  }

  /// Runs the verifier on `op` and returns the concatenated error messages.
  std::string verifyErrors(Operation *op) {
    std::string errors;
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      errors += diag.str() + "\n";
      return success();
    });
    (void)verify(op);
    return errors;
  }

  OwningOpRef<ModuleOp> parse(StringRef source) {
    return parseSourceString<ModuleOp>(source, &context);
  }

  template <typename OpTy>
  int count(ModuleOp m) {
    int n = 0;
    m.walk([&](OpTy) { ++n; });
    return n;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::unique_ptr<OpBuilder> builder;
};

TEST_F(LCtxOpsTest, AttentionInfersOutputShapeFromQueryAndValue) {
  auto func = makeFunc({tensor({2, 8, 5, 64}), tensor({2, 2, 9, 64}),
                        tensor({2, 2, 9, 32})});
  ValueRange args = func.getArguments();
  auto op = builder->create<AttentionOp>(
      builder->getUnknownLoc(), args[0], args[1], args[2], Value(), Value(),
      builder->getBoolAttr(true), IntegerAttr(), FloatAttr(), FloatAttr());
  EXPECT_EQ(op.getType(), tensor({2, 8, 5, 32}));
  EXPECT_TRUE(succeeded(verify(op)));
  ASSERT_TRUE(op.getEffectiveScale().has_value());
  EXPECT_DOUBLE_EQ(*op.getEffectiveScale(), 1.0 / std::sqrt(64.0));
}

TEST_F(LCtxOpsTest, AttentionVerifierNamesTheMismatch) {
  // 8 query heads are not a multiple of 3 key/value heads.
  auto func = makeFunc({tensor({1, 8, 4, 16}), tensor({1, 3, 4, 16}),
                        tensor({1, 3, 4, 16})});
  ValueRange args = func.getArguments();
  auto op = builder->create<AttentionOp>(
      builder->getUnknownLoc(), args[0], args[1], args[2], Value(), Value(),
      builder->getBoolAttr(true), IntegerAttr(), FloatAttr(), FloatAttr());
  std::string errors = verifyErrors(op);
  EXPECT_NE(errors.find("query head count (8)"), std::string::npos) << errors;
  EXPECT_NE(errors.find("key/value head count (3)"), std::string::npos)
      << errors;
}

TEST_F(LCtxOpsTest, PatchEmbedInfersGlobalWidth) {
  Type i32 = IntegerType::get(&context, 32);
  auto func = makeFunc({tensor({3, 24}, i32), tensor({256, 16}),
                        tensor({8, 16})});
  ValueRange args = func.getArguments();
  auto op = builder->create<PatchEmbedOp>(builder->getUnknownLoc(), args[0],
                                          args[1], args[2], Value(),
                                          builder->getI64IntegerAttr(8));
  EXPECT_EQ(op.getType(), tensor({3, 3, 128}));
  EXPECT_TRUE(succeeded(verify(op)));
}

TEST_F(LCtxOpsTest, RouteHelpersFollowTheConventions) {
  auto func = makeFunc({tensor({2, 64, 32}), tensor({32, 8}), tensor({32})});
  ValueRange args = func.getArguments();
  Location loc = builder->getUnknownLoc();
  auto experts = builder->create<RouteExpertsOp>(
      loc, args[0], args[1], builder->getF64FloatAttr(1.25), UnitAttr(),
      builder->getF64FloatAttr(0.01));
  EXPECT_EQ(experts.getNumExperts(), 8);
  EXPECT_EQ(experts.getCapacity(64), 10);
  EXPECT_EQ(experts.getCapacity(1), 1);
  EXPECT_EQ(experts.getAuxLoss().getType(), tensor({}));
  EXPECT_EQ(experts.getExpert().getType(),
            tensor({2, 64}, builder->getI32Type()));

  auto topk = builder->create<RouteDepthOp>(
      loc, DepthRoutingAttr::get(&context, DepthRouting::topk), args[0],
      args[2], builder->getF64FloatAttr(0.125));
  EXPECT_EQ(topk.getIndices().getType(), tensor({2, 8}, builder->getI64Type()));
  auto causal = builder->create<RouteDepthOp>(
      loc, DepthRoutingAttr::get(&context, DepthRouting::causal), args[0],
      args[2], builder->getF64FloatAttr(0.125));
  EXPECT_EQ(causal.getWeights().getType(), tensor({2, 64}));
}

// lctx-decompose peels the short last segment: T = 10, N = 4 gives a loop of
// two full segments plus a static tail of 2; T = 3 gives no loop at all.
TEST_F(LCtxOpsTest, DecomposeSplitsSegmentsAndPeelsTheTail) {
  const char *source = R"mlir(
    func.func @f(%q: tensor<1x2x10x8xf32>, %m: tensor<1x2x8x8xf32>,
                 %z: tensor<1x2x8xf32>, %b: tensor<2xf32>,
                 %q3: tensor<1x2x3x8xf32>)
        -> (tensor<1x2x10x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x3x8xf32>) {
      %o, %m1, %z1 = lctx.memory.attention linear %q, %q, %q, %m, %z, %b
          {segment_size = 4 : i64}
          : tensor<1x2x10x8xf32>, tensor<1x2x10x8xf32>, tensor<1x2x10x8xf32>,
            tensor<1x2x8x8xf32>, tensor<1x2x8xf32>, tensor<2xf32>
      %o3, %m3, %z3 = lctx.memory.attention delta %q3, %q3, %q3, %m, %z, %b
          {segment_size = 4 : i64}
          : tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>,
            tensor<1x2x8x8xf32>, tensor<1x2x8xf32>, tensor<2xf32>
      return %o, %m1, %o3 : tensor<1x2x10x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x3x8xf32>
    })mlir";
  OwningOpRef<ModuleOp> m = parse(source);
  ASSERT_TRUE(m);
  PassManager pm(&context);
  ASSERT_TRUE(succeeded(parsePassPipeline("lctx-decompose", pm)));
  ASSERT_TRUE(succeeded(pm.run(*m)));
  EXPECT_EQ(count<MemoryAttentionOp>(*m), 0);
  EXPECT_EQ(count<scf::ForOp>(*m), 1);
  // Loop body + tail for the first op, straight line for the second.
  EXPECT_EQ(count<AttentionOp>(*m), 3);
  EXPECT_EQ(count<MemoryRetrieveOp>(*m), 3);
  EXPECT_EQ(count<MemoryGateOp>(*m), 3);
  EXPECT_EQ(count<MemoryUpdateOp>(*m), 3);
  EXPECT_TRUE(succeeded(verify(*m)));
}

TEST_F(LCtxOpsTest, FrontendPipelineOptionDisablesDecompose) {
  const char *source = R"mlir(
    func.func @f(%x: tensor<1x16x8xf32>, %wr: tensor<8x4xf32>,
                 %w1: tensor<4x8x16xf32>, %w2: tensor<4x16x8xf32>)
        -> tensor<1x16x8xf32> {
      %y, %aux = lctx.route.moe relu %x, %wr, %w1, %w2
          : tensor<1x16x8xf32>, tensor<8x4xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
      return %y : tensor<1x16x8xf32>
    })mlir";
  for (bool decompose : {false, true}) {
    OwningOpRef<ModuleOp> m = parse(source);
    ASSERT_TRUE(m);
    PassManager pm(&context);
    std::string pipeline = std::string("lctx-frontend-pipeline{decompose=") +
                           (decompose ? "true" : "false") + "}";
    ASSERT_TRUE(succeeded(parsePassPipeline(pipeline, pm)));
    ASSERT_TRUE(succeeded(pm.run(*m)));
    EXPECT_EQ(count<RouteMoeOp>(*m), decompose ? 0 : 1);
    EXPECT_EQ(count<RouteDispatchOp>(*m), decompose ? 1 : 0);
    EXPECT_EQ(count<RouteCombineOp>(*m), decompose ? 1 : 0);
  }
}

TEST_F(LCtxOpsTest, DecomposeRejectsUnknownOpNames) {
  OwningOpRef<ModuleOp> m = parse("func.func @f() { return }");
  ASSERT_TRUE(m);
  PassManager pm(&context);
  ASSERT_TRUE(succeeded(parsePassPipeline("lctx-decompose{ops=memory.atention}", pm)));
  std::string errors;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    errors += diag.str();
    return success();
  });
  EXPECT_TRUE(failed(pm.run(*m)));
  EXPECT_NE(errors.find("unknown op 'memory.atention'"), std::string::npos)
      << errors;
}

} // namespace
