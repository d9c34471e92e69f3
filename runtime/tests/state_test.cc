//===- state_test.cc - Runtime-owned recurrent state ------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The manifest rules of states ("states" list, state_in/state_out pairs)
/// and what a session does with them: zeroed at creation, passed in and
/// taken out by every run (the test kernel's `accumulate` keeps a running
/// sum), unchanged by a failed run, read, written and reset through the
/// API.
///
//===----------------------------------------------------------------------===//

#include "artifact_fixture.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using lctxrt::test::argJson;
using lctxrt::test::ArtifactTest;
using lctxrt::test::axpyEntry;
using lctxrt::test::entryJson;
using lctxrt::test::manifestJson;
using lctxrt::test::view;
using lctxrt::test::weightJson;

const std::vector<int64_t> kShape4 = {4};

/// The accumulate entry of test_kernel.c with state "h" of type \p stateType.
std::string accumulateEntry(const std::string &name = "accumulate",
                            const std::string &stateShape = "[4]") {
  return entryJson(name, "lctx_entry_accumulate",
                   {argJson("x", "input", "F32", "[4]"),
                    argJson("h", "state_in", "F32", stateShape),
                    argJson("out", "output", "F32", "[4]"),
                    argJson("h", "state_out", "F32", stateShape)});
}

/// A manifest with \p entries and the "states" list \p states.
std::string stateManifest(const std::vector<std::string> &entries,
                          const std::string &states =
                              "[" + weightJson("h", "F32", "[4]") + "]") {
  return manifestJson(entries, {}, "\"states\":" + states + ",");
}

using StateManifest = ArtifactTest;

TEST_F(StateManifest, Valid) {
  auto opened = open(stateManifest({accumulateEntry(), axpyEntry()}));
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  lctxrt_artifact_info_t info = opened->info();
  EXPECT_EQ(info.num_states, 1u);
  EXPECT_EQ(info.state_bytes, 16u);
  ASSERT_EQ(opened->numStates(), 1u);
  auto state = opened->state(0);
  ASSERT_TRUE(state.ok());
  EXPECT_STREQ(state->name, "h");
  EXPECT_EQ(state->role, LCTXRT_ARG_ROLE_STATE_IN);
  EXPECT_EQ(state->byte_size, 16u);
  EXPECT_FALSE(opened->state(1).ok());
  auto entry = opened->findEntryPoint("accumulate");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->num_inputs, 1u);
  EXPECT_EQ(entry->num_outputs, 1u);
  EXPECT_EQ(entry->num_states, 1u);
  EXPECT_EQ(entry->args[1].role, LCTXRT_ARG_ROLE_STATE_IN);
  EXPECT_EQ(entry->args[3].role, LCTXRT_ARG_ROLE_STATE_OUT);
  EXPECT_EQ(opened->findEntryPoint("axpy")->num_states, 0u);
}

TEST_F(StateManifest, StateNotListed) {
  EXPECT_TRUE(manifestFails(stateManifest({accumulateEntry()}, "[]"),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'accumulate': state 'h': not listed in "
                            "'states'"));
  EXPECT_TRUE(manifestFails(manifestJson({accumulateEntry()}, {}),
                            LCTXRT_FORMAT_ERROR, "not listed in 'states'"));
}

TEST_F(StateManifest, StateListedWithOtherType) {
  EXPECT_TRUE(manifestFails(
      stateManifest({accumulateEntry()},
                    "[" + weightJson("h", "F32", "[5]") + "]"),
      LCTXRT_FORMAT_ERROR,
      "state 'h': state_in argument of type F32 [4] but 'states' lists F32 "
      "[5]"));
}

TEST_F(StateManifest, StatesListMalformed) {
  EXPECT_TRUE(manifestFails(stateManifest({axpyEntry()}, "{}"),
                            LCTXRT_FORMAT_ERROR,
                            "'states' is an object, expected an array"));
  EXPECT_TRUE(manifestFails(stateManifest({axpyEntry()}, "[3]"),
                            LCTXRT_FORMAT_ERROR,
                            "states[0]: is 3, expected an object"));
  EXPECT_TRUE(manifestFails(
      stateManifest({axpyEntry()}, "[" + weightJson("h", "F32", "[4]") + "," +
                                       weightJson("h", "F32", "[4]") + "]"),
      LCTXRT_FORMAT_ERROR, "state 'h': listed twice in 'states'"));
  EXPECT_TRUE(manifestFails(
      stateManifest({axpyEntry()}, "[" + weightJson("h", "F32", "[-1]") + "]"),
      LCTXRT_FORMAT_ERROR, "state 'h': shape[0] is -1"));
}

