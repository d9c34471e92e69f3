//===- lctx_run_fuzzer.cc - Fuzz lctx-run's argument and input handling ---===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// lctx-run reports every error through its return value (it never calls
// exit), so its translation unit is compiled in here with `main` renamed
// and its functions are called directly.
//
// Input: argv tokens separated by NUL bytes, then two NUL bytes, then the
// contents of one file. Every path the parsed options name is redirected to
// files the target controls: the artifact to one of the test artifacts
// (`model` picks model.lctx, anything else axpy.lctx), --weights `@` and
// every --input / --inputs / --state-in / --score file to the fuzzed file,
// other --weights to the test weights, --output and --state-out to scratch
// files; generation is capped at 64 bytes, --repeat at 2. lctx-run's code
// runs in a scratch directory. The test artifacts come from
// lctxrt-make-test-artifacts in $LCTX_FUZZ_ARTIFACTS (scripts/fuzz writes
// them).
//
//===----------------------------------------------------------------------===//

#include "fuzz_util.h"

#include "lctxrt/lctxrt.hpp"

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
#include <unistd.h>

#define main lctx_run_main
#include "lctx-run.cpp"
#undef main

using namespace lctx::fuzz;

namespace {

struct TestArtifacts {
  std::string dir;
  std::unique_ptr<lctxrt::Artifact> axpy, model;
};

const TestArtifacts &testArtifacts() {
  static const TestArtifacts *artifacts = [] {
    auto *t = new TestArtifacts();
    const char *dir = std::getenv("LCTX_FUZZ_ARTIFACTS");
    if (!dir || !*dir)
      fail("set LCTX_FUZZ_ARTIFACTS to a directory written by "
           "lctxrt-make-test-artifacts");
    t->dir = dir;
    for (auto [name, slot] : {std::pair("axpy.lctx", &t->axpy),
                              std::pair("model.lctx", &t->model)}) {
      auto artifact = lctxrt::Artifact::open(t->dir + "/" + name);
      if (!artifact.ok())
        fail(artifact.status().message());
      *slot = std::make_unique<lctxrt::Artifact>(std::move(*artifact));
    }
    return t;
  }();
  return *artifacts;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  testArtifacts();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static MemFile file("lctx-fuzz-lctx-run");
  const TestArtifacts &artifacts = testArtifacts();
  const char *bytes = reinterpret_cast<const char *>(data);
  const char *end = bytes + size;
  const char *split = nullptr;
  for (const char *p = bytes; p + 1 < end; ++p)
    if (p[0] == '\0' && p[1] == '\0') {
      split = p;
      break;
    }
  std::vector<std::string> tokens{"lctx-run"};
  const char *argsEnd = split ? split : end;
  for (const char *p = bytes; p < argsEnd && tokens.size() < 24;) {
    const char *stop = std::find(p, argsEnd, '\0');
    tokens.emplace_back(p, stop);
    p = stop + 1;
  }
  if (split)
    file.assign(split + 2, static_cast<size_t>(end - split - 2));
  else
    file.assign("", 0);

  std::vector<char *> argv;
  for (std::string &token : tokens)
    argv.push_back(token.data());
  argv.push_back(nullptr);
  Options options;
  if (parseArgs(static_cast<int>(tokens.size()), argv.data(), options) >= 0)
    return 0;

  const lctxrt::Artifact &artifact =
      options.artifact == "model" ? *artifacts.model : *artifacts.axpy;
  if (!options.weights.empty())
    options.weights = options.weights == "@"
                          ? file.path()
                          : artifacts.dir + "/weights.safetensors";
  for (auto &input : options.inputFiles)
    input.second = file.path();
  if (!options.inputsFile.empty())
    options.inputsFile = file.path();
  if (!options.stateIn.empty())
    options.stateIn = file.path();
  if (!options.scoreFile.empty())
    options.scoreFile = file.path();
  std::vector<std::string> written;
  if (!options.output.empty())
    written.push_back(options.output = scratchDir() + "/out.safetensors");
  if (!options.stateOut.empty())
    written.push_back(options.stateOut = scratchDir() + "/state.safetensors");
  options.repeat = std::min<size_t>(options.repeat, 2);
  options.gen.count = std::min<size_t>(options.gen.count, 64);
  // Any path option this target does not redirect stays relative to the
  // scratch directory while lctx-run's code runs.
  static const std::string home = [] {
    char *cwd = ::getcwd(nullptr, 0);
    std::string path = cwd ? cwd : "/";
    std::free(cwd);
    return path;
  }();
  if (::chdir(scratchDir().c_str()) != 0)
    lctx::fuzz::fail("cannot enter " + scratchDir());
  if (options.info)
    printInfo(artifact);
  else
    run(options, artifact);
  for (const std::string &path : written)
    ::unlink(path.c_str());
  if (::chdir(home.c_str()) != 0)
    lctx::fuzz::fail("cannot return to " + home);
  return 0;
}
