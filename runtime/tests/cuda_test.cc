//===- cuda_test.cc - Sessions on LCTXRT_DEVICE_CUDA ------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The device option of sessions and the CUDA backend
/// (docs/runtime-cuda.md). Everything up to loading the driver is checked
/// on any machine: NULL options mean the CPU, artifacts without GPU code,
/// GPU entry symbols and slots, a missing or wrong driver library
/// ($LCTXRT_LIBCUDA). The tests that execute on a GPU (test_kernel_gpu.c:
/// PTX kernels launched through the hooks) skip when no driver or device
/// is available.
///
//===----------------------------------------------------------------------===//

#include "artifact_fixture.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <dlfcn.h>

namespace {

using lctxrt::test::argJson;
using lctxrt::test::ArtifactTest;
using lctxrt::test::entryJson;
using lctxrt::test::manifestJson;
using lctxrt::test::readBytes;
using lctxrt::test::view;
using lctxrt::test::weightJson;

const std::vector<int64_t> kShape23 = {2, 3};
const std::vector<int64_t> kShape1 = {1};

/// The PTX text of test_kernel_gpu.c.
const std::string &gpuPtx() {
  static const std::string ptx = [] {
    void *handle = ::dlopen(LCTXRT_TEST_KERNEL_GPU, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      return std::string();
    auto fn = reinterpret_cast<const char *(*)()>(
        ::dlsym(handle, "lctx_test_gpu_ptx"));
    return fn ? std::string(fn()) : std::string();
  }();
  return ptx;
}

std::string axpyEntry(const std::string &name = "axpy") {
  return entryJson(name, "lctx_entry_axpy",
                   {argJson("x", "input", "F32", "[2,3]"),
                    argJson("y", "input", "F32", "[2,3]"),
                    argJson("out", "output", "F32", "[2,3]")});
}

std::string countEntry() {
  return entryJson("count", "lctx_entry_count",
                   {argJson("x", "input", "F32", "[2,3]"),
                    argJson("acc", "state_in", "F32", "[2,3]"),
                    argJson("pos", "state_in", "I64", "[1]"),
                    argJson("out", "output", "F32", "[2,3]"),
                    argJson("step", "output", "I64", "[1]"),
                    argJson("acc", "state_out", "F32", "[2,3]"),
                    argJson("pos", "state_out", "I64", "[1]")});
}

std::string failEntry() {
  return entryJson("fail", "lctx_entry_fail", {});
}

/// The "gpu" manifest object; \p prefix "" leaves out entry_prefix.
std::string gpuJson(const std::string &prefix = "lctx_entry_cuda_",
                    const std::string &section = "ptx.test") {
  return "\"gpu\":{\"kind\":\"cuda\",\"arch\":\"sm_75\",\"section\":\"" +
         section + "\",\"format\":\"ptx\",\"kernels\":1" +
         (prefix.empty() ? std::string()
                         : ",\"entry_prefix\":\"" + prefix + "\"") +
         "},";
}

std::string gpuManifest(const std::vector<std::string> &entries,
                        const std::string &gpu = gpuJson()) {
  return manifestJson(entries, {},
                      gpu + "\"states\":[" + weightJson("acc", "F32", "[2,3]") +
                          "," + weightJson("pos", "I64", "[1]") + "],");
}

class Cuda : public ArtifactTest {
protected:
  void SetUp() override { ::unsetenv("LCTXRT_LIBCUDA"); }
  void TearDown() override { ::unsetenv("LCTXRT_LIBCUDA"); }

  /// Writes and opens an artifact of \p manifest with the GPU test kernel
  /// (\p unknownSlot: the one with a slot no runtime knows) and the PTX
  /// section \p ptx.
  lctxrt::Expected<lctxrt::Artifact>
  openGpu(const std::string &manifest, bool unknownSlot = false,
          const std::string &ptx = gpuPtx()) {
    std::vector<lctxrt::ArtifactSection> sections =
        lctxrt::test::standardSections(
            manifest, readBytes(unknownSlot ? LCTXRT_TEST_KERNEL_GPU_UNKNOWN
                                            : LCTXRT_TEST_KERNEL_GPU));
    sections.push_back(
        {static_cast<uint32_t>(lctxrt::ArtifactSectionKind::Ptx), "ptx.test",
         ptx});
    return lctxrt::Artifact::open(
        writeImage(lctxrt::test::artifactImage(sections), "gpu.lctx"));
  }

  static lctxrt::Status create(const lctxrt::Artifact &artifact,
                               const lctxrt_session_options_t *options,
                               lctxrt_session_t **out) {
    return lctxrt::Status(lctxrt_session_create_with_options(
        artifact.get(), nullptr, options, out));
  }

  /// Expects creating a cuda session to fail with \p code and \p substring.
  static void expectCudaFails(const lctxrt::Artifact &artifact,
                              lctxrt_status_code_t code,
                              const std::string &substring,
                              int32_t index = 0) {
    lctxrt_session_options_t options = {LCTXRT_DEVICE_CUDA, index};
    lctxrt_session_t *session = nullptr;
    lctxrt::Status status = create(artifact, &options, &session);
    EXPECT_EQ(session, nullptr);
    lctxrt_session_close(session);
    EXPECT_EQ(status.code(), code) << status.toString();
    EXPECT_NE(std::string(status.message()).find(substring), std::string::npos)
        << status.message();
  }
};

TEST_F(Cuda, DeviceNames) {
  EXPECT_STREQ(lctxrt_device_name(LCTXRT_DEVICE_CPU), "cpu");
  EXPECT_STREQ(lctxrt_device_name(LCTXRT_DEVICE_CUDA), "cuda");
  EXPECT_EQ(lctxrt_device_name(static_cast<lctxrt_device_t>(5)), nullptr);
  lctxrt_device_t device = LCTXRT_DEVICE_CPU;
  EXPECT_TRUE(lctxrt::Status(lctxrt_device_from_name("cuda", &device)).ok());
  EXPECT_EQ(device, LCTXRT_DEVICE_CUDA);
  lctxrt::Status bad(lctxrt_device_from_name("tpu", &device));
  EXPECT_EQ(bad.code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(bad.message()).find("unknown device 'tpu'"),
            std::string::npos);
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_UNAVAILABLE), "UNAVAILABLE");
  EXPECT_STREQ(lctxrt_status_code_name(LCTXRT_DEVICE_ERROR), "DEVICE_ERROR");
  EXPECT_EQ(lctxrt_session_device(nullptr), LCTXRT_DEVICE_CPU);
}

