//===- manifest.cc - Artifact manifest parser -------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Validates an artifact manifest (docs/artifact.md, "Manifest") with the
/// strict JSON parser. Unknown keys are ignored, as the format requires;
/// everything the runtime uses is checked before it is used.
///
//===----------------------------------------------------------------------===//

#include "manifest.h"

#include "dtype.h"
#include "json.h"
#include "status.h"

#include <utility>

namespace json = lctxrt::json;
using lctxrt::ArgSpec;
using lctxrt::EntryPointSpec;
using lctxrt::Manifest;
using lctxrt::shapeString;
using lctxrt::TensorType;
using lctxrt::typeString;

namespace {

/// Limits on the manifest JSON.
constexpr unsigned kMaxManifestDepth = 64;
constexpr size_t kMaxManifestValues = size_t(1) << 24;
constexpr int64_t kMaxBufferAlignment = 4096;

#if defined(__x86_64__)
constexpr const char *kHostArchs[] = {"x86_64", "amd64"};
#elif defined(__aarch64__)
constexpr const char *kHostArchs[] = {"aarch64", "arm64"};
#else
constexpr const char *kHostArchs[] = {"unknown"};
#endif


/// Validates one manifest; `where` arguments prefix messages ("entry 'x': ").
class ManifestParser {
public:
  ManifestParser(const std::string &path, Manifest &out)
      : path(path), out(out) {}

  lctxrt_status_t parse(std::string_view text);

private:
  lctxrt_status_t error(lctxrt_status_code_t code,
                        const std::string &message) const {
    return lctxrt::makeStatus(code, path + ": manifest: " + message);
  }
  lctxrt_status_t formatError(const std::string &message) const {
    return error(LCTXRT_FORMAT_ERROR, message);
  }

  /// Finds \p key of object \p object; null (and an error) if missing.
  const json::Value *require(const json::Value &object, const char *key,
                             const std::string &where,
                             lctxrt_status_t &status) const {
    const json::Value *value = object.find(key);
    if (!value)
      status = formatError(where + "missing key '" + key + "'");
    return value;
  }
  /// Reads string \p key of \p object into \p result. A missing optional key
  /// leaves \p result unchanged.
  lctxrt_status_t getString(const json::Value &object, const char *key,
                            const std::string &where, bool required,
                            bool nonEmpty, std::string &result) const;
  lctxrt_status_t parseTarget(const json::Value &root);
  lctxrt_status_t parseType(const json::Value &object, const std::string &where,
                            TensorType &type) const;
  lctxrt_status_t parseWeights(const json::Value &root);
  lctxrt_status_t parseStates(const json::Value &root);
  lctxrt_status_t parseEntry(const json::Value &value, size_t index);
  lctxrt_status_t parseArg(const json::Value &value, const std::string &where,
                           ArgSpec &arg) const;