TEST_F(StateManifest, UnpairedState) {
  EXPECT_TRUE(manifestFails(
      stateManifest({entryJson("e", "lctx_entry_accumulate",
                               {argJson("x", "input", "F32", "[4]"),
                                argJson("h", "state_in", "F32", "[4]"),
                                argJson("out", "output", "F32", "[4]")})}),
      LCTXRT_FORMAT_ERROR,
      "entry 'e': state 'h': has a state_in argument but no state_out"));
  EXPECT_TRUE(manifestFails(
      stateManifest({entryJson("e", "lctx_entry_accumulate",
                               {argJson("x", "input", "F32", "[4]"),
                                argJson("out", "output", "F32", "[4]"),
                                argJson("h", "state_out", "F32", "[4]")})}),
      LCTXRT_FORMAT_ERROR, "has a state_out argument but no state_in"));
}

TEST_F(StateManifest, StateTwice) {
  EXPECT_TRUE(manifestFails(
      stateManifest({entryJson("e", "lctx_entry_accumulate",
                               {argJson("h", "state_in", "F32", "[4]"),
                                argJson("h", "state_in", "F32", "[4]"),
                                argJson("h", "state_out", "F32", "[4]")})}),
      LCTXRT_FORMAT_ERROR, "entry 'e': state 'h': two state_in arguments"));
}

TEST_F(StateManifest, IncomingStatePrecedesOutputs) {
  EXPECT_TRUE(manifestFails(
      stateManifest({entryJson("e", "lctx_entry_accumulate",
                               {argJson("x", "input", "F32", "[4]"),
                                argJson("out", "output", "F32", "[4]"),
                                argJson("h", "state_in", "F32", "[4]"),
                                argJson("h", "state_out", "F32", "[4]")})}),
      LCTXRT_FORMAT_ERROR,
      "arg 'h': follows an output; inputs, weights and incoming states must "
      "precede outputs and outgoing states"));
}

// --- Reopening code that cannot be unloaded ---------------------------------

// dlclose keeps a NODELETE object loaded under its /proc/self/fd name; the
// runtime keeps that descriptor open, so no later load can collide with
// the name. Opening and closing such an artifact 100 times in one process
// works (it failed from the 65th time when the names were recycled).
TEST_F(StateManifest, ReopenCodeThatStaysLoaded) {
  for (int i = 0; i < 100; ++i) {
    auto opened = open(manifestJson({axpyEntry()}, {}), /*kernel=*/4);
    ASSERT_TRUE(opened.ok()) << "open #" << i + 1 << ": "
                             << opened.status().toString();
  }
}

// --- The optional "model" description -------------------------------------