TEST_F(Cuda, NullOptionsMeanCpu) {
  auto artifact = openGpu(gpuManifest({axpyEntry()}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  for (int zeroed = 0; zeroed < 2; ++zeroed) {
    lctxrt_session_options_t options = {LCTXRT_DEVICE_CPU, 0};
    lctxrt_session_t *session = nullptr;
    ASSERT_TRUE(create(*artifact, zeroed ? &options : nullptr, &session).ok());
    EXPECT_EQ(lctxrt_session_device(session), LCTXRT_DEVICE_CPU);
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {1, 1, 1, 1, 1, 1}, out[6] = {};
    lctxrt_tensor_view_t inputs[] = {
        view("x", LCTXRT_DTYPE_F32, kShape23, x, sizeof(x)),
        view("y", LCTXRT_DTYPE_F32, kShape23, y, sizeof(y))};
    lctxrt_tensor_view_t outputs[] = {
        view("out", LCTXRT_DTYPE_F32, kShape23, out, sizeof(out))};
    EXPECT_TRUE(lctxrt::Status(lctxrt_session_run(session, "axpy", 2, inputs,
                                                  1, outputs))
                    .ok());
    EXPECT_EQ(out[5], 13.0f);
    lctxrt_session_close(session);
  }
}

TEST_F(Cuda, UnknownDevice) {
  auto artifact = openGpu(gpuManifest({axpyEntry()}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  lctxrt_session_options_t options = {static_cast<lctxrt_device_t>(7), 0};
  lctxrt_session_t *session = nullptr;
  lctxrt::Status status = create(*artifact, &options, &session);
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message()).find("unknown device 7"),
            std::string::npos);
}

TEST_F(Cuda, ArtifactInfo) {
  auto artifact = openGpu(gpuManifest({axpyEntry()}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  lctxrt_artifact_info_t info = artifact->info();
  EXPECT_STREQ(info.gpu_kind, "cuda");
  EXPECT_STREQ(info.gpu_arch, "sm_75");
  EXPECT_STREQ(info.gpu_section, "ptx.test");
  EXPECT_STREQ(info.gpu_format, "ptx");
  EXPECT_EQ(info.gpu_kernels, 1u);
  EXPECT_STREQ(info.gpu_entry_prefix, "lctx_entry_cuda_");
  auto cpuOnly = open(lctxrt::test::modelManifest());
  ASSERT_TRUE(cpuOnly.ok());
  EXPECT_STREQ(cpuOnly->info().gpu_entry_prefix, "");
  EXPECT_STREQ(cpuOnly->info().gpu_kind, "");
}

TEST_F(Cuda, GpuManifestErrors) {
  EXPECT_TRUE(manifestFails(
      manifestJson({lctxrt::test::axpyEntry()}, {}, "\"gpu\":3,"),
      LCTXRT_FORMAT_ERROR, "'gpu' is 3, expected an object"));
  EXPECT_TRUE(manifestFails(
      manifestJson({lctxrt::test::axpyEntry()}, {},
                   "\"gpu\":{\"entry_prefix\":1},"),
      LCTXRT_FORMAT_ERROR, "gpu: 'entry_prefix' is 1, expected a string"));
}

TEST_F(Cuda, CpuOnlyArtifact) {
  auto artifact = open(lctxrt::test::modelManifest());
  ASSERT_TRUE(artifact.ok());
  expectCudaFails(*artifact, LCTXRT_UNSUPPORTED,
                  "test.lctx has no GPU code: compile it with lctx-compile "
                  "--target=cuda --gpu-arch=sm_NN");
}

TEST_F(Cuda, NoEntryPrefix) {
  auto artifact = openGpu(gpuManifest({axpyEntry()}, gpuJson("")));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  expectCudaFails(*artifact, LCTXRT_UNSUPPORTED,
                  "has GPU kernels (ptx for sm_75) but no GPU entry points");
}

TEST_F(Cuda, MissingGpuEntrySymbol) {
  auto artifact = openGpu(gpuManifest({axpyEntry("other")}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  expectCudaFails(*artifact, LCTXRT_FORMAT_ERROR,
                  "entry 'other': GPU entry symbol 'lctx_entry_cuda_other' "
                  "not found in section 'cpu.so'");
}

TEST_F(Cuda, MissingKernelSection) {
  auto artifact = openGpu(
      gpuManifest({axpyEntry()}, gpuJson("lctx_entry_cuda_", "cubin.sm_90")));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  expectCudaFails(*artifact, LCTXRT_FORMAT_ERROR,
                  "gpu.section 'cubin.sm_90' is not a ptx or cubin section");
}

TEST_F(Cuda, UnknownSlot) {
  auto artifact = openGpu(gpuManifest({axpyEntry()}), /*unknownSlot=*/true);
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  expectCudaFails(*artifact, LCTXRT_UNSUPPORTED,
                  "section 'cpu.so' calls the GPU runtime function "
                  "'mgpuFancy' (slot lctx_rt_gpu_mgpuFancy), which this "
                  "runtime does not provide");
}

TEST_F(Cuda, NoDriverLibrary) {
  auto artifact = openGpu(gpuManifest({axpyEntry()}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  std::string missing = dir.path("no-such-libcuda.so.1");
  ::setenv("LCTXRT_LIBCUDA", missing.c_str(), 1);
  expectCudaFails(*artifact, LCTXRT_UNAVAILABLE,
                  "no CUDA driver: cannot load " + missing + ": ");
}

TEST_F(Cuda, DriverLibraryLacksFunctions) {
  auto artifact = openGpu(gpuManifest({axpyEntry()}));
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  ::setenv("LCTXRT_LIBCUDA", "libm.so.6", 1);
  expectCudaFails(*artifact, LCTXRT_UNAVAILABLE,
                  "no CUDA driver: libm.so.6 lacks cuInit");
}

//===----------------------------------------------------------------------===//
// On a GPU
//===----------------------------------------------------------------------===//

class CudaDevice : public Cuda {
protected:
  void SetUp() override {
    Cuda::SetUp();
    auto artifact = openGpu(gpuManifest({axpyEntry(), countEntry(),
                                         failEntry()}));
    ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
    lctxrt_session_options_t options = {LCTXRT_DEVICE_CUDA, 0};
    auto created = lctxrt::Session::create(*artifact, nullptr, &options);
    if (!created.ok() &&
        created.status().code() == LCTXRT_UNAVAILABLE)
      GTEST_SKIP() << created.status().message();
    ASSERT_TRUE(created.ok()) << created.status().toString();
    art = std::make_unique<lctxrt::Artifact>(std::move(*artifact));
    session = std::make_unique<lctxrt::Session>(std::move(*created));
  }
  void TearDown() override {
    session.reset();
    art.reset();
    Cuda::TearDown();
  }

  lctxrt::Status count(const float *x, float *out, int64_t &step) {
    std::vector<lctxrt_tensor_view_t> inputs = {
        view("x", LCTXRT_DTYPE_F32, kShape23, x, 24)};
    std::vector<lctxrt_tensor_view_t> outputs = {
        view("out", LCTXRT_DTYPE_F32, kShape23, out, 24),
        view("step", LCTXRT_DTYPE_I64, kShape1, &step, 8)};
    return session->run("count", inputs, outputs);
  }

  std::unique_ptr<lctxrt::Artifact> art;
  std::unique_ptr<lctxrt::Session> session;
};

TEST_F(CudaDevice, Axpy) {
  EXPECT_EQ(session->device(), LCTXRT_DEVICE_CUDA);
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {10, 10, 10, 10, 10, 10};
  for (int run = 0; run < 3; ++run) {
    float out[6] = {};
    std::vector<lctxrt_tensor_view_t> inputs = {
        view("x", LCTXRT_DTYPE_F32, kShape23, x, sizeof(x)),
        view("y", LCTXRT_DTYPE_F32, kShape23, y, sizeof(y))};
    std::vector<lctxrt_tensor_view_t> outputs = {
        view("out", LCTXRT_DTYPE_F32, kShape23, out, sizeof(out))};
    lctxrt::Status status = session->run("axpy", inputs, outputs);
    ASSERT_TRUE(status.ok()) << status.toString();
    for (int i = 0; i < 6; ++i)
      EXPECT_EQ(out[i], 2 * x[i] + 10) << i;
    // The entry's device time was measured.
    EXPECT_GE(session->stats().last_device_ms, 0.0);
    // A runtime-allocated output.
    std::vector<lctxrt_tensor_view_t> runtimeOut = {
        view("out", LCTXRT_DTYPE_F32, {}, nullptr, 0)};
    runtimeOut[0].rank = 0;
    runtimeOut[0].shape = nullptr;
    status = session->run("axpy", inputs, runtimeOut);
    ASSERT_TRUE(status.ok()) << status.toString();
    ASSERT_NE(runtimeOut[0].data, nullptr);
    EXPECT_EQ(runtimeOut[0].byte_size, 24u);
    EXPECT_EQ(static_cast<const float *>(runtimeOut[0].data)[5], 22.0f);
  }
  EXPECT_EQ(session->stats().runs, 6u);
}

TEST_F(CudaDevice, States) {
  const float x[6] = {1, 2, 3, 4, 5, 6};
  float out[6] = {};
  int64_t step = 0;
  for (int run = 1; run <= 3; ++run) {
    lctxrt::Status status = count(x, out, step);
    ASSERT_TRUE(status.ok()) << status.toString();
    EXPECT_EQ(step, run);
    EXPECT_EQ(out[5], 6.0f * run);
  }
  auto acc = session->readState("acc");
  ASSERT_TRUE(acc.ok());
  EXPECT_EQ(static_cast<const float *>(acc->data)[2], 9.0f);
  auto pos = session->readState("pos");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*static_cast<const int64_t *>(pos->data), 3);

  // A failed call changes no state, and the session stays usable.
  std::vector<lctxrt_tensor_view_t> none;
  lctxrt::Status failed = session->run("fail", {}, none);
  EXPECT_EQ(failed.code(), LCTXRT_DEVICE_ERROR);
  EXPECT_NE(std::string(failed.message()).find(
                "entry 'fail': mgpuModuleGetFunction: "
                "cuModuleGetFunction('no_such_kernel') failed: "),
            std::string::npos)
      << failed.message();
  ASSERT_TRUE(count(x, out, step).ok());
  EXPECT_EQ(step, 4);
  EXPECT_EQ(out[0], 4.0f);

  // write_state, then reset.
  const float seed[6] = {100, 100, 100, 100, 100, 100};
  ASSERT_TRUE(session
                  ->writeState(view("acc", LCTXRT_DTYPE_F32, kShape23, seed,
                                    sizeof(seed)))
                  .ok());
  const int64_t seven = 7;
  ASSERT_TRUE(
      session->writeState(view("pos", LCTXRT_DTYPE_I64, kShape1, &seven, 8))
          .ok());
  ASSERT_TRUE(count(x, out, step).ok());
  EXPECT_EQ(out[1], 102.0f);
  EXPECT_EQ(step, 8);
  ASSERT_TRUE(session->resetState().ok());
  ASSERT_TRUE(count(x, out, step).ok());
  EXPECT_EQ(out[1], 2.0f);
  EXPECT_EQ(step, 1);
}

TEST_F(CudaDevice, DeviceIndexOutOfRange) {
  expectCudaFails(*art, LCTXRT_INVALID_ARGUMENT, "CUDA device index 4096 is "
                                                 "out of range",
                  4096);
  expectCudaFails(*art, LCTXRT_INVALID_ARGUMENT, "device_index -1 is negative",
                  -1);
}

TEST_F(CudaDevice, WrongArchitecture) {
  std::string ptx = gpuPtx();
  const std::string from = ".target sm_75";
  ptx.replace(ptx.find(from), from.size(), ".target sm_1000");
  auto artifact = openGpu(gpuManifest({axpyEntry()}), false, ptx);
  ASSERT_TRUE(artifact.ok()) << artifact.status().toString();
  expectCudaFails(*artifact, LCTXRT_UNSUPPORTED,
                  "the artifact's kernels are ptx for sm_75 but device 0 (");
  expectCudaFails(*artifact, LCTXRT_UNSUPPORTED,
                  "; recompile with lctx-compile --target=cuda --gpu-arch=sm_");
}

} // namespace
