//===- lctx-run.cpp - Run an entry point of an lctx artifact ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// `lctx-run ARTIFACT [options]` runs one entry point of a compiled artifact
/// on the CPU with lctxrt and prints its outputs, the run time, throughput
/// and peak RSS; `lctx-run --info ARTIFACT` describes the artifact. Links
/// only lctxrt. Exit codes: 0 success, 1 error, 2 usage error.
///
//===----------------------------------------------------------------------===//

#include "lctxrt/lctxrt.hpp"
#include "model_driver.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <malloc.h>
#include <sys/resource.h>

namespace {

const char kUsage[] =
    "usage: lctx-run ARTIFACT [options]\n"
    "       lctx-run --info ARTIFACT\n"
    "\n"
    "Runs an entry point of an lctx artifact on the CPU (or a GPU: --device)\n"
    "and prints each output (shape, dtype, first values, min/max/mean), the\n"
    "median run time, throughput and peak RSS.\n"
    "\n"
    "options:\n"
    "  --entry NAME          entry point to run (default: the only one)\n"
    "  --device DEV          cpu (default), cuda or cuda:N (GPU N; needs an\n"
    "                        artifact from lctx-compile --target=cuda)\n"
    "  --weights FILE        safetensors file holding the artifact's weights\n"
    "  --input NAME=FILE     raw little-endian bytes of input NAME; the file\n"
    "                        size must equal the input's byte size\n"
    "  --inputs FILE         safetensors file; tensors named like inputs are\n"
    "                        used (--input takes precedence)\n"
    "  --random-inputs SEED  fill the remaining inputs with seeded random\n"
    "                        values: floats in [-1, 1), integers in [0, B)\n"
    "                        where B is the smallest leading dimension of the\n"
    "                        entry's weights (16 without weights)\n"
    "  --output FILE         write the outputs to a safetensors file\n"
    "  --state-in FILE       start from the states in this safetensors file\n"
    "                        (by name; states it lacks start at zero)\n"
    "  --state-out FILE      write the states after the run to a safetensors\n"
    "                        file (feed it to --state-in to continue the\n"
    "                        stream)\n"
    "  --print N             values printed per output (default 8)\n"
    "  --repeat N            run N times and report the median (default 1);\n"
    "                        every run starts from the same states\n"
    "  --threads N           threads for parallel loops (default: all cores,\n"
    "                        or OMP_NUM_THREADS)\n"
    "  --generate N          byte models: feed --prompt, then sample N bytes\n"
    "                        with the decode entry points (written to stdout)\n"
    "  --prompt TEXT         the prompt of --generate\n"
    "  --temperature X       sampling temperature (default 0: greedy)\n"
    "  --top-p X             nucleus sampling mass in (0, 1] (default 1)\n"
    "  --seed N              sampling seed (default 0)\n"
    "  --score FILE          byte models: bits per byte of FILE (any size,\n"
    "                        constant memory, with progress)\n"
    "  --info                describe sections, entry points, arguments and\n"
    "                        weights instead of running\n"
    "  --help                show this help\n"
    "\n"
    "exit status: 0 success, 1 error, 2 usage error\n";

struct Options {
  std::string artifact;
  std::string entry;
  std::string weights;
  std::vector<std::pair<std::string, std::string>> inputFiles;
  std::string inputsFile;
  bool randomInputs = false;
  uint64_t seed = 0;
  std::string output;
  std::string stateIn, stateOut;
  bool generate = false;
  lctxrun::GenerateOptions gen;
  std::string scoreFile;
  size_t print = 8;
  size_t repeat = 1;
  bool info = false;
  lctxrt_session_options_t device = {LCTXRT_DEVICE_CPU, 0};
};

/// Prints an error and returns exit status 1.
int fail(const std::string &message) {
  std::fprintf(stderr, "lctx-run: error: %s\n", message.c_str());
  return 1;
}

int usageError(const std::string &message) {
  std::fprintf(stderr, "lctx-run: error: %s\n%s", message.c_str(), kUsage);
  return 2;
}

bool parseCount(const std::string &text, uint64_t &out) {
  if (text.empty() || text[0] < '0' || text[0] > '9')
    return false;
  char *end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  out = value;
  return true;
}

/// Parses argv into \p options; returns -1 to continue or an exit status.
int parseArgs(int argc, char **argv, Options &options) {
  bool endOfOptions = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (endOfOptions || arg.size() < 2 || arg[0] != '-') {
      if (!options.artifact.empty())
        return usageError("expected one artifact, got '" + options.artifact +
                          "' and '" + arg + "'");
      options.artifact = arg;
      continue;
    }
    if (arg == "--") {
      endOfOptions = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--info") {
      options.info = true;
      continue;
    }
    std::string value;
    size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    static const char *const kValued[] = {
        "--entry",         "--weights", "--input", "--inputs",
        "--random-inputs", "--output",  "--print", "--repeat", "--threads",
        "--state-in",      "--state-out", "--generate", "--prompt",
        "--temperature",   "--top-p",    "--seed",    "--score",
        "--device"};
    if (std::find_if(std::begin(kValued), std::end(kValued),
                     [&](const char *known) { return name == known; }) ==
        std::end(kValued))
      return usageError("unknown option '" + arg + "'");
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return usageError("option '" + name + "' needs a value");
    }
    uint64_t number = 0;
    if (name == "--device") {
      const std::string kind = value.substr(0, value.find(':'));
      lctxrt::Status status(
          lctxrt_device_from_name(kind.c_str(), &options.device.device));
      uint64_t index = 0;
      const bool indexed = value.find(':') != std::string::npos;
      if (!status.ok() ||
          (indexed && (options.device.device != LCTXRT_DEVICE_CUDA ||
                       !parseCount(value.substr(kind.size() + 1), index) ||
                       index > 1024)))
        return usageError("--device expects cpu, cuda or cuda:N, got '" +
                          value + "'");
      options.device.device_index = static_cast<int32_t>(index);
      continue;
    }
    if (name == "--entry") {
      options.entry = value;
    } else if (name == "--weights") {
      options.weights = value;
    } else if (name == "--inputs") {
      options.inputsFile = value;
    } else if (name == "--output") {
      options.output = value;
    } else if (name == "--prompt") {
      options.gen.prompt = value;
    } else if (name == "--score") {
      options.scoreFile = value;
    } else if (name == "--temperature" || name == "--top-p") {
      char *end = nullptr;
      double x = std::strtod(value.c_str(), &end);
      bool ok = !value.empty() && *end == '\0' && std::isfinite(x) &&
                (name == "--temperature" ? x >= 0 : x > 0 && x <= 1);
      if (!ok)
        return usageError(name == "--temperature"
                              ? "--temperature expects a number >= 0, got '" +
                                    value + "'"
                              : "--top-p expects a number in (0, 1], got '" +
                                    value + "'");
      (name == "--temperature" ? options.gen.temperature : options.gen.topP) =
          x;
    } else if (name == "--state-in") {
      options.stateIn = value;
    } else if (name == "--state-out") {
      options.stateOut = value;
    } else if (name == "--input") {
      size_t split = value.find('=');
      if (split == std::string::npos || split == 0 || split + 1 == value.size())
        return usageError("--input expects NAME=FILE, got '" + value + "'");
      options.inputFiles.emplace_back(value.substr(0, split),
                                      value.substr(split + 1));
    } else if (!parseCount(value, number)) {
      return usageError("option '" + name +
                        "' expects a non-negative integer, got '" + value +
                        "'");
    } else if (name == "--random-inputs") {
      options.randomInputs = true;
      options.seed = number;
    } else if (name == "--generate") {
      options.generate = true;
      options.gen.count = static_cast<size_t>(number);
    } else if (name == "--seed") {
      options.gen.seed = number;
    } else if (name == "--print") {
      options.print = static_cast<size_t>(number);
    } else if (name == "--threads") {
      if (number == 0 || number > 1024)
        return usageError("--threads expects 1 to 1024, got '" + value + "'");
      // Parallel loops of the generated code run on the OpenMP runtime the
      // artifact's code loads; its size is read when the code first runs.
      setenv("OMP_NUM_THREADS", value.c_str(), 1);
    } else if (number == 0 || number > 1000000) {
      return usageError("--repeat expects 1 to 1000000, got '" + value + "'");
    } else {
      options.repeat = static_cast<size_t>(number);
    }
  }
  if (options.artifact.empty())
    return usageError("no artifact given");
  if (options.generate && !options.scoreFile.empty())
    return usageError("--generate and --score are separate modes");
  return -1;
}

