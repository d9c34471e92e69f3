//===- lctxrt/lctxrt.hpp - C++ wrapper of the lctxrt C API ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Header-only C++17 RAII wrapper over lctxrt.h. Errors are reported as
/// values (Status, Expected<T>); only the explicit `value()` and
/// `throwIfError()` accessors throw (lctxrt::Error), so the wrapper is usable
/// without exceptions as long as those two are avoided.
///
//===----------------------------------------------------------------------===//

#ifndef LCTXRT_LCTXRT_HPP
#define LCTXRT_LCTXRT_HPP

#include "lctxrt/lctxrt.h"

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lctxrt {

/// An exception carrying a status code and message.
class Error : public std::runtime_error {
public:
  Error(lctxrt_status_code_t code, const std::string &message)
      : std::runtime_error(message), errorCode(code) {}
  /// Returns the status code of the failure.
  lctxrt_status_code_t code() const { return errorCode; }

private:
  lctxrt_status_code_t errorCode;
};

/// Owns an lctxrt_status_t; a default-constructed Status is OK.
class Status {
public:
  Status() = default;
  /// Takes ownership of \p status (NULL means OK).
  explicit Status(lctxrt_status_t raw) : status(raw) {}
  Status(Status &&other) noexcept : status(other.release()) {}
  Status &operator=(Status &&other) noexcept {
    if (this != &other) {
      lctxrt_status_free(status);
      status = other.release();
    }
    return *this;
  }
  Status(const Status &) = delete;
  Status &operator=(const Status &) = delete;
  ~Status() { lctxrt_status_free(status); }

  /// Returns true on success.
  bool ok() const { return status == nullptr; }
  /// Returns the status code (LCTXRT_OK on success).
  lctxrt_status_code_t code() const { return lctxrt_status_code(status); }
  /// Returns the message; valid while this Status lives.
  const char *message() const { return lctxrt_status_message(status); }
  /// Returns "CODE_NAME: message", or "OK".
  std::string toString() const {
    if (ok())
      return "OK";
    return std::string(lctxrt_status_code_name(code())) + ": " + message();
  }
  /// Gives up ownership of the underlying status.
  lctxrt_status_t release() { return std::exchange(status, nullptr); }
  /// Throws lctxrt::Error if this is an error (aborts without exceptions).
  void throwIfError() const {
    if (ok())
      return;
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
    throw Error(code(), message());
#else
    std::abort();
#endif
  }

private:
  lctxrt_status_t status = nullptr;
};

/// Either a T or an error Status.
template <typename T> class Expected {
public:
  /// Holds a value.
  Expected(T &&value) : storage(std::move(value)) {}
  /// Holds a copy of \p value.
  Expected(const T &value) : storage(value) {}
  /// Holds an error; \p failure must not be OK.
  Expected(Status &&failure) : error(std::move(failure)) {}

  /// Returns true if this holds a value.
  bool ok() const { return storage.has_value(); }
  /// Returns the error (OK if this holds a value).
  const Status &status() const { return error; }
  /// Accessors of the value; require ok().
  T &operator*() { return *storage; }
  const T &operator*() const { return *storage; }
  T *operator->() { return &*storage; }
  const T *operator->() const { return &*storage; }
  /// Returns the value or throws lctxrt::Error.
  T &value() {
    error.throwIfError();
    return *storage;
  }

private:
  std::optional<T> storage;
  Status error;
};

/// Description of one tensor of an open file; see lctxrt_tensor_info_t.
using TensorInfo = lctxrt_tensor_info_t;

/// Owns an open, validated, memory-mapped safetensors file.
class SafetensorsFile {
public:
  /// Opens and validates \p path.
  static Expected<SafetensorsFile> open(const std::string &path) {
    lctxrt_safetensors_t *file = nullptr;
    Status status(lctxrt_safetensors_open(path.c_str(), &file));
    if (!status.ok())
      return status;
    return SafetensorsFile(file);
  }

  SafetensorsFile(SafetensorsFile &&other) noexcept
      : file(std::exchange(other.file, nullptr)) {}
  SafetensorsFile &operator=(SafetensorsFile &&other) noexcept {
    if (this != &other) {
      lctxrt_safetensors_close(file);
      file = std::exchange(other.file, nullptr);
    }
    return *this;
  }
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;
  ~SafetensorsFile() { lctxrt_safetensors_close(file); }

  /// Returns the underlying handle, still owned by this object.
  lctxrt_safetensors_t *get() const { return file; }
  /// Returns the path the file was opened with.
  const char *path() const { return lctxrt_safetensors_path(file); }
  /// Returns the number of tensors.
  size_t numTensors() const { return lctxrt_safetensors_num_tensors(file); }

  /// Describes tensor \p index (header order).
  Expected<TensorInfo> tensor(size_t index) const {
    TensorInfo info;
    Status status(lctxrt_safetensors_tensor_info(file, index, &info));
    if (!status.ok())
      return status;
    return info;
  }

  /// Describes the tensor named \p name (NOT_FOUND if absent).
  Expected<TensorInfo> find(const std::string &name) const {
    TensorInfo info;
    Status status(lctxrt_safetensors_find(file, name.c_str(), &info));
    if (!status.ok())
      return status;
    return info;
  }

  /// Returns the `__metadata__` value of \p key, if present.
  std::optional<std::string_view> metadata(const std::string &key) const {
    const char *value = lctxrt_safetensors_metadata(file, key.c_str());
    if (!value)
      return std::nullopt;
    return std::string_view(value);
  }

  /// Returns all `__metadata__` entries in header order.
  std::vector<std::pair<std::string_view, std::string_view>>
  metadataEntries() const {
    std::vector<std::pair<std::string_view, std::string_view>> entries;
    size_t count = lctxrt_safetensors_num_metadata(file);
    for (size_t i = 0; i < count; ++i) {
      const char *key = nullptr;
      const char *value = nullptr;
      Status(lctxrt_safetensors_metadata_entry(file, i, &key, &value));
      if (key && value)
        entries.emplace_back(key, value);
    }
    return entries;
  }

private:
  explicit SafetensorsFile(lctxrt_safetensors_t *handle) : file(handle) {}
  lctxrt_safetensors_t *file = nullptr;
};

/// Writes \p tensors and \p metadata to a safetensors file at \p path; see
/// lctxrt_safetensors_write().
inline Status writeSafetensors(
    const std::string &path, const std::vector<lctxrt_tensor_view_t> &tensors,
    const std::vector<std::pair<std::string, std::string>> &metadata = {}) {
  std::vector<lctxrt_metadata_entry_t> entries;
  entries.reserve(metadata.size());
  for (const auto &[key, value] : metadata)
    entries.push_back({key.c_str(), value.c_str()});
  return Status(lctxrt_safetensors_write(path.c_str(), tensors.size(),
                                         tensors.data(), entries.size(),
                                         entries.data()));
}

/// Description of an entry point argument or manifest weight.
using ArgInfo = lctxrt_arg_info_t;
/// Description of an entry point; see lctxrt_entry_point_info_t.
using EntryPointInfo = lctxrt_entry_point_info_t;

/// Owns an open, validated, loaded artifact.
class Artifact {
public:
  /// Opens, validates and loads \p path.
  static Expected<Artifact> open(const std::string &path) {
    lctxrt_artifact_t *artifact = nullptr;
    Status status(lctxrt_artifact_open(path.c_str(), &artifact));
    if (!status.ok())
      return status;
    return Artifact(artifact);
  }

  Artifact(Artifact &&other) noexcept
      : artifact(std::exchange(other.artifact, nullptr)) {}
  Artifact &operator=(Artifact &&other) noexcept {
    if (this != &other) {
      lctxrt_artifact_close(artifact);
      artifact = std::exchange(other.artifact, nullptr);
    }
    return *this;
  }
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;
  ~Artifact() { lctxrt_artifact_close(artifact); }

  /// Returns the underlying handle, still owned by this object.
  lctxrt_artifact_t *get() const { return artifact; }
  const char *path() const { return lctxrt_artifact_path(artifact); }
  /// Returns the manifest JSON text.
  const char *manifestJson() const {
    return lctxrt_artifact_manifest_json(artifact);
  }
  /// Returns manifest and container facts.
  lctxrt_artifact_info_t info() const {
    lctxrt_artifact_info_t result;
    Status(lctxrt_artifact_info(artifact, &result));
    return result;
  }
  size_t numSections() const { return lctxrt_artifact_num_sections(artifact); }
  Expected<lctxrt_section_info_t> section(size_t index) const {
    lctxrt_section_info_t result;
    Status status(lctxrt_artifact_section_info(artifact, index, &result));
    if (!status.ok())
      return status;
    return result;
  }
  size_t numEntryPoints() const {
    return lctxrt_artifact_num_entry_points(artifact);
  }
  /// Describes entry point \p index (manifest order).
  Expected<EntryPointInfo> entryPoint(size_t index) const {
    EntryPointInfo result;
    Status status(lctxrt_artifact_entry_point_info(artifact, index, &result));
    if (!status.ok())
      return status;
    return result;
  }
  /// Describes the entry point named \p name (NOT_FOUND if absent).
  Expected<EntryPointInfo> findEntryPoint(const std::string &name) const {
    EntryPointInfo result;
    Status status(
        lctxrt_artifact_find_entry_point(artifact, name.c_str(), &result));
    if (!status.ok())
      return status;
    return result;
  }
  size_t numWeights() const { return lctxrt_artifact_num_weights(artifact); }
  /// Describes manifest weight \p index.
  Expected<ArgInfo> weight(size_t index) const {
    ArgInfo result;
    Status status(lctxrt_artifact_weight_info(artifact, index, &result));
    if (!status.ok())
      return status;
    return result;
  }
  size_t numStates() const { return lctxrt_artifact_num_states(artifact); }
  /// The manifest's "model" value of \p key, or NULL.
  const char *modelValue(const char *key) const {
    return lctxrt_artifact_model_value(artifact, key);
  }
  /// Describes manifest state \p index.
  Expected<ArgInfo> state(size_t index) const {
    ArgInfo result;
    Status status(lctxrt_artifact_state_info(artifact, index, &result));
    if (!status.ok())
      return status;
    return result;
  }

private:
  explicit Artifact(lctxrt_artifact_t *handle) : artifact(handle) {}
  lctxrt_artifact_t *artifact = nullptr;
};

/// Owns a session: an artifact's entry points with its weights bound. The
/// artifact and weights file must outlive the session.
class Session {
public:
  /// Creates a session; \p weights may be null when no weights are needed.
  /// \p options chooses the device (null: the CPU); see
  /// lctxrt_session_create_with_options().
  static Expected<Session>
  create(const Artifact &artifact, const SafetensorsFile *weights = nullptr,
         const lctxrt_session_options_t *options = nullptr) {
    lctxrt_session_t *session = nullptr;
    Status status(lctxrt_session_create_with_options(
        artifact.get(), weights ? weights->get() : nullptr, options,
        &session));
    if (!status.ok())
      return status;
    return Session(session);
  }

  Session(Session &&other) noexcept
      : session(std::exchange(other.session, nullptr)) {}
  Session &operator=(Session &&other) noexcept {
    if (this != &other) {
      lctxrt_session_close(session);
      session = std::exchange(other.session, nullptr);
    }
    return *this;
  }
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  ~Session() { lctxrt_session_close(session); }

  /// Returns the underlying handle, still owned by this object.
  lctxrt_session_t *get() const { return session; }

  /// The device the session runs on.
  lctxrt_device_t device() const { return lctxrt_session_device(session); }

  /// Runs \p entry; see lctxrt_session_run(). Views in \p outputs with NULL
  /// data are filled with runtime buffers.
  Status run(const std::string &entry,
             const std::vector<lctxrt_tensor_view_t> &inputs,
             std::vector<lctxrt_tensor_view_t> &outputs) {
    return Status(lctxrt_session_run(session, entry.c_str(), inputs.size(),
                                     inputs.data(), outputs.size(),
                                     outputs.data()));
  }

  /// Sets every state to zeros (a new stream).
  Status resetState() { return Status(lctxrt_session_reset_state(session)); }

  /// Describes the current value of state \p name; the data is valid until
  /// the next run, reset, write or close.
  Expected<lctxrt_tensor_view_t> readState(const std::string &name) const {
    lctxrt_tensor_view_t result;
    Status status(lctxrt_session_read_state(session, name.c_str(), &result));
    if (!status.ok())
      return status;
    return result;
  }

  /// Copies \p value into the state named `value.name`.
  Status writeState(const lctxrt_tensor_view_t &value) {
    return Status(lctxrt_session_write_state(session, &value));
  }

  /// Returns the session's counters.
  lctxrt_session_stats_t stats() const {
    lctxrt_session_stats_t result;
    Status(lctxrt_session_stats(session, &result));
    return result;
  }

private:
  explicit Session(lctxrt_session_t *handle) : session(handle) {}
  lctxrt_session_t *session = nullptr;
};

} // namespace lctxrt

#endif // LCTXRT_LCTXRT_HPP