  const std::string &path;
  Manifest &out;
};

lctxrt_status_t ManifestParser::getString(const json::Value &object,
                                          const char *key,
                                          const std::string &where,
                                          bool required, bool nonEmpty,
                                          std::string &result) const {
  const json::Value *value = object.find(key);
  if (!value)
    return required ? formatError(where + "missing key '" + key + "'")
                    : nullptr;
  if (!value->isString())
    return formatError(where + "'" + key + "' is " + json::describe(*value) +
                       ", expected a string");
  const std::string &text = value->getString();
  if (nonEmpty && text.empty())
    return formatError(where + "'" + key + "' is empty");
  if (text.find('\0') != std::string::npos)
    return formatError(where + "'" + key + "' contains a NUL character");
  result = text;
  return nullptr;
}

lctxrt_status_t ManifestParser::parse(std::string_view text) {
  json::Value root;
  json::ParseError parseError;
  json::ParseOptions options;
  options.maxDepth = kMaxManifestDepth;
  options.maxValues = kMaxManifestValues;
  if (!json::parse(text, root, parseError, options))
    return formatError("invalid JSON at manifest byte " +
                       std::to_string(parseError.offset) + ": " +
                       parseError.message);
  if (!root.isObject())
    return formatError("the manifest is " + json::describe(root) +
                       ", expected a JSON object");

  std::string format;
  if (lctxrt_status_t status =
          getString(root, "format", "", true, false, format))
    return status;
  if (format != "lctx-artifact")
    return formatError("'format' is " + json::quote(format) +
                       ", expected \"lctx-artifact\"");
  lctxrt_status_t status = nullptr;
  const json::Value *version = require(root, "version", "", status);
  if (!version)
    return status;
  if (!version->isInt())
    return formatError("'version' is " + json::describe(*version) +
                       ", expected an integer");
  if (version->getInt() != 1)
    return error(LCTXRT_UNSUPPORTED,
                 "version " + std::to_string(version->getInt()) +
                     " is not supported (this runtime reads version 1)");
  out.version = 1;
  if ((status = getString(root, "producer", "", false, false, out.producer)))
    return status;
  if ((status = parseTarget(root)))
    return status;

  if (const json::Value *alignment = root.find("buffer_alignment")) {
    if (!alignment->isInt() || alignment->getInt() < 1 ||
        alignment->getInt() > kMaxBufferAlignment ||
        (alignment->getInt() & (alignment->getInt() - 1)) != 0)
      return formatError("'buffer_alignment' is " + json::describe(*alignment) +
                         ", expected a power of two from 1 to 4096");
    out.bufferAlignment = static_cast<size_t>(alignment->getInt());
  }

  if (const json::Value *model = root.find("model")) {
    if (!model->isObject())
      return formatError("'model' is " + json::describe(*model) +
                         ", expected an object");
    for (const json::Member &member : model->getObject()) {
      const std::string &key = member.key;
      const json::Value &value = member.value;
      if (value.isString() && value.getString().find('\0') == std::string::npos)
        out.model.emplace_back(key, value.getString());
      else if (value.isInt())
        out.model.emplace_back(key, std::to_string(value.getInt()));
      else
        return formatError("model: '" + key + "' is " +
                           json::describe(value) +
                           ", expected a string or an integer");
    }
  }

  if (const json::Value *gpu = root.find("gpu")) {
    if (!gpu->isObject())
      return formatError("'gpu' is " + json::describe(*gpu) +
                         ", expected an object");
    lctxrt::GpuSpec &spec = out.gpu;
    spec.present = true;
    if ((status = getString(*gpu, "kind", "gpu: ", false, false, spec.kind)) ||
        (status = getString(*gpu, "arch", "gpu: ", false, false, spec.arch)) ||
        (status = getString(*gpu, "section", "gpu: ", false, false,
                            spec.section)) ||
        (status =
             getString(*gpu, "format", "gpu: ", false, false, spec.format)) ||
        (status = getString(*gpu, "entry_prefix", "gpu: ", false, false,
                            spec.entryPrefix)))
      return status;
    if (const json::Value *kernels = gpu->find("kernels")) {
      if (!kernels->isInt() || kernels->getInt() < 0)
        return formatError("gpu: 'kernels' is " + json::describe(*kernels) +
                           ", expected a non-negative integer");
      spec.kernels = kernels->getInt();
    }
  }

  // Weights and states first: entry points refer to them.
  if ((status = parseWeights(root)) || (status = parseStates(root)))
    return status;
  const json::Value *entries = require(root, "entry_points", "", status);
  if (!entries)
    return status;
  if (!entries->isArray())
    return formatError("'entry_points' is " + json::describe(*entries) +
                       ", expected an array");
  if (entries->getArray().empty())
    return formatError("'entry_points' is empty");
  for (size_t i = 0; i < entries->getArray().size(); ++i)
    if ((status = parseEntry(entries->getArray()[i], i)))
      return status;
  return nullptr;
}

lctxrt_status_t ManifestParser::parseTarget(const json::Value &root) {
  lctxrt_status_t status = nullptr;
  const json::Value *target = require(root, "target", "", status);
  if (!target)
    return status;
  if (!target->isObject())
    return formatError("'target' is " + json::describe(*target) +
                       ", expected an object");
  const std::string where = "target: ";
  if ((status =
           getString(*target, "kind", where, true, true, out.targetKind)) ||
      (status =
           getString(*target, "triple", where, true, true, out.targetTriple)) ||
      (status =
           getString(*target, "cpu", where, false, false, out.targetCpu)) ||
      (status = getString(*target, "features", where, false, false,
                          out.targetFeatures)))
    return status;
  if (out.targetKind != "cpu")
    return error(LCTXRT_UNSUPPORTED, "target kind " +
                                         json::quote(out.targetKind) +
                                         " is not supported (only \"cpu\")");
  std::string arch = out.targetTriple.substr(0, out.targetTriple.find('-'));
  for (const char *host : kHostArchs)
    if (arch == host)
      return nullptr;
  return error(LCTXRT_UNSUPPORTED,
               "target triple " + json::quote(out.targetTriple) +
                   " does not run on this host (" + kHostArchs[0] + ")");
}

lctxrt_status_t ManifestParser::parseType(const json::Value &object,
                                          const std::string &where,
                                          TensorType &type) const {
  std::string dtypeName;
  if (lctxrt_status_t status =
          getString(object, "dtype", where, true, false, dtypeName))
    return status;
  switch (lctxrt::lookupDtype(dtypeName, type.dtype)) {
  case lctxrt::DtypeLookup::Supported:
    break;
  case lctxrt::DtypeLookup::Unsupported:
    return error(LCTXRT_UNSUPPORTED, where + "dtype " + json::quote(dtypeName) +
                                         " is not supported by lctxrt");
  case lctxrt::DtypeLookup::Unknown:
    return formatError(where + "unknown dtype " + json::quote(dtypeName));
  }

  lctxrt_status_t status = nullptr;
  const json::Value *shape = require(object, "shape", where, status);
  if (!shape)
    return status;
  if (!shape->isArray())
    return formatError(where + "'shape' is " + json::describe(*shape) +
                       ", expected an array of non-negative integers");
  const json::Array &dims = shape->getArray();
  if (dims.size() > LCTXRT_MAX_RANK)
    return error(LCTXRT_UNSUPPORTED, where + "rank " +
                                         std::to_string(dims.size()) +
                                         " exceeds the maximum rank " +
                                         std::to_string(LCTXRT_MAX_RANK));
  type.shape.clear();
  bool hasZero = false;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (!dims[i].isInt() || dims[i].getInt() < 0)
      return formatError(where + "shape[" + std::to_string(i) + "] is " +
                         json::describe(dims[i]) +
                         ", expected a non-negative integer");
    type.shape.push_back(dims[i].getInt());
    hasZero |= dims[i].getInt() == 0;
  }
  uint64_t elements = hasZero ? 0 : 1;
  const uint64_t elementSize = lctxrt_dtype_size(type.dtype);
  for (size_t i = 0; !hasZero && i < type.shape.size(); ++i) {
    auto dim = static_cast<uint64_t>(type.shape[i]);
    if (elements > UINT64_MAX / dim)
      return formatError(where + "shape " + shapeString(type.shape) +
                         " has more than 2^64 elements");
    elements *= dim;
  }
  if (elements > SIZE_MAX / elementSize)
    return formatError(where + "shape " + shapeString(type.shape) + " of " +
                       dtypeName + " needs more than " +
                       std::to_string(SIZE_MAX) + " bytes");
  type.numElements = static_cast<size_t>(elements);
  type.byteSize = type.numElements * static_cast<size_t>(elementSize);
  return nullptr;
}

