//===- lctx-reference-check.cpp - Run one reference op on a file ----------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// `lctx-reference-check OP IN OUT` reads named tensors from IN, runs the
// float64 reference of lctx op OP on them and writes its results to OUT.
// torch_check.py drives it to compare this library with PyTorch.
//
// File format (little-endian), the same both ways:
//   "LCTXREF1"  u64 count  then count records of
//   u64 nameLength, name bytes, u8 dtype (0 f64, 1 i64, 2 complex128 as
//   (re, im) pairs), u64 rank, i64 dims[rank], the row-major data.
// Operands use the op's operand names; an absent optional operand is simply
// missing. Attributes are scalar records named "attr.<name>" (i64 for
// integers and booleans, f64 for floats), absent when unset.
//
//===----------------------------------------------------------------------===//

#include "LCtxReference.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <variant>

using namespace lctx::reference;

namespace {

using Value = std::variant<Tensor, IntTensor, ComplexTensor>;
using Record = std::map<std::string, Value>;

constexpr char kMagic[9] = "LCTXREF1";

template <typename T> void readRaw(std::istream &in, T &value) {
  in.read(reinterpret_cast<char *>(&value), sizeof(T));
  check(static_cast<bool>(in), "truncated input file");
}

template <typename T> void writeRaw(std::ostream &out, const T &value) {
  out.write(reinterpret_cast<const char *>(&value), sizeof(T));
}

Record readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), "cannot open " + path);
  char magic[8];
  in.read(magic, 8);
  check(in && std::memcmp(magic, kMagic, 8) == 0, "bad magic in " + path);
  uint64_t count;
  readRaw(in, count);
  Record record;
  for (uint64_t r = 0; r < count; ++r) {
    uint64_t nameLength, rank;
    readRaw(in, nameLength);
    check(nameLength < 4096, "implausible name length");
    std::string name(nameLength, '\0');
    in.read(name.data(), static_cast<std::streamsize>(nameLength));
    uint8_t dtype;
    readRaw(in, dtype);
    readRaw(in, rank);
    check(rank < 16, "implausible rank");
    Shape shape(rank);
    for (int64_t &d : shape)
      readRaw(in, d);
    const int64_t n = numElements(shape);
    if (dtype == 0) {
      Tensor t(shape);
      for (double &v : t.data)
        readRaw(in, v);
      record[name] = std::move(t);
    } else if (dtype == 1) {
      IntTensor t(shape);
      for (int64_t &v : t.data)
        readRaw(in, v);
      record[name] = std::move(t);
    } else {
      check(dtype == 2, "unknown dtype");
      ComplexTensor t(shape);
      for (int64_t i = 0; i < n; ++i) {
        double re, im;
        readRaw(in, re);
        readRaw(in, im);
        t.data[i] = {re, im};
      }
      record[name] = std::move(t);
    }
  }
  return record;
}

void writeFile(const std::string &path, const Record &record) {
  std::ofstream out(path, std::ios::binary);
  check(static_cast<bool>(out), "cannot write " + path);
  out.write(kMagic, 8);
  writeRaw(out, static_cast<uint64_t>(record.size()));
  for (const auto &[name, value] : record) {
    writeRaw(out, static_cast<uint64_t>(name.size()));
    out.write(name.data(), static_cast<std::streamsize>(name.size()));
    const Shape &shape = std::visit(
        [](const auto &t) -> const Shape & { return t.shape; }, value);
    writeRaw(out, static_cast<uint8_t>(value.index()));
    writeRaw(out, static_cast<uint64_t>(shape.size()));
    for (int64_t d : shape)
      writeRaw(out, d);
    if (const auto *t = std::get_if<Tensor>(&value))
      for (double v : t->data)
        writeRaw(out, v);
    else if (const auto *t = std::get_if<IntTensor>(&value))
      for (int64_t v : t->data)
        writeRaw(out, v);
    else
      for (std::complex<double> v : std::get<ComplexTensor>(value).data) {
        writeRaw(out, v.real());
        writeRaw(out, v.imag());
      }
  }
  check(static_cast<bool>(out), "write failed: " + path);
}

