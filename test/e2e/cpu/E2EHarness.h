//===- E2EHarness.h - Compile, run and compare lctx ops on the CPU -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// Each end-to-end test writes a small lctx function, compiles it with
// lctx-compile into an artifact, runs it through the runtime's C API (lctxrt)
// on fresh seeded random inputs, and compares every output with the float64
// reference of test/reference/cpp. Nothing here links MLIR or LLVM.
//
// Error metric: max_i |out_i - ref_i| / max(max_i |ref_i|, 1e-30), i.e. the
// largest error relative to the output's scale; integer outputs are compared
// exactly.
//
//===----------------------------------------------------------------------===//

#ifndef LCTX_TEST_E2E_CPU_E2EHARNESS_H
#define LCTX_TEST_E2E_CPU_E2EHARNESS_H

#include "LCtxReference.h"
#include "lctxrt/lctxrt.h"

#include <map>
#include <random>
#include <string>
#include <vector>

namespace lctx::e2e {

namespace ref = ::lctx::reference;

/// A host value for one argument: float data (converted to the manifest's
/// float dtype) or integer data (converted to its integer dtype).
struct HostValue {
  ref::Shape shape;
  std::vector<double> floats;
  std::vector<int64_t> ints;
  bool isInt = false;
  bool isComplex = false; // floats holds (re, im) pairs

  static HostValue of(const ref::Tensor &t) {
    return {t.shape, t.data, {}, false, false};
  }
  static HostValue of(const ref::IntTensor &t) {
    return {t.shape, {}, t.data, true, false};
  }
  static HostValue of(const ref::ComplexTensor &t) {
    HostValue v{t.shape, {}, {}, false, true};
    for (const auto &c : t.data) {
      v.floats.push_back(c.real());
      v.floats.push_back(c.imag());
    }
    return v;
  }
};

/// An output read back from the runtime.
struct Output {
  std::string dtype;
  ref::Shape shape;
  std::vector<double> values; // integers exactly; complex as (re, im)
  ref::Tensor asTensor() const { return ref::Tensor(shape, values); }
  ref::ComplexTensor asComplex() const {
    ref::ComplexTensor t(shape);
    for (size_t i = 0; i < t.data.size(); ++i)
      t.data[i] = {values[2 * i], values[2 * i + 1]};
    return t;
  }
  ref::IntTensor asInts() const {
    std::vector<int64_t> v(values.begin(), values.end());
    return ref::IntTensor(shape, v);
  }
};

/// A compiled module with a runtime session: its weights bound from a
/// safetensors file built from the values named like the manifest's
/// weights, its runtime-owned states (lctx.state) carried across run()s.
/// Failures are reported with gtest assertions; run() then returns an
/// empty map.
class Session {
public:
  Session(const std::string &mlir,
          const std::map<std::string, HostValue> &values);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  /// Runs `entry` with the values named like its inputs; returns the
  /// outputs by name.
  std::map<std::string, Output> run(const std::string &entry,
                                    const std::map<std::string, HostValue> &values);
  /// The current value of the state `name`.
  Output state(const std::string &name) const;
  /// Sets every state to zeros (a new stream).
  void resetState();

private:
  lctxrt_artifact_t *artifact = nullptr;
  lctxrt_safetensors_t *weightFile = nullptr;
  lctxrt_session_t *session = nullptr;
};

/// Compiles `mlir` (one public function `entry`) and runs it with `args`
/// (by manifest name; weights go through a safetensors file). Returns the
/// outputs by name (`result0`, ...). Failures are reported with gtest
/// assertions and an empty map.
std::map<std::string, Output> compileAndRun(const std::string &mlir,
                                            const std::string &entry,
                                            const std::map<std::string, HostValue> &args);

/// The normalized max error of `got` against `want` (shapes must agree).
double relError(const Output &got, const ref::Tensor &want);
/// The same for complex outputs (error in the complex modulus).
double relError(const Output &got, const ref::ComplexTensor &want);

/// Seeded random tensors.
ref::Tensor randomTensor(std::mt19937 &rng, ref::Shape shape,
                         double scale = 1.0);
ref::IntTensor randomInts(std::mt19937 &rng, ref::Shape shape, int64_t lo,
                          int64_t hi);

/// IEEE half and bfloat16 bits of a float (round to nearest even) and back.
uint16_t toBF16(float f);
float fromBF16(uint16_t bits);
uint16_t toF16(float f);
float fromF16(uint16_t bits);
/// `t` with every value rounded to `dtype` (BF16, F16 or F32).
ref::Tensor roundTo(const ref::Tensor &t, lctxrt_dtype_t dtype);

/// "tensor<2x3xf32>" for a shape and element type.
std::string tensorType(const ref::Shape &shape, const std::string &elt = "f32");

} // namespace lctx::e2e

#endif // LCTX_TEST_E2E_CPU_E2EHARNESS_H