lctxrt_status_t ManifestParser::parseWeights(const json::Value &root) {
  lctxrt_status_t status = nullptr;
  const json::Value *weights = require(root, "weights", "", status);
  if (!weights)
    return status;
  if (!weights->isArray())
    return formatError("'weights' is " + json::describe(*weights) +
                       ", expected an array");
  for (size_t i = 0; i < weights->getArray().size(); ++i) {
    const json::Value &value = weights->getArray()[i];
    std::string where = "weights[" + std::to_string(i) + "]: ";
    if (!value.isObject())
      return formatError(where + "is " + json::describe(value) +
                         ", expected an object");
    ArgSpec weight;
    weight.role = LCTXRT_ARG_ROLE_WEIGHT;
    if ((status = getString(value, "name", where, true, true, weight.name)))
      return status;
    where = "weight '" + weight.name + "': ";
    if ((status = parseType(value, where, weight.type)))
      return status;
    if (!out.weightIndex.emplace(weight.name, out.weights.size()).second)
      return formatError(where + "listed twice in 'weights'");
    out.weights.push_back(std::move(weight));
  }
  return nullptr;
}

/// "states" is optional (an artifact without recurrent state may omit it).
lctxrt_status_t ManifestParser::parseStates(const json::Value &root) {
  const json::Value *states = root.find("states");
  if (!states)
    return nullptr;
  if (!states->isArray())
    return formatError("'states' is " + json::describe(*states) +
                       ", expected an array");
  lctxrt_status_t status = nullptr;
  for (size_t i = 0; i < states->getArray().size(); ++i) {
    const json::Value &value = states->getArray()[i];
    std::string where = "states[" + std::to_string(i) + "]: ";
    if (!value.isObject())
      return formatError(where + "is " + json::describe(value) +
                         ", expected an object");
    ArgSpec state;
    state.role = LCTXRT_ARG_ROLE_STATE_IN;
    if ((status = getString(value, "name", where, true, true, state.name)))
      return status;
    where = "state '" + state.name + "': ";
    if ((status = parseType(value, where, state.type)))
      return status;
    if (!out.stateIndex.emplace(state.name, out.states.size()).second)
      return formatError(where + "listed twice in 'states'");
    if (state.type.byteSize > SIZE_MAX - out.stateBytes)
      return formatError(where + "the states need more than " +
                         std::to_string(SIZE_MAX) + " bytes");
    out.stateBytes += state.type.byteSize;
    out.states.push_back(std::move(state));
  }
  return nullptr;
}