TEST_F(StateManifest, ModelDescription) {
  auto opened = open(manifestJson(
      {axpyEntry()}, {},
      "\"model\":{\"arch\":\"megabyte\",\"patch\":4,\"decode\":"
      "\"two-rate\"},"));
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  EXPECT_STREQ(opened->modelValue("arch"), "megabyte");
  EXPECT_STREQ(opened->modelValue("patch"), "4");
  EXPECT_EQ(opened->modelValue("context"), nullptr);
  EXPECT_EQ(lctxrt_artifact_model_value(nullptr, "arch"), nullptr);
  auto plain = open(manifestJson({axpyEntry()}, {}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->modelValue("arch"), nullptr);
}

TEST_F(StateManifest, ModelDescriptionMalformed) {
  EXPECT_TRUE(manifestFails(manifestJson({axpyEntry()}, {}, "\"model\":[],"),
                            LCTXRT_FORMAT_ERROR,
                            "'model' is an array, expected an object"));
  EXPECT_TRUE(manifestFails(
      manifestJson({axpyEntry()}, {}, "\"model\":{\"patch\":4.5},"),
      LCTXRT_FORMAT_ERROR,
      "model: 'patch' is a non-integer or out-of-range number, expected a "
      "string or an integer"));
}

/// accumulate with the entry's optional "advance" set to \p advance.
std::string advancedEntry(const std::string &advance) {
  std::string entry = accumulateEntry();
  const std::string key = "\"section\":\"cpu.so\",";
  size_t at = entry.find(key);
  EXPECT_NE(at, std::string::npos);
  return entry.insert(at + key.size(), "\"advance\":" + advance + ",");
}

TEST_F(StateManifest, AdvanceMalformed) {
  EXPECT_TRUE(manifestFails(stateManifest({advancedEntry("[]")}),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'accumulate': 'advance': is an array, "
                            "expected an object"));
  EXPECT_TRUE(manifestFails(
      stateManifest({advancedEntry("{\"steps\":1,\"limit\":8}")}),
      LCTXRT_FORMAT_ERROR, "'advance': missing key 'state'"));
  EXPECT_TRUE(manifestFails(
      stateManifest(
          {advancedEntry("{\"state\":\"h\",\"steps\":0,\"limit\":8}")}),
      LCTXRT_FORMAT_ERROR,
      "'advance': 'steps' is 0, expected a positive integer"));
  EXPECT_TRUE(manifestFails(
      stateManifest({advancedEntry("{\"state\":\"h\",\"steps\":1}")}),
      LCTXRT_FORMAT_ERROR, "'advance': missing key 'limit'"));
  EXPECT_TRUE(manifestFails(
      stateManifest({advancedEntry(
          "{\"state\":\"pos\",\"steps\":1,\"limit\":8}")}),
      LCTXRT_FORMAT_ERROR,
      "'advance': state 'pos' is not a state of the entry point"));
  // The positions must be an I64 state; h is F32.
  EXPECT_TRUE(manifestFails(
      stateManifest(
          {advancedEntry("{\"state\":\"h\",\"steps\":1,\"limit\":8}")}),
      LCTXRT_FORMAT_ERROR,
      "'advance': state 'h' is F32 [4], expected I64 positions"));
}

/// accumulate with "inplace_states" set to \p states.
std::string inPlaceEntry(const std::string &states,
                         const std::string &name = "accumulate") {
  std::string entry = accumulateEntry(name);
  const std::string key = "\"section\":\"cpu.so\",";
  size_t at = entry.find(key);
  EXPECT_NE(at, std::string::npos);
  return entry.insert(at + key.size(), "\"inplace_states\":" + states + ",");
}

TEST_F(StateManifest, InPlaceStatesMalformed) {
  EXPECT_TRUE(manifestFails(stateManifest({inPlaceEntry("\"h\"")}),
                            LCTXRT_FORMAT_ERROR,
                            "entry 'accumulate': 'inplace_states': is \"h\", "
                            "expected an array of state names"));
  EXPECT_TRUE(manifestFails(stateManifest({inPlaceEntry("[1]")}),
                            LCTXRT_FORMAT_ERROR,
                            "'inplace_states': holds 1, expected a state "
                            "name"));
  EXPECT_TRUE(manifestFails(stateManifest({inPlaceEntry("[\"g\"]")}),
                            LCTXRT_FORMAT_ERROR,
                            "'inplace_states': 'g' is not a state of the "
                            "entry point"));
}

/// An entry that updates a state in place gets one buffer for its
/// state_in and state_out: the state's buffer stays where it is, while an
/// entry without it writes the other buffer and the two swap. Both continue
/// the same stream.
TEST_F(StateManifest, InPlaceStateKeepsItsBuffer) {
  auto opened = open(stateManifest(
      {accumulateEntry(), inPlaceEntry("[\"h\"]", "accumulate_in_place")}));
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  auto session = lctxrt::Session::create(*opened);
  ASSERT_TRUE(session.ok()) << session.status().toString();
  auto run = [&](const char *entry, float v) {
    float x[4] = {v, v, v, v}, out[4] = {};
    std::vector<lctxrt_tensor_view_t> in = {
        view("x", LCTXRT_DTYPE_F32, kShape4, x, sizeof(x))};
    std::vector<lctxrt_tensor_view_t> outs = {
        view("out", LCTXRT_DTYPE_F32, kShape4, out, sizeof(out))};
    EXPECT_TRUE(session->run(entry, in, outs).ok());
    return out[0];
  };
  auto where = [&]() {
    auto value = session->readState("h");
    EXPECT_TRUE(value.ok());
    return value.ok() ? value->data : nullptr;
  };
  const void *first = where();
  EXPECT_EQ(run("accumulate_in_place", 1), 1.0f);
  EXPECT_EQ(where(), first);
  EXPECT_EQ(run("accumulate_in_place", 2), 3.0f);
  EXPECT_EQ(where(), first);
  EXPECT_EQ(run("accumulate", 4), 7.0f);
  const void *second = where();
  EXPECT_NE(second, first);
  EXPECT_EQ(run("accumulate_in_place", 8), 15.0f);
  EXPECT_EQ(where(), second);
}

class SessionState : public ArtifactTest {
protected:
  void SetUp() override {
    auto opened = open(stateManifest(
        {accumulateEntry(), accumulateEntry("accumulate2"), axpyEntry()}));
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    artifact = std::make_unique<lctxrt::Artifact>(std::move(*opened));
    auto created = lctxrt::Session::create(*artifact);
    ASSERT_TRUE(created.ok()) << created.status().toString();
    session = std::make_unique<lctxrt::Session>(std::move(*created));
  }

  /// Runs \p entry on x = {v, 2v, 3v, 4v}; returns out.
  std::vector<float> run(float v, const std::string &entry = "accumulate") {
    float x[4] = {v, 2 * v, 3 * v, 4 * v};
    std::vector<float> out(4, -1.0f);
    std::vector<lctxrt_tensor_view_t> inputs = {
        view("x", LCTXRT_DTYPE_F32, kShape4, x, sizeof(x))};
    std::vector<lctxrt_tensor_view_t> outputs = {
        view("out", LCTXRT_DTYPE_F32, kShape4, out.data(), 16)};
    lctxrt::Status status = session->run(entry, inputs, outputs);
    EXPECT_TRUE(status.ok()) << status.toString();
    return out;
  }

  std::vector<float> state() {
    auto value = session->readState("h");
    EXPECT_TRUE(value.ok()) << value.status().toString();
    if (!value.ok())
      return {};
    EXPECT_STREQ(value->name, "h");
    EXPECT_EQ(value->dtype, LCTXRT_DTYPE_F32);
    EXPECT_EQ(value->rank, 1u);
    EXPECT_EQ(value->byte_size, 16u);
    const auto *data = static_cast<const float *>(value->data);
    return std::vector<float>(data, data + 4);
  }

  std::unique_ptr<lctxrt::Artifact> artifact;
  std::unique_ptr<lctxrt::Session> session;
};

TEST_F(SessionState, StartsAtZeroAndCarriesAcrossRuns) {
  EXPECT_EQ(state(), std::vector<float>(4, 0.0f));
  EXPECT_EQ(run(1), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(run(10), (std::vector<float>{11, 22, 33, 44}));
  EXPECT_EQ(state(), (std::vector<float>{11, 22, 33, 44}));
  // Another entry point using the same state continues the same stream.
  EXPECT_EQ(run(100, "accumulate2"), (std::vector<float>{111, 222, 333, 444}));
  EXPECT_EQ(run(1000), (std::vector<float>{1111, 2222, 3333, 4444}));
  // An entry point without state leaves it alone.
  float a[6] = {1, 1, 1, 1, 1, 1}, b[6] = {}, c[6] = {};
  const std::vector<int64_t> shape23 = {2, 3};
  std::vector<lctxrt_tensor_view_t> in = {
      view("x", LCTXRT_DTYPE_F32, shape23, a, sizeof(a)),
      view("y", LCTXRT_DTYPE_F32, shape23, b, sizeof(b))};
  std::vector<lctxrt_tensor_view_t> out = {
      view("out", LCTXRT_DTYPE_F32, shape23, c, sizeof(c))};
  ASSERT_TRUE(session->run("axpy", in, out).ok());
  EXPECT_EQ(state(), (std::vector<float>{1111, 2222, 3333, 4444}));
}

TEST_F(SessionState, SessionsHaveTheirOwnState) {
  run(5);
  auto other = lctxrt::Session::create(*artifact);
  ASSERT_TRUE(other.ok());
  auto value = other->readState("h");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(static_cast<const float *>(value->data)[3], 0.0f);
  EXPECT_EQ(state()[3], 20.0f);
}

TEST_F(SessionState, Reset) {
  run(3);
  ASSERT_TRUE(session->resetState().ok());
  EXPECT_EQ(state(), std::vector<float>(4, 0.0f));
  EXPECT_EQ(run(1), (std::vector<float>{1, 2, 3, 4}));
}

TEST_F(SessionState, WriteThenRun) {
  float saved[4] = {0.5f, 1.5f, 2.5f, 3.5f};
  ASSERT_TRUE(
      session->writeState(view("h", LCTXRT_DTYPE_F32, kShape4, saved, 16))
          .ok());
  EXPECT_EQ(state(), (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f}));
  EXPECT_EQ(run(1), (std::vector<float>{1.5f, 3.5f, 5.5f, 7.5f}));
  // Writing the value read back is a no-op (the buffers may alias).
  auto value = session->readState("h");
  ASSERT_TRUE(value.ok());
  ASSERT_TRUE(session->writeState(*value).ok());
  EXPECT_EQ(state(), (std::vector<float>{1.5f, 3.5f, 5.5f, 7.5f}));
}

TEST_F(SessionState, WriteErrors) {
  float data[5] = {};
  const std::vector<int64_t> shape5 = {5};
  lctxrt::Status wrongShape =
      session->writeState(view("h", LCTXRT_DTYPE_F32, shape5, data, 20));
  EXPECT_EQ(wrongShape.code(), LCTXRT_INVALID_ARGUMENT);
  EXPECT_NE(std::string(wrongShape.message()).find("state 'h': shape [5], expected [4]"),
            std::string::npos)
      << wrongShape.toString();
  lctxrt::Status wrongDtype =
      session->writeState(view("h", LCTXRT_DTYPE_I32, kShape4, data, 16));
  EXPECT_NE(std::string(wrongDtype.message()).find("state 'h': dtype I32, expected F32"),
            std::string::npos)
      << wrongDtype.toString();
  lctxrt::Status unknown =
      session->writeState(view("g", LCTXRT_DTYPE_F32, kShape4, data, 16));
  EXPECT_EQ(unknown.code(), LCTXRT_NOT_FOUND);
  EXPECT_NE(std::string(unknown.message()).find("no state named 'g' (states: 'h')"),
            std::string::npos)
      << unknown.toString();
  EXPECT_EQ(state(), std::vector<float>(4, 0.0f));
  lctxrt_status_t null = lctxrt_session_write_state(session->get(), nullptr);
  EXPECT_EQ(lctxrt_status_code(null), LCTXRT_INVALID_ARGUMENT);
  lctxrt_status_free(null);
  lctxrt_tensor_view_t out;
  lctxrt_status_t missing =
      lctxrt_session_read_state(session->get(), "nope", &out);
  EXPECT_EQ(lctxrt_status_code(missing), LCTXRT_NOT_FOUND);
  EXPECT_EQ(out.data, nullptr);
  lctxrt_status_free(missing);
  EXPECT_EQ(lctxrt_status_code(lctxrt_session_reset_state(nullptr)),
            LCTXRT_INVALID_ARGUMENT);
}

TEST_F(SessionState, FailedRunKeepsState) {
  run(2);
  float x[4] = {};
  std::vector<lctxrt_tensor_view_t> inputs = {
      view("h", LCTXRT_DTYPE_F32, kShape4, x, sizeof(x))};
  std::vector<lctxrt_tensor_view_t> outputs;
  lctxrt::Status status = session->run("accumulate", inputs, outputs);
  EXPECT_EQ(status.code(), LCTXRT_INVALID_ARGUMENT);
  // States are not inputs: the runtime supplies them.
  EXPECT_NE(std::string(status.message()).find("no input named 'h' (inputs: 'x')"),
            std::string::npos)
      << status.toString();
  EXPECT_EQ(state(), (std::vector<float>{2, 4, 6, 8}));
}

} // namespace
