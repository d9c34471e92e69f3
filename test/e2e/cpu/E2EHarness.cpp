//===- E2EHarness.cpp - Compile, run and compare lctx ops on the CPU ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "E2EHarness.h"

#include "lctxrt/lctxrt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace lctx::e2e {
namespace {

/// A scratch directory removed at exit.
std::string scratchDir() {
  static std::string dir = [] {
    char pattern[] = "/tmp/lctx-e2e-XXXXXX";
    const char *made = mkdtemp(pattern);
    return std::string(made ? made : "/tmp");
  }();
  return dir;
}

std::string statusText(lctxrt_status_t s) {
  std::string m = s ? lctxrt_status_message(s) : "";
  lctxrt_status_free(s);
  return m;
}

} // namespace

uint16_t toBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: keep it quiet
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u); // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

float fromBF16(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t toF16(float f) {
  // Through the compiler's half type: exact round to nearest even.
  _Float16 h = static_cast<_Float16>(f);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

float fromF16(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}

ref::Tensor roundTo(const ref::Tensor &t, lctxrt_dtype_t dtype) {
  ref::Tensor out = t;
  for (double &v : out.data) {
    float f = static_cast<float>(v);
    v = dtype == LCTXRT_DTYPE_BF16  ? fromBF16(toBF16(f))
        : dtype == LCTXRT_DTYPE_F16 ? fromF16(toF16(f))
                                    : f;
  }
  return out;
}

namespace {

/// Little-endian bytes of `v` in `dtype`.
std::vector<unsigned char> encode(const HostValue &v, lctxrt_dtype_t dtype) {
  size_t n = v.isInt ? v.ints.size() : v.floats.size();
  if (dtype == LCTXRT_DTYPE_C64) {
    // (re, im) pairs of f32.
    std::vector<unsigned char> bytes(n * 4);
    for (size_t i = 0; i < n; ++i) {
      float f = static_cast<float>(v.floats[i]);
      std::memcpy(bytes.data() + 4 * i, &f, 4);
    }
    return bytes;
  }
  std::vector<unsigned char> bytes(n * lctxrt_dtype_size(dtype));
  for (size_t i = 0; i < n; ++i) {
    unsigned char *p = bytes.data() + i * lctxrt_dtype_size(dtype);
    switch (dtype) {
    case LCTXRT_DTYPE_F32: {
      float f = static_cast<float>(v.isInt ? v.ints[i] : v.floats[i]);
      std::memcpy(p, &f, 4);
      break;
    }
    case LCTXRT_DTYPE_F64: {
      double d = v.isInt ? v.ints[i] : v.floats[i];
      std::memcpy(p, &d, 8);
      break;
    }
    case LCTXRT_DTYPE_BF16:
    case LCTXRT_DTYPE_F16: {
      float f = static_cast<float>(v.isInt ? v.ints[i] : v.floats[i]);
      uint16_t h = dtype == LCTXRT_DTYPE_BF16 ? toBF16(f) : toF16(f);
      std::memcpy(p, &h, 2);
      break;
    }
    case LCTXRT_DTYPE_I32: {
      int32_t x = static_cast<int32_t>(v.isInt ? v.ints[i] : v.floats[i]);
      std::memcpy(p, &x, 4);
      break;
    }
    case LCTXRT_DTYPE_I64: {
      int64_t x = v.isInt ? v.ints[i] : static_cast<int64_t>(v.floats[i]);
      std::memcpy(p, &x, 8);
      break;
    }
    default:
      ADD_FAILURE() << "e2e harness: unsupported dtype "
                    << lctxrt_dtype_name(dtype);
    }
  }
  return bytes;
}

double decodeOne(const unsigned char *p, lctxrt_dtype_t dtype) {
  switch (dtype) {
  case LCTXRT_DTYPE_F32: {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  case LCTXRT_DTYPE_F64: {
    double d;
    std::memcpy(&d, p, 8);
    return d;
  }
  case LCTXRT_DTYPE_BF16:
  case LCTXRT_DTYPE_F16: {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return dtype == LCTXRT_DTYPE_BF16 ? fromBF16(h) : fromF16(h);
  }
  case LCTXRT_DTYPE_I32: {
    int32_t x;
    std::memcpy(&x, p, 4);
    return x;
  }
  case LCTXRT_DTYPE_I64: {
    int64_t x;
    std::memcpy(&x, p, 8);
    return static_cast<double>(x);
  }
  default:
    ADD_FAILURE() << "e2e harness: unsupported dtype "
                  << lctxrt_dtype_name(dtype);
    return 0;
  }
}

} // namespace

/// Reads a runtime tensor back as an Output.
static Output decodeView(const lctxrt_tensor_view_t &o) {
  Output out;
  out.dtype = lctxrt_dtype_name(o.dtype);
  out.shape.assign(o.shape, o.shape + o.rank);
  bool isComplex = o.dtype == LCTXRT_DTYPE_C64;
  lctxrt_dtype_t scalar = isComplex ? LCTXRT_DTYPE_F32 : o.dtype;
  size_t elt = lctxrt_dtype_size(scalar);
  size_t n = elt ? o.byte_size / elt : 0;
  const auto *bytes = static_cast<const unsigned char *>(o.data);
  for (size_t k = 0; k < n; ++k)
    out.values.push_back(decodeOne(bytes + k * elt, scalar));
  return out;
}

Session::Session(const std::string &mlir,
                 const std::map<std::string, HostValue> &values) {
  static int counter = 0;
  std::string base = scratchDir() + "/module-" + std::to_string(++counter);
  {
    std::ofstream(base + ".mlir") << mlir;
  }
  std::string cmd = std::string(LCTX_COMPILE_PATH) + " --quiet " + base +
                    ".mlir -o " + base + ".lctx 2> " + base + ".log";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream log(base + ".log");
    std::stringstream text;
    text << log.rdbuf();
    ADD_FAILURE() << "lctx-compile failed:\n" << text.str() << "\nIR:\n" << mlir;
    return;
  }
  if (lctxrt_status_t s = lctxrt_artifact_open((base + ".lctx").c_str(),
                                               &artifact)) {
    ADD_FAILURE() << "artifact_open: " << statusText(s);
    return;
  }
  // Every manifest weight, encoded with its dtype, through a safetensors
  // file.
  size_t numWeights = lctxrt_artifact_num_weights(artifact);
  std::vector<std::vector<unsigned char>> storage(numWeights);
  std::vector<lctxrt_arg_info_t> infos(numWeights);
  std::vector<lctxrt_tensor_view_t> weights;
  for (size_t i = 0; i < numWeights; ++i) {
    lctxrt_arg_info_t &a = infos[i];
    lctxrt_status_free(lctxrt_artifact_weight_info(artifact, i, &a));
    auto it = values.find(a.name);
    if (it == values.end()) {
      ADD_FAILURE() << "e2e harness: no value for weight '" << a.name << "'";
      return;
    }
    storage[i] = encode(it->second, a.dtype);
    weights.push_back({a.name, a.dtype, a.rank, a.shape, storage[i].data(),
                       storage[i].size()});
  }
  if (!weights.empty()) {
    std::string path = base + ".safetensors";
    if (lctxrt_status_t s = lctxrt_safetensors_write(
            path.c_str(), weights.size(), weights.data(), 0, nullptr)) {
      ADD_FAILURE() << "safetensors_write: " << statusText(s);
      return;
    }
    if (lctxrt_status_t s =
            lctxrt_safetensors_open(path.c_str(), &weightFile)) {
      ADD_FAILURE() << "safetensors_open: " << statusText(s);
      return;
    }
  }
  if (lctxrt_status_t s =
          lctxrt_session_create(artifact, weightFile, &session)) {
    ADD_FAILURE() << "session_create: " << statusText(s);
    session = nullptr;
  }
}

Session::~Session() {
  lctxrt_session_close(session);
  lctxrt_safetensors_close(weightFile);
  lctxrt_artifact_close(artifact);
}

std::map<std::string, Output>
Session::run(const std::string &entry,
             const std::map<std::string, HostValue> &values) {
  if (!session)
    return {};
  lctxrt_entry_point_info_t info;
  if (lctxrt_status_t s =
          lctxrt_artifact_find_entry_point(artifact, entry.c_str(), &info)) {
    ADD_FAILURE() << "find_entry_point: " << statusText(s);
    return {};
  }
  // Encode every input with its manifest dtype.
  std::vector<std::vector<unsigned char>> storage;
  std::vector<lctxrt_tensor_view_t> inputs, outputs;
  storage.reserve(info.num_args);
  for (size_t i = 0; i < info.num_args; ++i) {
    const lctxrt_arg_info_t &a = info.args[i];
    if (a.role == LCTXRT_ARG_ROLE_OUTPUT) {
      lctxrt_tensor_view_t out{};
      out.name = a.name;
      outputs.push_back(out);
      continue;
    }
    if (a.role != LCTXRT_ARG_ROLE_INPUT)
      continue;
    auto it = values.find(a.name);
    if (it == values.end()) {
      ADD_FAILURE() << "e2e harness: no value for input '" << a.name << "'";
      return {};
    }
    storage.push_back(encode(it->second, a.dtype));
    inputs.push_back({a.name, a.dtype, a.rank, a.shape, storage.back().data(),
                      storage.back().size()});
  }
  if (lctxrt_status_t s =
          lctxrt_session_run(session, entry.c_str(), inputs.size(),
                             inputs.data(), outputs.size(), outputs.data())) {
    ADD_FAILURE() << "session_run: " << statusText(s);
    return {};
  }
  std::map<std::string, Output> result;
  for (const lctxrt_tensor_view_t &o : outputs)
    result[o.name] = decodeView(o);
  return result;
}

Output Session::state(const std::string &name) const {
  lctxrt_tensor_view_t view;
  if (lctxrt_status_t s =
          lctxrt_session_read_state(session, name.c_str(), &view)) {
    ADD_FAILURE() << "read_state: " << statusText(s);
    return {};
  }
  return decodeView(view);
}

void Session::resetState() {
  if (lctxrt_status_t s = lctxrt_session_reset_state(session))
    ADD_FAILURE() << "reset_state: " << statusText(s);
}

std::map<std::string, Output>
compileAndRun(const std::string &mlir, const std::string &entry,
              const std::map<std::string, HostValue> &args) {
  Session session(mlir, args);
  return session.run(entry, args);
}

double relError(const Output &got, const ref::Tensor &want) {
  if (got.shape != want.shape) {
    ADD_FAILURE() << "shape mismatch: got " << ref::shapeToString(got.shape)
                  << ", want " << ref::shapeToString(want.shape);
    return INFINITY;
  }
  double scale = 1e-30, err = 0;
  for (double r : want.data)
    scale = std::max(scale, std::fabs(r));
  for (size_t i = 0; i < want.data.size(); ++i) {
    double e = std::fabs(got.values[i] - want.data[i]);
    if (!(e <= err)) // also catches NaN
      err = std::isnan(e) ? INFINITY : e;
  }
  return err / scale;
}

double relError(const Output &got, const ref::ComplexTensor &want) {
  if (got.shape != want.shape || got.values.size() != 2 * want.data.size()) {
    ADD_FAILURE() << "complex shape mismatch: got "
                  << ref::shapeToString(got.shape) << ", want "
                  << ref::shapeToString(want.shape);
    return INFINITY;
  }
  double scale = 1e-30, err = 0;
  for (const auto &c : want.data)
    scale = std::max(scale, std::abs(c));
  for (size_t i = 0; i < want.data.size(); ++i) {
    double e = std::abs(std::complex<double>(got.values[2 * i],
                                             got.values[2 * i + 1]) -
                        want.data[i]);
    if (!(e <= err))
      err = std::isnan(e) ? INFINITY : e;
  }
  return err / scale;
}

ref::Tensor randomTensor(std::mt19937 &rng, ref::Shape shape, double scale) {
  std::normal_distribution<double> dist(0.0, scale);
  ref::Tensor t(std::move(shape));
  for (double &v : t.data)
    v = static_cast<float>(dist(rng)); // representable in f32 exactly
  return t;
}

ref::IntTensor randomInts(std::mt19937 &rng, ref::Shape shape, int64_t lo,
                          int64_t hi) {
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  ref::IntTensor t(std::move(shape));
  for (int64_t &v : t.data)
    v = dist(rng);
  return t;
}

std::string tensorType(const ref::Shape &shape, const std::string &elt) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + elt + ">";
}

} // namespace lctx::e2e