lctxrt_status_t ManifestParser::parseEntry(const json::Value &value,
                                           size_t index) {
  std::string where = "entry_points[" + std::to_string(index) + "]: ";
  if (!value.isObject())
    return formatError(where + "is " + json::describe(value) +
                       ", expected an object");
  EntryPointSpec entry;
  lctxrt_status_t status = nullptr;
  if ((status = getString(value, "name", where, true, true, entry.name)))
    return status;
  where = "entry '" + entry.name + "': ";
  if (out.entryIndex.count(entry.name))
    return formatError(where + "duplicate entry point name");
  if ((status = getString(value, "symbol", where, true, true, entry.symbol)) ||
      (status = getString(value, "section", where, true, true, entry.section)))
    return status;
  const json::Value *args = require(value, "args", where, status);
  if (!args)
    return status;
  if (!args->isArray())
    return formatError(where + "'args' is " + json::describe(*args) +
                       ", expected an array");
  bool seenStateOut = false;
  for (size_t i = 0; i < args->getArray().size(); ++i) {
    ArgSpec arg;
    std::string argWhere = where + "args[" + std::to_string(i) + "]: ";
    if ((status = parseArg(args->getArray()[i], argWhere, arg)))
      return status;
    argWhere = where + "arg '" + arg.name + "': ";
    const size_t argPos = entry.args.size();
    const bool isState = arg.role == LCTXRT_ARG_ROLE_STATE_IN ||
                         arg.role == LCTXRT_ARG_ROLE_STATE_OUT;
    if (!isState && !entry.argIndex.emplace(arg.name, argPos).second)
      return formatError(argWhere + "duplicate argument name");
    switch (arg.role) {
    case LCTXRT_ARG_ROLE_INPUT:
    case LCTXRT_ARG_ROLE_WEIGHT:
    case LCTXRT_ARG_ROLE_STATE_IN:
      if (entry.numOutputs > 0 || seenStateOut)
        return formatError(argWhere + "follows an output; inputs, weights "
                                      "and incoming states must precede "
                                      "outputs and outgoing states");
      if (arg.role == LCTXRT_ARG_ROLE_INPUT)
        ++entry.numInputs;
      else if (arg.role == LCTXRT_ARG_ROLE_WEIGHT)
        ++entry.numWeights;
      break;
    case LCTXRT_ARG_ROLE_OUTPUT:
      ++entry.numOutputs;
      break;
    case LCTXRT_ARG_ROLE_STATE_OUT:
      seenStateOut = true;
      break;
    default:
      return formatError(argWhere + "unexpected role"); // Rejected earlier.
    }
    if (isState) {
      argWhere = where + "state '" + arg.name + "': ";
      auto listed = out.stateIndex.find(arg.name);
      if (listed == out.stateIndex.end())
        return formatError(argWhere + "not listed in 'states'");
      const TensorType &type = out.states[listed->second].type;
      if (type != arg.type)
        return formatError(argWhere + lctxrt_arg_role_name(arg.role) +
                           " argument of type " + typeString(arg.type) +
                           " but 'states' lists " + typeString(type));
      auto [it, fresh] = entry.stateArgs.try_emplace(
          arg.name, std::make_pair(SIZE_MAX, SIZE_MAX));
      size_t &slot = arg.role == LCTXRT_ARG_ROLE_STATE_IN ? it->second.first
                                                          : it->second.second;
      if (slot != SIZE_MAX)
        return formatError(argWhere + "two " +
                           lctxrt_arg_role_name(arg.role) + " arguments");
      slot = argPos;
    }
    if (arg.role == LCTXRT_ARG_ROLE_WEIGHT) {
      auto it = out.weightIndex.find(arg.name);
      if (it == out.weightIndex.end())
        return formatError(argWhere + "weight argument not listed in "
                                      "'weights'");
      const TensorType &listed = out.weights[it->second].type;
      if (listed != arg.type)
        return formatError(argWhere + "weight argument of type " +
                           typeString(arg.type) + " but 'weights' lists " +
                           typeString(listed));
    }
    entry.args.push_back(std::move(arg));
  }
  for (const auto &[name, pair] : entry.stateArgs) {
    if (pair.first == SIZE_MAX || pair.second == SIZE_MAX)
      return formatError(where + "state '" + name + "': has a " +
                         (pair.first == SIZE_MAX ? "state_out" : "state_in") +
                         " argument but no " +
                         (pair.first == SIZE_MAX ? "state_in" : "state_out") +
                         " (the runtime passes a state in and takes its "
                         "next value out)");
  }
  entry.numStates = entry.stateArgs.size();
  if (const json::Value *inPlace = value.find("inplace_states")) {
    const std::string at = where + "'inplace_states': ";
    if (!inPlace->isArray())
      return formatError(at + "is " + json::describe(*inPlace) +
                         ", expected an array of state names");
    for (const json::Value &name : inPlace->getArray()) {
      if (!name.isString())
        return formatError(at + "holds " + json::describe(name) +
                           ", expected a state name");
      if (!entry.stateArgs.count(name.getString()))
        return formatError(at + "'" + name.getString() +
                           "' is not a state of the entry point");
      entry.inPlaceStates.insert(name.getString());
    }
  }
  if (const json::Value *advance = value.find("advance")) {
    const std::string at = where + "'advance': ";
    if (!advance->isObject())
      return formatError(at + "is " + json::describe(*advance) +
                         ", expected an object");
    if ((status = getString(*advance, "state", at, true, true,
                            entry.advanceState)))
      return status;
    for (auto [key, slot] : {std::make_pair("steps", &entry.advanceSteps),
                             std::make_pair("limit", &entry.advanceLimit)}) {
      const json::Value *n = require(*advance, key, at, status);
      if (!n)
        return status;
      if (!n->isInt() || n->getInt() < 1)
        return formatError(at + "'" + key + "' is " + json::describe(*n) +
                           ", expected a positive integer");
      *slot = n->getInt();
    }
    auto state = entry.stateArgs.find(entry.advanceState);
    if (state == entry.stateArgs.end())
      return formatError(at + "state '" + entry.advanceState +
                         "' is not a state of the entry point");
    const TensorType &type = entry.args[state->second.first].type;
    if (type.dtype != LCTXRT_DTYPE_I64 || type.numElements < 1)
      return formatError(at + "state '" + entry.advanceState + "' is " +
                         typeString(type) + ", expected I64 positions");
  }
  out.entryIndex.emplace(entry.name, out.entryPoints.size());
  out.entryPoints.push_back(std::move(entry));
  return nullptr;
}