/// Typed access to the records of one input file.
class Inputs {
public:
  explicit Inputs(Record record) : record(std::move(record)) {}

  template <typename T> const T *find(const std::string &name) const {
    auto it = record.find(name);
    if (it == record.end())
      return nullptr;
    const T *t = std::get_if<T>(&it->second);
    check(t != nullptr, "operand '" + name + "' has the wrong dtype");
    return t;
  }
  template <typename T> const T &get(const std::string &name) const {
    const T *t = find<T>(name);
    check(t != nullptr, "missing operand '" + name + "'");
    return *t;
  }
  std::optional<double> floatAttr(const std::string &name) const {
    const Tensor *t = find<Tensor>("attr." + name);
    return t ? std::optional<double>(t->data.at(0)) : std::nullopt;
  }
  std::optional<int64_t> intAttr(const std::string &name) const {
    const IntTensor *t = find<IntTensor>("attr." + name);
    return t ? std::optional<int64_t>(t->data.at(0)) : std::nullopt;
  }

private:
  Record record;
};

Activation parseActivation(int64_t value) {
  check(value >= 0 && value <= 2, "activation must be 0 (relu), 1 (gelu) or "
                                  "2 (swiglu)");
  return static_cast<Activation>(value);
}

Record run(const std::string &op, const Inputs &in) {
  if (op == "attention") {
    Tensor y = attention(
        in.get<Tensor>("query"), in.get<Tensor>("key"), in.get<Tensor>("value"),
        in.find<IntTensor>("q_positions"), in.find<IntTensor>("k_positions"),
        in.intAttr("causal").value_or(1) != 0, in.intAttr("chunk_size"),
        in.floatAttr("scale"), in.floatAttr("rope_theta"));
    return {{"result", y}};
  }
  if (op == "rope")
    return {
        {"result", rope(in.get<Tensor>("input"), in.get<IntTensor>("positions"),
                        in.floatAttr("theta").value_or(kRopeTheta))}};
  if (op == "rms_norm")
    return {
        {"result", rmsNorm(in.get<Tensor>("input"), in.find<Tensor>("weight"),
                           in.floatAttr("epsilon").value_or(kRmsNormEpsilon))}};
  if (op == "layer_norm")
    return {{"result",
             layerNorm(in.get<Tensor>("input"), in.find<Tensor>("weight"),
                       in.find<Tensor>("bias"),
                       in.floatAttr("epsilon").value_or(kLayerNormEpsilon))}};
  if (op == "linear")
    return {{"result", linear(in.get<Tensor>("input"), in.get<Tensor>("weight"),
                              in.find<Tensor>("bias"),
                              in.intAttr("transpose_weight").value_or(0))}};
  if (op == "ffn")
    return {{"result",
             ffn(parseActivation(in.get<IntTensor>("activation").data.at(0)),
                 in.get<Tensor>("input"), in.get<Tensor>("w_in"),
                 in.get<Tensor>("w_out"), in.find<Tensor>("w_gate"))}};
  if (op == "embedding")
    return {{"result",
             embedding(in.get<Tensor>("table"), in.get<IntTensor>("ids"))}};
  if (op == "cema.scan") {
    CemaScanResult r =
        cemaScan(in.get<Tensor>("input"), in.get<Tensor>("alpha"),
                 in.get<Tensor>("delta"), in.get<Tensor>("theta"),
                 in.get<ComplexTensor>("gamma"), in.get<Tensor>("omega"),
                 in.get<ComplexTensor>("init_state"));
    return {{"result", r.result}, {"final_state", r.finalState}};
  }
  check(false, "unsupported op '" + op + "'");
  return {};
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s OP IN OUT\n", argv[0]);
    return 2;
  }
  try {
    writeFile(argv[3], run(argv[1], Inputs(readFile(argv[2]))));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "lctx-reference-check: %s\n", e.what());
    return 1;
  }
  return 0;
}