std::string shapeString(const int64_t *shape, size_t rank) {
  std::string out = "[";
  for (size_t i = 0; i < rank; ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string typeString(lctxrt_dtype_t dtype, const int64_t *shape,
                       size_t rank) {
  const char *name = lctxrt_dtype_name(dtype);
  return std::string(name ? name : "?") + " " + shapeString(shape, rank);
}

int printInfo(const lctxrt::Artifact &artifact) {
  lctxrt_artifact_info_t info = artifact.info();
  std::printf("artifact: %s\n", artifact.path());
  std::printf("format version %u, producer '%s'\n", info.version,
              info.producer);
  std::printf("target: %s %s", info.target_kind, info.target_triple);
  if (*info.target_cpu)
    std::printf(", cpu %s", info.target_cpu);
  if (*info.target_features)
    std::printf(", features %s", info.target_features);
  std::printf("\nbuffer alignment: %zu\n", info.buffer_alignment);
  if (*info.gpu_kind || *info.gpu_section) {
    std::printf("gpu: %s %s, section '%s' (%s, %zu kernel launches)",
                info.gpu_kind, info.gpu_arch, info.gpu_section,
                info.gpu_format, info.gpu_kernels);
    if (*info.gpu_entry_prefix)
      std::printf(", entry prefix %s (runs with --device cuda)\n",
                  info.gpu_entry_prefix);
    else
      std::printf(", no GPU entry points (cannot run with --device cuda)\n");
  }
  std::printf("sections:\n");
  for (size_t i = 0; i < artifact.numSections(); ++i) {
    auto section = artifact.section(i);
    if (!section.ok())
      return fail(section.status().message());
    std::printf("  #%zu %-8s '%s' offset %llu size %llu\n", i,
                section->kind_name, section->name,
                static_cast<unsigned long long>(section->offset),
                static_cast<unsigned long long>(section->size));
  }
  std::printf("entry points:\n");
  for (size_t i = 0; i < artifact.numEntryPoints(); ++i) {
    auto entry = artifact.entryPoint(i);
    if (!entry.ok())
      return fail(entry.status().message());
    std::printf("  %s (symbol %s, section %s)\n", entry->name, entry->symbol,
                entry->section);
    for (size_t a = 0; a < entry->num_args; ++a) {
      const lctxrt_arg_info_t &arg = entry->args[a];
      std::printf("    %-7s %s %s\n", lctxrt_arg_role_name(arg.role), arg.name,
                  typeString(arg.dtype, arg.shape, arg.rank).c_str());
    }
  }
  size_t totalBytes = 0;
  std::printf("weights:\n");
  for (size_t i = 0; i < artifact.numWeights(); ++i) {
    auto weight = artifact.weight(i);
    if (!weight.ok())
      return fail(weight.status().message());
    std::printf("  %s %s (%zu bytes)\n", weight->name,
                typeString(weight->dtype, weight->shape, weight->rank).c_str(),
                weight->byte_size);
    totalBytes += weight->byte_size;
  }
  std::printf("total: %zu weights, %zu bytes\n", artifact.numWeights(),
              totalBytes);
  std::printf("states (runtime-owned, carried across calls):\n");
  for (size_t i = 0; i < artifact.numStates(); ++i) {
    auto state = artifact.state(i);
    if (!state.ok())
      return fail(state.status().message());
    std::printf("  %s %s (%zu bytes)\n", state->name,
                typeString(state->dtype, state->shape, state->rank).c_str(),
                state->byte_size);
  }
  std::printf("total: %zu states, %zu bytes per session\n", info.num_states,
              info.state_bytes);
  return 0;
}

/// A 64-byte aligned byte buffer.
struct Buffer {
  struct Free {
    void operator()(void *p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> data;
  static Buffer allocate(size_t size) {
    Buffer buffer;
    size_t rounded = (std::max<size_t>(size, 1) + 63) / 64 * 64;
    buffer.data.reset(std::aligned_alloc(64, rounded));
    if (buffer.data)
      std::memset(buffer.data.get(), 0, rounded);
    return buffer;
  }
};

/// Reads \p path, which must hold exactly arg's bytes, into \p buffer.
int readRawInput(const std::string &path, const lctxrt_arg_info_t &arg,
                 Buffer &buffer) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    return fail(path + ": cannot open");
  const auto size = static_cast<uint64_t>(in.tellg());
  if (size != arg.byte_size)
    return fail(path + ": " + std::to_string(size) + " bytes, but input '" +
                arg.name + "' (" + typeString(arg.dtype, arg.shape, arg.rank) +
                ") needs exactly " + std::to_string(arg.byte_size));
  buffer = Buffer::allocate(arg.byte_size);
  if (!buffer.data)
    return fail("out of memory");
  in.seekg(0);
  in.read(static_cast<char *>(buffer.data.get()),
          static_cast<std::streamsize>(arg.byte_size));
  if (!in)
    return fail(path + ": read error");
  return 0;
}

/// Converts IEEE single to half bits; exact for the values used here
/// (multiples of 2^-10 in [-1, 1)).
uint16_t floatToHalfBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  if ((bits & 0x7fffffffu) == 0)
    return sign;
  int exponent = static_cast<int>((bits >> 23) & 0xffu) - 127 + 15;
  return static_cast<uint16_t>(sign | (exponent << 10) |
                               ((bits >> 13) & 0x3ffu));
}

/// Fills arg's \p buffer with random values; ints in [0, intBound).
void fillRandom(const lctxrt_arg_info_t &arg, std::mt19937_64 &rng,
                uint64_t intBound, Buffer &buffer) {
  auto *bytes = static_cast<unsigned char *>(buffer.data.get());
  size_t count = arg.num_elements;
  if (arg.dtype == LCTXRT_DTYPE_C64)
    count *= 2; // Two F32 components.
  for (size_t i = 0; i < count; ++i) {
    float f =
        static_cast<float>(static_cast<int64_t>(rng() % 2048) - 1024) / 1024.0f;
    int64_t n = static_cast<int64_t>(rng() % intBound);
    switch (arg.dtype) {
    case LCTXRT_DTYPE_F32:
    case LCTXRT_DTYPE_C64:
      std::memcpy(bytes + 4 * i, &f, 4);
      break;
    case LCTXRT_DTYPE_F64: {
      double d = f;
      std::memcpy(bytes + 8 * i, &d, 8);
      break;
    }
    case LCTXRT_DTYPE_F16:
    case LCTXRT_DTYPE_BF16: {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      uint16_t half = arg.dtype == LCTXRT_DTYPE_F16
                          ? floatToHalfBits(f)
                          : static_cast<uint16_t>(bits >> 16);
      std::memcpy(bytes + 2 * i, &half, 2);
      break;
    }
    case LCTXRT_DTYPE_I64:
      std::memcpy(bytes + 8 * i, &n, 8);
      break;
    case LCTXRT_DTYPE_I32: {
      auto v = static_cast<int32_t>(n);
      std::memcpy(bytes + 4 * i, &v, 4);
      break;
    }
    case LCTXRT_DTYPE_I8:
      bytes[i] = static_cast<unsigned char>(n % 128);
      break;
    case LCTXRT_DTYPE_U8:
      bytes[i] = static_cast<unsigned char>(n % 256);
      break;
    case LCTXRT_DTYPE_BOOL:
      bytes[i] = static_cast<unsigned char>(rng() % 2);
      break;
    default:
      break;
    }
  }
}

/// Returns element \p i of \p data as a double (C64: its magnitude).
double elementAt(const void *data, lctxrt_dtype_t dtype, size_t i) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  switch (dtype) {
  case LCTXRT_DTYPE_F32:
  case LCTXRT_DTYPE_F16:
  case LCTXRT_DTYPE_BF16: {
    float f = 0;
    size_t size = lctxrt_dtype_size(dtype);
    lctxrt::Status(lctxrt_convert_to_f32(bytes + size * i, dtype, 1, &f));
    return f;
  }
  case LCTXRT_DTYPE_C64: {
    float parts[2];
    std::memcpy(parts, bytes + 8 * i, 8);
    return std::hypot(parts[0], parts[1]);
  }
  case LCTXRT_DTYPE_F64: {
    double d;
    std::memcpy(&d, bytes + 8 * i, 8);
    return d;
  }
  case LCTXRT_DTYPE_I64: {
    int64_t v;
    std::memcpy(&v, bytes + 8 * i, 8);
    return static_cast<double>(v);
  }
  case LCTXRT_DTYPE_I32: {
    int32_t v;
    std::memcpy(&v, bytes + 4 * i, 4);
    return v;
  }
  case LCTXRT_DTYPE_I8:
    return static_cast<int8_t>(bytes[i]);
  case LCTXRT_DTYPE_U8:
  case LCTXRT_DTYPE_BOOL:
    return bytes[i];
  default:
    return NAN;
  }
}

void printOutput(const lctxrt_tensor_view_t &view, size_t numElements,
                 size_t printCount) {
  std::printf("output '%s': %s\n", view.name,
              typeString(view.dtype, view.shape, view.rank).c_str());
  if (numElements == 0) {
    std::printf("  values: (empty)\n");
    return;
  }
  const bool complex = view.dtype == LCTXRT_DTYPE_C64;
  std::printf("  values%s:", complex ? " (re, im)" : "");
  for (size_t i = 0; i < std::min(printCount, numElements); ++i) {
    if (complex) {
      float parts[2];
      std::memcpy(parts, static_cast<const char *>(view.data) + 8 * i, 8);
      std::printf(" (%.6g, %.6g)", parts[0], parts[1]);
    } else {
      std::printf(" %.6g", elementAt(view.data, view.dtype, i));
    }
  }
  std::printf("%s\n", printCount < numElements ? " ..." : "");
  double minimum = INFINITY, maximum = -INFINITY, sum = 0;
  size_t nans = 0;
  for (size_t i = 0; i < numElements; ++i) {
    double v = elementAt(view.data, view.dtype, i);
    if (std::isnan(v)) {
      ++nans;
      continue;
    }
    minimum = std::min(minimum, v);
    maximum = std::max(maximum, v);
    sum += v;
  }
  if (nans == numElements) {
    std::printf("  all %zu values are NaN\n", nans);
    return;
  }
  std::printf("  %smin %.6g  max %.6g  mean %.6g", complex ? "|z| " : "",
              minimum, maximum, sum / static_cast<double>(numElements - nans));
  if (nans)
    std::printf("  (%zu NaN skipped)", nans);
  std::printf("\n");
}

/// Opens --weights (if given) into \p weights; returns an exit status or 0.
int openWeights(const Options &options,
                std::unique_ptr<lctxrt::SafetensorsFile> &weights) {
  if (options.weights.empty())
    return 0;
  auto file = lctxrt::SafetensorsFile::open(options.weights);
  if (!file.ok())
    return fail(file.status().message());
  weights = std::make_unique<lctxrt::SafetensorsFile>(std::move(*file));
  return 0;
}

/// Creates the session on the device of --device.
lctxrt::Expected<lctxrt::Session>
createSession(const Options &options, const lctxrt::Artifact &artifact,
              const lctxrt::SafetensorsFile *weights) {
  return lctxrt::Session::create(artifact, weights, &options.device);
}

/// --generate and --score: drive the model's decode entry points.
int runModel(const Options &options, const lctxrt::Artifact &artifact) {
  if (std::string error; !lctxrun::checkSchedule(artifact, error))
    return fail(error);
  std::unique_ptr<lctxrt::SafetensorsFile> weights;
  if (int status = openWeights(options, weights))
    return status;
  auto session = createSession(options, artifact, weights.get());
  if (!session.ok())
    return fail(session.status().message());
  if (options.generate)
    return lctxrun::generate(artifact, *session, options.gen);
  return lctxrun::score(artifact, *session, options.scoreFile,
                        /*progress=*/true);
}

/// Runs the selected entry point as \p options say.
int run(const Options &options, const lctxrt::Artifact &artifact) {
  if (options.generate || !options.scoreFile.empty())
    return runModel(options, artifact);
  // Entry point.
  std::string entryName = options.entry;
  if (entryName.empty()) {
    if (artifact.numEntryPoints() != 1) {
      std::string names;
      for (size_t i = 0; i < artifact.numEntryPoints(); ++i)
        names += std::string(i ? ", " : "") + artifact.entryPoint(i)->name;
      return fail(std::string(artifact.path()) + " has " +
                  std::to_string(artifact.numEntryPoints()) +
                  " entry points (" + names + "); choose one with --entry");
    }
    entryName = artifact.entryPoint(0)->name;
  }
  auto entry = artifact.findEntryPoint(entryName);
  if (!entry.ok())
    return fail(entry.status().message());

  // Weights and session.
  std::unique_ptr<lctxrt::SafetensorsFile> weights;
  if (int status = openWeights(options, weights))
    return status;
  auto session = createSession(options, artifact, weights.get());
  if (!session.ok())
    return fail(session.status().message());

  // Inputs: --input files, then --inputs, then random values.
  const size_t numArgs = entry->num_args;
  std::vector<Buffer> buffers(numArgs);
  std::vector<const void *> data(numArgs, nullptr);
  const auto findArg = [&](const std::string &name) -> size_t {
    for (size_t a = 0; a < numArgs; ++a)
      if (name == entry->args[a].name)
        return a;
    return numArgs;
  };
  for (const auto &[name, path] : options.inputFiles) {
    size_t a = findArg(name);
    if (a == numArgs || entry->args[a].role != LCTXRT_ARG_ROLE_INPUT)
      return fail("--input " + name + ": entry '" + entryName +
                  "' has no input named '" + name + "'");
    if (int status = readRawInput(path, entry->args[a], buffers[a]))
      return status;
    data[a] = buffers[a].data.get();
  }
  std::unique_ptr<lctxrt::SafetensorsFile> inputsFile;
  if (!options.inputsFile.empty()) {
    auto file = lctxrt::SafetensorsFile::open(options.inputsFile);
    if (!file.ok())
      return fail(file.status().message());
    inputsFile = std::make_unique<lctxrt::SafetensorsFile>(std::move(*file));
    for (size_t a = 0; a < numArgs; ++a) {
      const lctxrt_arg_info_t &arg = entry->args[a];
      if (arg.role != LCTXRT_ARG_ROLE_INPUT || data[a])
        continue;
      auto tensor = inputsFile->find(arg.name);
      if (!tensor.ok())
        continue;
      if (tensor->dtype != arg.dtype || tensor->rank != arg.rank ||
          !std::equal(arg.shape, arg.shape + arg.rank, tensor->shape))
        return fail(options.inputsFile + ": tensor '" + arg.name + "' is " +
                    typeString(tensor->dtype, tensor->shape, tensor->rank) +
                    ", but input '" + arg.name + "' of entry '" + entryName +
                    "' is " + typeString(arg.dtype, arg.shape, arg.rank));
      data[a] = tensor->data;
    }
  }
  uint64_t intBound = 0;
  for (size_t a = 0; a < numArgs; ++a) {
    const lctxrt_arg_info_t &arg = entry->args[a];
    if (arg.role == LCTXRT_ARG_ROLE_WEIGHT && arg.rank > 0 && arg.shape[0] > 0)
      intBound = intBound ? std::min<uint64_t>(intBound, arg.shape[0])
                          : static_cast<uint64_t>(arg.shape[0]);
  }
  std::mt19937_64 rng(options.seed);
  std::vector<lctxrt_tensor_view_t> inputs, outputs;
  std::string missing;
  size_t bytesPerRun = 0;
  for (size_t a = 0; a < numArgs; ++a) {
    const lctxrt_arg_info_t &arg = entry->args[a];
    if (arg.role == LCTXRT_ARG_ROLE_OUTPUT) {
      outputs.push_back({arg.name, arg.dtype, 0, nullptr, nullptr, 0});
      bytesPerRun += arg.byte_size;
    }
    if (arg.role != LCTXRT_ARG_ROLE_INPUT)
      continue;
    if (!data[a] && options.randomInputs) {
      buffers[a] = Buffer::allocate(arg.byte_size);
      if (!buffers[a].data)
        return fail("out of memory");
      fillRandom(arg, rng, intBound ? intBound : 16, buffers[a]);
      data[a] = buffers[a].data.get();
    }
    if (!data[a] && arg.byte_size > 0) {
      missing += std::string(missing.empty() ? "'" : ", '") + arg.name + "'";
      continue;
    }
    inputs.push_back(
        {arg.name, arg.dtype, arg.rank, arg.shape, data[a], arg.byte_size});
    bytesPerRun += arg.byte_size;
  }
  if (!missing.empty())
    return fail("entry '" + entryName + "': no data for input " + missing +
                " (use --input, --inputs or --random-inputs)");

  // States: from --state-in (by name), zeros otherwise. Every repetition
  // starts from the same states.
  std::unique_ptr<lctxrt::SafetensorsFile> stateFile;
  if (!options.stateIn.empty()) {
    auto file = lctxrt::SafetensorsFile::open(options.stateIn);
    if (!file.ok())
      return fail(file.status().message());
    stateFile = std::make_unique<lctxrt::SafetensorsFile>(std::move(*file));
    for (size_t t = 0; t < stateFile->numTensors(); ++t) {
      auto tensor = stateFile->tensor(t);
      if (!tensor.ok())
        return fail(tensor.status().message());
      lctxrt::Status status = session->writeState(
          {tensor->name, tensor->dtype, tensor->rank, tensor->shape,
           tensor->data, tensor->byte_size});
      if (!status.ok())
        return fail(options.stateIn + ": tensor '" + tensor->name +
                    "': " + status.message());
    }
  }
  std::vector<std::vector<unsigned char>> initialStates;
  const auto saveStates = [&] {
    initialStates.clear();
    for (size_t i = 0; i < artifact.numStates(); ++i) {
      auto value = session->readState(artifact.state(i)->name);
      const auto *bytes = static_cast<const unsigned char *>(value->data);
      initialStates.emplace_back(bytes, bytes + value->byte_size);
    }
  };
  const auto restoreStates = [&] {
    for (size_t i = 0; i < artifact.numStates(); ++i) {
      lctxrt_arg_info_t info = *artifact.state(i);
      lctxrt::Status status = session->writeState(
          {info.name, info.dtype, info.rank, info.shape,
           initialStates[i].data(), initialStates[i].size()});
      if (!status.ok())
        return status;
    }
    return lctxrt::Status();
  };
  if (options.repeat > 1)
    saveStates();

  // Run.
  std::vector<double> seconds;
  std::vector<double> deviceMs; // GPU sessions: the entry's device time
  for (size_t r = 0; r < options.repeat; ++r) {
    for (lctxrt_tensor_view_t &view : outputs)
      view.data = nullptr; // Runtime buffers.
    if (r > 0)
      if (lctxrt::Status status = restoreStates(); !status.ok())
        return fail(status.message());
    auto start = std::chrono::steady_clock::now();
    lctxrt::Status status = session->run(entryName, inputs, outputs);
    auto stop = std::chrono::steady_clock::now();
    if (!status.ok())
      return fail(status.message());
    seconds.push_back(std::chrono::duration<double>(stop - start).count());
    if (double ms = session->stats().last_device_ms; ms >= 0)
      deviceMs.push_back(ms);
  }

  std::printf("entry '%s' of %s\n", entryName.c_str(), artifact.path());
  for (const lctxrt_tensor_view_t &view : outputs) {
    size_t elementSize = lctxrt_dtype_size(view.dtype);
    printOutput(view, elementSize ? view.byte_size / elementSize : 0,
                options.print);
  }
  if (!options.output.empty()) {
    lctxrt::Status status = lctxrt::writeSafetensors(
        options.output, outputs,
        {{"artifact", artifact.path()}, {"entry", entryName}});
    if (!status.ok())
      return fail(status.message());
    std::printf("wrote %zu outputs to %s\n", outputs.size(),
                options.output.c_str());
  }
  if (!options.stateOut.empty()) {
    std::vector<lctxrt_tensor_view_t> states;
    for (size_t i = 0; i < artifact.numStates(); ++i) {
      auto value = session->readState(artifact.state(i)->name);
      if (!value.ok())
        return fail(value.status().message());
      states.push_back(*value);
    }
    lctxrt::Status status = lctxrt::writeSafetensors(
        options.stateOut, states,
        {{"artifact", artifact.path()}, {"entry", entryName}});
    if (!status.ok())
      return fail(status.message());
    std::printf("wrote %zu states to %s\n", states.size(),
                options.stateOut.c_str());
  }
  if (artifact.numStates() > 0)
    std::printf("state: %zu tensors, %zu bytes per session, carried across "
                "calls\n",
                artifact.numStates(), artifact.info().state_bytes);
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  double median =
      n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  if (!deviceMs.empty()) {
    std::sort(deviceMs.begin(), deviceMs.end());
    size_t m = deviceMs.size();
    std::printf("device time: median %.3f ms over %zu run%s (the entry's "
                "work on the GPU, without input and output copies)\n",
                m % 2 ? deviceMs[m / 2]
                      : (deviceMs[m / 2 - 1] + deviceMs[m / 2]) / 2,
                m, m == 1 ? "" : "s");
  }
  std::printf(
      "time: median %.3f ms over %zu run%s (min %.3f ms, max %.3f ms)\n",
      median * 1e3, n, n == 1 ? "" : "s", sorted.front() * 1e3,
      sorted.back() * 1e3);
  if (median > 0)
    std::printf("throughput: %.1f runs/s, %.1f MB/s of inputs and outputs "
                "(%zu bytes per run)\n",
                1.0 / median, static_cast<double>(bytesPerRun) / median / 1e6,
                bytesPerRun);
  lctxrt_session_stats_t stats = session->stats();
  std::printf("weights: %zu zero-copy, %zu copied (%zu bytes)\n",
              stats.weights_zero_copy, stats.weights_copied,
              stats.weight_bytes_copied);
  struct rusage usage;
  if (::getrusage(RUSAGE_SELF, &usage) == 0)
    std::printf("peak RSS: %.1f MiB\n",
                static_cast<double>(usage.ru_maxrss) / 1024.0);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  // Entry points allocate their temporaries with malloc on every call. Keep
  // freed memory in the process (no trimming, no per-block mmap below
  // 64 MiB) so repeated calls reuse warm pages instead of faulting them in
  // again; a session-owned arena in the runtime will replace this.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  Options options;
  if (int status = parseArgs(argc, argv, options); status >= 0)
    return status;
  auto artifact = lctxrt::Artifact::open(options.artifact);
  if (!artifact.ok())
    return fail(artifact.status().message());
  if (options.info)
    return printInfo(*artifact);
  return run(options, *artifact);
}