lctxrt_status_t ManifestParser::parseArg(const json::Value &value,
                                         const std::string &where,
                                         ArgSpec &arg) const {
  if (!value.isObject())
    return formatError(where + "is " + json::describe(value) +
                       ", expected an object");
  lctxrt_status_t status = nullptr;
  if ((status = getString(value, "name", where, true, true, arg.name)))
    return status;
  // Keep the entry prefix, replace "args[i]: " by the argument name.
  std::string argWhere =
      where.substr(0, where.rfind("args[")) + "arg '" + arg.name + "': ";
  std::string role;
  if ((status = getString(value, "role", argWhere, true, false, role)))
    return status;
  if (role == "input") {
    arg.role = LCTXRT_ARG_ROLE_INPUT;
  } else if (role == "weight") {
    arg.role = LCTXRT_ARG_ROLE_WEIGHT;
  } else if (role == "output") {
    arg.role = LCTXRT_ARG_ROLE_OUTPUT;
  } else if (role == "state_in") {
    arg.role = LCTXRT_ARG_ROLE_STATE_IN;
  } else if (role == "state_out") {
    arg.role = LCTXRT_ARG_ROLE_STATE_OUT;
  } else {
    return formatError(argWhere + "unknown role " + json::quote(role) +
                       " (expected \"input\", \"weight\", \"output\", "
                       "\"state_in\" or \"state_out\")");
  }
  return parseType(value, argWhere, arg.type);
}

} // namespace

lctxrt_status_t lctxrt::parseManifest(const std::string &path,
                                      std::string_view text, Manifest &out) {
  return ManifestParser(path, out).parse(text);
}

std::string lctxrt::shapeString(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string lctxrt::typeString(const TensorType &type) {
  const char *name = lctxrt_dtype_name(type.dtype);
  return std::string(name ? name : "?") + " " + shapeString(type.shape);
}

size_t lctxrt::elementAlignment(lctxrt_dtype_t dtype) {
  return dtype == LCTXRT_DTYPE_C64 ? 4 : lctxrt_dtype_size(dtype);
}
